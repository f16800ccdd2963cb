"""Render the class gradebook as one offline HTML page: charts, hardest lecture sections, sortable table.

The page needs no network: CSS, the matplotlib charts (SVG text, made deterministic) and a few
lines of vanilla JS are inline. Charts: a histogram of the totals (bars ``hist-bar-<i>``) and the
pass rate per test, hardest first (bars ``pass-bar-<i>``, labels linked to the test's lecture
section when the course gives a lecture URL). The student table sorts by clicking a header, or on
load from ``?sort=<column>&dir=asc|desc``; each student links to ``students/<student_id>.html``.
Per assignment, the points the class earned (mean, median, range, late submissions). A gradebook
whose source has no per-test results (nbgrader's grades.csv) says so in place of the sections
table and the pass-rate chart.
"""

from __future__ import annotations

import io
import re
from html import escape
from typing import Any, cast
from urllib.parse import quote

import matplotlib
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from grader.gradebook import AssignmentStat, Gradebook, Row, format_points, section_url
from grader.render_student_html import bar_svg, page

HIST_BINS = 10
LABEL_CHARS = 70
PASS_COLOURS = ((0.5, "#cf222e"), (0.8, "#d4a72c"), (1.01, "#2da44e"))  # (rate below, colour)
CHART_RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "grader-gradebook",  # stable ids, so the same gradebook renders the same bytes
    "svg.fonttype": "none",  # text stays text: searchable, selectable, rendered by the browser
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8c959f",
    "axes.labelcolor": "#1f2328",
    "xtick.color": "#59636e",
    "ytick.color": "#1f2328",
}

CLASS_CSS = """
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 18px 0; }
.cards div { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.cards b { display: block; font-size: 1.6rem; font-variant-numeric: tabular-nums; }
.cards span { color: var(--muted); font-size: .85rem; }
svg.chart { display: block; width: 100%; height: auto; }
.rate { display: flex; gap: 10px; align-items: center; justify-content: flex-end; font-variant-numeric: tabular-nums; }
#students { font-size: .9rem; }
#students th { text-transform: none; letter-spacing: 0; white-space: nowrap; vertical-align: bottom; }
#students th small { display: block; font-weight: 400; }
#students td:nth-child(2) { white-space: nowrap; }
#students td:last-child { min-width: 16em; font-size: .85rem; color: var(--muted); }
#students th button { all: unset; cursor: pointer; }
#students th button:hover, #students th button:focus-visible { color: var(--accent); text-decoration: underline; }
#students th[aria-sort="ascending"] button::after { content: " ▲"; }
#students th[aria-sort="descending"] button::after { content: " ▼"; }
#students tr.missing td { color: var(--muted); background: #fafbfc; }
#students td.late { color: var(--bad); }
.table-wrap { overflow-x: auto; }
"""

SORT_JS = """
(function () {
  var table = document.getElementById("students");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function value(row, col) {
    var cell = row.cells[col];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }
  function sortBy(col, dir) {
    var numeric = heads[col].getAttribute("data-type") === "number";
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    rows.sort(function (a, b) {
      var x = value(a, col), y = value(b, col);
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      return dir * (numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y));
    });
    rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    heads[col].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  }
  heads.forEach(function (head, col) {
    head.querySelector("button").addEventListener("click", function () {
      var first = head.getAttribute("data-type") === "number" ? -1 : 1;
      sortBy(col, head.getAttribute("aria-sort") === (first > 0 ? "ascending" : "descending") ? -first : first);
    });
  });
  var params = new URLSearchParams(window.location.search);
  var col = heads.findIndex(function (h) { return h.getAttribute("data-key") === params.get("sort"); });
  if (col >= 0) {
    var dir = params.get("dir") || (heads[col].getAttribute("data-type") === "number" ? "desc" : "asc");
    sortBy(col, dir === "desc" ? -1 : 1);
  }
})();
"""


