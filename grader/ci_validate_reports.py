"""Check the grading jobs' report artifacts before anything is published, and file the good ones.

    python -m grader.ci_validate_reports ARTIFACTS --matrix JSON --expected REFERENCE.json --out REPORTS_DIR
        [--summary FILE] [--max-bytes N]

The grading jobs of ``.github/workflows/grade.yml`` ran student code, so their artifacts are
checked like input: ARTIFACTS holds one folder per job, ``grade-<student_id>--<commit>`` (as
``actions/download-artifact`` lays them out), each with ``report.json``. A report is accepted
when its job is in the matrix (``ci_matrix``'s JSON), there is exactly one for the student, its
commit is the one the matrix asked for (when it asked for one), the file is at most
``--max-bytes``, it is a valid canonical report graded on a real Redis server, and it holds
exactly the tests of REFERENCE (a report of the reference solutions), each with the same
``max_score``.

Accepted reports are written to REPORTS_DIR as ``<student_id>.json`` (``student_id``, ``commit``
and ``received_at`` filled in from the matrix and the artifact) and ``<student_id>.md``, the
layout ``grader gradebook`` reads, plus ``publish.tsv`` (``student_id``, repository, commit per
line) for the publishing step; ``--github-output`` gets ``accepted=<n>`` and ``refused=<n>``.
Every problem is printed; the exit status is 1 when there was any, after the accepted reports
are written; 2 for bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import render_markdown
from grader.ci_matrix import SHA, STUDENT_ID, check_repository
from grader.errors import UsageError
from grader.report import Report, ReportError, load_json, write_atomic, write_json

DESCRIPTION = "Validate the grading jobs' report artifacts and file the accepted ones for the gradebook."
ARTIFACT = re.compile(r"grade-(?P<student_id>.+)--(?P<commit>[0-9a-f]{40})")
REPORT_FILE = "report.json"
PUBLISH_LIST = "publish.tsv"
DEFAULT_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Job:
    """One matrix entry: what was to be graded."""

    student_id: str
    repository: str
    ref: str
    received_at: str


@dataclass(frozen=True)
class Accepted:
    """A report that passed every check, with the commit it grades."""

    job: Job
    commit: str
    report: Report


@dataclass(frozen=True)
class Validation:
    """The outcome: accepted reports, and one line per problem."""

    accepted: tuple[Accepted, ...]
    problems: tuple[str, ...]


def artifact_name(*, student_id: str, commit: str) -> str:
    """The artifact name a grading job uploads its report under."""
    return f"grade-{student_id}--{commit}"


def parse_matrix(text: str) -> list[Job]:
    """The jobs of ``ci_matrix``'s ``{"include": [...]}``; ``UsageError`` when it is not one."""
    try:
        data = json.loads(text)
        jobs = [
            Job(str(e["student_id"]), str(e["repository"]), str(e.get("ref", "")), str(e["received_at"]))
            for e in data["include"]
        ]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(f"--matrix is not the grading matrix JSON ({type(exc).__name__}: {exc})") from None
    for job in jobs:
        if not STUDENT_ID.fullmatch(job.student_id) or not check_repository(job.repository):
            raise UsageError(f"--matrix entry {job.student_id!r} has an unusable student_id or repository")
        if job.ref and not SHA.fullmatch(job.ref):
            raise UsageError(f"--matrix entry {job.student_id!r} has a ref that is not a commit SHA")
    if len({job.student_id for job in jobs}) != len(jobs):
        raise UsageError("--matrix lists a student twice")
    return jobs


def expected_tests(reference: Report) -> dict[str, int]:
    """Test id → max_score of the reference report; ``UsageError`` when it is incomplete."""
    if not reference.complete:
        raise UsageError("the reference report is incomplete: grade the solutions again")
    return {test.id: test.max_score for test in reference.tests()}


def validate(*, artifacts: Path, jobs: Sequence[Job], expected: dict[str, int], max_bytes: int) -> Validation:
    """Check every job's artifact; see the module docstring for what is checked."""
    found: dict[str, list[tuple[str, Path]]] = {}
    problems: list[str] = []
    known = {job.student_id for job in jobs}
    for folder in sorted(p for p in artifacts.iterdir() if p.is_dir()) if artifacts.is_dir() else []:
        match = ARTIFACT.fullmatch(folder.name)
        if match is None or match["student_id"] not in known:
            problems.append(f"artifact {folder.name!r}: not a grading job of this run (ignored)")
            continue
        found.setdefault(match["student_id"], []).append((match["commit"], folder))
    accepted: list[Accepted] = []
    for job in jobs:
        candidates = found.get(job.student_id, [])
        if len(candidates) != 1:
            what = "no report: the grading job failed or was cancelled" if not candidates else "several reports"
            problems.append(f"{job.student_id} ({job.repository}): {what}")
            continue
        commit, folder = candidates[0]
        if job.ref and commit != job.ref:
            problems.append(f"{job.student_id}: graded commit {commit}, but {job.ref} was asked for")
            continue
        report, problem = _check_report(folder / REPORT_FILE, expected=expected, max_bytes=max_bytes)
        if report is None:
            problems.append(f"{job.student_id} ({job.repository} @ {commit[:7]}): {problem}")
            continue
        accepted.append(Accepted(job=job, commit=commit, report=report))
    return Validation(accepted=tuple(accepted), problems=tuple(problems))


