"""A long-lived grading process grades job after job, and any failure ends it with a clear message."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import batch
from grader.grading import GradeOptions
from grader.grading_process import GradingProcess

from .conftest import HIDDEN, SOLUTIONS, STUBS


def job(submission: Path, **changes: Any) -> dict[str, Any]:
    return {
        "submission": str(submission),
        "assignments": ["counter"],
        "redis_url": None,
        "backend": "fake",
        "per_test_timeout_s": 10.0,
        "budget_s": 60.0,
        "suites": str(HIDDEN),
        "sandbox": "off",
        **changes,
    }


@pytest.fixture
def child() -> Iterator[GradingProcess]:
    process = GradingProcess()
    yield process
    process.kill()


def test_one_process_grades_job_after_job(child: GradingProcess) -> None:
    first = child.grade(job(SOLUTIONS), timeout=120, grace=5)
    second = child.grade(job(STUBS), timeout=120, grace=5)
    assert first.kind == second.kind == "report"
    assert first.payload["score"] == first.payload["max_score"] == 100
    assert second.payload["score"] == 0 and second.payload["max_score"] == 100
    assert child.alive()


def test_an_unusable_submission_is_an_answer_not_a_failure(child: GradingProcess, tmp_path: Path) -> None:
    finished = child.grade(job(tmp_path / "nothing-here"), timeout=120, grace=5)
    assert finished.kind == "unusable" and "nothing-here" in finished.payload
    assert child.alive()  # and it grades the next one
    assert child.grade(job(SOLUTIONS), timeout=120, grace=5).kind == "report"


def test_a_crash_ends_the_process_with_its_status_and_error_tail(child: GradingProcess) -> None:
    broken = job(SOLUTIONS)
    del broken["suites"]  # the child's job handling fails outside any grading
    finished = child.grade(broken, timeout=120, grace=5)
    assert finished.kind == "ended"
    assert "exited with code 1" in finished.payload and "KeyError: 'suites'" in finished.payload
    assert not child.alive()


def test_a_grading_over_time_is_interrupted_and_the_process_ends(child: GradingProcess) -> None:
    started = time.monotonic()
    finished = child.grade(job(SOLUTIONS, assignments=[]), timeout=0.01, grace=5)  # no answer in 10 ms
    assert finished == type(finished)("ended", "the grading did not finish within 0.01 s and was stopped")
    assert not child.alive()
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)  # reaped, group killed


def test_a_batch_starts_one_grading_process_per_job_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[GradingProcess] = []

    class Counted(GradingProcess):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    monkeypatch.setattr(batch, "GradingProcess", Counted)
    for student in ("s1", "s2", "s3", "s4"):
        shutil.copytree(SOLUTIONS, tmp_path / "class" / student)
    options = GradeOptions(assignments=("counter",), backend="fake", sandbox="off")
    result = batch.run_batch(source=tmp_path / "class", out=tmp_path / "out", options=options, jobs=2)
    assert [o.status for o in result.outcomes] == ["graded"] * 4
    assert 1 <= len(started) <= 2
    assert not any(child.alive() for child in started)  # idle ones are closed when the batch ends