def _svg(figure: Figure, *, prefix: str, label: str) -> str:
    """``figure`` as inline SVG markup: no XML prolog, metadata or global style; ids prefixed so two
    charts on one page never share one; deterministic for the same figure."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = re.sub(r"\s*<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", text, flags=re.DOTALL)
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    text = re.sub(
        r'(\bid="|url\(#|href="#)([^")]+)',
        lambda m: f"{m.group(1)}{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(0),
        text,
    )
    size = re.search(r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"', text)
    if size is None:  # pragma: no cover - matplotlib always writes both
        raise ValueError("matplotlib SVG without width/height")
    return text.replace(
        size.group(0),
        f'<svg{size.group(1)} class="chart" id="{prefix}" role="img" aria-label="{escape(label)}" '
        f'style="max-width: {size.group(2)}pt"',
        1,
    )


def histogram_svg(book: Gradebook) -> str:
    """The distribution of totals: ``HIST_BINS`` equal bins from 0 to the maximum total."""
    top = book.max_total or 1
    edges = [top * i / HIST_BINS for i in range(HIST_BINS + 1)]
    with matplotlib.rc_context(CHART_RC):
        figure = Figure(figsize=(11.2, 3.2), layout="constrained")
        axes = figure.add_subplot()
        counts, _, patches = axes.hist(book.totals(), bins=edges, color="#0969da", edgecolor="white", linewidth=1)
        for index, (patch, count) in enumerate(zip(cast(BarContainer, patches), counts, strict=True)):
            patch.set_gid(f"bar-{index}")
            if count:
                axes.annotate(
                    f"{int(count)}", (patch.get_x() + patch.get_width() / 2, count), ha="center", va="bottom",
                    xytext=(0, 2), textcoords="offset points", color="#1f2328", fontsize=9,
                )  # fmt: skip
        axes.set_xticks(edges, [format_points(e) for e in edges])
        axes.set_xlim(0, top)
        axes.set_xlabel(f"total points (of {format_points(top)})")
        axes.set_ylabel("students")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="y", color="#e6eaef")
        axes.set_axisbelow(True)
        return _svg(figure, prefix="hist", label="Histogram of the students' total points")


def _colour(rate: float) -> str:
    return next(colour for bound, colour in PASS_COLOURS if rate < bound)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def pass_rate_svg(book: Gradebook) -> str:
    """Pass rate per test, hardest first; each label is linked to the test's lecture section."""
    tests = sorted(book.tests, key=lambda t: t.pass_rate)  # stable: ties keep the suite order
    with matplotlib.rc_context(CHART_RC):
        figure = Figure(figsize=(11.2, 0.9 + 0.22 * max(len(tests), 1)), layout="constrained")
        axes = figure.add_subplot()
        positions = list(range(len(tests)))
        rates = [100 * t.pass_rate for t in tests]
        colours = [_colour(t.pass_rate) for t in tests]
        bars = axes.barh(positions, rates, color=colours, height=0.7)
        for index, (bar, test) in enumerate(zip(bars, tests, strict=True)):
            bar.set_gid(f"bar-{index}")
            axes.annotate(
                f"{rates[index]:.0f}% ({test.passed}/{test.graded})", (bar.get_width(), index), va="center",
                xytext=(4, 0), textcoords="offset points", fontsize=8, color="#59636e",
            )  # fmt: skip
        axes.set_yticks(positions, [_short(f"{t.assignment} · {t.name}") for t in tests])
        for label, test in zip(axes.get_yticklabels(), tests, strict=True):
            label.set_parse_math(False)  # a '$' in a name is text, not TeX
            url = section_url(book.lecture_url, test.section)
            if url:
                label.set_url(url)
        axes.set_ylim(len(tests) - 0.5, -0.5)  # hardest at the top
        axes.set_xlim(0, 112)
        axes.set_xticks(range(0, 101, 20), [f"{p}%" for p in range(0, 101, 20)])
        axes.set_xlabel("students who passed the test")
        axes.tick_params(axis="y", length=0, labelsize=8.5)
        axes.grid(axis="x", color="#e6eaef")
        axes.set_axisbelow(True)
        return _svg(figure, prefix="pass", label="Pass rate per test, hardest first")


