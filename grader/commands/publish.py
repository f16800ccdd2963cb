"""``grader publish``: post a report's score on the student's commit, the job summary and Classroom's notices."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from grader.course import load_course
from grader.errors import UsageError
from grader.publish import (
    CHECK_NAME,
    DEFAULT_API_URL,
    STATUS_CONTEXT,
    TOKEN_VARIABLES,
    append_step_summary,
    check_api_url,
    check_report_commit,
    classroom_notices,
    parse_target,
    publish,
    token_from_env,
)
from grader.report import ReportError, load_json
from grader.visibility import shown

HELP = "post a report's score on GitHub: commit status, one commit comment, check run, job summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"The token comes from ${TOKEN_VARIABLES[0]}, else ${TOKEN_VARIABLES[1]}; it is never read from the "
        "command line and never printed."
    )
    parser.add_argument("report", type=Path, help="the canonical JSON report (grader grade --json)")
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the student's repository")
    parser.add_argument("--sha", required=True, help="the graded commit (40 hexadecimal characters)")
    parser.add_argument(
        "--api-url", metavar="URL", help=f"GitHub's REST API (default: $GITHUB_API_URL, else {DEFAULT_API_URL})"
    )
    parser.add_argument(
        "--check-run", action="store_true", help=f"also create a '{CHECK_NAME}' check run (GitHub App tokens only)"
    )
    parser.add_argument(
        "--summary",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="append the report to $GITHUB_STEP_SUMMARY (default: when it is set; --summary requires it)",
    )
    parser.add_argument(
        "--classroom-notices", action="store_true", help="print the 'Autograding complete/report' notices"
    )
    parser.add_argument(
        "--course",
        type=Path,
        metavar="FILE",
        help="show students only what course.toml's [grading] hidden_visibility allows now, on the commit "
        "(default: everything); the job summary and notices, for the course's staff, stay whole",
    )
    parser.add_argument(
        "--release", action="store_true", help="hidden_visibility = after_published: the results are published now"
    )


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        report = load_json(args.report)
    except ReportError as exc:
        raise UsageError(f"cannot publish {args.report}: {exc}") from None
    if args.release and not args.course:
        raise UsageError("--release needs --course: it releases what the course's hidden_visibility withholds")
    view = (
        shown(report, course=load_course(args.course), now=datetime.now(UTC), release=args.release)
        if args.course
        else None
    )
    target = parse_target(repo=args.repo, sha=args.sha)
    check_report_commit(report=report, target=target)
    api_url = check_api_url(url=args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL)
    token = token_from_env(env=os.environ)
    summary = os.environ.get("GITHUB_STEP_SUMMARY", "")
    if args.summary and not summary:
        raise UsageError("--summary needs $GITHUB_STEP_SUMMARY, which GitHub Actions sets in every step")

    # Local outputs first: they cannot be lost to a network failure below.
    if summary and args.summary is not False:
        append_step_summary(report, path=Path(summary), target=target)
    if args.classroom_notices:
        for line in classroom_notices(report):
            console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)

    done = publish(
        report=view.report if view else report,
        withheld=view.withheld if view else (),
        target=target,
        token=token,
        api_url=api_url,
        check_run=args.check_run,
    )
    verb = "updated" if done.comment_updated else "posted"
    console.print(
        f"{target.repo}@{target.sha[:7]}: {verb} the report comment {done.comment_url}", markup=False, soft_wrap=True
    )
    console.print(f"commit status {STATUS_CONTEXT}: {done.status_state}, {done.status_description}", markup=False)
    if done.check_run_id is not None:
        console.print(f"check run {CHECK_NAME}: #{done.check_run_id}", markup=False)
    return 0
