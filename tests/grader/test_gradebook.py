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

from grader import assignments, gradebook, render_class_html, render_student_html
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