def _sections_table(book: Gradebook) -> str:
    rows = []
    for stat in book.sections():
        url = section_url(book.lecture_url, stat.section)
        name = escape(stat.section or "(no section)")
        link = f'<a href="{escape(url)}">{name}</a>' if url else name
        bar = bar_svg(stat.passed, stat.graded, width=160, colour=_colour(stat.pass_rate))
        rows.append(
            f"<tr><td>{link}</td><td class='num'>{stat.tests}</td>"
            f"<td><div class='rate'>{stat.pass_rate:.0%} {bar}</div></td></tr>"
        )
    return (
        '<table id="sections"><thead><tr><th>lecture section</th><th class="num">tests</th>'
        '<th class="num">pass rate</th></tr></thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody></table>\n"
    )


NO_TESTS_NOTE = (
    "This gradebook was built from nbgrader's grades.csv, which holds one score per student and assignment: "
    "it has no per-test or per-lecture-section results, so this page cannot show which tests or sections the "
    "class struggles with. Build the gradebook from the reports of `grader batch`, or open nbgrader's formgrader, "
    "for those."
)


def _assignment_row(stat: AssignmentStat) -> str:
    numbers = [format_points(v) or "-" for v in (stat.mean, stat.median, stat.lowest, stat.highest)]
    bar = bar_svg(stat.mean or 0.0, stat.max_points, width=160) if stat.mean is not None else ""
    cells = "".join(f"<td class='num'>{escape(n)}</td>" for n in numbers)
    return (
        f"<tr data-assignment='{escape(stat.assignment)}'><td>{escape(stat.assignment)}</td>"
        f"<td class='num'>{stat.max_points}</td><td class='num'>{stat.graded}</td>{cells}"
        f"<td>{bar}</td><td class='num'>{stat.late}</td></tr>"
    )


def _assignments_table(book: Gradebook) -> str:
    rows = "\n".join(_assignment_row(stat) for stat in book.assignment_stats())
    heads = "".join(f"<th class='num'>{h}</th>" for h in ("points", "graded", "mean", "median", "lowest", "highest"))
    return (
        f'<table id="assignment-stats"><thead><tr><th>assignment</th>{heads}<th>mean of points</th>'
        f'<th class="num">late</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n'
    )


def student_href(student_id: str) -> str:
    """Where the class page links a student's own report page (relative to the class page)."""
    return f"students/{quote(student_id)}.html"


def _student_row(row: Row) -> str:
    sid = escape(row.student_id)
    who = sid if row.missing else f'<a href="{escape(student_href(row.student_id))}">{sid}</a>'
    cells = [f'<td data-sort="{sid}">{who}</td>', f"<td>{escape(row.name)}</td>"]
    for cell in row.cells:
        value = format_points(cell.points)
        late = (
            f' class="num late" title="{cell.late_fraction:.0%} late penalty"' if cell.late_fraction else ' class="num"'
        )
        cells.append(f'<td{late} data-sort="{value}">{value}</td>')
    penalty, total = format_points(row.penalty), format_points(row.total)
    shown_penalty = f"-{penalty}" if row.penalty else penalty
    cells.append(f'<td class="num" data-sort="{penalty}">{escape(shown_penalty)}</td>')
    cells.append(f'<td class="num total" data-sort="{total}"><b>{total}</b></td>')
    cells.append(f"<td>{escape('; '.join(row.notes))}</td>")
    css = ' class="missing"' if row.missing else ""
    return f"<tr{css}>{''.join(cells)}</tr>"


def _students_table(book: Gradebook) -> str:
    columns = [("student", "student", "", "text"), ("name", "name", "", "text")]
    columns += [(name, name, f"/{points}", "number") for name, points in book.max_points]
    columns += [("penalty", "late", "penalty", "number"), ("total", "total", f"/{book.max_total}", "number")]
    columns += [("note", "note", "", "text")]
    heads = "".join(
        f'<th data-key="{key}" data-type="{kind}"{" class=num" if kind == "number" else ""}>'
        f'<button type="button">{escape(label)}{f"<small>{escape(unit)}</small>" if unit else ""}</button></th>'
        for key, label, unit, kind in columns
    )
    body = "\n".join(_student_row(row) for row in book.rows)
    return (
        f'<div class="table-wrap"><table id="students"><thead><tr>{heads}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>\n"
    )


