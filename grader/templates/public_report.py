"""Run the public tests and report them as GitHub Classroom does: runner result, step output, job summary.

Runs ``python -m pytest`` from the repository root with a JUnit XML report, then turns it into
GitHub Classroom's runner result (``{"version": 1, "status": "pass|fail|error", "max_score": N,
"tests": [...]}``, one point per public test), which the Classroom grading reporter reads as
base64 from the step output ``result``. Writes a Markdown table to the job summary. Standard
library only, so it runs before (and whatever) the student installs.

The score is advisory: the grade comes from the course's hidden tests (see README.md).

Usage (the workflow passes the files GitHub Actions provides):

    python .github/classroom/public_report.py --github-output "$GITHUB_OUTPUT" --summary "$GITHUB_STEP_SUMMARY"
    python .github/classroom/public_report.py --json result.json      # locally, to look at the result

Exit status: 0 when a result was produced (whether the tests passed or not: the reporter step
marks the run red), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUTPUT_NAME = "result"  # the step output the Classroom runners set and the reporter reads
PYTEST_TIMEOUT_S = 540  # the workflow job stops at 10 minutes; report an error before that
MESSAGE_LIMIT = 800
OUTPUT_TAIL_LINES = 25
NOT_IMPLEMENTED = "not implemented yet: the function still raises NotImplementedError"
ADVISORY = (
    "These public tests are a quick self-check, and this score is advisory. Your grade comes from the "
    "course's hidden tests: it appears on your commit as the status `grader/hidden` and a comment."
)


@dataclass(frozen=True)
class Case:
    """One public test's outcome, read from the JUnit XML report."""

    assignment: str
    name: str
    status: str  # pass | fail | error
    message: str
    filename: str
    line_no: int
    duration: float
    doc: str


