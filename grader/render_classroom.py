"""Render a report as a GitHub Classroom runner result, its base64 env value and the reporter's notices.

The Classroom grading reporter reads, for each runner id, the env variable ``<ID>_RESULTS``: base64
of ``{"version": 1, "status": "pass|fail|error", "max_score": N, "tests": [...]}``; it sums
``tests[].score`` and prints each failed test's ``message`` to the workflow log. So messages are
made one line with no ``::`` (``feedback.neutralize``): nothing a student controls can become a
workflow command. ``test_code`` never carries hidden test code, only a neutral label.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from grader import feedback
from grader.report import Report, TestResult

VERSION = 1
TEST_CODE = "hidden test"
NOTICE_COMPLETE = "Autograding complete"
NOTICE_REPORT = "Autograding report"
_STATUS = {"passed": "pass", "error": "error"}


def _test(assignment: str, test: TestResult) -> dict[str, Any]:
    return {
        "name": feedback.neutralize(f"{assignment}: {test.name}"),
        "status": _STATUS.get(test.status, "fail"),
        "score": test.score,
        "message": feedback.neutralize(test.feedback),
        "test_code": TEST_CODE,
        "filename": "",
        "line_no": 0,
        "duration": 0,
    }


def status(report: Report) -> str:
    """``error`` when some tests produced no result, ``pass`` when every test passed, else ``fail``."""
    if not report.complete:
        return "error"
    return "pass" if all(t.status == "passed" for t in report.tests()) else "fail"


def render(report: Report) -> dict[str, Any]:
    """The runner result document for ``report``."""
    return {
        "version": VERSION,
        "status": status(report),
        "max_score": report.max_score,
        "tests": [_test(a.name, t) for a in report.assignments for t in a.tests],
    }


def render_json(report: Report) -> str:
    """The runner result as JSON text (what ``--classroom FILE`` writes)."""
    return json.dumps(render(report), indent=2, ensure_ascii=False) + "\n"


def env_value(report: Report) -> str:
    """The base64 value of ``<RUNNER-ID>_RESULTS`` that the Classroom reporter decodes."""
    compact = json.dumps(render(report), separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(compact.encode("utf-8")).decode("ascii")


def notices(report: Report) -> list[str]:
    """The two workflow-command lines Classroom reads the score from (only numbers are interpolated)."""
    score, max_score = report.score, report.max_score
    totals = json.dumps({"totalPoints": score, "maxPoints": max_score}, separators=(",", ":"))
    return [
        f"::notice title={NOTICE_COMPLETE}::Points {score}/{max_score}",
        f"::notice title={NOTICE_REPORT}::{totals}",
    ]
