"""The gradebook: CSV for the LMS, late penalties, skipped files, and self-contained, escaped HTML pages."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import assignments, gradebook, nbgrader_bridge, render_class_html, render_student_html
from grader.cli import main
from grader.course import Course, load_course
from grader.report import AssignmentResult, RedisInfo, Report, Status, TestResult, write_json

DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
LECTURE = "https://example.edu/redis-lecture"
SECTIONS = {  # two tests per assignment, 6 + 4 suite points, each tied to a lecture section
    "counter": ("Part 3 · Atomic counters", "Part 3 · Locks with SET NX PX"),
    "capped_list": ("Part 4.2 · Capped lists", "Part 4.2 · Queues"),
    "set_analytics": ("Part 4.3 · Sets", "Part 4.3 · Set algebra"),
    "leaderboard": ("Part 4.4 · Sorted sets", "Part 4.4 · Leaderboards"),
    "ttl_cache": ("Part 1.4 · Keys with a TTL", "Part 5 · Caching"),
}
ROSTER = (("s002", "Grace Hopper"), ("s001", "Ada Lovelace"), ("s003", "Alan Turing"))


def make_report(
    student_id: str,
    statuses: dict[str, tuple[Status, Status]],
    *,
    received_at: datetime | None = DUE - timedelta(days=1),
    feedback: str = "",
    name: str = "",
) -> Report:
    """A report with two tests (6 and 4 points) per assignment named in ``statuses``."""
    results = []
    for assignment, pair in statuses.items():
        tests = []
        for index, (status, points) in enumerate(zip(pair, (6, 4), strict=True)):
            section = SECTIONS[assignment][index]
            hint = "" if status == "passed" else (feedback or f"[{section}] revisit this idea")
            tests.append(
                TestResult(
                    id=f"{assignment}::test_hidden_{index}",
                    name=name or f"{assignment} behaviour {index}",
                    status=status,
                    score=points if status == "passed" else 0,
                    max_score=points,
                    feedback=hint,
                    section=section,
                )
            )
        results.append(AssignmentResult(assignment, tuple(tests)))
    return Report(
        assignments=tuple(results),
        redis=RedisInfo("real", "7.2.4", "disposable Redis 7.2.4"),
        duration_s=2.5,
        student_id=student_id,
        commit="0123456789abcdef0123",
        received_at=received_at.isoformat() if received_at else "",
    )


ALL_PASSED: dict[str, tuple[Status, Status]] = {name: ("passed", "passed") for name in assignments.NAMES}
FIRST_PASSED: dict[str, tuple[Status, Status]] = {name: ("passed", "failed") for name in assignments.NAMES}


def write_course(path: Path, *, roster: tuple[tuple[str, str], ...] = ROSTER, lecture_url: str = LECTURE) -> Course:
    """A course.toml: counter worth 100, capped_list 50, the others 100; all due at ``DUE``."""
    entries = []
    for name in assignments.NAMES:
        points = "\npoints = 50" if name == "capped_list" else ""
        entries.append(f'[[assignments]]\nname = "{name}"\ndue = {DUE.isoformat().replace("+00:00", "Z")}{points}\n')
    students = [f'[[roster]]\nstudent_id = "{sid}"\nname = {json.dumps(name)}\n' for sid, name in roster]
    path.write_text(
        f'[course]\nname = "Redis Fundamentals"\nlecture_url = "{lecture_url}"\n\n'
        '[grading]\nhidden_visibility = "after_due_date"\nper_test_timeout_s = 10\nbudget_s = 300\n\n'
        "[late_policy]\ngrace_minutes = 15\npenalty_per_day = 0.10\nmax_penalty = 0.5\nhard_deadline_days = 7\n\n"
        + "\n".join(entries)
        + "\n"
        + "\n".join(students),
        encoding="utf-8",
    )
    return load_course(path)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    """s001 passes everything, s002 passes the 6-point test of each assignment, s009 is not on the roster."""
    folder = tmp_path / "reports"
    write_json(make_report("s001", ALL_PASSED), folder / "s001.json")
    write_json(make_report("s002", FIRST_PASSED), folder / "s002.json")
    write_json(make_report("s009", ALL_PASSED), folder / "s009.json")
    (folder / "s001.md").write_text("## the Markdown report is not read\n")
    return folder


def test_csv_columns_values_and_roster_order(tmp_path: Path, reports_dir: Path) -> None:
    write_course(tmp_path / "course.toml")
    out = tmp_path / "out" / "grades.csv"
    assert main(["gradebook", str(reports_dir), "--csv", str(out), "--course", str(tmp_path / "course.toml")]) == 0
    rows = read_csv(out)
    assert list(rows[0]) == ["student_id", "name", *assignments.NAMES, "late_penalty", "total", "note"]
    assert [(r["student_id"], r["name"]) for r in rows] == [
        ("s002", "Grace Hopper"),
        ("s001", "Ada Lovelace"),
        ("s003", "Alan Turing"),
        ("s009", ""),
    ]
    s002, s001, s003, s009 = rows
    # 6 of 10 suite points = 60% of each assignment's course points (capped_list is worth 50)
    assert [s002[a] for a in assignments.NAMES] == ["60", "30", "60", "60", "60"]
    assert (s002["late_penalty"], s002["total"], s002["note"]) == ("0", "270", "")
    assert [s001[a] for a in assignments.NAMES] == ["100", "50", "100", "100", "100"]
    assert s001["total"] == "450"
    assert [s003[k] for k in (*assignments.NAMES, "late_penalty", "total")] == [""] * 7
    assert s003["note"] == "missing"
    assert (s009["total"], s009["note"]) == ("450", "not on roster")
    assert sorted(p.name for p in out.parent.iterdir()) == ["grades.csv"]  # written atomically, no temp left
    assert out.read_bytes().count(b"\r\n") == 5  # RFC 4180 line ends, as LMS importers expect


def test_without_a_course_students_are_ordered_by_id_with_100_points_each(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    write_json(make_report("zed", FIRST_PASSED, received_at=None), folder / "zed.json")
    write_json(make_report("amy", ALL_PASSED, received_at=None), folder / "amy.json")
    out = tmp_path / "grades.csv"
    assert main(["gradebook", str(folder), "--csv", str(out)]) == 0
    rows = read_csv(out)
    assert [(r["student_id"], r["name"], r["total"], r["late_penalty"]) for r in rows] == [
        ("amy", "", "500", "0"),
        ("zed", "", "300", "0"),
    ]


@pytest.mark.parametrize(
    ("late_by", "fraction"),
    [
        (timedelta(hours=-3), 0.0),  # on time
        (timedelta(minutes=10), 0.0),  # within the 15-minute grace
        (timedelta(days=1, hours=2), 0.2),  # two started days
        (timedelta(days=6), 0.5),  # capped at max_penalty
        (timedelta(days=7, minutes=1), 1.0),  # past the hard deadline: nothing left
    ],
)
def test_late_penalty_is_the_policy_fraction_of_the_points_earned(
    tmp_path: Path, late_by: timedelta, fraction: float
) -> None:
    course = write_course(tmp_path / "course.toml", roster=(("s001", "Ada"),))
    folder = tmp_path / "reports"
    write_json(make_report("s001", FIRST_PASSED, received_at=DUE + late_by), folder / "s001.json")
    book = gradebook.build(folder, course=course)
    (row,) = book.rows
    earned = 60 * 4 + 30  # four assignments worth 100 and capped_list worth 50, 60% each
    assert [c.late_fraction for c in row.cells] == [fraction] * 5
    assert [c.penalty for c in row.cells] == pytest.approx([fraction * p for p in (60, 30, 60, 60, 60)])
    assert row.penalty == pytest.approx(fraction * earned)
    assert row.total == pytest.approx(earned - fraction * earned)
    line = read_csv_text(gradebook.render_csv(book))[0]
    assert float(line["late_penalty"]) == pytest.approx(fraction * earned)
    assert ("late: counter" in line["note"]) == (fraction > 0)


def read_csv_text(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_penalty_uses_each_assignments_own_due_date(tmp_path: Path) -> None:
    course = write_course(tmp_path / "course.toml", roster=(("s001", "Ada"),))
    later = [replace(c, due=DUE + timedelta(days=14)) if c.name == "ttl_cache" else c for c in course.assignments]
    course = replace(course, assignments=tuple(later))
    folder = tmp_path / "reports"
    write_json(make_report("s001", ALL_PASSED, received_at=DUE + timedelta(days=2)), folder / "s001.json")
    (row,) = gradebook.build(folder, course=course).rows
    assert {c.assignment: c.penalty for c in row.cells} == {
        "counter": 20.0,
        "capped_list": 10.0,
        "set_analytics": 20.0,
        "leaderboard": 20.0,
        "ttl_cache": 0.0,
    }
    assert row.total == 450 - 70


def test_report_without_received_at_gets_no_penalty_and_says_so(tmp_path: Path) -> None:
    course = write_course(tmp_path / "course.toml", roster=(("s001", "Ada"),))
    folder = tmp_path / "reports"
    write_json(make_report("s001", ALL_PASSED, received_at=None), folder / "s001.json")
    book = gradebook.build(folder, course=course)
    assert book.rows[0].penalty == 0 and "no received_at" in book.rows[0].notes[0]
    assert any("s001" in w and "received_at" in w for w in book.warnings)


def test_assignments_not_in_the_report_are_empty_cells_and_noted(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    write_json(make_report("s001", {"counter": ("passed", "passed")}), folder / "s001.json")
    (line,) = read_csv_text(gradebook.render_csv(gradebook.build(folder)))
    assert (line["counter"], line["capped_list"], line["total"]) == ("100", "", "100")
    assert line["note"] == "not graded: capped_list, set_analytics, leaderboard, ttl_cache"


def test_corrupt_and_foreign_files_are_skipped_with_a_warning_naming_them(
    tmp_path: Path, reports_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (reports_dir / "s004.json").write_text("{not json", encoding="utf-8")
    (reports_dir / "s005.json").write_text('{"hello": "world"}', encoding="utf-8")
    write_json(make_report("s001", ALL_PASSED), reports_dir / "s006.json")  # s001's report under s006's name
    (reports_dir / "my notes.json").write_text("{}", encoding="utf-8")
    (reports_dir / ".s007.json.tmp123").write_text("{half a rep", encoding="utf-8")  # a write in progress
    out = tmp_path / "grades.csv"
    assert main(["gradebook", str(reports_dir), "--csv", str(out), "--html", str(tmp_path / "class.html")]) == 0
    printed = capsys.readouterr().out
    warnings = [line for line in printed.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 4, printed
    for name in ("s004.json", "s005.json", "s006.json", "my notes.json"):
        assert sum(name in line for line in warnings) == 1, (name, warnings)
    assert "not of 's006'" in printed
    assert [r["student_id"] for r in read_csv(out)] == ["s001", "s002", "s009"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{empty}", "--csv", "{out}"], "no valid <student_id>.json report"),
        (["{missing}", "--csv", "{out}"], "not a folder of reports"),
        (["{reports}"], "nothing to write"),
        (["{reports}", "--csv", "{out}", "--course", "{missing}"], "no such course file"),
    ],
)
def test_unusable_input_exits_2_with_a_clear_message(
    tmp_path: Path, reports_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    paths = {
        "empty": tmp_path / "empty",
        "missing": tmp_path / "nope",
        "reports": reports_dir,
        "out": tmp_path / "g.csv",
    }
    assert main(["gradebook", *(a.format(**paths) for a in argv)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(tmp_path: Path) -> None:
    course = write_course(tmp_path / "course.toml", roster=(("s001", '=HYPERLINK("http://evil.example")'),))
    folder = tmp_path / "reports"
    write_json(make_report("s001", ALL_PASSED), folder / "s001.json")
    (line,) = read_csv_text(gradebook.render_csv(gradebook.build(folder, course=course)))
    assert line["name"] == '\'=HYPERLINK("http://evil.example")'


@pytest.mark.parametrize(
    ("section", "slug"),
    [
        ("Part 4.2 · Capped lists", "part-4-2-capped-lists"),
        ("Part 3 · Locks with SET NX PX", "part-3-locks-with-set-nx-px"),
        ("Part 2.4 · SCAN, not KEYS", "part-2-4-scan-not-keys"),
        ("Parts 1.4, 4.1, 5", "parts-1-4-4-1-5"),
    ],
)
def test_section_slugs(section: str, slug: str) -> None:
    assert gradebook.section_slug(section) == slug
    assert gradebook.section_url(LECTURE, section) == f"{LECTURE}#{slug}"


def test_section_links_only_to_an_http_lecture_url() -> None:
    assert gradebook.section_url("", "Part 3 · Strings") is None
    assert gradebook.section_url("javascript:alert(1)", "Part 3 · Strings") is None
    assert gradebook.section_url(LECTURE, "") is None
    assert gradebook.section_url(f"{LECTURE}#old", "Part 3") == f"{LECTURE}#part-3"


class Links(HTMLParser):
    """Every tag, and every URL-bearing attribute (href, xlink:href, src, action) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("href", "xlink:href", "src", "action", "srcset", "poster")]


