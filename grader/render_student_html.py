"""Render one student's report as a self-contained HTML page (no network: inline CSS and SVG).

The same content as the Markdown report, with every test listed: per assignment a bar of points,
then each test as passed, failed (with its hint), timed out or not attempted. Only test names and
feedback from the report appear, never hidden code; every text is escaped, since feedback can
quote student-controlled output. A gradebook row without a report (from nbgrader's grades.csv)
gets ``render_row``: its points, late penalties and submission times only, and says so.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from grader import assignments
from grader.gradebook import Row, format_points, section_url
from grader.report import AssignmentResult, Report, TestResult

STATUS_LABEL = {
    "passed": "passed",
    "failed": "failed",
    "error": "error",
    "not_attempted": "not attempted",
    "timeout": "timed out",
}

BASE_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --card: #fff;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --todo: #8250df; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 48px; }
a { color: var(--accent); }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 0 0 12px; }
.meta, .muted { color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px;
  margin: 18px 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .85rem; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar rect.track { fill: #e6eaef; }
.note { border-left: 4px solid var(--warn); background: #fff8c5; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
.badge { display: inline-block; min-width: 7.5em; text-align: center; border-radius: 999px; padding: 1px 10px;
  font-size: .8rem; font-weight: 600; color: #fff; }
.st-passed .badge { background: var(--ok); }
.st-failed .badge, .st-error .badge, .st-timeout .badge { background: var(--bad); }
.st-timeout .badge { background: var(--warn); }
.st-not_attempted .badge { background: var(--todo); }
nav { margin-bottom: 12px; }
"""

STUDENT_CSS = """
ul.tests { list-style: none; margin: 0; padding: 0; }
ul.tests li { display: grid; grid-template-columns: 8.5em 1fr auto; gap: 4px 12px; padding: 8px 0;
  border-bottom: 1px solid var(--line); align-items: baseline; }
ul.tests li:last-child { border-bottom: 0; }
ul.tests .points { font-variant-numeric: tabular-nums; color: var(--muted); }
ul.tests .hint { grid-column: 2 / 4; margin: 0; color: var(--ink); }
ul.tests .section { grid-column: 2 / 4; margin: 0; font-size: .85rem; color: var(--muted); }
h2 .score { float: right; font-variant-numeric: tabular-nums; color: var(--muted); font-weight: 600; }
.total { font-size: 1.1rem; font-weight: 700; }
#gradebook td.num, #gradebook td:last-child { white-space: nowrap; }
"""


def bar_svg(score: float, max_score: float, *, width: int = 220, colour: str = "") -> str:
    """An inline SVG bar showing ``score`` of ``max_score``; by default green when full, amber when
    partial, red when empty."""
    fraction = min(max(score / max_score, 0.0), 1.0) if max_score else 0.0
    colour = colour or ("#2da44e" if fraction >= 1 else "#d4a72c" if fraction > 0 else "#cf222e")
    filled = round(width * fraction, 1)
    label = f"{format_points(score)} of {format_points(max_score)} points"
    return (
        f'<svg class="bar" width="{width}" height="12" viewBox="0 0 {width} 12" role="img" '
        f'aria-label="{escape(label)}"><rect class="track" width="{width}" height="12" rx="6"/>'
        f'<rect class="fill" width="{filled}" height="12" rx="6" fill="{colour}"/></svg>'
    )


