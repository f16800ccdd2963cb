"""Render a report for a terminal: a table per assignment, then every lost point with its hint."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.report import Report

STATUS_STYLE = {
    "passed": ("passed", "green"),
    "failed": ("failed", "red"),
    "error": ("error", "magenta"),
    "not_attempted": ("not attempted", "yellow"),
    "timeout": ("timed out", "red"),
}


def _bar(score: int, max_score: int, width: int = 20) -> Text:
    filled = round(width * score / max_score) if max_score else 0
    style = "green" if score == max_score else "yellow" if score else "red"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


def render(report: Report, console: Console) -> None:
    """Print ``report`` to ``console``."""
    table = Table(title="Redis course: grade report", title_justify="left")
    table.add_column("assignment")
    table.add_column("score", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("passed", justify="right")
    for a in report.assignments:
        passed = sum(t.status == "passed" for t in a.tests)
        table.add_row(a.name, f"{a.score}/{a.max_score}", _bar(a.score, a.max_score), f"{passed}/{len(a.tests)}")
    table.add_section()
    table.add_row(Text("total", style="bold"), Text(f"{report.score}/{report.max_score}", style="bold"), "", "")
    console.print(table)

    lost = [(a.name, t) for a in report.assignments for t in a.tests if t.status != "passed"]
    if lost:
        details = Table(title="Tests that lost points", title_justify="left", show_lines=False)
        details.add_column("assignment")
        details.add_column("test")
        details.add_column("status")
        details.add_column("points", justify="right")
        details.add_column("what to revisit", overflow="fold")
        for name, test in lost:
            label, style = STATUS_STYLE[test.status]
            details.add_row(name, test.name, Text(label, style=style), f"0/{test.max_score}", test.feedback)
        console.print(details)
    redis = report.redis
    console.print(f"Redis: {redis.description or redis.version} · {report.duration_s:.1f} s")
    for note in report.notes:
        console.print(Text(f"Note: {note}", style="bold yellow"))