def parse(page: str) -> Links:
    links = Links()
    links.feed(page)
    links.close()
    return links


def build_site(tmp_path: Path, reports: list[Report], *, lecture_url: str = LECTURE) -> Path:
    """Write reports and a course, run ``grader gradebook --html``; the class page's path."""
    folder = tmp_path / "reports"
    for report in reports:
        write_json(report, folder / f"{report.student_id}.json")
    roster = (*((r.student_id, f"Student {r.student_id}") for r in reports), ("s099", "Absent Student"))
    write_course(tmp_path / "course.toml", roster=roster, lecture_url=lecture_url)
    page = tmp_path / "site" / "class.html"
    argv = ["gradebook", str(folder), "--html", str(page), "--course", str(tmp_path / "course.toml")]
    assert main(argv) == 0
    return page


def test_html_pages_are_self_contained(tmp_path: Path) -> None:
    page = build_site(tmp_path, [make_report("s001", ALL_PASSED), make_report("s002", FIRST_PASSED)])
    pages = [page, *sorted((page.parent / "students").iterdir())]
    assert [p.name for p in pages] == ["class.html", "s001.html", "s002.html"]  # none for the absent student
    for path in pages:
        text = path.read_text(encoding="utf-8")
        links = parse(text)
        external = [u for u in links.urls if re.match(r"\s*(https?:)?//", u)]
        assert external or path.name == "s001.html", path  # lecture links (s001 has no test to revisit) ...
        assert all(u.startswith(f"{LECTURE}#") for u in external), (path, external)  # ... and nothing else
        assert "link" not in links.tags and "iframe" not in links.tags and "img" not in links.tags
        assert not re.search(r"<script[^>]*\bsrc=|@import|url\(\s*['\"]?(https?:)?//", text), path
    class_links = parse(page.read_text(encoding="utf-8"))
    assert class_links.tags.count("script") == 1 and class_links.tags.count("svg") >= 2
    assert {u for u in class_links.urls if u.startswith("students/")} == {"students/s001.html", "students/s002.html"}


