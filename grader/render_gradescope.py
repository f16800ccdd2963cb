"""Render a report as Gradescope's ``results.json``, checked against a JSON Schema of its specification.

The schema (``grader/schemas/gradescope_results.schema.json``) is written from the "Output format"
section of Gradescope's autograder specification. Every test is a hidden-suite test, so each one
gets the visibility the instructor chose (``--hidden-visibility``). Test names and feedback are
emitted with ``output_format: text`` (Gradescope renders no HTML or Markdown in them), and the
top-level output, rendered as ``simple_format``, is HTML-escaped.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Any, Literal, get_args

from grader import assignments
from grader.errors import GraderFailure
from grader.report import AssignmentResult, Report

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
VISIBILITIES: tuple[str, ...] = get_args(Visibility)
DEFAULT_VISIBILITY: Visibility = "after_due_date"
SCHEMA_RESOURCE = "schemas/gradescope_results.schema.json"
LEADERBOARD_NAME = "Total score"


class GradescopeSchemaError(GraderFailure):
    """A document does not follow Gradescope's results.json specification; the message lists why."""


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of Gradescope's ``results.json`` shipped with the grader."""
    text = resources.files("grader").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def problems(document: Any) -> list[str]:
    """Every way ``document`` breaks the specification, as ``path: message`` lines (empty when valid)."""
    import jsonschema  # imported here: it takes seconds to load, and only writing results.json needs it

    validator = jsonschema.Draft202012Validator(schema())
    found = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '(top level)'}: {error.message}" for error in found]


def validate(document: Any) -> None:
    """Raise ``GradescopeSchemaError`` naming every problem when ``document`` is not a valid results.json."""
    if found := problems(document):
        raise GradescopeSchemaError("not a valid Gradescope results.json:\n  " + "\n  ".join(found))


def _assignment_number(result: AssignmentResult, position: int) -> int:
    """The course's number for an assignment (1 = counter), stable when only some were graded."""
    if result.name in assignments.NAMES:
        return assignments.NAMES.index(result.name) + 1
    return position


def _summary(report: Report) -> str:
    lines = [f"Redis course: {report.score}/{report.max_score} points"]
    lines += [f"{a.name}: {a.score}/{a.max_score}" for a in report.assignments]
    lines += list(report.notes)
    return html.escape("\n".join(lines))


def render(report: Report, *, hidden_visibility: Visibility = DEFAULT_VISIBILITY) -> dict[str, Any]:
    """The results.json document for ``report`` (not yet validated; see ``render_json``)."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    tests: list[dict[str, Any]] = []
    for position, result in enumerate(report.assignments, start=1):
        number = _assignment_number(result, position)
        for index, test in enumerate(result.tests, start=1):
            tests.append(
                {
                    "score": test.score,
                    "max_score": test.max_score,
                    "status": "passed" if test.status == "passed" else "failed",
                    "name": test.name,
                    "name_format": "text",
                    "number": f"{number}.{index}",
                    "output": test.feedback,
                    "output_format": "text",
                    "tags": [result.name, *([test.section] if test.section else [])],
                    "visibility": hidden_visibility,
                    "extra_data": {"id": test.id, "status": test.status},
                }
            )
    return {
        "score": report.score,
        "execution_time": round(report.duration_s, 3),
        "output": _summary(report),
        "output_format": "simple_format",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": hidden_visibility,
        "stdout_visibility": "hidden",
        "extra_data": {
            "max_score": report.max_score,
            "complete": report.complete,
            "grader_version": report.grader_version,
            "redis_backend": report.redis.backend,
            "isolation": report.isolation,
            "student_id": report.student_id,
            "commit": report.commit,
            "received_at": report.received_at,
        },
        "tests": tests,
        "leaderboard": [{"name": LEADERBOARD_NAME, "value": report.score, "order": "desc"}],
    }


def render_json(report: Report, *, hidden_visibility: Visibility = DEFAULT_VISIBILITY) -> str:
    """The results.json text for ``report``, validated against the schema before it is returned."""
    document = render(report, hidden_visibility=hidden_visibility)
    validate(document)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
