"""The ``grader`` command line: a thin typed shell over the grading functions.

Each verb lives in ``grader.commands.<verb>``. Exit codes are a contract other tools rely on:
0 when the command completed (whatever the score), 2 for bad usage or unusable input, 1 when
the grader itself failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from rich.console import Console

from grader.errors import GraderFailure, UsageError

VERBS = ("grade", "release", "gradebook", "batch", "validate", "publish", "notebooks")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _command(verb: str) -> ModuleType:
    return importlib.import_module(f"grader.commands.{verb}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade Redis course submissions.")
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for verb in VERBS:
        command = _command(verb)
        command.add_arguments(subparsers.add_parser(verb, help=command.HELP, description=command.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (tests call it directly)."""
    console = Console(highlight=False)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 for --help
        return int(exc.code or 0)
    try:
        code: int = _command(args.verb).run(args, console)
    except UsageError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GraderFailure as exc:
        print(f"grader: failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
