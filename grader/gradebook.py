"""The class gradebook: each student's points per assignment, late penalty and total, from a folder of reports.

``build`` reads every ``<student_id>.json`` canonical report in a REPORTS_DIR (written by
``grader batch``), skipping with a warning any file that is not a valid report of the student it
names; ``render_csv`` turns the result into the CSV an LMS imports. Points are rescaled to the
course's points per assignment (100 each without a course). A late penalty is the late policy's
fraction, for that assignment's due date and the report's ``received_at``, times the points
earned on that assignment; without a course there is no penalty.
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader import assignments
from grader.course import DEFAULT_POINTS, STUDENT_ID, Course
from grader.errors import UsageError
from grader.report import Report, ReportError, load_json

MAX_REPORT_BYTES = 5_000_000  # a real report is ~100 kB; anything far larger is not one
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


@dataclass(frozen=True)
class Cell:
    """One student's result on one assignment, in course points; ``points`` is None when not graded."""

    assignment: str
    points: float | None
    max_points: int
    late_fraction: float = 0.0
    penalty: float = 0.0


@dataclass(frozen=True)
class Row:
    """One student's line of the gradebook; ``report`` is None when no report was found."""

    student_id: str
    name: str
    report: Report | None
    cells: tuple[Cell, ...]
    notes: tuple[str, ...] = ()

    @property
    def missing(self) -> bool:
        return self.report is None

    @property
    def penalty(self) -> float | None:
        """Points deducted for lateness, over all assignments; None for a missing student."""
        return None if self.report is None else round(sum(c.penalty for c in self.cells), 2)

    @property
    def total(self) -> float | None:
        """Points earned minus the late penalty; None for a missing student."""
        if self.report is None:
            return None
        return round(sum(c.points or 0.0 for c in self.cells) - sum(c.penalty for c in self.cells), 2)


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
    """The whole class: rows in roster order (else by id), per-test statistics, and the warnings
    about files that were skipped or reports that could not be fully used."""

    course_name: str
    lecture_url: str
    max_points: tuple[tuple[str, int], ...]
    rows: tuple[Row, ...]
    tests: tuple[TestStat, ...]
    warnings: tuple[str, ...] = ()

    @property
    def max_total(self) -> int:
        return sum(points for _, points in self.max_points)

    def graded(self) -> list[Row]:
        """The rows that have a report."""
        return [row for row in self.rows if row.report is not None]

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
        raise UsageError(f"{reports_dir}: not a folder of reports (expected the --out folder of `grader batch`)")
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
    max_points = tuple(
        (name, course.assignment(name).points if course else DEFAULT_POINTS) for name in assignments.NAMES
    )
    rows: list[Row] = []
    if course is not None:
        for student in course.roster:
            report = reports.get(student.student_id)
            if report is None:
                rows.append(_missing_row(student.student_id, student.name, max_points))
            else:
                rows.append(_row(student.student_id, student.name, report, max_points, course, warnings))
        extra = sorted(set(reports) - {s.student_id for s in course.roster})
        rows += [_row(sid, "", reports[sid], max_points, course, warnings, ("not on roster",)) for sid in extra]
    else:
        rows += [_row(sid, "", reports[sid], max_points, None, warnings) for sid in sorted(reports)]
    return Gradebook(
        course_name=course.name if course else "",
        lecture_url=course.lecture_url if course else "",
        max_points=max_points,
        rows=tuple(rows),
        tests=_test_stats(reports.values()),
        warnings=tuple(warnings),
    )


def _missing_row(student_id: str, name: str, max_points: tuple[tuple[str, int], ...]) -> Row:
    cells = tuple(Cell(assignment, None, points) for assignment, points in max_points)
    return Row(student_id, name, None, cells, ("missing",))


def _row(
    student_id: str,
    name: str,
    report: Report,
    max_points: tuple[tuple[str, int], ...],
    course: Course | None,
    warnings: list[str],
    notes: tuple[str, ...] = (),
) -> Row:
    received = _received_at(student_id, report, warnings) if course is not None else None
    if course is not None and received is None:
        notes += ("no received_at: no late penalty",)
    by_name = {a.name: a for a in report.assignments}
    if unknown := sorted(set(by_name) - set(assignments.NAMES)):
        warnings.append(f"{student_id}: ignored unknown assignment(s) {', '.join(unknown)} in its report")
    cells: list[Cell] = []
    for assignment, points in max_points:
        result = by_name.get(assignment)
        if result is None or result.max_score == 0:
            cells.append(Cell(assignment, None, points))
            continue
        earned = round(result.score / result.max_score * points, 2)
        fraction = 0.0
        if course is not None and received is not None:
            fraction = course.late_policy.penalty(due=course.assignment(assignment).due, received=received)
        cells.append(Cell(assignment, earned, points, fraction, round(fraction * earned, 2)))
    if late := [c for c in cells if c.late_fraction > 0]:
        notes += ("late: " + ", ".join(f"{c.assignment} -{c.late_fraction:.0%}" for c in late),)
    if ungraded := [c.assignment for c in cells if c.points is None]:
        notes += (f"not graded: {', '.join(ungraded)}",)
    if not report.complete:
        notes += ("incomplete: some tests could not run",)
    return Row(student_id, name, report, tuple(cells), notes)


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
