"""The bridge between our gradebook and nbgrader's: reports into nbgrader's database, grades.csv back out.

``write_reports`` puts the canonical reports of a ``REPORTS_DIR`` (``<student_id>.json``, as
``grader batch`` writes them) into an nbgrader gradebook database, so formgrader's gradebook shows
students graded from their repositories next to those graded from notebooks. Each of our
assignments is an nbgrader assignment holding one notebook of the same name, and each hidden test
is a grade cell named after the test (``counter::test_x`` → ``test_x``), the names the notebooks of
``grader notebooks`` use, so both tracks land on the same cells. ``read_grades_csv`` reads the
``grades.csv`` of ``nbgrader export`` into typed per-student, per-assignment scores, and
``read_gradebook`` turns them into our class gradebook (scores only: grades.csv has no per-test
results).

nbgrader is an optional dependency (``pip install -e '.[notebooks]'``); it is imported on use.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader import assignments
from grader.course import STUDENT_ID, Course
from grader.errors import UsageError
from grader.gradebook import Entry, Gradebook, Score, assemble
from grader.report import Report, ReportError, load_json

GRADES_CSV_COLUMNS = (
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
)
INSTALL_HINT = "install the notebooks extra: pip install -e '.[notebooks]'"
NOTEBOOK_MAX_SCORE = 100.0  # what each notebook of `grader release --notebooks` is worth: its suite's points


class BridgeError(UsageError):
    """Reports, a gradebook database or a grades.csv that cannot be bridged; the message says why."""


# --- our reports into nbgrader's gradebook ---------------------------------------------------------


@dataclass(frozen=True)
class GradebookSync:
    """What ``write_reports`` wrote: how many students and submissions, into which database."""

    db: Path
    students: int
    submissions: int


def write_reports(*, reports_dir: Path, db: Path, course: Course | None = None) -> GradebookSync:
    """Write every report in ``reports_dir`` into the nbgrader gradebook database at ``db`` (sqlite).

    Creates the database, students, assignments, notebooks and grade cells that are missing;
    updates the rest (running it again changes nothing). With ``course``, students get their names
    and emails from the roster, assignments their due dates, and each submission the late penalty
    of the course's policy (in points, nbgrader's unit) computed from the report's ``received_at``.
    Every report is read and checked against the database before anything is written: a report
    that does not load, or a grade cell whose points differ from the report's test, raises
    :class:`BridgeError` naming it, and the database is left as it was.
    """
    reports = _load_reports(reports_dir)
    api = _nbgrader_api()
    if not db.exists():
        if not db.parent.is_dir():
            raise BridgeError(f"{db.parent} is not a folder: cannot create the gradebook database {db.name} there")
        create_database(db)
    url = f"sqlite:///{db.resolve()}"
    with contextlib.closing(api.Gradebook(url)) as gradebook:
        _check_points(gradebook, api, reports)
        for student_id, report in reports.items():
            _write_student(gradebook, student_id, course)
            for result in report.assignments:
                _write_submission(gradebook, api, student_id, report, result.name, course)
    return GradebookSync(db=db, students=len(reports), submissions=sum(len(r.assignments) for r in reports.values()))


def _load_reports(reports_dir: Path) -> dict[str, Report]:
    if not reports_dir.is_dir():
        raise BridgeError(f"{reports_dir} is not a folder of reports (REPORTS_DIR/<student_id>.json)")
    reports: dict[str, Report] = {}
    problems: list[str] = []
    for path in sorted(reports_dir.glob("*.json")):
        try:
            report = load_json(path)
        except ReportError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        student_id = report.student_id or path.stem
        if report.student_id and report.student_id != path.stem:
            problems.append(f"{path.name}: holds the report of {report.student_id!r}, not of {path.stem!r}")
        reports[student_id] = report
    if problems:
        raise BridgeError("cannot bridge these reports (nothing was written): " + "; ".join(problems))
    if not reports:
        raise BridgeError(f"{reports_dir} holds no reports (<student_id>.json)")
    return reports


def _nbgrader_api() -> Any:
    try:
        return importlib.import_module("nbgrader.api")
    except ModuleNotFoundError:
        raise BridgeError(f"nbgrader is not installed: {INSTALL_HINT}") from None


def create_database(db: Path) -> None:
    """Start an empty gradebook database at ``db`` (sqlite), stamped with nbgrader's schema version.

    nbgrader would ask the ``alembic`` command for that version, which fails when the virtual
    environment's ``bin`` is not on PATH; its migration scripts answer the same question in-process.
    """
    script = importlib.import_module("alembic.script")
    dbutil = importlib.import_module("nbgrader.dbutil")
    head = script.ScriptDirectory(dbutil.ALEMBIC_DIR).get_current_head()
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))


def _cell_name(test_id: str) -> str:
    """The grade cell of a test: its id without the ``assignment::`` prefix."""
    return test_id.split("::", 1)[-1]


def _check_points(gradebook: Any, api: Any, reports: Mapping[str, Report]) -> None:
    """Every grade cell that exists already must be worth what the reports' tests are worth."""
    problems: set[str] = set()
    for report in reports.values():
        for result in report.assignments:
            for test in result.tests:
                try:
                    cell = gradebook.find_grade_cell(_cell_name(test.id), result.name, result.name)
                except api.MissingEntry:
                    continue
                if not math.isclose(float(cell.max_score), test.max_score):
                    problems.add(
                        f"{result.name}/{cell.name} is worth {cell.max_score:g} points in the gradebook "
                        f"but {test.max_score} in the reports"
                    )
    if problems:
        raise BridgeError(
            "the gradebook's assignments do not match the suites that graded the reports (nothing was written): "
            + "; ".join(sorted(problems))
        )


