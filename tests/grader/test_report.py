"""The canonical report: round trip through JSON, validation of what other tools feed back in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.report import AssignmentResult, RedisInfo, Report, ReportError, TestResult, load_json, write_json

REPORT = Report(
    assignments=(
        AssignmentResult(
            "counter",
            (
                TestResult("counter::a", "A", "passed", 60, 60),
                TestResult("counter::b", "B", "failed", 0, 40, "[Part 3 · Atomic counters] use INCR"),
            ),
        ),
    ),
    redis=RedisInfo("real", "redis 7.2.4", "disposable"),
    duration_s=1.234,
    student_id="s001",
    commit="0123abc",
    received_at="2026-11-25T12:00:00+00:00",
)


def test_round_trip_through_json(tmp_path: Path) -> None:
    write_json(REPORT, tmp_path / "r.json")
    loaded = load_json(tmp_path / "r.json")
    assert loaded == REPORT
    data = json.loads((tmp_path / "r.json").read_text())
    assert (data["schema_version"], data["score"], data["max_score"]) == (1, 60, 100)
    assert data["assignments"][0]["score"] == 60 and data["student_id"] == "s001"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.update(score=100), "do not match"),
        (lambda d: d["assignments"][0]["tests"][0].update(status="great"), "status"),
        (lambda d: d["assignments"][0]["tests"][0].update(score=61), "between 0 and max_score"),
        (lambda d: d["redis"].update(backend="cloud"), "redis.backend"),
        (lambda d: d.pop("assignments"), "malformed"),
    ],
)
def test_invalid_reports_are_rejected_with_a_reason(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = REPORT.to_dict()
    mutate(data)
    with pytest.raises(ReportError, match=message):
        Report.from_dict(data)


def test_unreadable_file_is_a_report_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"bad\.json"):
        load_json(tmp_path / "bad.json")
