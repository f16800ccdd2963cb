"""``grader release``: generate the student stubs in assignments/ from solutions/."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader.release import release_stubs

REPO_ROOT = Path(__file__).resolve().parents[2]
HELP = "generate the student stubs in assignments/ from solutions/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when assignments/ is stale")
    parser.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assignments", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, console: Console) -> int:
    paths = release_stubs(solutions=args.solutions, out=args.out, check=args.check)
    if args.check:
        if paths:
            console.print(f"assignments/ is stale: {', '.join(p.name for p in paths)}; run `grader release`")
            return 1
        console.print("assignments/ is up to date")
        return 0
    console.print(f"wrote {len(paths)} stub file(s)" if paths else "assignments/ was already up to date")
    return 0