def file_reports(validation: Validation, *, out: Path) -> None:
    """Write each accepted report (filled in) and its Markdown to ``out``, then ``publish.tsv``."""
    lines = []
    for item in validation.accepted:
        report = dataclasses.replace(
            item.report, student_id=item.job.student_id, commit=item.commit, received_at=item.job.received_at
        )
        write_json(report, out / f"{item.job.student_id}.json")
        write_atomic(out / f"{item.job.student_id}.md", render_markdown.render(report))
        lines.append(f"{item.job.student_id}\t{item.job.repository}\t{item.commit}\n")
    write_atomic(out / PUBLISH_LIST, "".join(lines))


def render_summary(validation: Validation, *, jobs: Sequence[Job]) -> str:
    """The job summary: how many reports were accepted, a row per accepted one, then the problems."""
    lines = [f"## Grading run: {len(validation.accepted)} of {len(jobs)} reports accepted", ""]
    if validation.accepted:
        lines += ["| student | repository | commit | score | complete |", "|---|---|---|---|---|"]
        for item in validation.accepted:
            report = item.report
            lines.append(
                f"| {item.job.student_id} | {item.job.repository} | `{item.commit[:7]}` | "
                f"{report.score}/{report.max_score} | {'yes' if report.complete else 'no'} |"
            )
        lines.append("")
    if validation.problems:
        lines += ["### Problems", "", *(f"- {_neutral(p)}" for p in validation.problems), ""]
    return "\n".join(lines) + "\n"


def _check_report(path: Path, *, expected: dict[str, int], max_bytes: int) -> tuple[Report | None, str]:
    """The report at ``path`` when it passes the checks, else None and the reason."""
    if not path.is_file():
        return None, f"the artifact holds no {REPORT_FILE}"
    size = path.stat().st_size
    if size > max_bytes:
        return None, f"{REPORT_FILE} is {size} bytes, over the limit of {max_bytes}"
    try:
        report = load_json(path)
    except ReportError as exc:
        return None, f"{REPORT_FILE} is not a valid report: {exc}"
    if report.redis.backend != "real":
        return None, "graded on fakeredis, not on a real Redis server"
    ids = [test.id for test in report.tests()]
    if len(set(ids)) != len(ids):
        return None, "a test appears twice"
    if missing := sorted(set(expected) - set(ids)):
        return None, f"{len(missing)} expected tests missing, e.g. {missing[0]}"
    if extra := sorted(set(ids) - set(expected)):
        return None, f"{len(extra)} tests that the suites do not have, e.g. {_neutral(extra[0])!r}"
    if changed := sorted(t.id for t in report.tests() if t.max_score != expected[t.id]):
        return None, f"{len(changed)} tests with another max_score than the suites give, e.g. {changed[0]}"
    return report, ""


def _neutral(text: str) -> str:
    """``text`` on one line, with no workflow-command or Markdown table syntax."""
    return " ".join(text.split()).replace("::", ": :").replace("|", "/")[:300]


def main(argv: Sequence[str] | None = None) -> int:
    """Validate, file the accepted reports, write the summary; exit 1 when any report was refused."""
    parser = argparse.ArgumentParser(prog="python -m grader.ci_validate_reports", description=DESCRIPTION)
    parser.add_argument("artifacts", type=Path, metavar="ARTIFACTS", help="the downloaded artifacts, a folder per job")
    parser.add_argument("--matrix", required=True, metavar="JSON", help="the matrix JSON of python -m grader.ci_matrix")
    parser.add_argument("--expected", type=Path, required=True, metavar="FILE", help="a report of the solutions")
    parser.add_argument("--out", type=Path, required=True, metavar="REPORTS_DIR", help="where accepted reports go")
    parser.add_argument("--summary", type=Path, metavar="FILE", help="append a Markdown summary here")
    parser.add_argument("--github-output", type=Path, metavar="FILE", help="append accepted=<n> and refused=<n> here")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="largest report.json accepted")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 for --help
        return int(exc.code or 0)
    try:
        jobs = parse_matrix(args.matrix)
        try:
            reference = load_json(args.expected)
        except ReportError as exc:
            raise UsageError(f"--expected: {exc}") from None
        validation = validate(
            artifacts=args.artifacts, jobs=jobs, expected=expected_tests(reference), max_bytes=args.max_bytes
        )
    except UsageError as exc:
        print(f"ci_validate_reports: error: {exc}", file=sys.stderr)
        return 2
    file_reports(validation, out=args.out)
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as handle:
            handle.write(render_summary(validation, jobs=jobs))
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as handle:
            handle.write(f"accepted={len(validation.accepted)}\nrefused={len(jobs) - len(validation.accepted)}\n")
    for problem in validation.problems:
        print(f"refused: {_neutral(problem)}", file=sys.stderr)
    print(f"{len(validation.accepted)} of {len(jobs)} reports accepted; filed in {args.out}")
    return 1 if validation.problems else 0


if __name__ == "__main__":
    sys.exit(main())
