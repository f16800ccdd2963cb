"""``grader batch``: grade a class in parallel into REPORTS_DIR, resumably, with live progress.

Prints a progress bar while grading, then a summary table (student, score per assignment,
total, status); with ``--regrade`` also a table of score changes, saved as
``REPORTS_DIR/regrade-<UTC timestamp>.csv``. Exit codes: 0 when every student was handled (a
broken submission is a summary row, not a failure), 1 when the grader failed for some student,
2 for bad usage, 130 when interrupted (finished reports are kept; rerun to complete).
"""

from __future__ import annotations

import argparse
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader import assignments
from grader.batch import STATUS_LABEL, BatchResult, Events, Outcome, Student, run_batch
from grader.commands.grade import add_grading_options, grade_options, positive_int
from grader.course import STUDENT_ID, Course, load_course
from grader.grading import GradeOptions
from grader.redis_server import REDIS_URL_ENV
from grader.regrade import ReportDiff, diff_reports, render_csv
from grader.report import write_atomic

HELP = "grade a folder of submissions (or a roster) in parallel into a reports folder"
EXIT_INTERRUPTED = 130
STATUS_STYLE = {
    "graded": "green",
    "skipped": "dim",
    "unusable": "yellow",
    "failed": "red",
    "missing": "yellow",
    "changed": "yellow",
    "cancelled": "magenta",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        type=Path,
        metavar="SOURCE",
        help="folder with one subfolder per student (named by student id), or a course.toml whose roster "
        "lists the students (their folders, fetched beforehand, next to it)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="REPORTS_DIR", help="where the reports go")
    parser.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        help="gradings at a time, each on its own disposable Redis (default: the number of CPUs; "
        "1 with --redis-url or $REDIS_URL, since concurrent gradings must not share a server)",
    )
    parser.add_argument(
        "--regrade",
        action="store_true",
        help="grade again even when a report for the same content exists; with --assignment, only those "
        "assignments, merged into the existing reports, and a diff of old and new scores",
    )
    parser.add_argument(
        "--course", type=Path, metavar="FILE", help="course.toml: roster (names, missing students) and time limits"
    )
    add_grading_options(parser)
    parser.set_defaults(timeout=None, budget=None)  # unset: the course's limits, else grade's defaults


def run(args: argparse.Namespace, console: Console) -> int:
    course = load_course(args.course) if args.course else None
    if args.source.is_file() and course is None:
        course = load_course(args.source)
        roster_course: Course | None = None  # the source itself is the roster
    else:
        roster_course = course
    fallback = GradeOptions()
    timeout = args.timeout or (course.per_test_timeout_s if course else fallback.per_test_timeout_s)
    budget = args.budget or (course.budget_s if course else fallback.budget_s)
    options = grade_options(argparse.Namespace(**{**vars(args), "timeout": timeout, "budget": budget}))
    shared_server = options.backend == "auto" and bool(options.redis_url or os.environ.get(REDIS_URL_ENV))
    jobs = args.jobs or (1 if shared_server else os.cpu_count() or 1)
    try:
        with _Display(console) as display:
            result = run_batch(
                source=args.source,
                out=args.out,
                options=options,
                jobs=jobs,
                regrade=args.regrade,
                course=roster_course,
                events=display.events(),
            )
    except KeyboardInterrupt:
        console.print(f"Interrupted before grading started; no report in {args.out} was written or changed.")
        return EXIT_INTERRUPTED
    _summary(result, console, out=args.out)
    if args.regrade:
        diffs = [
            diff_reports(o.previous, o.report)
            for o in result.outcomes
            if o.status == "graded" and o.previous is not None and o.report is not None
        ]
        path = _write_regrade_csv(diffs, args.out)
        _regrade_table(diffs, console, path=path)
    if result.interrupted:
        console.print(
            f"[bold]Interrupted.[/bold] Finished reports are in {args.out}; rerun the same command to grade the rest."
        )
        return EXIT_INTERRUPTED
    return 1 if any(o.status == "failed" for o in result.outcomes) else 0


