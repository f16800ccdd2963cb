"""The course configuration (``course.toml``): assignments, deadlines, late policy, roster, visibility.

``load_course`` reads and validates the file; every problem raises ``CourseConfigError`` with a
message naming the file, the key (``assignments[2].due``) and what is wrong, so an instructor
can fix it without reading code. The late policy computes penalties from the time the grader
received a submission, never from commit dates.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from grader import assignments
from grader.errors import UsageError

Visibility = Literal["visible", "after_due_date", "after_published", "hidden"]
VISIBILITIES: tuple[str, ...] = get_args(Visibility)
DEFAULT_POINTS = 100
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
DAY = timedelta(days=1)


class CourseConfigError(UsageError):
    """``course.toml`` is missing, not TOML, or does not describe a valid course."""


@dataclass(frozen=True)
class LatePolicy:
    """How lateness costs points: nothing within ``grace`` of the due date, then
    ``penalty_per_day`` of the score per started day late (counted from the due date), at most
    ``max_penalty``; everything when later than ``hard_deadline`` after the due date."""

    grace: timedelta
    penalty_per_day: float
    max_penalty: float
    hard_deadline: timedelta | None = None

    def penalty(self, *, due: datetime, received: datetime) -> float:
        """The fraction (0..1) of the score lost by a submission received at ``received``.

        Both datetimes must be timezone-aware; ``ValueError`` otherwise.
        """
        if due.tzinfo is None or received.tzinfo is None:
            raise ValueError("due and received must be timezone-aware datetimes")
        late = received - due
        if late <= self.grace:
            return 0.0
        if self.hard_deadline is not None and late > self.hard_deadline:
            return 1.0
        started_days = math.ceil(late / DAY)
        return min(self.max_penalty, round(started_days * self.penalty_per_day, 9))


@dataclass(frozen=True)
class AssignmentConfig:
    """One assignment's deadline (aware datetime) and the points its suite is rescaled to."""

    name: str
    due: datetime
    points: int = DEFAULT_POINTS


@dataclass(frozen=True)
class Student:
    """One roster entry; ``repository`` is ``OWNER/NAME`` of the student's repository, or empty."""

    student_id: str
    name: str
    email: str = ""
    repository: str = ""


@dataclass(frozen=True)
class Course:
    """A validated ``course.toml``."""

    name: str
    lecture_url: str
    hidden_visibility: Visibility
    per_test_timeout_s: float
    budget_s: float
    late_policy: LatePolicy
    assignments: tuple[AssignmentConfig, ...]
    roster: tuple[Student, ...]

    def assignment(self, name: str) -> AssignmentConfig:
        """The configuration of assignment ``name``; ``KeyError`` when the course has none."""
        for config in self.assignments:
            if config.name == name:
                return config
        raise KeyError(f"course {self.name!r} has no assignment {name!r}")

    def student(self, student_id: str) -> Student:
        """The roster entry of ``student_id``; ``KeyError`` when not on the roster."""
        for student in self.roster:
            if student.student_id == student_id:
                return student
        raise KeyError(f"student {student_id!r} is not on the roster of {self.name!r}")


