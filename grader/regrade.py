"""Regrades: merge a regraded assignment into an existing report, and explain what changed.

Both functions are pure over canonical reports. ``merge_reports`` keeps every assignment the
new grading did not cover exactly as it was; ``diff_reports`` lists, per student, the old and
new totals and every test whose status or points changed, so a TA can explain a new score.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, replace

from grader.grading import INCOMPLETE_NOTE, OVER_BUDGET, STOPPED_EARLY
from grader.report import AssignmentResult, Report, TestResult

CSV_COLUMNS = (
    "student_id",
    "old_score",
    "new_score",
    "delta",
    "assignment",
    "test_id",
    "test_name",
    "old_status",
    "new_status",
    "old_points",
    "new_points",
    "max_points",
)


@dataclass(frozen=True)
class TestChange:
    """One test whose status or points differ; ``None`` status: the test is absent on that side."""

    __test__ = False  # not a pytest test class, whatever its name

    assignment: str
    test_id: str
    name: str
    old_status: str | None
    new_status: str | None
    old_points: int
    new_points: int
    max_points: int


@dataclass(frozen=True)
class ReportDiff:
    """One student's regrade: totals before and after, and the tests that changed."""

    student_id: str
    old_score: int
    new_score: int
    old_max: int
    new_max: int
    changes: tuple[TestChange, ...]

    @property
    def delta(self) -> int:
        return self.new_score - self.old_score

    @property
    def changed(self) -> bool:
        return bool(self.changes) or self.delta != 0 or self.old_max != self.new_max


def _incomplete(tests: Iterable[TestResult]) -> bool:
    return any(t.status == "error" or t.feedback in (STOPPED_EARLY, OVER_BUDGET) for t in tests)


def merge_reports(old: Report, new: Report, *, note: str = "") -> Report:
    """``old`` with each assignment that ``new`` graded replaced by ``new``'s result.

    Assignments ``new`` did not grade keep their results; assignments only ``new`` has are
    appended. Grading metadata (server, isolation, time, version, student, commit, receipt)
    comes from ``new``; ``note``, when given, is added to the notes.
    """
    regraded = {a.name: a for a in new.assignments}
    kept = [a for a in old.assignments if a.name not in regraded]
    merged: list[AssignmentResult] = [regraded.pop(a.name, a) for a in old.assignments]
    merged += regraded.values()
    complete = new.complete and (old.complete or not _incomplete(t for a in kept for t in a.tests))
    notes = [n for n in dict.fromkeys((*old.notes, *new.notes)) if n != INCOMPLETE_NOTE]
    if note:
        notes.append(note)
    if not complete:
        notes.append(INCOMPLETE_NOTE)
    return replace(new, assignments=tuple(merged), complete=complete, notes=tuple(notes))


def diff_reports(old: Report, new: Report) -> ReportDiff:
    """What changed from ``old`` to ``new``: totals, and each test whose status or points differ."""
    before = {(a.name, t.id): t for a in old.assignments for t in a.tests}
    after = {(a.name, t.id): t for a in new.assignments for t in a.tests}
    changes: list[TestChange] = []
    for key in dict.fromkeys((*before, *after)):
        was, now = before.get(key), after.get(key)
        if (
            was is not None
            and now is not None
            and (was.status, was.score, was.max_score)
            == (
                now.status,
                now.score,
                now.max_score,
            )
        ):
            continue
        either = now or was
        assert either is not None
        changes.append(
            TestChange(
                assignment=key[0],
                test_id=key[1],
                name=either.name,
                old_status=was.status if was else None,
                new_status=now.status if now else None,
                old_points=was.score if was else 0,
                new_points=now.score if now else 0,
                max_points=either.max_score,
            )
        )
    return ReportDiff(
        student_id=new.student_id or old.student_id,
        old_score=old.score,
        new_score=new.score,
        old_max=old.max_score,
        new_max=new.max_score,
        changes=tuple(changes),
    )


def render_csv(diffs: Iterable[ReportDiff]) -> str:
    """The regrade as CSV (``CSV_COLUMNS``): one row per changed test, one row for a student with none."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for diff in diffs:
        totals = [diff.student_id, diff.old_score, diff.new_score, diff.delta]
        if not diff.changes:
            writer.writerow([*totals, "", "", "", "", "", "", "", ""])
        for c in diff.changes:
            writer.writerow(
                [
                    *totals,
                    c.assignment,
                    c.test_id,
                    c.name,
                    c.old_status or "absent",
                    c.new_status or "absent",
                    c.old_points,
                    c.new_points,
                    c.max_points,
                ]
            )
    return buffer.getvalue()
