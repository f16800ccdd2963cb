"""The class report in a real browser: headless Chromium with the network blocked loads it, renders the
charts, sorts the table from its inline JS, and every link resolves."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from grader import assignments, gradebook, render_class_html
from grader.report import Report, Status

from .test_gradebook import (
    ALL_PASSED,
    DUE,
    FIRST_PASSED,
    LECTURE,
    SECTIONS,
    build_nbgrader_site,
    build_site,
    make_report,
)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
NETWORK_BLOCK = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9")
HIST_BLUE = (9, 105, 218)  # the histogram's bar colour, #0969da


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    missing = f"no Chromium binary on PATH (looked for {', '.join(CHROMIUM_NAMES)}); apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(missing)  # .ci/run installs it: in CI a missing browser is a broken setup, not a skip
    pytest.skip(missing)


def run_chromium(chromium: str, profile: Path, url: str, *extra: str) -> str:
    """Load ``url`` in a fresh headless Chromium with no network; its stdout (the DOM with --dump-dom)."""
    argv = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *NETWORK_BLOCK,
        *extra,
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Dom(HTMLParser):
    """The dumped DOM as a list of (tag, attributes), plus the student table's body rows as cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.rows: list[list[str]] = []
        self._in_students = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "table":
            self._in_students = attributes.get("id") == "students"
        elif self._in_students and tag == "tr":
            self.rows.append([])
        elif self._in_students and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_students = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def ids(self, pattern: str) -> list[str]:
        return [a["id"] for _, a in self.elements if re.fullmatch(pattern, a.get("id", ""))]

    def links(self) -> list[str]:
        return [a.get("href") or a.get("xlink:href", "") for tag, a in self.elements if tag == "a"]


def dom_of(html: str) -> Dom:
    dom = Dom()
    dom.feed(html)
    dom.close()
    dom.rows = [row for row in dom.rows if row]  # the header row has th cells, not td
    return dom


def class_reports() -> list[Report]:
    """Six students: varied scores, one late, one with hostile feedback."""
    mixed: dict[str, tuple[Status, Status]] = {
        "counter": ("passed", "failed"),
        "capped_list": ("failed", "passed"),
        "set_analytics": ("timeout", "failed"),
        "leaderboard": ("passed", "passed"),
        "ttl_cache": ("not_attempted", "not_attempted"),
    }
    hostile = (
        '<img src=x onerror="document.body.setAttribute(\'data-pwned\', 1)"><script>document.title="pwned"</script>'
    )
    return [
        make_report("s001", ALL_PASSED),
        make_report("s002", FIRST_PASSED),
        make_report("s003", mixed, feedback=hostile),
        make_report("s004", ALL_PASSED, received_at=DUE + timedelta(days=2)),
        make_report("s005", {name: ("failed", "failed") for name in assignments.NAMES}),
        make_report("s006", mixed),
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("gradebook"), class_reports())


def test_class_page_loads_offline_with_both_charts_and_resolving_links(
    chromium: str, site: Path, tmp_path: Path
) -> None:
    html = run_chromium(chromium, tmp_path / "profile", site.as_uri(), "--dump-dom")
    dom = dom_of(html)
    assert "<h1>Redis Fundamentals · class report</h1>" in html
    # both charts are inline SVG with the expected number of bars
    svgs = {a.get("id") for tag, a in dom.elements if tag == "svg"}
    assert {"hist", "pass"} <= svgs
    assert len(dom.ids(r"hist-bar-\d+")) == render_class_html.HIST_BINS
    tests_in_suites = 2 * len(assignments.NAMES)
    assert len(dom.ids(r"pass-bar-\d+")) == tests_in_suites
    # every student with a report links to a page that exists; the absent one has a row but no link
    student_links = [u for u in dom.links() if u.startswith("students/")]
    assert len(student_links) == 6
    for link in student_links:
        assert (site.parent / unquote(link)).is_file(), link
    assert [row[0] for row in dom.rows] == ["s001", "s002", "s003", "s004", "s005", "s006", "s099"]
    # every section link points into the lecture with a well-formed anchor naming a known section
    known = {gradebook.section_slug(s) for pair in SECTIONS.values() for s in pair}
    section_links = [u for u in dom.links() if u.startswith("http")]
    assert len(section_links) >= tests_in_suites  # one per chart label, plus the sections table
    for link in section_links:
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == LECTURE, link
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", parts.fragment), link
        assert parts.fragment in known, link


def _column(dom: Dom, index: int) -> list[str]:
    return [row[index] for row in dom.rows]


TOTAL_COLUMN = 2 + len(assignments.NAMES) + 1  # student, name, five assignments, penalty, total


