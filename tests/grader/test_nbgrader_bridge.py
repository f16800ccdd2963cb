"""The bridge between our reports and nbgrader's gradebook, on real nbgrader gradebook databases."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("nbgrader")

import nbformat

from grader.cli import main
from grader.course import AssignmentConfig, Course, LatePolicy, Student
from grader.nbgrader_bridge import BridgeError, NbgraderScore, create_database, read_grades_csv, write_reports
from grader.notebooks import notebook_path, release_notebooks
from grader.report import AssignmentResult, RedisInfo, Report, TestResult, write_json

from . import test_gradebook as book_tests
from .test_notebooks import nbgrader

api = importlib.import_module("nbgrader.api")
export = importlib.import_module("nbgrader.plugins.export")

DUE = datetime(2026, 10, 6, 23, 59, tzinfo=UTC)
COURSE = Course(
    name="Redis Fundamentals",
    lecture_url="",
    hidden_visibility="visible",
    per_test_timeout_s=10,
    budget_s=300,
    late_policy=LatePolicy(grace=timedelta(minutes=15), penalty_per_day=0.1, max_penalty=0.5),
    assignments=(AssignmentConfig("counter", DUE), AssignmentConfig("capped_list", DUE + timedelta(days=14))),
    roster=(Student("s001", "Ada Lovelace", "ada@example.edu"), Student("s002", "Plato")),
)


def report(student_id: str, passed: dict[str, list[int]], *, received: datetime | None = None) -> Report:
    """A report whose assignments have tests worth the given points, the first ``passed`` of them passed."""
    results = []
    for name, points in passed.items():
        tests = tuple(
            TestResult(
                id=f"{name}::test_{i}",
                name=f"test {i}",
                status="passed" if p > 0 else "failed",
                score=max(p, 0),
                max_score=abs(p),
            )
            for i, p in enumerate(points)
        )
        results.append(AssignmentResult(name, tests))
    return Report(
        assignments=tuple(results),
        redis=RedisInfo("real", "redis 7.2"),
        duration_s=1.0,
        student_id=student_id,
        received_at=received.isoformat() if received else "",
    )


@contextlib.contextmanager
def gradebook(db: Path) -> Iterator[Any]:
    with contextlib.closing(api.Gradebook(f"sqlite:///{db}")) as book:
        yield book


@contextlib.contextmanager
def gradebook_created(db: Path) -> Iterator[Any]:
    """A new gradebook database, made the way the bridge makes one (no `alembic` on PATH needed)."""
    create_database(db)
    with gradebook(db) as book:
        yield book


def nbgrader_export(db: Path, to: Path) -> list[NbgraderScore]:
    """nbgrader's own grades.csv export of ``db``, read back by the bridge."""
    with gradebook(db) as book:
        export.CsvExportPlugin(to=str(to)).export(book)
    return read_grades_csv(to)


def test_reports_become_nbgrader_students_submissions_and_grades(tmp_path: Path) -> None:
    reports, db = tmp_path / "reports", tmp_path / "gradebook.db"
    on_time = DUE - timedelta(hours=1)
    two_days_late = DUE + timedelta(days=1, hours=10)
    write_json(
        report("s001", {"counter": [10, 10, -30, 50], "capped_list": [60, 40]}, received=on_time), reports / "s001.json"
    )
    write_json(report("s002", {"counter": [10, -10, 30, 50]}, received=two_days_late), reports / "s002.json")
    write_json(report("s003", {"counter": [-10, -10, -30, -50]}), reports / "s003.json")

    summary = write_reports(reports_dir=reports, db=db, course=COURSE)
    assert (summary.students, summary.submissions) == (3, 4)

    with gradebook(db) as book:
        ada = book.find_student("s001")
        assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "Lovelace", "ada@example.edu")
        assert book.find_student("s002").first_name == "Plato"
        assert book.find_assignment("counter").duedate == DUE.replace(tzinfo=None)
        cell = book.find_grade_cell("test_3", "counter", "counter")
        assert cell.max_score == 50
        assert book.find_grade("test_3", "counter", "counter", "s001").score == 50
        assert book.find_grade("test_2", "counter", "counter", "s001").score == 0
    rows = {(r.student_id, r.assignment): r for r in nbgrader_export(db, tmp_path / "grades.csv")}
    assert (rows[("s001", "counter")].raw_score, rows[("s001", "counter")].max_score) == (70.0, 100.0)
    assert rows[("s001", "capped_list")].raw_score == 100.0
    late = rows[("s002", "counter")]
    assert (late.raw_score, late.late_penalty, late.score) == (90.0, 18.0, 72.0)  # 2 started days x 10 %
    assert late.submitted_at == two_days_late and late.due == DUE
    assert rows[("s003", "counter")].score == 0.0 and rows[("s003", "counter")].submitted_at is None
    assert rows[("s002", "capped_list")].raw_score == 0.0, "nbgrader lists a missing submission as 0"

    write_reports(reports_dir=reports, db=db, course=COURSE)
    again = nbgrader_export(db, tmp_path / "again.csv")
    assert {(r.student_id, r.assignment): r for r in again} == rows
    with gradebook(db) as book:
        assert len(book.students) == 3 and len(book.find_assignment("counter").submissions) == 3