class _Display:
    """The live progress bar; callbacks may come from worker threads."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]grading[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[running]}"),
            console=console,
        )
        self.task = self.progress.add_task("grading", total=None, running="")
        self.running: list[str] = []
        self.lock = threading.Lock()

    def __enter__(self) -> _Display:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _show_running(self) -> None:
        shown = ", ".join(self.running[:4]) + (" ..." if len(self.running) > 4 else "")
        self.progress.update(self.task, running=shown)

    def planned(self, to_grade: int, total: int) -> None:
        self.progress.update(self.task, total=total)
        self.progress.console.print(f"{total} student(s), {to_grade} to grade.")

    def started(self, student: Student) -> None:
        with self.lock:
            self.running.append(student.student_id)
            self._show_running()

    def finished(self, outcome: Outcome) -> None:
        with self.lock:
            if outcome.student_id in self.running:
                self.running.remove(outcome.student_id)
            self._show_running()
            self.progress.advance(self.task)
        if outcome.status in ("unusable", "failed"):
            first = outcome.message.splitlines()[0] if outcome.message else ""
            self.progress.console.print(f"[yellow]{outcome.student_id}: {STATUS_LABEL[outcome.status]}[/]: {first}")

    def message(self, text: str) -> None:
        self.progress.console.print(f"[bold]{text}[/bold]")

    def events(self) -> Events:
        return Events(planned=self.planned, started=self.started, finished=self.finished, message=self.message)


def _summary(result: BatchResult, console: Console, *, out: Path) -> None:
    names = [n for n in assignments.NAMES if any(o.report and n in _scores(o) for o in result.outcomes)]
    with_names = any(o.student.name for o in result.outcomes)
    table = Table(title="Batch summary", title_justify="left")
    table.add_column("student")
    if with_names:
        table.add_column("name")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    table.add_column("status")
    counts: dict[str, int] = {}
    for o in result.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
        scores = _scores(o)
        total = f"{o.report.score}/{o.report.max_score}" if o.report else "—"
        status = STATUS_LABEL[o.status]
        if o.status in ("unusable", "failed") and STUDENT_ID.fullmatch(o.student_id):
            status += f" (see {o.student_id}.error.txt)"
        elif o.status == "unusable":
            status += " (the folder name is not a valid student id)"
        if o.student.on_roster is False:
            status += " (not on the roster)"
        row = [o.student_id, *([o.student.name] if with_names else []), *(scores.get(n, "—") for n in names), total]
        table.add_row(*row, f"[{STATUS_STYLE[o.status]}]{status}[/]")
    console.print(table)
    tally = ", ".join(f"{n} {STATUS_LABEL[s]}" for s, n in counts.items())
    console.print(f"{tally} in {result.duration_s:.1f} s. Reports in {out}.")


def _scores(outcome: Outcome) -> dict[str, str]:
    if outcome.report is None:
        return {}
    return {a.name: f"{a.score}/{a.max_score}" for a in outcome.report.assignments}


def _write_regrade_csv(diffs: list[ReportDiff], out: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path, n = out / f"regrade-{stamp}.csv", 1
    while path.exists():
        n += 1
        path = out / f"regrade-{stamp}-{n}.csv"
    write_atomic(path, render_csv(diffs))
    return path


def _regrade_table(diffs: list[ReportDiff], console: Console, *, path: Path) -> None:
    changed = [d for d in diffs if d.changed]
    table = Table(title="Regrade: changed scores", title_justify="left")
    for column, justify in (("student", "left"), ("old", "right"), ("new", "right"), ("delta", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("changed tests (old → new)")
    for d in changed:
        lines = [
            f"{c.assignment}: {c.name}: {c.old_status or 'absent'} → {c.new_status or 'absent'} "
            f"({c.old_points} → {c.new_points} pts)"
            for c in d.changes
        ]
        style = "green" if d.delta > 0 else "red" if d.delta < 0 else ""
        delta = f"[{style}]{d.delta:+d}[/]" if style else f"{d.delta:+d}"
        table.add_row(d.student_id, f"{d.old_score}/{d.old_max}", f"{d.new_score}/{d.new_max}", delta, "\n".join(lines))
    if changed:
        console.print(table)
    console.print(f"Regrade: {len(changed)} of {len(diffs)} student(s) changed; details in {path}.")