@pytest.mark.parametrize(
    ("query", "column", "expected"),
    [
        ("?sort=total", TOTAL_COLUMN, "descending"),  # numbers sort highest first by default
        ("?sort=total&dir=asc", TOTAL_COLUMN, "ascending"),
        ("?sort=name&dir=desc", 1, "descending"),
        ("?sort=penalty", TOTAL_COLUMN - 1, "descending"),
    ],
)
def test_inline_js_sorts_the_student_table(
    chromium: str, site: Path, tmp_path: Path, query: str, column: int, expected: str
) -> None:
    dom = dom_of(run_chromium(chromium, tmp_path / "profile", site.as_uri() + query, "--dump-dom"))
    values = _column(dom, column)
    present = [v.lstrip("-") for v in values if v]
    assert values[len(present) :] == [""] * (len(values) - len(present))  # the missing student stays last
    keys: list[float] | list[str] = [float(v) for v in present] if column != 1 else present
    assert keys == sorted(keys, reverse=expected == "descending"), values  # type: ignore[type-var]
    assert len(set(keys)) > 1  # a real reordering was checked, not a constant column
    heads = [a for tag, a in dom.elements if tag == "th" and "data-key" in a]
    assert [h.get("aria-sort") for h in heads if h.get("aria-sort")] == [expected]


def test_student_page_loads_offline_and_hostile_feedback_stays_inert(chromium: str, site: Path, tmp_path: Path) -> None:
    page = site.parent / "students" / "s003.html"
    html = run_chromium(chromium, tmp_path / "profile", page.as_uri(), "--dump-dom")
    dom = dom_of(html)
    body = next(a for tag, a in dom.elements if tag == "body")
    assert "data-pwned" not in body and "<title>Redis course report: s003</title>" in html  # no script ran
    assert not any(tag in ("script", "img") for tag, _ in dom.elements)
    assert "&lt;script&gt;document.title" in html  # shown as text
    back = [u for u in dom.links() if u.startswith("../")]
    assert back == ["../class.html"] and (page.parent / back[0]).resolve() == site.resolve()
    statuses = [a["data-status"] for tag, a in dom.elements if tag == "li" and "data-status" in a]
    assert statuses.count("timeout") == 1 and statuses.count("not_attempted") == 2


def test_screenshot_shows_the_rendered_charts(chromium: str, site: Path, tmp_path: Path) -> None:
    import numpy
    from PIL import Image  # both ship with matplotlib

    shot = tmp_path / "class.png"
    run_chromium(
        chromium,
        tmp_path / "profile",
        site.as_uri(),
        f"--screenshot={shot}",
        "--window-size=1280,1800",
        "--hide-scrollbars",
    )
    with Image.open(shot) as image:
        assert image.size == (1280, 1800)
        pixels = numpy.asarray(image.convert("RGB"), dtype=numpy.int16)
    blue = int((numpy.abs(pixels - numpy.array(HIST_BLUE)).max(axis=2) < 12).sum())
    assert blue > 2000, "the histogram's bars were not painted"


def test_class_page_from_grades_csv_loads_offline_without_test_charts(chromium: str, tmp_path: Path) -> None:
    (tmp_path / "class").mkdir()
    site = build_nbgrader_site(tmp_path / "class")
    html = run_chromium(chromium, tmp_path / "profile", site.as_uri() + "?sort=total&dir=asc", "--dump-dom")
    dom = dom_of(html)
    svgs = {a.get("id") for tag, a in dom.elements if tag == "svg"}
    assert "hist" in svgs and "pass" not in svgs
    assert len(dom.ids(r"hist-bar-\d+")) == render_class_html.HIST_BINS
    sections = {a.get("id") for tag, a in dom.elements if tag == "section"}
    assert {"distribution", "assignments", "no-test-results", "roster"} <= sections
    assert not sections & {"lecture-sections", "pass-rates"}
    stats = [a for tag, a in dom.elements if tag == "tr" and "data-assignment" in a]
    assert [a["data-assignment"] for a in stats] == list(assignments.NAMES)
    # the student table (roster order s001..s003, s099) is sorted by total, lowest first, the absent student
    # last; every link resolves
    assert [row[0] for row in dom.rows if len(row) == TOTAL_COLUMN + 2] == ["s003", "s002", "s001", "s099"]
    student_links = [u for u in dom.links() if u.startswith("students/")]
    assert len(student_links) == 3
    for link in student_links:
        assert (site.parent / unquote(link)).is_file(), link
    assert not [u for u in dom.links() if u.startswith("http")]
