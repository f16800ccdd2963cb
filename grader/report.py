"""The canonical grade report: typed, versioned, written atomically, read back with validation.

Every other format (terminal, Markdown, Gradescope, Classroom, JUnit, CSV) is rendered from
this model; nothing else is the source of a score.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

SCHEMA_VERSION = 1
Status = Literal["passed", "failed", "error", "not_attempted", "timeout"]
STATUSES: tuple[str, ...] = get_args(Status)
Backend = Literal["real", "fake"]


class ReportError(ValueError):
    """A report file is not a valid canonical report."""


@dataclass(frozen=True)
class TestResult:
    """One graded test; ``feedback`` is student-facing and empty when it passed; ``section`` names
    the lecture section the test checks (as its hint does)."""

    __test__ = False  # not a pytest test class, whatever its name

    id: str
    name: str
    status: Status
    score: int
    max_score: int
    feedback: str = ""
    section: str = ""


@dataclass(frozen=True)
class AssignmentResult:
    """One assignment's tests and their total."""

    name: str
    tests: tuple[TestResult, ...]

    @property
    def score(self) -> int:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> int:
        return sum(t.max_score for t in self.tests)


@dataclass(frozen=True)
class RedisInfo:
    """The server the suites ran against; ``approximate`` is true for fakeredis."""

    backend: Backend
    version: str
    description: str = ""
    approximate: bool = False


@dataclass(frozen=True)
class Report:
    """A whole submission's grade. ``complete`` is false when some tests could not be run.

    ``isolation`` says how student code ran: ``full`` (confined worker), ``reduced`` (separate
    process, limits only) or ``none`` (in the test process, fakeredis development runs).
    ``student_id``, ``commit`` and ``received_at`` (ISO 8601, when the grader received the push;
    lateness is computed from it, never from commit dates) are filled in by batch grading.
    """

    assignments: tuple[AssignmentResult, ...]
    redis: RedisInfo
    duration_s: float
    submission: str = ""
    graded_at: str = ""
    grader_version: str = ""
    isolation: str = ""
    student_id: str = ""
    commit: str = ""
    received_at: str = ""
    complete: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def score(self) -> int:
        return sum(a.score for a in self.assignments)

    @property
    def max_score(self) -> int:
        return sum(a.max_score for a in self.assignments)

    def tests(self) -> list[TestResult]:
        return [t for a in self.assignments for t in a.tests]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: schema_version, score, max_score, assignments, redis, duration_s, ..."""
        return {
            "schema_version": SCHEMA_VERSION,
            "score": self.score,
            "max_score": self.max_score,
            "assignments": [
                {
                    "name": a.name,
                    "score": a.score,
                    "max_score": a.max_score,
                    "tests": [asdict(t) for t in a.tests],
                }
                for a in self.assignments
            ],
            "redis": asdict(self.redis),
            "duration_s": round(self.duration_s, 3),
            "submission": self.submission,
            "graded_at": self.graded_at,
            "grader_version": self.grader_version,
            "isolation": self.isolation,
            "student_id": self.student_id,
            "commit": self.commit,
            "received_at": self.received_at,
            "complete": self.complete,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Report:
        """Parse and validate a report document; ``ReportError`` says what is wrong."""
        try:
            if data.get("schema_version") != SCHEMA_VERSION:
                raise ReportError(f"unsupported schema_version {data.get('schema_version')!r}")
            assignments = tuple(
                AssignmentResult(a["name"], tuple(_test(t) for t in a["tests"])) for a in data["assignments"]
            )
            redis = data["redis"]
            report = cls(
                assignments=assignments,
                redis=RedisInfo(
                    backend=_choice(redis["backend"], ("real", "fake"), "redis.backend"),
                    version=str(redis["version"]),
                    description=str(redis.get("description", "")),
                    approximate=bool(redis.get("approximate", False)),
                ),
                duration_s=float(data["duration_s"]),
                submission=str(data.get("submission", "")),
                graded_at=str(data.get("graded_at", "")),
                grader_version=str(data.get("grader_version", "")),
                isolation=str(data.get("isolation", "")),
                student_id=str(data.get("student_id", "")),
                commit=str(data.get("commit", "")),
                received_at=str(data.get("received_at", "")),
                complete=bool(data.get("complete", True)),
                notes=tuple(str(n) for n in data.get("notes", ())),
            )
        except ReportError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportError(f"malformed report: {type(exc).__name__}: {exc}") from None
        if (data["score"], data["max_score"]) != (report.score, report.max_score):
            raise ReportError("score and max_score do not match the sum of the tests")
        return report


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> Any:
    if value not in allowed:
        raise ReportError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _test(data: dict[str, Any]) -> TestResult:
    score, max_score = data["score"], data["max_score"]
    if not (isinstance(score, int) and isinstance(max_score, int) and 0 <= score <= max_score):
        raise ReportError(f"test {data.get('id')!r}: score must be an int between 0 and max_score")
    return TestResult(
        id=str(data["id"]),
        name=str(data["name"]),
        status=_choice(data["status"], STATUSES, f"test {data.get('id')!r} status"),
        score=score,
        max_score=max_score,
        feedback=str(data.get("feedback", "")),
        section=str(data.get("section", "")),
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # like any file we write: readable by the TAs who serve or read it
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(report: Report, path: Path) -> None:
    """Write the canonical JSON report atomically."""
    write_atomic(path, json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")


def load_json(path: Path) -> Report:
    """Read and validate a canonical JSON report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: {exc}") from None
    return Report.from_dict(data)