def _write_student(gradebook: Any, student_id: str, course: Course | None) -> None:
    details: dict[str, Any] = {}
    if course is not None:
        with contextlib.suppress(KeyError):
            entry = course.student(student_id)
            first, _, last = entry.name.rpartition(" ")
            details = {"first_name": first or last, "last_name": last if first else "", "email": entry.email or None}
    gradebook.update_or_create_student(student_id, **details)


def _write_submission(
    gradebook: Any, api: Any, student_id: str, report: Report, name: str, course: Course | None
) -> None:
    result = next(a for a in report.assignments if a.name == name)
    due = _due(course, name)
    gradebook.update_or_create_assignment(name, **({"duedate": due} if due is not None else {}))
    gradebook.update_or_create_notebook(name, name)
    cells = {}
    for test in result.tests:
        cells[_cell_name(test.id)] = gradebook.update_or_create_grade_cell(
            _cell_name(test.id), name, name, max_score=test.max_score, cell_type="code"
        )
    received = report.received_at or report.graded_at or None
    with gradebook.db.no_autoflush:  # nbgrader builds the submission before adding it: no half-made flushes
        submission = gradebook.update_or_create_submission(name, student_id, timestamp=received)
    notebook = _submitted_notebook(gradebook, api, submission, name)
    scores = {_cell_name(t.id): t.score for t in result.tests}
    for cell in gradebook.find_notebook(name, name).grade_cells:
        grade = _grade(gradebook, api, notebook, cell)
        grade.auto_score = float(scores.get(cell.name, 0))
        grade.manual_score = None
        grade.needs_manual_grade = False
    notebook.late_submission_penalty = _penalty(course, name, received, result.score)
    gradebook.db.commit()


def _submitted_notebook(gradebook: Any, api: Any, submission: Any, name: str) -> Any:
    for notebook in submission.notebooks:
        if notebook.name == name:
            return notebook
    notebook = api.SubmittedNotebook(notebook=gradebook.find_notebook(name, name), assignment=submission)
    gradebook.db.add(notebook)
    return notebook


def _grade(gradebook: Any, api: Any, notebook: Any, cell: Any) -> Any:
    for grade in notebook.grades:
        if grade.cell_id == cell.id:
            return grade
    grade = api.Grade(cell_id=cell.id, notebook=notebook)
    gradebook.db.add(grade)
    return grade


def _due(course: Course | None, name: str) -> datetime | None:
    if course is None:
        return None
    try:
        return course.assignment(name).due
    except KeyError:
        return None


