"""``grader release``: generate the student stubs in assignments/ from solutions/, or a whole student template."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader.errors import UsageError
from grader.release import release_stubs
from grader.template import release_template

REPO_ROOT = Path(__file__).resolve().parents[2]
HELP = "generate the student stubs in assignments/ from solutions/, or with OUT the student template repository"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "template_out",
        nargs="?",
        type=Path,
        metavar="OUT",
        help="write the student template repository here (stubs, public tests, README, workflow, compose file)",
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        metavar="OUT",
        help="write the nbgrader course directory instead (the notebook track; same as `grader notebooks OUT`)",
    )
    parser.add_argument("--force", action="store_true", help="with OUT: replace the template files in a non-empty OUT")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when assignments/ is stale")
    parser.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assignments", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.notebooks is not None:
        if args.template_out is not None:
            raise UsageError("give either OUT (the student template) or --notebooks OUT, not both")
        return _release_notebooks(args, console)
    if args.template_out is not None:
        if args.check:
            raise UsageError("--check compares assignments/ with solutions/; it takes no OUT")
        written = release_template(out=args.template_out, force=args.force)
        console.print(f"wrote the student template ({len(written)} files) to {args.template_out}", markup=False)
        return 0
    if args.force:
        raise UsageError("--force applies to a template OUT folder; `grader release` alone always updates assignments/")
    paths = release_stubs(solutions=args.solutions, out=args.out, check=args.check)
    if args.check:
        if paths:
            console.print(f"assignments/ is stale: {', '.join(p.name for p in paths)}; run `grader release`")
            return 1
        console.print("assignments/ is up to date")
        return 0
    console.print(f"wrote {len(paths)} stub file(s)" if paths else "assignments/ was already up to date")
    return 0


def _release_notebooks(args: argparse.Namespace, console: Console) -> int:
    """``release --notebooks OUT``: the ``notebooks`` verb with the same ``--check`` and ``--force``."""
    from grader.commands import notebooks

    parser = argparse.ArgumentParser(prog="grader release --notebooks")
    notebooks.add_arguments(parser)
    flags = [flag for flag, on in (("--check", args.check), ("--force", args.force)) if on]
    return notebooks.run(parser.parse_args([str(args.notebooks), *flags]), console)
