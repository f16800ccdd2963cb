"""What students may see of a hidden-suite report now, by the course's ``[grading] hidden_visibility``.

``visible``: everything. ``after_due_date``: an assignment's results once its due date has passed.
``after_published``: nothing until the instructor releases the results (``release=True``).
``hidden``: nothing, ever. Withheld assignments are left out of what is shown, each with a line
saying when its results come; the score shown is that of the assignments shown.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from grader.course import Course
from grader.report import Report


@dataclass(frozen=True)
class Shown:
    """The report as students may see it now, and why each withheld assignment is withheld."""

    report: Report
    withheld: tuple[str, ...]  # e.g. "capped_list: results after its due date, 2026-10-20 23:59 UTC"


def shown(report: Report, *, course: Course, now: datetime, release: bool = False) -> Shown:
    """The part of ``report`` students may see at ``now`` (aware); see the module docstring."""
    policy = course.hidden_visibility
    kept, withheld = [], []
    for assignment in report.assignments:
        due = _due(course, assignment.name)
        past_due = due is not None and due <= now
        if (
            policy == "visible"
            or (policy == "after_published" and release)
            or (policy == "after_due_date" and past_due)
        ):
            kept.append(assignment)
        elif policy == "after_due_date":
            when = f"its due date, {due.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if due else "its due date"
            withheld.append(f"{assignment.name}: results after {when}")
        elif policy == "after_published":
            withheld.append(f"{assignment.name}: results once your instructor publishes them")
        else:
            withheld.append(f"{assignment.name}: results are not shown in this course")
    return Shown(dataclasses.replace(report, assignments=tuple(kept)), tuple(withheld))


def _due(course: Course, assignment: str) -> datetime | None:
    try:
        return course.assignment(assignment).due
    except KeyError:
        return None
