"""Pin each grading job to a commit and the time GitHub received it, before anything is graded.

    python -m grader.push_times MATRIX_FILE [--api-url URL]     (token in $GRADER_GITHUB_TOKEN)

A nightly run, or a run by hand, grades the head of each student's default branch, and its
trigger names no time; yet the late policy must count from when the commit reached GitHub, not
from when the run started (after a deadline, every nightly grade would otherwise be late). For
each entry of MATRIX_FILE (``grader.ci_matrix``'s output) whose ``received_at`` is empty, this
asks GitHub for the default branch's head when the entry names no commit, and for the
repository's activity (pushes, force pushes, branch creations, merges: GitHub's own timestamps,
which a student cannot set) that first brought that commit; the entry gets both, so the job
grades exactly that commit. When the activity GitHub keeps does not show the commit, the entry
keeps an empty ``received_at``: no late penalty is computed for it, and the gradebook says so.
Entries whose trigger named a time are left as they are.

It prints the pinned matrix for ``$GITHUB_OUTPUT`` and a warning per entry it could not pin on
stderr. A repository it cannot read leaves its entry unpinned (the grading job then reports the
checkout's failure); a rejected token stops everything (exit 1). Requests, retries and error
messages are ``grader.publish``'s.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from grader.ci_matrix import MatrixEntry, read_output, render_output, utc_text
from grader.errors import GraderFailure, UsageError
from grader.publish import (
    DEFAULT_API_URL,
    Endpoint,
    PublishError,
    RetryPolicy,
    Session,
    Sleep,
    Target,
    json_object,
    open_github,
    token_from_env,
)

DEFAULT_RETRY = RetryPolicy()
DESCRIPTION = "Pin the grading matrix's jobs to a commit and the time GitHub received it."
ACTIVITY_PAGES = 5  # the newest 500 ref updates are searched for the commit
READ = Endpoint(
    "read the repository, its default branch or its activity",
    '`contents: read` (a GitHub App), "Contents: Read-only" and "Metadata: Read-only" '
    "(fine-grained token) or `repo` (classic token)",
)


@dataclass(frozen=True)
class Pinned:
    """The matrix with what could be pinned, and a warning per entry that could not."""

    entries: tuple[MatrixEntry, ...]
    warnings: tuple[str, ...]


def pin(
    entries: Sequence[MatrixEntry],
    *,
    token: str,
    api_url: str = DEFAULT_API_URL,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Sleep = time.sleep,
) -> Pinned:
    """Each entry without ``received_at`` pinned to its commit (the default branch's head when
    ``ref`` is empty) and the time GitHub first received that commit; see the module docstring.

    Raises ``PublishError`` when GitHub rejects the token (401).
    """
    pinned: list[MatrixEntry] = []
    warnings: list[str] = []
    with open_github(token=token, api_url=api_url) as github:
        for entry in entries:
            if entry.received_at:
                pinned.append(entry)
                continue
            owner, name = entry.repository.split("/", 1)
            session = Session(
                github=github, token=token, target=Target(owner, name, entry.ref), retry=retry, sleep=sleep
            )
            failures: list[str] = []
            found = session.attempt(functools.partial(_commit_and_time, session, entry.ref), failures)
            if found is None:
                warnings.append(f"{entry.student_id}: {'; '.join(failures)}; graded without a late penalty")
                pinned.append(entry)
                continue
            sha, received = found
            if received is None:
                warnings.append(
                    f"{entry.student_id}: GitHub's activity of {entry.repository} does not show when commit "
                    f"{sha[:7]} arrived; graded without a late penalty"
                )
            pinned.append(
                dataclasses.replace(entry, ref=sha, received_at="" if received is None else utc_text(received))
            )
    return Pinned(tuple(pinned), tuple(warnings))


def _commit_and_time(session: Session, ref: str) -> tuple[str, datetime | None]:
    """The commit to grade (``ref``, else the default branch's head) and when GitHub first received it."""
    github, target = session.github, session.target
    branch = ""
    if not ref:
        repository = json_object(session.call(READ, lambda: github.rest.repos.get(target.owner, target.name)))
        branch = str(repository.get("default_branch") or "")
        head = json_object(session.call(READ, lambda: github.rest.repos.get_branch(target.owner, target.name, branch)))
        commit = head.get("commit")
        ref = str(commit.get("sha") or "") if isinstance(commit, dict) else ""
        if len(ref) != 40:
            raise PublishError(f"GitHub named no head commit for branch {branch!r} of {target.repo}")
    return ref.lower(), _first_arrival(session, ref.lower(), branch)


def _first_arrival(session: Session, sha: str, branch: str) -> datetime | None:
    """The earliest activity (on ``branch``, when given) that moved a ref to ``sha``, newest pages first."""
    from githubkit.utils import UNSET

    github, target = session.github, session.target
    earliest: datetime | None = None
    cursor: str | None = None
    for _ in range(ACTIVITY_PAGES):
        page = functools.partial(
            github.rest.repos.list_activities,
            target.owner,
            target.name,
            ref=f"refs/heads/{branch}" if branch else UNSET,
            per_page=100,
            after=cursor if cursor else UNSET,
        )
        response = session.call(READ, page)
        items = response.json()
        for item in items if isinstance(items, list) else []:
            when = _timestamp(item) if isinstance(item, dict) and item.get("after") == sha else None
            if when is not None and (earliest is None or when < earliest):
                earliest = when
        cursor = _next_cursor(response.headers.get("link", ""))
        if cursor is None:
            break
    return earliest


def _timestamp(item: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(item.get("timestamp")))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _next_cursor(link: str) -> str | None:
    """The ``after`` cursor of a ``Link`` header's ``rel="next"`` page, if there is one."""
    for part in link.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params:
            after = parse_qs(urlsplit(url.strip().strip("<>")).query).get("after")
            return after[0] if after else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Print the pinned matrix for ``$GITHUB_OUTPUT``; 1 when GitHub rejects the token, 2 for bad usage."""
    parser = argparse.ArgumentParser(prog="python -m grader.push_times", description=DESCRIPTION)
    parser.add_argument("matrix", type=Path, help="the output of python -m grader.ci_matrix")
    parser.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", DEFAULT_API_URL), help="GitHub API")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        entries = read_output(args.matrix.read_text(encoding="utf-8"))
        result = pin(entries, token=token_from_env(env=os.environ), api_url=args.api_url)
    except (UsageError, OSError) as exc:
        print(f"push_times: error: {exc}", file=sys.stderr)
        return 2
    except GraderFailure as exc:
        print(f"push_times: error: {exc}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"push_times: warning: {warning}", file=sys.stderr)
    sys.stdout.write(render_output(result.entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