def page(*, title: str, css: str, body: str) -> str:
    """A complete HTML document with inline CSS; ``title`` is escaped here, ``body`` must already be."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{BASE_CSS}{css}</style>\n</head>\n<body>\n<main>\n"
        f"{body}</main>\n</body>\n</html>\n"
    )


def _test_item(test: TestResult, *, lecture_url: str) -> str:
    label = STATUS_LABEL[test.status]
    parts = [
        f'<li class="test st-{escape(test.status)}" data-status="{escape(test.status)}">',
        f'<span class="badge">{escape(label)}</span>',
        f'<span class="name">{escape(test.name)}</span>',
        f'<span class="points">{test.score}/{test.max_score}</span>',
    ]
    if test.status != "passed" and test.feedback:
        parts.append(f'<p class="hint">{escape(test.feedback)}</p>')
    if test.status != "passed" and test.section:
        url = section_url(lecture_url, test.section)
        where = f'<a href="{escape(url)}">{escape(test.section)}</a>' if url else escape(test.section)
        parts.append(f'<p class="section">Lecture: {where}</p>')
    parts.append("</li>")
    return "".join(parts)


def _assignment_section(result: AssignmentResult, *, lecture_url: str) -> str:
    known = assignments.BY_NAME.get(result.name)
    title = f"{result.name}: {known.title}" if known else result.name
    items = "\n".join(_test_item(t, lecture_url=lecture_url) for t in result.tests)
    return (
        f'<section class="card assignment" id="assignment-{escape(result.name)}">\n'
        f'<h2>{escape(title)} <span class="score">{result.score}/{result.max_score}</span></h2>\n'
        f"{bar_svg(result.score, result.max_score)}\n"
        f'<ul class="tests">\n{items}\n</ul>\n</section>\n'
    )


def _gradebook_section(row: Row) -> str:
    lines = []
    for cell in row.cells:
        why = "past the hard deadline" if cell.late_fraction >= 1 else f"{cell.late_fraction:.0%} late"
        late = f"-{format_points(cell.penalty)} ({why})" if cell.late_fraction else ""
        points = format_points(cell.points) if cell.points is not None else "not graded"
        lines.append(
            f'<tr><td>{escape(cell.assignment)}</td><td class="num">{escape(points)} / {cell.max_points}</td>'
            f'<td class="num">{escape(late)}</td></tr>'
        )
    total = format_points(row.total)
    max_total = sum(c.max_points for c in row.cells)
    return (
        '<section class="card" id="gradebook">\n<h2>Course points</h2>\n'
        '<table><thead><tr><th>assignment</th><th class="num">points</th><th class="num">late penalty</th></tr>'
        f"</thead>\n<tbody>\n{chr(10).join(lines)}\n</tbody>\n"
        f'<tfoot><tr><td class="total">total</td><td class="num total">{escape(total)} / {max_total}</td>'
        "<td></td></tr></tfoot></table>\n</section>\n"
    )


def render(report: Report, *, row: Row | None = None, lecture_url: str = "", back_href: str | None = None) -> str:
    """The report as a self-contained HTML page. ``row`` adds its course points and late penalty
    (as the gradebook computed them); ``back_href`` adds a link back to the class page."""
    who = [report.student_id or (row.student_id if row else "")]
    if row is not None and row.name:
        who.append(row.name)
    meta = [escape(" · ".join(w for w in who if w))] if any(who) else []
    if report.commit:
        meta.append(f"commit <code>{escape(report.commit[:12])}</code>")
    if report.received_at:
        meta.append(f"received {escape(report.received_at)}")
    body = [f'<nav><a href="{escape(back_href)}">← Class report</a></nav>\n'] if back_href else []
    body.append(f"<header>\n<h1>Redis course: {report.score}/{report.max_score} points</h1>\n")
    if meta:
        body.append(f'<p class="meta">{" · ".join(meta)}</p>\n')
    body.append("</header>\n")
    body += [f'<div class="note"><strong>Note:</strong> {escape(note)}</div>\n' for note in report.notes]
    overview = []
    for a in report.assignments:
        passed = sum(t.status == "passed" for t in a.tests)
        overview.append(
            f'<tr><td><a href="#assignment-{quote(a.name)}">{escape(a.name)}</a></td>'
            f"<td>{bar_svg(a.score, a.max_score)}</td>"
            f'<td class="num">{a.score}/{a.max_score}</td><td class="num">{passed}/{len(a.tests)}</td></tr>'
        )
    body.append(
        '<section class="card" id="overview">\n<h2>Assignments</h2>\n<table><thead><tr><th>assignment</th>'
        '<th>points</th><th class="num">score</th><th class="num">tests passed</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(overview)}\n</tbody></table>\n</section>\n"
    )
    if row is not None:
        body.append(_gradebook_section(row))
    body += [_assignment_section(a, lecture_url=lecture_url) for a in report.assignments]
    redis = report.redis
    body.append(
        f'<footer class="muted">Graded on {escape(redis.description or redis.version)} '
        f"in {report.duration_s:.1f} s.</footer>\n"
    )
    title = f"Redis course report: {report.student_id}" if report.student_id else "Redis course report"
    return page(title=title, css=STUDENT_CSS, body="".join(body))


SCORES_ONLY_NOTE = (
    "These points come from nbgrader's gradebook export (grades.csv), which holds one score per assignment: "
    "the results of each test and their hints are in your nbgrader feedback."
)


def render_row(row: Row, *, back_href: str | None = None) -> str:
    """A student's page from a gradebook row alone (no report): per assignment, course points with a
    bar, the late penalty and the submission time; the row's notes; and a note that per-test results
    are not part of the source."""
    max_total = sum(c.max_points for c in row.cells)
    total = format_points(row.total) or "0"
    who = " · ".join(w for w in (row.student_id, row.name) if w)
    body = [f'<nav><a href="{escape(back_href)}">← Class report</a></nav>\n'] if back_href else []
    body.append(f"<header>\n<h1>Redis course: {escape(total)}/{max_total} points</h1>\n")
    body.append(f'<p class="meta">{escape(who)}</p>\n</header>\n')
    body.append(f'<div class="note"><strong>Note:</strong> {escape(SCORES_ONLY_NOTE)}</div>\n')
    lines = []
    for cell in row.cells:
        known = assignments.BY_NAME.get(cell.assignment)
        title = f"{cell.assignment}: {known.title}" if known else cell.assignment
        if cell.points is None:
            points, bar = "not graded", ""
        else:
            points, bar = f"{format_points(cell.points)} / {cell.max_points}", bar_svg(cell.points, cell.max_points)
        why = "past the hard deadline" if cell.late_fraction >= 1 else f"{cell.late_fraction:.0%} late"
        late = f"-{format_points(cell.penalty)} ({why})" if cell.late_fraction else ""
        when = f"{cell.submitted_at:%Y-%m-%d %H:%M} UTC" if cell.submitted_at else ""
        lines.append(
            f'<tr id="assignment-{escape(cell.assignment)}"><td>{escape(title)}</td><td>{bar}</td>'
            f'<td class="num">{escape(points)}</td><td class="num">{escape(late)}</td><td>{escape(when)}</td></tr>'
        )
    body.append(
        '<section class="card" id="gradebook">\n<h2>Course points</h2>\n<table><thead><tr><th>assignment</th>'
        '<th>points</th><th class="num">score</th><th class="num">late penalty</th><th>submitted</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(lines)}\n</tbody>\n"
        f'<tfoot><tr><td class="total">total</td><td></td><td class="num total">{escape(total)} / {max_total}</td>'
        "<td></td><td></td></tr></tfoot></table>\n</section>\n"
    )
    if row.notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in row.notes)
        body.append(f'<section class="card" id="notes">\n<h2>Notes</h2>\n<ul>{items}</ul>\n</section>\n')
    return page(title=f"Redis course report: {row.student_id}", css=STUDENT_CSS, body="".join(body))
