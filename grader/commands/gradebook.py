"""``grader gradebook``: the class gradebook CSV for the LMS, and the offline HTML class and student pages.

Its SOURCE is a folder of reports (``grader batch --out``) or nbgrader's ``grades.csv`` (``nbgrader
export``): a folder is read as reports, a file (or a path ending in ``.csv``) as grades.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import quote

from rich.console import Console
from rich.text import Text

from grader import gradebook, render_student_html
from grader.course import Course, load_course
from grader.errors import UsageError
from grader.report import write_atomic

HELP = "build the gradebook CSV and the offline HTML class report from a folder of reports or nbgrader's grades.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        type=Path,
        metavar="SOURCE",
        help="the --out folder of `grader batch` (REPORTS_DIR), or the grades.csv of `nbgrader export` "
        "(scores per assignment only: no per-test statistics, student pages show points and late penalties)",
    )
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write the gradebook CSV (for LMS import) here")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="write the class report page here, and each student's page to students/<student_id>.html beside it",
    )
    parser.add_argument(
        "--course", type=Path, metavar="FILE", help="course.toml: roster, points, deadlines and late policy"
    )
    parser.add_argument(
        "--nbgrader-db",
        type=Path,
        metavar="PATH",
        help="also write the reports into this nbgrader gradebook database (formgrader then shows them); "
        "SOURCE must be a folder of reports",
    )


def is_grades_csv(source: Path) -> bool:
    """Whether SOURCE names nbgrader's grades.csv rather than a folder of reports."""
    return source.suffix.lower() == ".csv" or (source.exists() and not source.is_dir())


def build(source: Path, *, course: Course | None) -> gradebook.Gradebook:
    """The gradebook of SOURCE: a folder of reports, or nbgrader's grades.csv."""
    if is_grades_csv(source):
        from grader.nbgrader_bridge import read_gradebook  # reads the CSV only; nbgrader itself is not imported

        return read_gradebook(source, course=course)
    return gradebook.build(source, course=course)


def run(args: argparse.Namespace, console: Console) -> int:
    if args.csv is None and args.html is None and args.nbgrader_db is None:
        raise UsageError("nothing to write: give --csv FILE, --html FILE and/or --nbgrader-db PATH")
    if args.nbgrader_db is not None and is_grades_csv(args.source):
        raise UsageError(f"--nbgrader-db writes reports into nbgrader: {args.source} is not a folder of reports")
    course = load_course(args.course) if args.course else None
    book = build(args.source, course=course)
    for warning in book.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
    written = []
    if args.csv is not None:
        write_atomic(args.csv, gradebook.render_csv(book))
        written.append(str(args.csv))
    if args.html is not None:
        write_student_pages(book, class_page=args.html)
        from grader import render_class_html  # matplotlib loads only when a page is drawn

        write_atomic(args.html, render_class_html.render(book))  # last: its student links then resolve
        written.append(f"{args.html} (+ {len(book.graded())} student pages)")
    if args.nbgrader_db is not None:
        from grader.nbgrader_bridge import write_reports  # needs the notebooks extra (nbgrader)

        synced = write_reports(reports_dir=args.source, db=args.nbgrader_db, course=course)
        written.append(f"{args.nbgrader_db} ({synced.students} students, {synced.submissions} submissions)")
    missing = len(book.rows) - len(book.graded())
    console.print(
        f"gradebook: {len(book.rows)} students, {len(book.graded())} {'reports' if book.has_tests else 'graded'}, "
        f"{missing} missing, "
        f"{len(book.warnings)} warning{'' if len(book.warnings) == 1 else 's'}; wrote {', '.join(written)}",
        markup=False,
        soft_wrap=True,
    )
    return 0


def write_student_pages(book: gradebook.Gradebook, *, class_page: Path) -> None:
    """Each graded student's page at ``students/<student_id>.html`` beside ``class_page``: the full
    report when the source has one, else the points the gradebook knows."""
    back = f"../{quote(class_page.name)}"
    for row in book.graded():
        if row.report is not None:
            page = render_student_html.render(row.report, row=row, lecture_url=book.lecture_url, back_href=back)
        else:
            page = render_student_html.render_row(row, back_href=back)
        write_atomic(class_page.parent / "students" / f"{row.student_id}.html", page)
