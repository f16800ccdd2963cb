"""The ``grader`` command line: a thin typed shell over the grading functions.

Exit codes are a contract other tools rely on: 0 when the command completed (whatever the
score), 2 for bad usage or an unusable submission, 1 when the grader itself failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from grader import assignments, render_markdown, render_terminal
from grader.grading import GradeOptions, GraderError, grade
from grader.redis_server import ProvisioningError
from grader.release import release_stubs
from grader.report import write_atomic, write_json
from grader.submission import SubmissionError

REPO_ROOT = Path(__file__).resolve().parents[1]
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line usage; exits 2."""


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade Redis course submissions.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    g = verbs.add_parser("grade", help="grade one submission with the hidden suites")
    g.add_argument("submission", type=Path, help="folder holding the five modules, or a repository with assignments/")
    g.add_argument("--json", type=Path, metavar="FILE", help="write the canonical JSON report here")
    g.add_argument("--markdown", type=Path, metavar="FILE", help="write the report as Markdown here")
    g.add_argument(
        "--redis-url", metavar="URL", help="grade on this server (default: $REDIS_URL, else a disposable one)"
    )
    g.add_argument(
        "--backend", choices=("auto", "fake"), default="auto", help="'fake' grades on fakeredis (approximate)"
    )
    g.add_argument(
        "--assignment",
        action="append",
        choices=assignments.NAMES,
        metavar="NAME",
        help=f"grade only this assignment (repeatable): {', '.join(assignments.NAMES)}",
    )
    g.add_argument("--timeout", type=_positive, default=10.0, metavar="S", help="seconds per test (default 10)")
    g.add_argument(
        "--budget", type=_positive, default=300.0, metavar="S", help="seconds for the whole run (default 300)"
    )
    g.add_argument(
        "--sandbox",
        choices=("auto", "full", "reduced", "off"),
        default="auto",
        help="how to confine student code: auto (full when root with namespaces, else reduced), "
        "full (fail if unavailable), reduced, off (import it into the test process)",
    )
    g.add_argument("--quiet", action="store_true", help="print only the total")

    rel = verbs.add_parser("release", help="generate the student stubs in assignments/ from solutions/")
    rel.add_argument("--check", action="store_true", help="write nothing; exit 1 when assignments/ is stale")
    rel.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions", help=argparse.SUPPRESS)
    rel.add_argument("--out", type=Path, default=REPO_ROOT / "assignments", help=argparse.SUPPRESS)
    return parser


def cmd_grade(args: argparse.Namespace, console: Console) -> int:
    options = GradeOptions(
        assignments=tuple(dict.fromkeys(args.assignment)) if args.assignment else assignments.NAMES,
        redis_url=args.redis_url,
        backend=args.backend,
        per_test_timeout_s=args.timeout,
        budget_s=args.budget,
        sandbox=args.sandbox,
    )
    report = grade(args.submission, options=options)
    if args.json:
        write_json(report, args.json)
    if args.markdown:
        write_atomic(args.markdown, render_markdown.render(report))
    if args.quiet:
        console.print(f"{report.score}/{report.max_score}")
    else:
        render_terminal.render(report, console)
    return EXIT_OK


def cmd_release(args: argparse.Namespace, console: Console) -> int:
    paths = release_stubs(solutions=args.solutions, out=args.out, check=args.check)
    if args.check:
        if paths:
            console.print(f"assignments/ is stale: {', '.join(p.name for p in paths)}; run `grader release`")
            return EXIT_FAILURE
        console.print("assignments/ is up to date")
        return EXIT_OK
    console.print(f"wrote {len(paths)} stub file(s)" if paths else "assignments/ was already up to date")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (tests call it directly)."""
    console = Console(highlight=False)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 for --help
        return int(exc.code or 0)
    try:
        if args.verb == "grade":
            return cmd_grade(args, console)
        return cmd_release(args, console)
    except (SubmissionError, UsageError) as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ProvisioningError, GraderError) as exc:
        print(f"grader: failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