def test_a_new_report_replaces_the_old_grades(tmp_path: Path) -> None:
    reports, db = tmp_path / "reports", tmp_path / "gradebook.db"
    write_json(report("s001", {"counter": [-50, -50]}), reports / "s001.json")
    write_reports(reports_dir=reports, db=db)
    write_json(report("s001", {"counter": [50, -50]}), reports / "s001.json")
    write_reports(reports_dir=reports, db=db)
    (row,) = nbgrader_export(db, tmp_path / "grades.csv")
    assert (row.raw_score, row.late_penalty, row.due) == (50.0, 0.0, None)


def test_reports_land_on_the_grade_cells_of_the_generated_notebooks(tmp_path: Path) -> None:
    course = tmp_path / "course"
    release_notebooks(out=course, names=("counter",))
    notebook = nbformat.read(notebook_path(course, "counter"), as_version=4)
    cells = {
        c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader.get("points")
        for c in notebook.cells
        if c.cell_type == "code"
    }
    db = course / "gradebook.db"
    with gradebook_created(db) as book:  # as `nbgrader generate_assignment` records the notebook's grade cells
        book.update_or_create_assignment("counter")
        book.update_or_create_notebook("counter", "counter")
        for name, points in cells.items():
            if points is not None:
                book.update_or_create_grade_cell(name, "counter", "counter", max_score=points, cell_type="code")
    hidden = {name: points for name, points in cells.items() if points}
    passed = [p if i % 2 else -p for i, p in enumerate(hidden.values())]
    tests = tuple(
        TestResult(f"counter::{name}", name, "passed" if p > 0 else "failed", max(p, 0), abs(p))
        for name, p in zip(hidden, passed, strict=True)
    )
    write_json(
        Report(
            assignments=(AssignmentResult("counter", tests),),
            redis=RedisInfo("real", "redis 7"),
            duration_s=1,
            student_id="s001",
        ),
        tmp_path / "reports" / "s001.json",
    )
    write_reports(reports_dir=tmp_path / "reports", db=db)
    with gradebook(db) as book:
        assert {c.name for c in book.find_notebook("counter", "counter").grade_cells} == {
            n for n, p in cells.items() if p is not None
        }
        submission = book.find_submission("counter", "s001")
        assert submission.max_score == 100
        assert submission.score == sum(p for p in passed if p > 0)
        assert book.find_grade("checks_record_pageview", "counter", "counter", "s001").score == 0


def test_points_that_disagree_with_the_gradebook_change_nothing(tmp_path: Path) -> None:
    reports, db = tmp_path / "reports", tmp_path / "gradebook.db"
    write_json(report("s001", {"counter": [10, 90]}), reports / "s001.json")
    write_reports(reports_dir=reports, db=db)
    write_json(report("s002", {"counter": [20, 80]}), reports / "s002.json")
    before = db.read_bytes()
    with pytest.raises(BridgeError, match=r"counter/test_0 is worth 10 points in the gradebook but 20 in the reports"):
        write_reports(reports_dir=reports, db=db)
    assert db.read_bytes() == before


def test_unreadable_reports_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    reports, db = tmp_path / "reports", tmp_path / "gradebook.db"
    write_json(report("s001", {"counter": [100]}), reports / "s001.json")
    (reports / "s002.json").write_text("{not json")
    write_json(report("s009", {"counter": [100]}), reports / "s003.json")
    with pytest.raises(BridgeError, match=r"s002\.json: .*s003\.json: holds the report of 's009'") as error:
        write_reports(reports_dir=reports, db=db)
    assert "nothing was written" in str(error.value)
    assert not db.exists()
    with pytest.raises(BridgeError, match="is not a folder of reports"):
        write_reports(reports_dir=tmp_path / "missing", db=db)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BridgeError, match="holds no reports"):
        write_reports(reports_dir=tmp_path / "empty", db=db)
    (reports / "s002.json").unlink()
    (reports / "s003.json").unlink()
    with pytest.raises(BridgeError, match=r"is not a folder: cannot create the gradebook database gradebook\.db"):
        write_reports(reports_dir=reports, db=tmp_path / "no" / "such" / "gradebook.db")


HEADER = (
    "assignment,duedate,timestamp,student_id,last_name,first_name,email,"
    "raw_score,late_submission_penalty,score,max_score\n"
)


