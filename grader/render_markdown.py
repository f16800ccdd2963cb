"""Render a report as Markdown, for commit comments, job summaries and TAs."""

from __future__ import annotations

from grader.report import Report

STATUS_LABEL = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "error": "⚠️ error",
    "not_attempted": "⏸️ not attempted",
    "timeout": "⏱️ timed out",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report) -> str:
    """The report as a Markdown document."""
    lines = [
        f"## Redis course: {report.score}/{report.max_score} points",
        "",
        "| assignment | score | tests passed |",
        "|---|---:|---:|",
    ]
    for a in report.assignments:
        passed = sum(t.status == "passed" for t in a.tests)
        lines.append(f"| {a.name} | {a.score}/{a.max_score} | {passed}/{len(a.tests)} |")
    for a in report.assignments:
        lost = [t for t in a.tests if t.status != "passed"]
        if not lost:
            continue
        lines += ["", f"### {a.name}: {a.score}/{a.max_score}", "", "| test | status | points | what to revisit |"]
        lines.append("|---|---|---:|---|")
        for t in lost:
            lines.append(f"| {_cell(t.name)} | {STATUS_LABEL[t.status]} | 0/{t.max_score} | {_cell(t.feedback)} |")
    lines += ["", f"Graded on {report.redis.description or report.redis.version} in {report.duration_s:.1f} s."]
    lines += [f"> **Note:** {note}" for note in report.notes]
    return "\n".join(lines) + "\n"