def _penalty(course: Course | None, name: str, received: str | None, score: int) -> float:
    """The late penalty in points: the course policy's fraction of ``score``; 0 without a course or a time."""
    due = _due(course, name)
    if course is None or due is None or not received:
        return 0.0
    try:
        when = datetime.fromisoformat(received)
    except ValueError:
        raise BridgeError(f"received_at {received!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return round(course.late_policy.penalty(due=due, received=when) * score, 6)


# --- nbgrader's grades.csv into our scores -------------------------------------------------------


@dataclass(frozen=True)
class NbgraderScore:
    """One row of nbgrader's ``grades.csv``: a student's score on one assignment.

    ``score`` is ``raw_score`` minus ``late_submission_penalty`` (never below 0). ``submitted_at``
    is None when nbgrader has no submission (then every score is 0) or no timestamp for it. Times
    are UTC (nbgrader stores them naive, in UTC). ``line`` is the row's line in the file.
    """

    student_id: str
    assignment: str
    score: float
    max_score: float
    raw_score: float
    late_penalty: float
    due: datetime | None
    submitted_at: datetime | None
    first_name: str
    last_name: str
    email: str
    line: int = field(default=0, compare=False)

    @property
    def submitted(self) -> bool:
        """Whether nbgrader has a submission: for a student without one it writes no timestamp and 0 points."""
        return self.submitted_at is not None or self.raw_score > 0 or self.late_penalty > 0


def read_grades_csv(path: Path) -> list[NbgraderScore]:
    """Read ``grades.csv`` as ``nbgrader export`` writes it, one :class:`NbgraderScore` per row, in file order.

    Raises :class:`BridgeError` naming the file (and the line) when it cannot be read, is not CSV,
    lacks a column, holds a row that does not parse (nbgrader does not quote fields, so a comma in
    a name shifts the row), or holds a second row for the same student and assignment.
    """
    scores: list[NbgraderScore] = []
    first_line: dict[tuple[str, str], int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet may have saved it
            reader = csv.DictReader(handle)
            try:
                missing = [c for c in GRADES_CSV_COLUMNS if c not in (reader.fieldnames or ())]
                if missing:
                    raise BridgeError(f"{path}: not an nbgrader grades.csv: no column {', '.join(missing)}")
                for row in reader:
                    score = _score_row(row, f"{path}, line {reader.line_num}", reader.line_num)
                    key = (score.student_id, score.assignment)
                    if key in first_line:
                        raise BridgeError(
                            f"{path}, line {reader.line_num}: a second row for student {score.student_id!r} and "
                            f"assignment {score.assignment!r} (the first is on line {first_line[key]})"
                        )
                    first_line[key] = reader.line_num
                    scores.append(score)
            except csv.Error as exc:
                line = reader.line_num + 1  # the line being parsed when it failed
                raise BridgeError(f"{path}, line {line}: not CSV: {exc}") from None
    except IsADirectoryError:
        raise BridgeError(f"{path} is a folder, not nbgrader's grades.csv") from None
    except OSError as exc:
        raise BridgeError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BridgeError(f"{path}: not a CSV file (not UTF-8 text)") from None
    return scores


def _score_row(row: Mapping[str | None, Any], where: str, line: int) -> NbgraderScore:
    if None in row or any(row[c] is None for c in GRADES_CSV_COLUMNS):
        raise BridgeError(f"{where}: expected {len(GRADES_CSV_COLUMNS)} fields (a comma inside a name?)")
    if not row["student_id"] or not row["assignment"]:
        raise BridgeError(f"{where}: student_id and assignment must not be empty")
    return NbgraderScore(
        student_id=row["student_id"],
        assignment=row["assignment"],
        score=_number(row, "score", where),
        max_score=_number(row, "max_score", where),
        raw_score=_number(row, "raw_score", where),
        late_penalty=_number(row, "late_submission_penalty", where),
        due=_time(row, "duedate", where),
        submitted_at=_time(row, "timestamp", where),
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        line=line,
    )


def _number(row: Mapping[str | None, Any], column: str, where: str) -> float:
    try:
        value = float(row[column] or 0)
    except ValueError:
        raise BridgeError(f"{where}: {column} {row[column]!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise BridgeError(f"{where}: {column} {row[column]!r} is not a finite number >= 0")
    return value


def _time(row: Mapping[str | None, Any], column: str, where: str) -> datetime | None:
    text = row[column]
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BridgeError(f"{where}: {column} {text!r} is not a date and time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- nbgrader's grades.csv into our gradebook ----------------------------------------------------


def read_gradebook(path: Path, *, course: Course | None = None) -> Gradebook:
    """The class gradebook from nbgrader's ``grades.csv`` at ``path``: each submitted assignment's
    ``raw_score`` of ``max_score``, rescaled to the course's points, with the course's late policy
    applied from nbgrader's ``timestamp`` (and the course's due dates); without a course, nbgrader's
    own ``late_submission_penalty`` stays. A row with no timestamp and no points is nbgrader's way
    of saying "not submitted"; a student with no submission at all is missing.

    Raises :class:`BridgeError` naming the line for a file :func:`read_grades_csv` refuses, a
    student id that could not name a student (``course.STUDENT_ID``), a max_score of 0 or one that
    differs between rows of one assignment. Warns (``Gradebook.warnings``) when a max_score is not
    the generated notebooks' 100, a raw_score exceeds it, nbgrader's due date differs from the
    course's, nbgrader's late penalties are replaced by the course's, and (via ``assemble``) about
    unknown assignments and students.
    """
    scores = read_grades_csv(path)
    if not scores:
        raise BridgeError(f"{path}: no grades below the header (nbgrader's gradebook had no student or assignment)")
    warnings: list[str] = []
    for score in scores:
        if not STUDENT_ID.fullmatch(score.student_id):
            raise BridgeError(
                f"{path}, line {score.line}: student_id {score.student_id!r} is not a student id of this course "
                "(1-64 letters, digits, '.', '_' or '-', starting with a letter or digit)"
            )
    _check_max_scores(path, scores, warnings)
    if course is not None:
        _check_due_dates(scores, course, warnings)
        if replaced := [s for s in scores if s.late_penalty > 0 and s.assignment in assignments.NAMES]:
            warnings.append(
                f"nbgrader's own late penalties ({len(replaced)} row{'' if len(replaced) == 1 else 's'}, "
                f"e.g. line {replaced[0].line}) are replaced by the late policy of {course.name!r}"
            )
    by_student: dict[str, list[NbgraderScore]] = {}
    for score in scores:
        by_student.setdefault(score.student_id, []).append(score)
    entries = {sid: _entry(sid, rows, course) for sid, rows in by_student.items()}
    return assemble(entries, course=course, source="nbgrader", warnings=warnings)


def _entry(student_id: str, rows: list[NbgraderScore], course: Course | None) -> Entry:
    submitted = [row for row in rows if row.submitted]
    notes: tuple[str, ...] = () if submitted else ("no submission in nbgrader",)
    untimed = [r.assignment for r in submitted if r.submitted_at is None and r.assignment in assignments.NAMES]
    if course is not None and untimed:
        notes += (f"no timestamp: no late penalty on {', '.join(untimed)}",)
    scores = tuple(
        Score(
            row.assignment,
            row.raw_score,
            row.max_score,
            row.submitted_at,
            min(row.late_penalty / row.raw_score, 1.0) if row.raw_score else 0.0,
        )
        for row in submitted
    )
    first, last = rows[0].first_name, rows[0].last_name
    return Entry(student_id, scores, name=" ".join(n for n in (first, last) if n), notes=notes)


def _check_max_scores(path: Path, scores: list[NbgraderScore], warnings: list[str]) -> None:
    """One max_score per assignment, above 0; a warning when it is not the notebooks' or a score exceeds it."""
    first: dict[str, NbgraderScore] = {}
    for score in scores:
        if score.assignment not in assignments.NAMES:
            continue
        seen = first.setdefault(score.assignment, score)
        if score.max_score <= 0:
            raise BridgeError(
                f"{path}, line {score.line}: max_score of {score.assignment!r} is 0: its nbgrader assignment has "
                "no graded cell (was it generated by `grader release --notebooks`?)"
            )
        if score.max_score != seen.max_score:
            raise BridgeError(
                f"{path}, line {score.line}: max_score {score.max_score:g} of {score.assignment!r} differs from the "
                f"{seen.max_score:g} on line {seen.line}"
            )
        if score.raw_score > score.max_score:
            warnings.append(
                f"line {score.line}: {score.student_id} scored {score.raw_score:g} of {score.max_score:g} on "
                f"{score.assignment} (extra credit?); kept, above the assignment's points"
            )
    for name, score in first.items():
        if score.max_score != NOTEBOOK_MAX_SCORE:
            warnings.append(
                f"{name}: nbgrader's max_score is {score.max_score:g}, not the {NOTEBOOK_MAX_SCORE:g} of the "
                "notebooks `grader release --notebooks` generates (were grade cells changed?); "
                f"scores are rescaled from {score.max_score:g}"
            )


def _check_due_dates(scores: list[NbgraderScore], course: Course, warnings: list[str]) -> None:
    """A warning per assignment whose nbgrader due date differs from the course's (which decides)."""
    differing: dict[str, tuple[NbgraderScore, datetime]] = {}
    for score in scores:
        known = score.assignment in assignments.NAMES
        if known and score.due is not None and score.due != course.assignment(score.assignment).due:
            differing.setdefault(score.assignment, (score, score.due))
    for name, (score, due) in differing.items():
        warnings.append(
            f"{name}: nbgrader's duedate {due:%Y-%m-%d %H:%M} UTC (line {score.line}) differs from "
            f"{course.name!r}'s {course.assignment(name).due.astimezone(UTC):%Y-%m-%d %H:%M} UTC; "
            "late penalties use the course's"
        )