def test_grades_csv_rows_become_typed_scores(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(
        HEADER
        + "counter,2026-10-06 23:59:00,2026-10-08 10:00:00.250000,s001,Lovelace,Ada,ada@example.edu,"
        + "90.0,18.0,72.0,100.0\n"
        + "counter,,,s002,,,,0.0,0.0,0.0,100.0\n"
    )
    first, second = read_grades_csv(path)
    assert first == NbgraderScore(
        student_id="s001",
        assignment="counter",
        score=72.0,
        max_score=100.0,
        raw_score=90.0,
        late_penalty=18.0,
        due=DUE,
        submitted_at=datetime(2026, 10, 8, 10, 0, 0, 250000, tzinfo=UTC),
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.edu",
    )
    assert (second.student_id, second.score, second.due, second.submitted_at) == ("s002", 0.0, None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("assignment,student_id,score\ncounter,s1,3\n", r"not an nbgrader grades.csv: no column duedate, timestamp"),
        (HEADER + "counter,,,s1,Lovelace,Ada, Countess,a@x,1,0,1,100\n", r"line 2: expected 11 fields"),
        (HEADER + "counter,,,s1,,,,lots,0,1,100\n", r"line 2: raw_score 'lots' is not a number"),
        (HEADER + "counter,,,s1,,,,-1,0,1,100\n", r"line 2: raw_score '-1' is not a finite number >= 0"),
        (HEADER + "counter,yesterday,,s1,,,,1,0,1,100\n", r"line 2: duedate 'yesterday' is not a date and time"),
        (HEADER + ",,,s1,,,,1,0,1,100\n", r"line 2: student_id and assignment must not be empty"),
    ],
)
def test_malformed_grades_csv_is_refused_with_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(text)
    with pytest.raises(BridgeError, match=message):
        read_grades_csv(path)


def test_missing_grades_csv_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BridgeError, match="cannot read"):
        read_grades_csv(tmp_path / "grades.csv")


def test_gradebook_command_writes_the_nbgrader_database(tmp_path: Path) -> None:
    reports, db = tmp_path / "reports", tmp_path / "gradebook.db"
    write_json(report("s001", {"counter": [60, 40]}), reports / "s001.json")
    assert main(["gradebook", str(reports), "--nbgrader-db", str(db)]) == 0
    with gradebook(db) as book:
        assert book.find_grade("test_0", "counter", "counter", "s001").score == 60
    assert main(["gradebook", str(reports)]) == 2  # nothing to write


def write_class(tmp_path: Path) -> tuple[Path, Path]:
    """Reports and course.toml of test_gradebook's class: s001 all passed on time, s002 the 6-point
    test of each assignment two days late, s009 all passed but not on the roster, s003 absent."""
    reports, course = tmp_path / "reports", tmp_path / "course.toml"
    late = book_tests.DUE + timedelta(days=1, hours=2)
    write_json(book_tests.make_report("s001", book_tests.ALL_PASSED), reports / "s001.json")
    write_json(book_tests.make_report("s002", book_tests.FIRST_PASSED, received_at=late), reports / "s002.json")
    write_json(book_tests.make_report("s009", book_tests.ALL_PASSED), reports / "s009.json")
    book_tests.write_course(course)
    return reports, course


def test_grades_exported_by_nbgrader_give_the_gradebook_of_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, course = write_class(tmp_path)
    db, ours = tmp_path / "gradebook.db", tmp_path / "from_reports.csv"
    assert main(["gradebook", str(reports), "--csv", str(ours), "--course", str(course), "--nbgrader-db", str(db)]) == 0
    with gradebook(db) as book:
        export.CsvExportPlugin(to=str(tmp_path / "grades.csv")).export(book)
    capsys.readouterr()
    back = tmp_path / "from_nbgrader.csv"
    assert main(["gradebook", str(tmp_path / "grades.csv"), "--csv", str(back), "--course", str(course)]) == 0
    assert back.read_text() == ours.read_text()  # points, late penalties, totals, notes: the round trip loses nothing
    rows = {r["student_id"]: r for r in book_tests.read_csv(back)}
    assert (rows["s002"]["late_penalty"], rows["s002"]["total"]) == ("54", "216")
    assert rows["s003"]["note"] == "missing"
    printed = capsys.readouterr().out
    assert "nbgrader's own late penalties (5 rows" in printed  # the bridge wrote the course's penalty into nbgrader
    assert "counter: nbgrader's max_score is 10, not the 100" in printed  # the test reports' suites are worth 10


@pytest.mark.slow
def test_grades_csv_of_the_nbgrader_export_command_builds_the_gradebook(tmp_path: Path) -> None:
    reports, course = write_class(tmp_path)
    nb_course = tmp_path / "nb"
    nb_course.mkdir()
    db = nb_course / "gradebook.db"  # where `nbgrader export` looks by default
    assert main(["gradebook", str(reports), "--nbgrader-db", str(db), "--course", str(course)]) == 0
    nbgrader(nb_course, "export")  # the real command line, in its own process
    grades, site = nb_course / "grades.csv", tmp_path / "site" / "class.html"
    out = tmp_path / "from_nbgrader.csv"
    argv = ["gradebook", str(grades), "--csv", str(out), "--html", str(site), "--course", str(course)]
    assert main(argv) == 0
    assert [(r["student_id"], r["total"]) for r in book_tests.read_csv(out)] == [
        ("s002", "216"),
        ("s001", "450"),
        ("s003", ""),
        ("s009", "450"),
    ]
    assert 'id="no-test-results"' in site.read_text(encoding="utf-8")
    assert sorted(p.name for p in (site.parent / "students").iterdir()) == ["s001.html", "s002.html", "s009.html"]
