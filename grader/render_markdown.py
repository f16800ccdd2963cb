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


def render(report: Report, *, withheld: tuple[str, ...] = ()) -> str:
    """The report as a Markdown document; ``withheld``: a line per assignment left out, and why
    (``grader.visibility``)."""
    if withheld and not report.assignments:
        lines = ["## Redis course: graded", "", "Your submission was graded. Its results are not shown yet:", ""]
        return "\n".join(lines + [f"- {_cell(line)}" for line in withheld]) + "\n"
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
    if withheld:
        lines += ["", "Not shown yet:", "", *(f"- {_cell(line)}" for line in withheld)]
    lines += ["", f"Graded on {report.redis.description or report.redis.version} in {report.duration_s:.1f} s."]
    lines += [f"> **Note:** {note}" for note in report.notes]
    return "\n".join(lines) + "\n"