def test_student_text_is_escaped_and_stays_inert(tmp_path: Path) -> None:
    evil = "<script>alert('pwned')</script><img src=x onerror=alert(1)> & $x^2$"
    report = make_report("s001", FIRST_PASSED, feedback=evil, name="name <b>bold</b> $math$")
    page = build_site(tmp_path, [report])
    for path in (page, page.parent / "students" / "s001.html"):
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img" not in text and "<b>bold" not in text
        assert "onerror=alert(1)>" not in text
        assert parse(text).tags.count("script") == (1 if path == page else 0)
    student = (page.parent / "students" / "s001.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in student
    assert "name &lt;b&gt;bold&lt;/b&gt; $math$" in student
    assert "name &lt;b&gt;bold&lt;/b&gt; $math$" in page.read_text(encoding="utf-8")  # the chart label, as text


def test_student_page_lists_every_test_with_its_status_and_no_hidden_code(tmp_path: Path) -> None:
    statuses: dict[str, tuple[Status, Status]] = {
        "counter": ("passed", "failed"),
        "capped_list": ("timeout", "not_attempted"),
        "leaderboard": ("error", "passed"),
    }
    report = make_report("s001", statuses)
    page = render_student_html.render(report, lecture_url=LECTURE)
    items = re.findall(r'<li class="test st-(\w+)"', page)
    assert items == ["passed", "failed", "timeout", "not_attempted", "error", "passed"]
    for label in ("passed", "failed", "timed out", "not attempted", "error"):
        assert f'<span class="badge">{label}</span>' in page
    assert "[Part 3 · Locks with SET NX PX] revisit this idea" in page  # the failed test's hint
    assert f'href="{LECTURE}#part-3-locks-with-set-nx-px"' in page
    assert "Redis course: 10/30 points" in page and page.count('<svg class="bar"') == 6  # overview + sections
    assert "test_hidden" not in page and "::" not in page  # test ids (hidden suite names) never shown


def test_class_page_charts_have_one_bar_per_bin_and_per_test_and_are_deterministic(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    write_json(make_report("s001", ALL_PASSED), folder / "s001.json")
    write_json(make_report("s002", FIRST_PASSED), folder / "s002.json")
    book = gradebook.build(folder)
    first, second = render_class_html.render(book), render_class_html.render(book)
    assert first == second
    assert len(re.findall(r'<g id="hist-bar-\d+"', first)) == render_class_html.HIST_BINS
    assert len(re.findall(r'<g id="pass-bar-\d+"', first)) == len(book.tests) == 10
    ids = re.findall(r'\bid="([^"]+)"', first)
    assert len(ids) == len(set(ids))  # the two charts share no id
    assert "<metadata>" not in first and "<?xml" not in first and "DOCTYPE svg" not in first
    assert "Matplotlib" not in first and not re.search(r"20\d\d-\d\d-\d\dT", first)  # no generator stamp or date
    assert book.tests[0].pass_rate == 1.0 and book.tests[1].pass_rate == 0.5
    assert book.sections()[0].pass_rate == 0.5 and book.sections()[-1].pass_rate == 1.0


def test_missing_student_has_a_row_without_a_link(tmp_path: Path) -> None:
    page = build_site(tmp_path, [make_report("s001", ALL_PASSED)])
    text = page.read_text(encoding="utf-8")
    absent = re.search(r'<tr class="missing">(.*?)</tr>', text)
    assert absent is not None and "s099" in absent.group(1) and "href" not in absent.group(1)
    assert "missing" in absent.group(1)


# --- from nbgrader's grades.csv ----------------------------------------------------------------------

GRADES_HEADER = (
    "assignment,duedate,timestamp,student_id,last_name,first_name,email,"
    "raw_score,late_submission_penalty,score,max_score\n"
)
NB_DUE = "2026-12-01 23:59:00"  # DUE as nbgrader writes it: naive, in UTC


def grades_line(
    student_id: str,
    assignment: str,
    raw: float,
    *,
    submitted: datetime | None = DUE - timedelta(days=1),
    penalty: float = 0.0,
    max_score: float = 100.0,
    due: str = NB_DUE,
    first: str = "",
    last: str = "",
) -> str:
    """One row as nbgrader's CsvExportPlugin writes it: str() of every value, '' for None, no quoting."""
    timestamp = str(submitted.replace(tzinfo=None)) if submitted else ""
    fields = (assignment, due, timestamp, student_id, last, first, "", raw, penalty, max(0.0, raw - penalty), max_score)
    return ",".join(str(f) for f in fields) + "\n"


def write_grades(path: Path, lines: list[str]) -> Path:
    path.write_text(GRADES_HEADER + "".join(lines), encoding="utf-8")
    return path


def class_grades(path: Path) -> Path:
    """The class of the ``reports_dir`` fixture as nbgrader exports it: s001 100 everywhere, s002 60,
    s009 (not on the roster) 100; s003 is not in nbgrader's gradebook at all."""
    lines = []
    for name in assignments.NAMES:  # nbgrader writes assignment by assignment, each for every student
        lines += [grades_line("s001", name, 100.0, first="Ada", last="Lovelace")]
        lines += [grades_line("s002", name, 60.0), grades_line("s009", name, 100.0)]
    return write_grades(path, lines)


def test_grades_csv_gives_the_gradebook_the_reports_give(tmp_path: Path, reports_dir: Path) -> None:
    course = tmp_path / "course.toml"
    write_course(course)
    grades = class_grades(tmp_path / "grades.csv")
    from_reports, from_nbgrader = tmp_path / "from_reports.csv", tmp_path / "from_nbgrader.csv"
    assert main(["gradebook", str(reports_dir), "--csv", str(from_reports), "--course", str(course)]) == 0
    assert main(["gradebook", str(grades), "--csv", str(from_nbgrader), "--course", str(course)]) == 0
    assert from_nbgrader.read_bytes() == from_reports.read_bytes()  # same columns, points, order, notes
    rows = read_csv(from_nbgrader)
    assert [(r["student_id"], r["total"], r["note"]) for r in rows] == [
        ("s002", "270", ""),
        ("s001", "450", ""),
        ("s003", "", "missing"),
        ("s009", "450", "not on roster"),
    ]


def test_grades_csv_without_a_course_keeps_nbgrader_names_and_100_points_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grades = class_grades(tmp_path / "grades.csv")
    out = tmp_path / "out.csv"
    assert main(["gradebook", str(grades), "--csv", str(out)]) == 0
    assert [(r["student_id"], r["name"], r["total"]) for r in read_csv(out)] == [
        ("s001", "Ada Lovelace", "500"),
        ("s002", "", "300"),
        ("s009", "", "500"),
    ]
    printed = capsys.readouterr().out
    assert "3 students, 3 graded, 0 missing, 0 warnings" in printed


@pytest.mark.parametrize(
    ("late_by", "fraction"),
    [
        (timedelta(hours=-3), 0.0),
        (timedelta(minutes=10), 0.0),  # within the 15-minute grace
        (timedelta(days=1, hours=2), 0.2),  # two started days
        (timedelta(days=6), 0.5),  # capped at max_penalty
        (timedelta(days=7, minutes=1), 1.0),  # past the hard deadline
    ],
)
def test_grades_csv_late_penalty_is_the_course_policy_on_nbgraders_timestamp(
    tmp_path: Path, late_by: timedelta, fraction: float
) -> None:
    course = write_course(tmp_path / "course.toml", roster=(("s001", "Ada"),))
    lines = [grades_line("s001", name, 60.0, submitted=DUE + late_by) for name in assignments.NAMES]
    book = nbgrader_bridge.read_gradebook(write_grades(tmp_path / "grades.csv", lines), course=course)
    (row,) = book.rows
    assert [c.late_fraction for c in row.cells] == [fraction] * 5
    assert row.penalty == pytest.approx(fraction * 270)
    assert row.total == pytest.approx(270 - fraction * 270)
    assert [c.submitted_at for c in row.cells] == [DUE + late_by] * 5
    (line,) = read_csv_text(gradebook.render_csv(book))
    assert float(line["late_penalty"]) == pytest.approx(fraction * 270)
    assert ("late: counter" in line["note"]) == (fraction > 0)


def test_grades_csv_penalties_come_from_the_course_with_one_and_from_nbgrader_without(tmp_path: Path) -> None:
    two_days = DUE + timedelta(days=1, hours=2)
    grades = write_grades(
        tmp_path / "grades.csv",
        [grades_line("s001", "counter", 80.0, submitted=two_days, penalty=40.0)],  # nbgrader took half
    )
    (row,) = nbgrader_bridge.read_gradebook(grades).rows
    assert (row.cells[0].points, row.cells[0].late_fraction, row.penalty, row.total) == (80, 0.5, 40, 40)
    course = write_course(tmp_path / "course.toml", roster=(("s001", "Ada"),))
    book = nbgrader_bridge.read_gradebook(grades, course=course)
    (row,) = book.rows
    assert (row.cells[0].points, row.cells[0].late_fraction, row.penalty, row.total) == (80, 0.2, 16, 64)
    assert any("nbgrader's own late penalties (1 row, e.g. line 2) are replaced" in w for w in book.warnings)


def test_grades_csv_due_date_that_differs_from_the_course_is_warned_about(tmp_path: Path) -> None:
    course = write_course(tmp_path / "course.toml", roster=(("s001", "Ada"),))
    lines = [grades_line("s001", "counter", 100.0, due="2026-12-08 23:59:00", submitted=DUE + timedelta(days=3))]
    book = nbgrader_bridge.read_gradebook(write_grades(tmp_path / "grades.csv", lines), course=course)
    assert book.rows[0].cells[0].late_fraction == 0.3  # the course's due date decides
    (warning,) = book.warnings
    assert "counter: nbgrader's duedate 2026-12-08 23:59 UTC (line 2) differs" in warning
    assert "2026-12-01 23:59 UTC" in warning


def test_grades_csv_rows_without_a_submission_are_not_graded_and_a_student_without_any_is_missing(
    tmp_path: Path,
) -> None:
    course = write_course(tmp_path / "course.toml")
    lines = [grades_line("s001", "counter", 100.0), grades_line("s001", "capped_list", 0.0, submitted=None)]
    lines += [grades_line("s002", name, 0.0, submitted=None) for name in assignments.NAMES]  # nothing submitted
    lines += [grades_line("s003", "counter", 0.0), grades_line("s003", "leaderboard", 70.0, submitted=None)]
    grades = write_grades(tmp_path / "grades.csv", lines)
    s002, s001, s003 = read_csv_text(gradebook.render_csv(nbgrader_bridge.read_gradebook(grades, course=course)))
    assert (s001["counter"], s001["capped_list"], s001["total"]) == ("100", "", "100")
    assert s001["note"] == "not graded: capped_list, set_analytics, leaderboard, ttl_cache"
    assert (s002["total"], s002["note"]) == ("", "missing; no submission in nbgrader")
    # a submitted 0 counts; a score without a timestamp is graded, without a late penalty, and noted
    assert (s003["counter"], s003["leaderboard"], s003["total"]) == ("0", "70", "70")
    assert s003["note"].startswith("no timestamp: no late penalty on leaderboard; not graded: capped_list")


def test_grades_csv_unknown_assignments_and_students_are_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = tmp_path / "course.toml"
    write_course(course, roster=(("s001", "Ada"),))
    lines = [grades_line("s001", "counter", 100.0), grades_line("s001", "hashes_intro", 50.0)]
    lines += [grades_line("s777", "counter", 90.0), grades_line("s777", "hashes_intro", 40.0)]
    out = tmp_path / "out.csv"
    assert (
        main(["gradebook", str(write_grades(tmp_path / "g.csv", lines)), "--csv", str(out), "--course", str(course)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "warning: ignored the scores of assignment 'hashes_intro'" in printed
    assert "of 2 students: s001, s777" in printed
    assert "warning: not on the roster of 'Redis Fundamentals', listed after it: s777" in printed
    assert [(r["student_id"], r["counter"], r["note"].split(";")[0]) for r in read_csv(out)] == [
        ("s001", "100", "not graded: capped_list, set_analytics, leaderboard, ttl_cache"),
        ("s777", "90", "not on roster"),
    ]


def test_grades_csv_max_score_other_than_the_notebooks_is_rescaled_with_a_warning(tmp_path: Path) -> None:
    lines = [grades_line("s001", "counter", 6.0, max_score=10.0), grades_line("s002", "counter", 12.0, max_score=10.0)]
    book = nbgrader_bridge.read_gradebook(write_grades(tmp_path / "grades.csv", lines))
    assert [row.cells[0].points for row in book.rows] == [60, 120]
    assert book.warnings == (
        "line 3: s002 scored 12 of 10 on counter (extra credit?); kept, above the assignment's points",
        "counter: nbgrader's max_score is 10, not the 100 of the notebooks `grader release --notebooks` generates "
        "(were grade cells changed?); scores are rescaled from 10",
    )


BAD_GRADES = {
    "missing file": (None, "cannot read {path}: No such file or directory"),
    "not a CSV": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "{path}: not a CSV file (not UTF-8 text)"),
    "empty": (b"", "{path}: not an nbgrader grades.csv: no column assignment, duedate"),
    "another CSV": (
        b"student_id,name,counter\ns001,Ada,100\n",
        "{path}: not an nbgrader grades.csv: no column assignment, duedate",
    ),
    "200 kB field": (GRADES_HEADER.encode() + b"counter,,,s1," + b"x" * 200_000 + b"\n", "{path}, line 2: not CSV:"),
    "header only": (GRADES_HEADER.encode(), "{path}: no grades below the header"),
    "non-numeric score": (
        (GRADES_HEADER + "counter,,,s001,,,,ninety,0,0,100\n").encode(),
        "{path}, line 2: raw_score 'ninety' is not a number",
    ),
    "comma in a name": (
        (GRADES_HEADER + "counter,,,s001,Lovelace,Ada, Countess,,1,0,1,100\n").encode(),
        "{path}, line 2: expected 11 fields",
    ),
    "duplicate row": (
        (
            GRADES_HEADER
            + grades_line("s001", "counter", 1)
            + grades_line("s002", "counter", 2)
            + grades_line("s001", "counter", 3)
        ).encode(),
        "{path}, line 4: a second row for student 's001' and assignment 'counter' (the first is on line 2)",
    ),
    "bad student id": (
        (GRADES_HEADER + grades_line("../../etc/evil", "counter", 1)).encode(),
        "{path}, line 2: student_id '../../etc/evil' is not a student id",
    ),
    "max_score 0": (
        (GRADES_HEADER + grades_line("s001", "counter", 0, max_score=0)).encode(),
        "{path}, line 2: max_score of 'counter' is 0",
    ),
    "max_score differs": (
        (GRADES_HEADER + grades_line("s001", "counter", 1) + grades_line("s002", "counter", 1, max_score=50)).encode(),
        "{path}, line 3: max_score 50 of 'counter' differs from the 100 on line 2",
    ),
}


@pytest.mark.parametrize("case", BAD_GRADES)
def test_unusable_grades_csv_exits_2_naming_the_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    content, message = BAD_GRADES[case]
    path = tmp_path / "grades.csv"
    if content is not None:
        path.write_bytes(content)
    course = tmp_path / "course.toml"
    write_course(course)
    out = tmp_path / "out"
    argv = ["gradebook", str(path), "--csv", str(out / "g.csv"), "--html", str(out / "class.html")]
    assert main([*argv, "--course", str(course)]) == 2
    assert f"grader: error: {message.format(path=path)}" in capsys.readouterr().err
    assert not out.exists()


def test_grades_csv_cannot_be_written_into_the_nbgrader_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grades = class_grades(tmp_path / "grades.csv")
    assert main(["gradebook", str(grades), "--nbgrader-db", str(tmp_path / "gradebook.db")]) == 2
    assert "--nbgrader-db writes reports into nbgrader" in capsys.readouterr().err
    assert not (tmp_path / "gradebook.db").exists()


def build_nbgrader_site(tmp_path: Path) -> Path:
    """``grader gradebook grades.csv --html``: s001 full marks on time, s002 60 with counter two days
    late, s003 only counter, s099 on the roster but not in grades.csv; the class page's path."""
    lines = [grades_line("s001", name, 100.0, first="Ada", last="Lovelace") for name in assignments.NAMES]
    lines += [grades_line("s002", "counter", 60.0, submitted=DUE + timedelta(days=1, hours=2))]
    lines += [grades_line("s002", name, 60.0) for name in assignments.NAMES[1:]]
    lines += [grades_line("s003", "counter", 30.0)]
    grades = write_grades(tmp_path / "grades.csv", lines)
    roster = (("s001", "Ada Lovelace"), ("s002", "Grace <b>Hopper</b>"), ("s003", "Alan"), ("s099", "Absent"))
    write_course(tmp_path / "course.toml", roster=roster)
    page = tmp_path / "site" / "class.html"
    assert main(["gradebook", str(grades), "--html", str(page), "--course", str(tmp_path / "course.toml")]) == 0
    return page


def test_class_page_from_grades_csv_says_it_has_no_test_results(tmp_path: Path) -> None:
    page = build_nbgrader_site(tmp_path)
    text = page.read_text(encoding="utf-8")
    links = parse(text)
    assert 'id="no-test-results"' in text and "holds one score per student and assignment" in text
    assert 'id="pass-rates"' not in text and 'id="lecture-sections"' not in text and 'id="pass"' not in text
    assert len(re.findall(r'<g id="hist-bar-\d+"', text)) == render_class_html.HIST_BINS
    assert "graded (nbgrader)" in text and "Grace &lt;b&gt;Hopper&lt;/b&gt;" in text
    stats = dict(re.findall(r"<tr data-assignment='(\w+)'>(.*?)</tr>", text))
    assert list(stats) == list(assignments.NAMES)
    numbers = [re.findall(r"<td class='num'>([^<]*)</td>", row) for row in stats.values()]
    # points, graded, mean, median, lowest, highest, late
    assert numbers[0] == ["100", "3", "63.33", "60", "30", "100", "1"]
    assert numbers[1] == ["50", "2", "40", "40", "30", "50", "0"]
    assert "lowest-scoring assignment is <strong>counter</strong> (mean 63.33 of 100 points)" in text
    assert {u for u in links.urls if u.startswith("students/")} == {f"students/s00{i}.html" for i in (1, 2, 3)}
    assert not [u for u in links.urls if re.match(r"\s*(https?:)?//", u)]  # nothing to link: no sections


def test_student_page_from_grades_csv_shows_only_points_penalties_and_times(tmp_path: Path) -> None:
    page = build_nbgrader_site(tmp_path)
    students = page.parent / "students"
    assert sorted(p.name for p in students.iterdir()) == ["s001.html", "s002.html", "s003.html"]
    text = (students / "s002.html").read_text(encoding="utf-8")
    assert render_student_html.SCORES_ONLY_NOTE.replace("'", "&#x27;") in text
    assert "Redis course: 258/450 points" in text  # 60 % of 450, less 20 % of counter's 60
    assert "s002 · Grace &lt;b&gt;Hopper&lt;/b&gt;" in text and "<b>Hopper" not in text
    counter = re.search(r'<tr id="assignment-counter">(.*?)</tr>', text)
    assert counter is not None
    assert "60 / 100" in counter.group(1) and "-12 (20% late)" in counter.group(1)
    assert "2026-12-03 01:59 UTC" in counter.group(1)
    assert "late: counter -20%" in text
    assert '<li class="test' not in text and "tests passed" not in text  # no per-test results are invented
    alan = (students / "s003.html").read_text(encoding="utf-8")
    assert alan.count("not graded") == 5  # four cells and the note
    assert '<a href="../class.html">' in alan


def test_reports_of_unknown_assignments_and_students_are_warned_about_as_grades_csv_ones_are(
    tmp_path: Path, reports_dir: Path
) -> None:
    course = write_course(tmp_path / "course.toml")
    odd = make_report("s001", ALL_PASSED)
    odd = replace(odd, assignments=(*odd.assignments, replace(odd.assignments[0], name="hashes_intro")))
    write_json(odd, reports_dir / "s001.json")
    book = gradebook.build(reports_dir, course=course)
    assert book.warnings == (
        "ignored the scores of assignment 'hashes_intro' (not one of counter, capped_list, set_analytics, "
        "leaderboard, ttl_cache) of 1 student: s001",
        "not on the roster of 'Redis Fundamentals', listed after it: s009",
    )
    assert book.rows[1].student_id == "s001" and book.rows[1].total == 450
