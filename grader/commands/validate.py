"""``grader validate``: prove the suites give the solutions 100%, the stubs 0 and every mutant less.

Exit codes: 0 when every check holds; 1 when a mutant survives, a mutant costs another
assignment points, a mutant cannot be graded, or the solutions or stubs are off; 2 for bad usage.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader.commands.grade import add_grading_options, grade_options, positive_int
from grader.validate import DEFAULT_JOBS, MUTANTS, SOLUTIONS, STUBS, BaselineCheck, Validation, validate

HELP = "check the hidden suites: solutions get full marks, stubs 0, every mutant loses points in its own assignment"
PROBLEMS_SHOWN = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mutants", type=Path, default=MUTANTS, metavar="DIR", help="mutant corpus folder (default: %(default)s)"
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=DEFAULT_JOBS,
        metavar="N",
        help="gradings at a time, each on its own server (default: %(default)s)",
    )
    parser.add_argument(
        "--reports", type=Path, metavar="DIR", help="keep every grading's canonical JSON report here, to see why"
    )
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS, metavar="DIR", help="reference solutions")
    parser.add_argument("--stubs", type=Path, default=STUBS, metavar="DIR", help="student stubs")
    add_grading_options(parser)


def _short(test_id: str) -> str:
    return test_id.split("::", 1)[1] if "::" in test_id else test_id


def _baselines(validation: Validation, console: Console) -> None:
    table = Table(title="Baselines", title_justify="left")
    table.add_column("target")
    table.add_column("expected")
    table.add_column("score", justify="right")
    table.add_column("verdict")
    expected = {"solutions": "every test passes", "stubs": "every test not attempted, 0 points"}
    checks: list[BaselineCheck] = [validation.solutions, validation.stubs]
    for check in checks:
        verdict = Text("ok", style="green") if check.ok else Text(f"{len(check.problems)} off", style="bold red")
        table.add_row(check.target, expected[check.target], f"{check.score}/{check.max_score}", verdict)
    console.print(table)
    for check in checks:
        for problem in check.problems[:PROBLEMS_SHOWN]:
            console.print(Text(f"  {check.target}: {problem}", style="red"))
        if len(check.problems) > PROBLEMS_SHOWN:
            console.print(Text(f"  {check.target}: ... and {len(check.problems) - PROBLEMS_SHOWN} more", style="red"))


def _strength(validation: Validation, console: Console) -> None:
    table = Table(title="Suite strength", title_justify="left")
    table.add_column("assignment")
    table.add_column("mutants caught", justify="right")
    for row in validation.strength():
        style = "green" if row.caught == row.total else "bold red"
        table.add_row(row.name, Text(f"{row.caught}/{row.total}", style=style))
    caught = sum(m.caught for m in validation.mutants)
    table.add_section()
    table.add_row(Text("total", style="bold"), Text(f"{caught}/{len(validation.mutants)}", style="bold"))
    console.print(table)


def _mutants(validation: Validation, console: Console) -> None:
    """One table per assignment: each mutant, its verdict and the tests that caught it."""
    for name in validation.assignments:
        outcomes = [m for m in validation.mutants if m.mutant.assignment == name]
        if not outcomes:
            continue
        table = Table(
            title=f"Mutants of {name}",
            title_justify="left",
            caption="caught by: tests that fail for the mutant and pass for the solutions",
            caption_justify="left",
        )
        table.add_column("mutant", overflow="fold")
        table.add_column("verdict", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("caught by", overflow="fold")
        for outcome in outcomes:
            if outcome.error:
                verdict, detail, score = Text("error", style="bold magenta"), outcome.error, "-"
            else:
                verdict = Text("caught", style="green") if outcome.caught else Text("SURVIVED", style="bold red")
                detail = "\n".join(_short(t.id) for t in outcome.caught_by) or "-"
                if outcome.collateral:
                    verdict.append("\n+collateral", style="bold red")
                    lost = Counter(t.id.split("::", 1)[0] for t in outcome.collateral)
                    detail += "\nalso lost: " + ", ".join(f"{a} ({n} tests)" for a, n in lost.items())
                score = f"{outcome.score}/{outcome.max_score}"
            table.add_row(outcome.mutant.id, verdict, score, detail)
        console.print(table)


def render(validation: Validation, console: Console) -> None:
    """Print the baselines, the suite-strength table, every mutant, then the verdict."""
    _baselines(validation, console)
    _strength(validation, console)
    if validation.mutants:
        _mutants(validation, console)
    console.print(
        f"Redis: {validation.redis} · {validation.jobs} job(s) · {validation.duration_s:.1f} s", highlight=False
    )
    for note in validation.notes:
        console.print(Text(f"Note: {note}", style="yellow"))
    failures = validation.failures()
    if failures:
        console.print(Text(f"Validation FAILED ({len(failures)} problem(s)):", style="bold red"))
        for line in failures:
            console.print(Text(f"  - {line}", style="red"))
    else:
        console.print(Text("Validation passed: the suites are right on every check.", style="bold green"))


def run(args: argparse.Namespace, console: Console) -> int:
    options = grade_options(args)
    with Progress(
        TextColumn("validating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def graded(label: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=label)

        validation = validate(
            solutions=args.solutions,
            stubs=args.stubs,
            mutants=args.mutants,
            options=options,
            jobs=args.jobs,
            reports=args.reports,
            on_graded=graded,
        )
    render(validation, console)
    return 0 if validation.ok else 1
