"""``grader grade``: grade one submission with the hidden suites and write its reports."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rich.console import Console

from grader import assignments, render_classroom, render_gradescope, render_junit, render_markdown, render_terminal
from grader.errors import UsageError
from grader.grading import GradeOptions, grade
from grader.report import write_atomic, write_json

HELP = "grade one submission with the hidden suites"


def positive_seconds(value: str) -> float:
    """argparse type: a positive number of seconds."""
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return number


def positive_int(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return number


def add_grading_options(parser: argparse.ArgumentParser) -> None:
    """The options that say how to grade; shared by every verb that grades."""
    parser.add_argument(
        "--redis-url", metavar="URL", help="grade on this server (default: $REDIS_URL, else a disposable one)"
    )
    parser.add_argument(
        "--backend", choices=("auto", "fake"), default="auto", help="'fake' grades on fakeredis (approximate)"
    )
    parser.add_argument(
        "--assignment",
        action="append",
        choices=assignments.NAMES,
        metavar="NAME",
        help=f"grade only this assignment (repeatable): {', '.join(assignments.NAMES)}",
    )
    parser.add_argument("--timeout", type=positive_seconds, default=10.0, metavar="S", help="seconds per test")
    parser.add_argument(
        "--budget", type=positive_seconds, default=300.0, metavar="S", help="seconds for the whole submission"
    )
    parser.add_argument(
        "--sandbox",
        choices=("auto", "full", "reduced", "off"),
        default="auto",
        help="how to confine student code: auto (full when root with namespaces, else reduced), "
        "full (fail if unavailable), reduced, off (import it into the test process)",
    )


def grade_options(args: argparse.Namespace) -> GradeOptions:
    """The ``GradeOptions`` that ``add_grading_options`` arguments describe."""
    return GradeOptions(
        assignments=tuple(dict.fromkeys(args.assignment)) if args.assignment else assignments.NAMES,
        redis_url=args.redis_url,
        backend=args.backend,
        per_test_timeout_s=args.timeout,
        budget_s=args.budget,
        sandbox=args.sandbox,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submission", type=Path, help="folder holding the five modules, or a repository with assignments/"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the canonical JSON report here")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the report as Markdown here")
    parser.add_argument("--gradescope", type=Path, metavar="FILE", help="write Gradescope's results.json here")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write the report as JUnit XML here")
    parser.add_argument("--classroom", type=Path, metavar="FILE", help="write the GitHub Classroom runner result here")
    parser.add_argument(
        "--hidden-visibility",
        choices=render_gradescope.VISIBILITIES,
        default=render_gradescope.DEFAULT_VISIBILITY,
        help="when Gradescope shows students the hidden tests' results (default: %(default)s)",
    )
    add_grading_options(parser)
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="grade a folder that holds none of the modules (0 points, each test not attempted) instead of "
        "refusing it: for CI, where the folder is the student's checkout whatever it holds",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the total")


def _write(path: Path, text: str) -> None:
    """Write one report file atomically; an unwritable path is a usage error naming the file."""
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace, console: Console) -> int:
    options = dataclasses.replace(grade_options(args), allow_empty=args.allow_empty)
    report = grade(args.submission, options=options)
    if args.json:
        write_json(report, args.json)
    if args.markdown:
        write_atomic(args.markdown, render_markdown.render(report))
    if args.gradescope:
        _write(args.gradescope, render_gradescope.render_json(report, hidden_visibility=args.hidden_visibility))
    if args.junit:
        _write(args.junit, render_junit.render(report))
    if args.classroom:
        _write(args.classroom, render_classroom.render_json(report))
    if args.quiet:
        console.print(f"{report.score}/{report.max_score}")
    else:
        render_terminal.render(report, console)
    return 0
