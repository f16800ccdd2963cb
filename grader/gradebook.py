"""The class gradebook: each student's points per assignment, late penalty and total, from any score source.

``assemble`` builds it from a neutral source, one :class:`Entry` of :class:`Score` per student
(the assignment's points earned in the source's unit, and when they were submitted), so every
source shares one roster, rescaling, late-penalty and CSV code. Two sources feed it: ``build``
reads every ``<student_id>.json`` canonical report in a REPORTS_DIR (written by ``grader batch``),
skipping with a warning any file that is not a valid report of the student it names, and keeps
each report for its per-test statistics and student page; ``grader.nbgrader_bridge`` reads
nbgrader's ``grades.csv`` (scores only). ``render_csv`` turns the result into the CSV an LMS
imports. Points are rescaled to the course's points per assignment (100 each without a course).
A late penalty is the late policy's fraction, for that assignment's due date and the submission
time, times the points earned on that assignment; without a course, only a penalty the source
already took (nbgrader's) applies.
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from grader import assignments
from grader.course import DEFAULT_POINTS, STUDENT_ID, Course
from grader.errors import UsageError
from grader.report import Report, ReportError, load_json

MAX_REPORT_BYTES = 5_000_000  # a real report is ~100 kB; anything far larger is not one
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula
Source = Literal["reports", "nbgrader"]


@dataclass(frozen=True)
class Score:
    """One student's score on one assignment as a source gives it, before course points and lateness.

    ``earned`` of ``possible`` points in the source's unit (suite points); ``submitted_at`` (aware)
    is when the submission was received, None when unknown; ``source_penalty`` is the fraction of
    ``earned`` the source already took for lateness, which applies only without a course (with
    one, the course's late policy decides).
    """

    assignment: str
    earned: float
    possible: float
    submitted_at: datetime | None = None
    source_penalty: float = 0.0


@dataclass(frozen=True)
class Entry:
    """What a source holds for one student: its scores (none when it has no submission), a name
    when the source knows one (the roster's wins), source-specific notes, and the full report when
    the source is one."""

    student_id: str
    scores: tuple[Score, ...]
    name: str = ""
    notes: tuple[str, ...] = ()
    report: Report | None = None


@dataclass(frozen=True)
class Cell:
    """One student's result on one assignment, in course points; ``points`` is None when not graded."""

    assignment: str
    points: float | None
    max_points: int
    late_fraction: float = 0.0
    penalty: float = 0.0
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class Row:
    """One student's line of the gradebook. ``missing``: the source has nothing of the student (no
    report, or no submission); ``report`` is the student's full report when the source has one."""

    student_id: str
    name: str
    cells: tuple[Cell, ...]
    notes: tuple[str, ...] = ()
    report: Report | None = None
    missing: bool = False

    @property
    def penalty(self) -> float | None:
        """Points deducted for lateness, over all assignments; None for a missing student."""
        return None if self.missing else round(sum(c.penalty for c in self.cells), 2)

    @property
    def total(self) -> float | None:
        """Points earned minus the late penalty; None for a missing student."""
        if self.missing:
            return None
        return round(sum(c.points or 0.0 for c in self.cells) - sum(c.penalty for c in self.cells), 2)


@dataclass(frozen=True)
class AssignmentStat:
    """How the class did on one assignment: points earned (before late penalties) by the ``graded`` students."""

    assignment: str
    max_points: int
    graded: int
    mean: float | None
    median: float | None
    lowest: float | None
    highest: float | None
    late: int


@dataclass(frozen=True)
class TestStat:
    """How the class did on one test: ``passed`` of the ``graded`` reports that ran it."""

    __test__ = False  # not a pytest test class, whatever its name

    id: str
    name: str
    assignment: str
    section: str
    passed: int
    graded: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class SectionStat:
    """How the class did on the tests of one lecture section (test outcomes pooled)."""

    section: str
    tests: int
    passed: int
    graded: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class Gradebook:
    """The whole class: rows in roster order (else by id), per-test statistics (none when the
    ``source`` has no per-test results: nbgrader's grades.csv), and the warnings about input that
    was skipped or could not be fully used."""

    course_name: str
    lecture_url: str
    max_points: tuple[tuple[str, int], ...]
    rows: tuple[Row, ...]
    tests: tuple[TestStat, ...]
    warnings: tuple[str, ...] = ()
    source: Source = "reports"

    @property
    def max_total(self) -> int:
        return sum(points for _, points in self.max_points)

    @property
    def has_tests(self) -> bool:
        """Whether the source holds per-test results (reports do; nbgrader's grades.csv does not)."""
        return self.source == "reports"

    def graded(self) -> list[Row]:
        """The rows that are not missing."""
        return [row for row in self.rows if not row.missing]

    def assignment_stats(self) -> list[AssignmentStat]:
        """Per assignment, in course order, the points earned by the students graded on it."""
        stats = []
        for index, (name, points) in enumerate(self.max_points):
            cells = [row.cells[index] for row in self.rows if not row.missing]
            earned = [c.points for c in cells if c.points is not None]
            stats.append(
                AssignmentStat(
                    assignment=name,
                    max_points=points,
                    graded=len(earned),
                    mean=round(statistics.fmean(earned), 2) if earned else None,
                    median=round(statistics.median(earned), 2) if earned else None,
                    lowest=min(earned, default=None),
                    highest=max(earned, default=None),
                    late=sum(1 for c in cells if c.late_fraction > 0),
                )
            )
        return stats

    def totals(self) -> list[float]:
        """The totals of the graded rows."""
        return [row.total for row in self.rows if row.total is not None]

    def median_total(self) -> float | None:
        totals = self.totals()
        return round(statistics.median(totals), 2) if totals else None

    def sections(self) -> list[SectionStat]:
        """Per lecture section, its tests' pooled pass rate; hardest first."""
        pooled: dict[str, list[int]] = {}
        for test in self.tests:
            counts = pooled.setdefault(test.section, [0, 0, 0])
            counts[0] += 1
            counts[1] += test.passed
            counts[2] += test.graded
        stats = [SectionStat(section, *counts) for section, counts in pooled.items()]
        return sorted(stats, key=lambda s: s.pass_rate)


def section_slug(section: str) -> str:
    """The anchor of a lecture section: ``Part 4.2 · Capped lists`` → ``part-4-2-capped-lists``."""
    return "-".join(re.findall(r"[a-z0-9]+", section.lower()))


def section_url(lecture_url: str, section: str) -> str | None:
    """``{lecture_url}#{slug}``, or None without an http(s) lecture URL or a section to link."""
    slug = section_slug(section)
    if not slug or not re.match(r"https?://", lecture_url):
        return None
    return f"{lecture_url.split('#', 1)[0]}#{slug}"


def load_reports(reports_dir: Path) -> tuple[dict[str, Report], list[str]]:
    """Every valid ``<student_id>.json`` report in ``reports_dir`` by student id, and one warning per
    ``.json`` file skipped (unreadable, not a report, or the report of another student)."""
    if not reports_dir.is_dir():
        raise UsageError(
            f"{reports_dir}: not a folder of reports (expected the --out folder of `grader batch`, "
            "or the grades.csv of `nbgrader export`)"
        )
    reports: dict[str, Report] = {}
    warnings: list[str] = []
    for path in sorted(reports_dir.iterdir()):
        if path.suffix != ".json" or path.name.startswith(".") or not path.is_file():
            continue
        student_id = path.stem
        if not STUDENT_ID.fullmatch(student_id):
            warnings.append(f"skipped {path}: {student_id!r} is not a student id")
            continue
        if path.stat().st_size > MAX_REPORT_BYTES:
            warnings.append(f"skipped {path}: larger than {MAX_REPORT_BYTES} bytes, not a report")
            continue
        try:
            report = load_json(path)
        except ReportError as exc:
            warnings.append(f"skipped {path}: not a valid report: {str(exc).removeprefix(f'{path}: ')}")
            continue
        if report.student_id and report.student_id != student_id:
            warnings.append(f"skipped {path}: it is the report of {report.student_id!r}, not of {student_id!r}")
            continue
        reports[student_id] = report
    return reports, warnings


def build(reports_dir: Path, *, course: Course | None = None) -> Gradebook:
    """The gradebook of the reports in ``reports_dir``; ``UsageError`` when it holds none."""
    reports, warnings = load_reports(reports_dir)
    if not reports:
        raise UsageError(f"{reports_dir}: no valid <student_id>.json report to build a gradebook from")
    entries = {sid: _report_entry(sid, report, course, warnings) for sid, report in reports.items()}
    return assemble(entries, course=course, source="reports", tests=_test_stats(reports.values()), warnings=warnings)


def assemble(
    entries: Mapping[str, Entry],
    *,
    course: Course | None,
    source: Source,
    tests: tuple[TestStat, ...] = (),
    warnings: Iterable[str] = (),
) -> Gradebook:
    """The gradebook of ``entries`` (by student id): with a course, its roster in order (a student
    without an entry, or whose entry has no score, is missing), then the students not on the roster
    (noted, and warned about); without one, every entry by id. Scores of assignments the course
    does not have are left out with a warning naming them and their students."""
    warned = list(warnings)
    max_points = tuple(
        (name, course.assignment(name).points if course else DEFAULT_POINTS) for name in assignments.NAMES
    )
    unknown: dict[str, list[str]] = {}
    for student_id, entry in entries.items():
        for score in entry.scores:
            if score.assignment not in assignments.NAMES:
                unknown.setdefault(score.assignment, []).append(student_id)
    for name, students in sorted(unknown.items()):
        warned.append(
            f"ignored the scores of assignment {name!r} (not one of {', '.join(assignments.NAMES)}) "
            f"of {len(students)} student{'' if len(students) == 1 else 's'}: {', '.join(students)}"
        )
    rows: list[Row] = []
    if course is None:
        rows += [_row(entries[sid], entries[sid].name, max_points, None) for sid in sorted(entries)]
    else:
        for student in course.roster:
            found = entries.get(student.student_id)
            if found is None:
                rows.append(_missing_row(Entry(student.student_id, ()), student.name, max_points))
            else:
                rows.append(_row(found, student.name, max_points, course))
        on_roster = {s.student_id for s in course.roster}
        if extra := sorted(set(entries) - on_roster):
            warned.append(f"not on the roster of {course.name!r}, listed after it: {', '.join(extra)}")
        rows += [_row(entries[sid], entries[sid].name, max_points, course, ("not on roster",)) for sid in extra]
    return Gradebook(
        course_name=course.name if course else "",
        lecture_url=course.lecture_url if course else "",
        max_points=max_points,
        rows=tuple(rows),
        tests=tests,
        warnings=tuple(warned),
        source=source,
    )


def _missing_row(entry: Entry, name: str, max_points: tuple[tuple[str, int], ...], notes: tuple[str, ...] = ()) -> Row:
    cells = tuple(Cell(assignment, None, points) for assignment, points in max_points)
    return Row(entry.student_id, name, cells, ("missing", *notes, *entry.notes), report=entry.report, missing=True)


def _row(
    entry: Entry,
    name: str,
    max_points: tuple[tuple[str, int], ...],
    course: Course | None,
    notes: tuple[str, ...] = (),
) -> Row:
    """The row of one entry: each score rescaled to the course's points, less its late penalty."""
    by_name = {score.assignment: score for score in entry.scores if score.possible > 0}
    if not by_name.keys() & set(assignments.NAMES):
        return _missing_row(entry, name, max_points, notes)
    notes += entry.notes
    cells: list[Cell] = []
    for assignment, points in max_points:
        score = by_name.get(assignment)
        if score is None:
            cells.append(Cell(assignment, None, points))
            continue
        earned = round(score.earned / score.possible * points, 2)
        fraction = score.source_penalty if course is None else 0.0
        if course is not None and score.submitted_at is not None:
            fraction = course.late_policy.penalty(due=course.assignment(assignment).due, received=score.submitted_at)
        cells.append(Cell(assignment, earned, points, fraction, round(fraction * earned, 2), score.submitted_at))
    if late := [c for c in cells if c.late_fraction > 0]:
        notes += ("late: " + ", ".join(f"{c.assignment} -{c.late_fraction:.0%}" for c in late),)
    if ungraded := [c.assignment for c in cells if c.points is None]:
        notes += (f"not graded: {', '.join(ungraded)}",)
    return Row(entry.student_id, name, tuple(cells), notes, report=entry.report)


def _report_entry(student_id: str, report: Report, course: Course | None, warnings: list[str]) -> Entry:
    """A report as a source entry: one score per assignment, all received at the report's ``received_at``."""
    received = _received_at(student_id, report, warnings) if course is not None else None
    notes: tuple[str, ...] = ()
    if course is not None and received is None:
        notes += ("no received_at: no late penalty",)
    if not report.complete:
        notes += ("incomplete: some tests could not run",)
    scores = tuple(Score(a.name, a.score, a.max_score, received) for a in report.assignments)
    return Entry(student_id, scores, notes=notes, report=report)


def _received_at(student_id: str, report: Report, warnings: list[str]) -> datetime | None:
    if not report.received_at:
        warnings.append(f"{student_id}: its report has no received_at, so no late penalty was computed")
        return None
    try:
        received = datetime.fromisoformat(report.received_at)
    except ValueError:
        warnings.append(f"{student_id}: received_at {report.received_at!r} is not an ISO 8601 time; no late penalty")
        return None
    if received.tzinfo is None:
        warnings.append(f"{student_id}: received_at {report.received_at!r} has no UTC offset; read as UTC")
        received = received.replace(tzinfo=UTC)
    return received


def _test_stats(reports: Iterable[Report]) -> tuple[TestStat, ...]:
    """Per test id, in assignment order then first appearance, how many reports passed it."""
    order = {name: index for index, name in enumerate(assignments.NAMES)}
    first: dict[str, tuple[str, str, str]] = {}
    passed: dict[str, int] = {}
    graded: dict[str, int] = {}
    for report in reports:
        for result in report.assignments:
            if result.name not in order:
                continue
            for test in result.tests:
                first.setdefault(test.id, (test.name, result.name, test.section))
                graded[test.id] = graded.get(test.id, 0) + 1
                passed[test.id] = passed.get(test.id, 0) + (test.status == "passed")
    ids = sorted(first, key=lambda i: order[first[i][1]])  # stable: keeps first appearance within one
    return tuple(TestStat(i, *first[i], passed=passed[i], graded=graded[i]) for i in ids)


def format_points(value: float | None) -> str:
    """Points as an LMS reads them: ``75``, ``73.33``, ``7.5``; empty for None."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text_cell(text: str) -> str:
    return f"'{text}" if text.startswith(CSV_FORMULA_START) else text


def render_csv(book: Gradebook) -> str:
    """The gradebook as CSV for LMS import: student_id, name, one column per assignment (course
    points), late_penalty (points deducted), total, note."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["student_id", "name", *assignments.NAMES, "late_penalty", "total", "note"])
    for row in book.rows:
        writer.writerow(
            [
                _text_cell(row.student_id),
                _text_cell(row.name),
                *(format_points(cell.points) for cell in row.cells),
                format_points(row.penalty),
                format_points(row.total),
                _text_cell("; ".join(row.notes)),
            ]
        )
    return out.getvalue()
