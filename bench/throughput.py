"""Batch throughput rows: ``grader batch`` grading a generated class at 1 and 2 jobs, and the check of its reports.

Every run grades the whole class afresh into an emptied reports folder (``grader batch`` skips
students it graded before, so a reused folder would time nothing), each grading sandboxed on its
own disposable server (no ``--redis-url``: concurrent gradings must not share a server). The
check reads every student's report: a correct submission must score full marks, the stubs 0, a
buggy one less than full marks but more than 0, and the broken one must be flagged (its module
reported as a ``SyntaxError``, the other assignments full marks); anything else is ``UNEXPECTED``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import submissions
from measure import Finished, Samples, Variant, summarize

JOBS = (1, 2)
GROUP = "batch"
SECONDS_PER_STUDENT_LIMIT = 30.0  # a run's time limit: generous, a busy machine grades one in ~5 s


def key(jobs: int) -> str:
    return f"batch_{jobs}"


def build_variants(
    *, grader_argv: Sequence[str], cwd: Path, env: Mapping[str, str], work: Path, students: int, rounds: int
) -> list[Variant]:
    """Write a class of ``students`` into ``work/class`` and return one row per job count, timed ``rounds`` times."""
    folder = work / "class"
    shutil.rmtree(folder, ignore_errors=True)
    kinds = submissions.write_class(folder, students=students)
    rows = []
    for jobs in JOBS:
        out = work / f"batch-reports-{jobs}"
        argv = (*grader_argv, "batch", str(folder), "--out", str(out), "--jobs", str(jobs))
        label = f"grader batch, class of {students}, --jobs {jobs} ({rounds} round{'s' if rounds > 1 else ''})"
        rows.append(
            Variant(
                key(jobs),
                label,
                GROUP,
                tuple(argv),
                cwd,
                env,
                timeout_s=60 + SECONDS_PER_STUDENT_LIMIT * students,
                warmup=False,  # minutes per run; the rows before it warm the machine up
                ok_returncodes=(0, 1),  # 1: the grader failed for some student; the check names who
                max_runs=rounds,
                outcome=class_outcome(out, kinds),
                prepare=partial(shutil.rmtree, out, ignore_errors=True),
            )
        )
    return rows


def class_outcome(out: Path, kinds: Mapping[str, str]) -> Callable[[Finished], str]:
    """Summarise the reports in ``out`` by kind ("25 correct 500/500, ..."); flag what a kind should not get."""

    def outcome(finished: Finished) -> str:
        scores: dict[str, list[int]] = {}
        problems: list[str] = []
        wrong: set[str] = set()  # kinds with an unexpected outcome
        maximum = 0
        for student, kind in kinds.items():
            try:
                report = json.loads((out / f"{student}.json").read_text(encoding="utf-8"))
                score, maximum = int(report["score"]), int(report["max_score"])
            except (OSError, ValueError, KeyError, TypeError):
                problems.append(f"{student} ({kind}): no report{_error_line(out, student)}")
                wrong.add(kind)
                continue
            scores.setdefault(kind, []).append(score)
            problem = _unexpected(kind, report, score=score, maximum=maximum)
            if problem:
                problems.append(f"{student} ({kind}): {problem}")
                wrong.add(kind)
        parts = []
        for kind in dict.fromkeys(kinds.values()):
            got = sorted(scores.get(kind, []))
            if got:
                span = f"{got[0]}" if got[0] == got[-1] else f"{got[0]}-{got[-1]}"
                flagged = " (SyntaxError flagged)" if kind == "broken" and kind not in wrong else ""
                parts.append(f"{len(got)} {kind} {span}/{maximum}{flagged}")
        text = ", ".join(parts)
        if problems:
            more = f" (+{len(problems) - 2} more)" if len(problems) > 2 else ""
            text += f" UNEXPECTED: {'; '.join(problems[:2])}{more}"
        return text

    return outcome


def _error_line(out: Path, student: str) -> str:
    try:
        lines = (out / f"{student}.error.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    return f": {lines[0][:80]}" if lines else ""


def _unexpected(kind: str, report: dict[str, Any], *, score: int, maximum: int) -> str:
    """What is wrong with ``report`` for a submission of ``kind``, or ""."""
    if not report.get("complete", True):
        return "incomplete report"
    if kind == "correct" and score != maximum:
        return f"{score}/{maximum}, expected full marks"
    if kind == "stubs" and score != 0:
        return f"{score}/{maximum}, expected 0"
    if kind == "buggy" and not 0 < score < maximum:
        return f"{score}/{maximum}, expected some points lost"
    if kind == "broken":
        broken = Path(submissions.BROKEN_MODULE).stem
        for assignment in report["assignments"]:
            flagged = any("SyntaxError" in (test.get("feedback") or "") for test in assignment["tests"])
            if assignment["name"] == broken and (assignment["score"] != 0 or not flagged):
                return f"{broken}: {assignment['score']} points, SyntaxError {'' if flagged else 'not '}reported"
            if assignment["name"] != broken and assignment["score"] != assignment["max_score"]:
                return f"{assignment['name']} lost points"
    return ""


def per_minute(samples: Samples, *, students: int) -> dict[str, float | int]:
    """Submissions per minute of every timed run of a class of ``students``, summarised like seconds."""
    return summarize([students * 60 / seconds for seconds in samples.seconds if seconds > 0]).as_dict()