def load_course(path: Path) -> Course:
    """Read and validate ``path``; ``CourseConfigError`` names the file, the key and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CourseConfigError(f"{path}: no such course file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseConfigError(f"{path}: cannot read the course file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CourseConfigError(f"{path}: not valid TOML: {exc}") from None
    return _Parser(path).course(data)


class _Parser:
    """Typed checks over the parsed TOML, each error naming ``file: key``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, problem: str) -> CourseConfigError:
        return CourseConfigError(f"{self.path}: {key}: {problem}")

    def table(self, data: Mapping[str, Any], key: str, *, where: str = "") -> Mapping[str, Any]:
        full = f"{where}.{key}" if where else key
        if key not in data:
            raise self.error(f"[{full}]", "missing table")
        value = data[key]
        if not isinstance(value, dict):
            raise self.error(full, f"must be a table ([{full}]), not {_kind(value)}")
        return value

    def keys(
        self, data: Mapping[str, Any], where: str, *, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> None:
        if unknown := sorted(set(data) - set(required) - set(optional)):
            known = ", ".join((*required, *optional))
            raise self.error(where or "top level", f"unknown key(s) {', '.join(unknown)}; known: {known}")
        if missing := [k for k in required if k not in data]:
            raise self.error(_join(where, missing[0]), "missing required key")

    def string(self, data: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.error(_join(where, key), f"must be a string, not {_kind(value)}")
        if default is None and not value.strip():
            raise self.error(_join(where, key), "must not be empty")
        return value

    def number(
        self, data: Mapping[str, Any], key: str, where: str, *, positive: bool = False, at_most: float | None = None
    ) -> float:
        value = data[key]
        full = _join(where, key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(full, f"must be a number, not {_kind(value)}")
        if value < 0:
            raise self.error(full, f"must not be negative, got {value}")
        if positive and value == 0:
            raise self.error(full, "must be greater than 0")
        if at_most is not None and value > at_most:
            raise self.error(full, f"must be a fraction between 0 and {at_most:g}, got {value}")
        return float(value)

    def course(self, data: Mapping[str, Any]) -> Course:
        self.keys(data, "", required=(), optional=("course", "grading", "late_policy", "assignments", "roster"))
        course = self.table(data, "course")
        self.keys(course, "course", required=("name",), optional=("lecture_url",))
        grading = self.table(data, "grading")
        self.keys(grading, "grading", required=("hidden_visibility", "per_test_timeout_s", "budget_s"), optional=())
        visibility = grading["hidden_visibility"]
        if visibility not in VISIBILITIES:
            raise self.error(
                "grading.hidden_visibility", f"must be one of {', '.join(VISIBILITIES)}, not {visibility!r}"
            )
        return Course(
            name=self.string(course, "name", "course"),
            lecture_url=self.string(course, "lecture_url", "course", default=""),
            hidden_visibility=visibility,
            per_test_timeout_s=self.number(grading, "per_test_timeout_s", "grading", positive=True),
            budget_s=self.number(grading, "budget_s", "grading", positive=True),
            late_policy=self.late_policy(self.table(data, "late_policy")),
            assignments=self.assignments(data.get("assignments", [])),
            roster=self.roster(data.get("roster", [])),
        )

    def late_policy(self, data: Mapping[str, Any]) -> LatePolicy:
        where = "late_policy"
        self.keys(
            data, where, required=("grace_minutes", "penalty_per_day", "max_penalty"), optional=("hard_deadline_days",)
        )
        grace = timedelta(minutes=self.number(data, "grace_minutes", where))
        hard = None
        if "hard_deadline_days" in data:
            hard = timedelta(days=self.number(data, "hard_deadline_days", where, positive=True))
            if hard <= grace:
                raise self.error(f"{where}.hard_deadline_days", "must be later than the grace period")
        return LatePolicy(
            grace=grace,
            penalty_per_day=self.number(data, "penalty_per_day", where, at_most=1.0),
            max_penalty=self.number(data, "max_penalty", where, at_most=1.0),
            hard_deadline=hard,
        )

    def array(self, value: Any, key: str) -> list[Mapping[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(key, f"must be an array of tables ([[{key}]]), not {_kind(value)}")
        return value

    def assignments(self, value: Any) -> tuple[AssignmentConfig, ...]:
        configs: list[AssignmentConfig] = []
        for index, entry in enumerate(self.array(value, "assignments")):
            where = f"assignments[{index}]"
            self.keys(entry, where, required=("name", "due"), optional=("points",))
            name = self.string(entry, "name", where)
            if name not in assignments.NAMES:
                raise self.error(f"{where}.name", f"unknown assignment {name!r}; known: {', '.join(assignments.NAMES)}")
            if any(c.name == name for c in configs):
                raise self.error(f"{where}.name", f"assignment {name!r} is configured twice")
            due = entry["due"]
            if not isinstance(due, datetime):
                raise self.error(
                    f"{where}.due", f"must be a TOML date-time with an offset (2026-12-01T23:59:00Z), not {_kind(due)}"
                )
            if due.tzinfo is None:
                raise self.error(
                    f"{where}.due", f"{due.isoformat()} has no UTC offset; write e.g. {due.isoformat()}Z or +01:00"
                )
            points = entry.get("points", DEFAULT_POINTS)
            if isinstance(points, bool) or not isinstance(points, int):
                raise self.error(f"{where}.points", f"must be an integer, not {_kind(points)}")
            if points <= 0:
                raise self.error(f"{where}.points", f"must be a positive integer, got {points}")
            configs.append(AssignmentConfig(name=name, due=due, points=points))
        if missing := [n for n in assignments.NAMES if not any(c.name == n for c in configs)]:
            raise self.error("assignments", f"no [[assignments]] entry for {', '.join(missing)}")
        return tuple(configs)

    def roster(self, value: Any) -> tuple[Student, ...]:
        students: list[Student] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(self.array(value, "roster")):
            where = f"roster[{index}]"
            self.keys(entry, where, required=("student_id", "name"), optional=("email", "repository"))
            student_id = self.string(entry, "student_id", where)
            if not STUDENT_ID.fullmatch(student_id):
                raise self.error(
                    f"{where}.student_id",
                    f"{student_id!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
                    "(it names the student's report file)",
                )
            if student_id in seen:
                raise self.error(
                    f"{where}.student_id", f"duplicate student id {student_id!r} (also roster[{seen[student_id]}])"
                )
            seen[student_id] = index
            repository = self.string(entry, "repository", where, default="")
            if repository and not REPOSITORY.fullmatch(repository):
                raise self.error(f"{where}.repository", f"must be OWNER/NAME, not {repository!r}")
            students.append(
                Student(
                    student_id=student_id,
                    name=self.string(entry, "name", where),
                    email=self.string(entry, "email", where, default=""),
                    repository=repository,
                )
            )
        return tuple(students)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    """How a TOML value reads to an instructor: ``a string ('x')``, ``an integer (3)``, ..."""
    kinds: tuple[tuple[type, str], ...] = (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (datetime, "a date-time"),
        (list, "an array"),
        (dict, "a table"),
    )
    for kind, label in kinds:
        if isinstance(value, kind):
            return f"{label} ({value!r})" if not isinstance(value, list | dict) else label
    return f"a {type(value).__name__} ({value!r})"