def main(argv: list[str] | None = None) -> int:
    """Run the public tests, write the requested outputs, print a one-line total."""
    parser = argparse.ArgumentParser(description="Run the public tests; report them as GitHub Classroom does.")
    parser.add_argument("--github-output", type=Path, metavar="FILE", help="append result=<base64> here")
    parser.add_argument("--summary", type=Path, metavar="FILE", help="append the Markdown table here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the runner result as JSON here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    returncode, output, cases = run_tests(extra=args.pytest_args)
    result = runner_result(cases=cases, returncode=returncode, output=output)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.github_output:
        encoded = base64.b64encode(json.dumps(result).encode("utf-8")).decode("ascii")
        with args.github_output.open("a", encoding="utf-8") as handle:
            handle.write(f"{OUTPUT_NAME}={encoded}\n")
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as handle:
            handle.write(summary(cases=cases, result=result))
    passed = sum(1 for case in cases if case.status == "pass")
    print(f"Public tests: {passed}/{len(cases)} passed ({result['status']}); advisory, the grade is the hidden score.")
    return 0


def run_tests(*, extra: list[str]) -> tuple[int, str, list[Case]]:
    """Run pytest on the public tests; return its exit code, its output and the test cases."""
    with tempfile.TemporaryDirectory(prefix="public-tests-") as tmp:
        xml_path = Path(tmp) / "junit.xml"
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "junit_family=xunit1",  # keeps each test's file and line
            f"--junitxml={xml_path}",
            "--tb=short",
            "-q",
            *extra,
        ]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            done = subprocess.run(
                argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=PYTEST_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            return -1, f"the public tests did not finish within {PYTEST_TIMEOUT_S} seconds", []
        output = done.stdout + done.stderr
        sys.stdout.write(output)  # the step log shows pytest's own report
        cases = read_junit(xml_path) if xml_path.is_file() else []
    return done.returncode, output, cases


def read_junit(path: Path) -> list[Case]:
    """The test cases of a pytest JUnit XML (xunit1) report; none when it is not readable XML."""
    docs: dict[str, dict[str, str]] = {}
    cases: list[Case] = []
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return []  # reported as an error: pytest did not finish its report
    for testcase in root.iter("testcase"):
        classname = testcase.get("classname", "")
        name = testcase.get("name", "")
        filename = testcase.get("file", "")
        status, message = "pass", ""
        for child in testcase:
            if child.tag in ("failure", "error"):
                status = "fail" if child.tag == "failure" else "error"
                message = _message(child.get("message", ""), child.text or "")
                break
            if child.tag == "skipped":
                status, message = "fail", f"skipped: {child.get('message', '')}"
        if filename not in docs:
            docs[filename] = _docstrings(ROOT / filename) if filename else {}
        cases.append(
            Case(
                assignment=classname.rsplit(".", 1)[-1].removeprefix("test_"),
                name=name,
                status=status,
                message=message,
                filename=filename,
                line_no=int(testcase.get("line", "-1") or -1) + 1,  # xunit1 lines count from 0
                duration=float(testcase.get("time", "0") or 0),
                doc=docs[filename].get(name.split("[", 1)[0], ""),
            )
        )
    return cases


def runner_result(*, cases: list[Case], returncode: int, output: str) -> dict[str, Any]:
    """The GitHub Classroom runner result: one point per test; ``error`` when pytest could not run them."""
    if returncode in (0, 1) and cases:
        status = "pass" if all(case.status == "pass" for case in cases) else "fail"
    else:
        status = "error"
    tests = [
        {
            "name": f"{case.assignment}: {case.name}",
            "status": case.status,
            "score": 1 if case.status == "pass" else 0,
            "message": case.message,
            "test_code": f"python -m pytest {case.filename}::{case.name}",
            "filename": case.filename,
            "line_no": case.line_no,
            "duration": round(case.duration, 3),
        }
        for case in cases
    ]
    result: dict[str, Any] = {"version": 1, "status": status, "max_score": len(cases), "tests": tests}
    if status == "error":
        tail = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
        result["message"] = f"pytest could not run the public tests (exit {returncode}):\n{tail}"[:MESSAGE_LIMIT]
    return result


def summary(*, cases: list[Case], result: dict[str, Any]) -> str:
    """The job summary: the total, a line per assignment, then a line per test that did not pass."""
    passed = sum(1 for case in cases if case.status == "pass")
    lines = [f"## Public tests: {passed}/{len(cases)} passed", "", ADVISORY, ""]
    if result["status"] == "error":
        lines += ["**The public tests could not run.** The end of pytest's output:", "", "```", result["message"]]
        lines += ["```", ""]
    by_assignment: dict[str, list[Case]] = {}
    for case in cases:
        by_assignment.setdefault(case.assignment, []).append(case)
    if by_assignment:
        lines += ["| assignment | passed |", "|---|---|"]
        for assignment, group in by_assignment.items():
            done = sum(1 for case in group if case.status == "pass")
            lines.append(f"| `{assignment}.py` | {done}/{len(group)} {'✅' if done == len(group) else '❌'} |")
        lines.append("")
    failing = [case for case in cases if case.status != "pass"]
    if failing:
        lines += ["| test | what it checks | what happened |", "|---|---|---|"]
        for case in failing:
            what = _cell(case.message.splitlines()[0] if case.message else case.status)
            lines.append(f"| `{case.assignment}: {case.name}` | {_cell(case.doc)} | {what} |")
        lines += ["", "Run one locally: `python -m pytest tests/public/test_<assignment>.py -k <test name>`."]
    return "\n".join(lines) + "\n\n"


def _message(message: str, text: str) -> str:
    """A short explanation of a failure: 'not implemented yet' for a stub, else pytest's message."""
    if message.strip().startswith("NotImplementedError"):
        return NOT_IMPLEMENTED
    body = message.strip() or text.strip()
    return body[:MESSAGE_LIMIT]


def _docstrings(path: Path) -> dict[str, str]:
    """The first docstring line of every test function in ``path``; empty when it cannot be parsed."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return {}
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                found[node.name] = doc.strip().splitlines()[0]
    return found


def _cell(text: str) -> str:
    """``text`` made safe for one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()[:200]


if __name__ == "__main__":
    sys.exit(main())
