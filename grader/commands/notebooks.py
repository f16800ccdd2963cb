"""``grader notebooks``: write the nbgrader course directory (the notebook track) from solutions/ and the suites."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader import assignments
from grader.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
HELP = "write the nbgrader course directory (source notebooks, nbgrader_config.py) from solutions/ and the suites"
INSTALL_HINT = "the notebook track needs nbgrader: pip install -e '.[notebooks]'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the nbgrader course directory to write (created if missing)")
    parser.add_argument(
        "--assignment",
        action="append",
        choices=assignments.NAMES,
        metavar="NAME",
        help=f"only this assignment (repeatable): {', '.join(assignments.NAMES)}",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    parser.add_argument("--force", action="store_true", help="overwrite files edited by hand since they were written")
    parser.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions", help=argparse.SUPPRESS)
    parser.add_argument("--public-tests", type=Path, default=REPO_ROOT / "tests" / "public", help=argparse.SUPPRESS)
    parser.add_argument("--hidden-tests", type=Path, default=REPO_ROOT / "tests" / "hidden", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        from grader.notebooks import release_notebooks
    except ModuleNotFoundError as exc:
        raise UsageError(f"{INSTALL_HINT} ({exc.name} is missing)") from None
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"{args.out} exists and is not a folder")
    names = tuple(dict.fromkeys(args.assignment)) if args.assignment else assignments.NAMES
    release = release_notebooks(
        out=args.out,
        names=names,
        solutions=args.solutions,
        public_tests=args.public_tests,
        hidden_tests=args.hidden_tests,
        check=args.check,
        force=args.force,
    )
    shown = [escape(str(p.relative_to(args.out))) for p in release.written]
    if args.check:
        if shown:
            console.print(f"{escape(str(args.out))} is stale: {', '.join(shown)}; run `grader notebooks`")
            return 1
        console.print(f"{escape(str(args.out))} is up to date")
        return 0
    if not shown:
        console.print(f"{escape(str(args.out))} was already up to date")
        return 0
    console.print(f"wrote {len(shown)} file(s) in {escape(str(args.out))}: {', '.join(shown)}")
    console.print(f"next: cd {escape(str(args.out))} && nbgrader generate_assignment <assignment> --force")
    return 0