def _lede(book: Gradebook) -> str:
    """One sentence on where the class struggles: the hardest lecture section, else the lowest assignment."""
    hardest = book.sections()[:1]
    if hardest:
        return (
            f"The class struggles most with <strong>{escape(hardest[0].section or '(no section)')}</strong> "
            f"({hardest[0].pass_rate:.0%} of its tests passed)."
        )
    scored = [s for s in book.assignment_stats() if s.mean is not None]
    if not scored:
        return ""
    lowest = min(scored, key=lambda s: (s.mean or 0.0) / s.max_points)
    return (
        f"The lowest-scoring assignment is <strong>{escape(lowest.assignment)}</strong> "
        f"(mean {escape(format_points(lowest.mean))} of {lowest.max_points} points)."
    )


def _test_sections(book: Gradebook) -> tuple[str, str]:
    """The lecture-sections table (shown before the students) and the pass-rate chart (after them),
    or, when the source has no per-test results, why there are neither."""
    if not book.has_tests:
        note = (
            '<section class="card" id="no-test-results">\n<h2>Tests and lecture sections</h2>\n'
            f'<p class="note">{escape(NO_TESTS_NOTE)}</p>\n</section>\n'
        )
        return note, ""
    pass_note = (
        "Hardest first; each label links to the test's lecture section."
        if book.lecture_url
        else ("Hardest first. (Give the course a lecture_url to link each test to its lecture section.)")
    )
    sections = (
        '<section class="card" id="lecture-sections">\n<h2>Where the class struggles: lecture sections</h2>\n'
        f"{_sections_table(book)}</section>\n"
    )
    rates = (
        '<section class="card" id="pass-rates">\n<h2>Pass rate per test</h2>\n'
        f'<p class="muted">{pass_note}</p>\n'
        f"{pass_rate_svg(book)}\n</section>\n"
    )
    return sections, rates


def render(book: Gradebook) -> str:
    """The class report page."""
    graded = book.graded()
    totals = book.totals()
    median = book.median_total()
    mean = sum(totals) / len(totals) if totals else None
    late = sum(1 for row in graded if row.penalty)
    title = f"{book.course_name} · class report" if book.course_name else "Redis course · class report"
    cards = [
        (str(len(book.rows)), "students"),
        (str(len(graded)), "reports" if book.has_tests else "graded (nbgrader)"),
        (str(len(book.rows) - len(graded)), "missing"),
        (format_points(median) or "-", f"median total /{book.max_total}"),
        (format_points(round(mean, 2)) if mean is not None else "-", "mean total"),
        (str(late), "with a late penalty"),
    ]
    card_html = "".join(f"<div><b>{escape(value)}</b><span>{escape(label)}</span></div>" for value, label in cards)
    students = (
        '<section class="card" id="roster">\n<h2>Students</h2>\n'
        '<p class="muted">Click a column to sort; a student id opens the student\'s own report.</p>\n'
        f"{_students_table(book)}</section>\n"
    )
    before_students, after_students = _test_sections(book)
    body = (
        f"<header>\n<h1>{escape(title)}</h1>\n<p class='meta'>{_lede(book)}</p>\n</header>\n"
        f'<div class="cards">{card_html}</div>\n'
        '<section class="card" id="distribution">\n<h2>Score distribution</h2>\n'
        f"{histogram_svg(book)}\n</section>\n"
        '<section class="card" id="assignments">\n<h2>Assignments</h2>\n'
        '<p class="muted">Course points earned by the students graded on each assignment, before late penalties.</p>\n'
        f"{_assignments_table(book)}</section>\n"
        + before_students
        + students
        + after_students
        + f"<script>{SORT_JS}</script>\n"
    )
    return page(title=title, css=CLASS_CSS, body=body)
