"""Turn the course roster into the job matrix of the grading workflow (``.github/workflows/grade.yml``).

    python -m grader.ci_matrix --course course.toml [--repository OWNER/NAME] [--sha SHA] [--received-at TIME]

prints ``matrix=<json>`` and ``count=<n>`` for ``$GITHUB_OUTPUT``. The matrix has one entry per
student with a repository: ``student_id``, ``repository``, ``ref`` (the SHA to grade, or empty
for the default branch's head), ``received_at`` (when the push was received, ISO 8601 UTC, as the
trigger said; the late policy counts from it), ``timeout`` and ``budget`` (seconds, from the
course's ``[grading]``). A trigger that names no time (a nightly run, a run by hand) leaves
``received_at`` empty: ``python -m grader.push_times`` then pins each such entry to a commit and
the time GitHub received it, before anything is graded. With ``--repository`` only that roster
repository is graded: a repository that is not on the roster is refused, so the read token is
never used on anything else.

The inputs come from workflow triggers and are untrusted: each is validated here (repository
``OWNER/NAME`` on the roster, full 40-hex SHA, ISO 8601 time with an offset) and the workflow
passes them through ``env``. Standard library only: it runs before the grader is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader.course import Course, load_course
from grader.errors import UsageError

DESCRIPTION = "Print the grading workflow's job matrix for $GITHUB_OUTPUT."
MAX_JOBS = 256  # GitHub Actions runs at most 256 jobs per matrix
SHA = re.compile(r"[0-9a-f]{40}")
REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}")
# Student ids name artifacts (``grade-<id>--<sha>``) and jobs: no quotes, slashes, colons or spaces.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class MatrixEntry:
    """One grading job."""

    student_id: str
    repository: str
    ref: str
    received_at: str
    timeout: str
    budget: str


def build_matrix(
    *, course: Course, received_at: datetime | None, repository: str = "", sha: str = ""
) -> list[MatrixEntry]:
    """The grading jobs for ``course``'s roster, or for the roster entries of ``repository`` alone.

    ``sha`` (a full 40-hex commit SHA) needs ``repository``. ``received_at`` must be
    timezone-aware (None: not known yet). Raises ``UsageError`` for a malformed input, a
    repository not on the roster, an empty selection, or more than ``MAX_JOBS`` jobs.
    """
    if received_at is not None and received_at.tzinfo is None:
        raise UsageError("received_at must carry a UTC offset")
    if repository and not check_repository(repository):
        raise UsageError(f"repository must be OWNER/NAME as GitHub names them, not {repository!r}")
    if sha and not SHA.fullmatch(sha):
        raise UsageError(f"sha must be a full 40-character lowercase hexadecimal commit SHA, not {sha!r}")
    if sha and not repository:
        raise UsageError("a sha names a commit of one repository: give the repository too")
    students = [s for s in course.roster if s.repository]
    if repository:
        students = [s for s in students if s.repository.lower() == repository.lower()]
        if not students:
            raise UsageError(f"repository {repository!r} is not on the course roster")
    if not students:
        raise UsageError("no student on the roster has a repository to grade")
    if len(students) > MAX_JOBS:
        raise UsageError(
            f"{len(students)} repositories exceed GitHub's {MAX_JOBS} jobs per matrix: grade on each push "
            "(repository_dispatch with one repository), or split the roster into several course files"
        )
    for student in students:
        if not STUDENT_ID.fullmatch(student.student_id) or not check_repository(student.repository):
            raise UsageError(f"roster entry {student.student_id!r}: student_id or repository unusable in a job name")
    when = "" if received_at is None else utc_text(received_at)
    return [
        MatrixEntry(
            student_id=s.student_id,
            repository=s.repository,
            ref=sha,
            received_at=when,
            timeout=f"{course.per_test_timeout_s:g}",
            budget=f"{course.budget_s:g}",
        )
        for s in students
    ]


def utc_text(moment: datetime) -> str:
    """``moment`` as the matrix writes times: ISO 8601 in UTC, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def check_repository(value: str) -> bool:
    """True when ``value`` is ``OWNER/NAME`` by GitHub's naming rules."""
    return bool(REPOSITORY.fullmatch(value)) and value.split("/", 1)[1] not in {".", ".."}


def parse_received_at(value: str) -> datetime | None:
    """``value`` (ISO 8601 with an offset) as an aware datetime, or None when empty."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"received_at must be an ISO 8601 time such as 2026-10-06T23:59:00Z, not {value!r}") from None
    if parsed.tzinfo is None:
        raise UsageError(f"received_at must carry a UTC offset (Z or +hh:mm), not {value!r}")
    return parsed


def render_output(entries: Sequence[MatrixEntry]) -> str:
    """The ``$GITHUB_OUTPUT`` lines: ``matrix=<json>`` (one line) and ``count=<n>``."""
    matrix = json.dumps({"include": [asdict(e) for e in entries]}, separators=(",", ":"))
    return f"matrix={matrix}\ncount={len(entries)}\n"


def read_output(text: str) -> list[MatrixEntry]:
    """The entries of :func:`render_output`'s text; ``UsageError`` when it is not that."""
    lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        entries = [MatrixEntry(**{k: str(v) for k, v in e.items()}) for e in json.loads(lines["matrix"])["include"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"not a matrix written by grader.ci_matrix: {type(exc).__name__}: {exc}") from None
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    """Print the matrix for ``$GITHUB_OUTPUT``; exit 2 with a message on stderr for bad input."""
    parser = argparse.ArgumentParser(prog="python -m grader.ci_matrix", description=DESCRIPTION)
    parser.add_argument("--course", type=Path, required=True, help="course.toml with the roster")
    parser.add_argument("--repository", default="", help="grade only this roster repository (OWNER/NAME)")
    parser.add_argument("--sha", default="", help="the commit to grade (needs --repository); default: branch head")
    parser.add_argument(
        "--received-at", default="", help="when the push was received (ISO 8601); default: left for grader.push_times"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 for --help
        return int(exc.code or 0)
    try:
        entries = build_matrix(
            course=load_course(args.course),
            repository=args.repository.strip(),
            sha=args.sha.strip().lower(),
            received_at=parse_received_at(args.received_at.strip()),
        )
    except UsageError as exc:
        print(f"ci_matrix: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render_output(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
