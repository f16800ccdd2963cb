"""Prove the hidden suites right: solutions score 100%, stubs 0, every known-wrong mutant loses points.

A mutant (``grader.mutants``) is the reference solutions with one function replaced by a plausible
bug. It is *caught* when some test of its own assignment fails for it but passes for the
solutions (those are the tests that caught it); it *costs another assignment points* when a test
outside its assignment fails for it but passes for the solutions. Every grading is a whole
submission graded as students are (``grader.grading.grade``), several at a time, each on its own
disposable server. The results are typed here; ``grader.commands.validate`` renders them.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from grader.errors import GraderFailure, UsageError
from grader.grading import GradeOptions, grade
from grader.mutants import Mutant, MutantError, load_mutants, write_mutant_submission
from grader.redis_server import REDIS_URL_ENV
from grader.report import Report, TestResult, write_json

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
STUBS = ROOT / "assignments"
MUTANTS = ROOT / "tests" / "grader" / "mutants"
DEFAULT_JOBS = 2
DEFAULT_OPTIONS = GradeOptions()


@dataclass(frozen=True)
class BaselineCheck:
    """How the solutions (expected: every test passed) or the stubs (every test not attempted) fared."""

    target: Literal["solutions", "stubs"]
    score: int
    max_score: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class MutantOutcome:
    """One mutant's grading: the tests that caught it, and what it wrongly cost other assignments.

    ``caught_by`` and ``collateral`` hold tests that failed for the mutant but pass for the
    solutions, inside and outside the mutant's assignment respectively. ``error`` is set when the
    mutant could not be graded completely (then nothing else is meaningful).
    """

    mutant: Mutant
    score: int = 0
    max_score: int = 0
    caught_by: tuple[TestResult, ...] = ()
    collateral: tuple[TestResult, ...] = ()
    error: str = ""

    @property
    def caught(self) -> bool:
        return not self.error and bool(self.caught_by)

    @property
    def ok(self) -> bool:
        return self.caught and not self.collateral


@dataclass(frozen=True)
class AssignmentStrength:
    """How many of an assignment's mutants its suite catches."""

    name: str
    caught: int
    total: int


@dataclass(frozen=True)
class Validation:
    """The whole verdict: both baselines and every mutant, in corpus order."""

    assignments: tuple[str, ...]
    redis: str
    solutions: BaselineCheck
    stubs: BaselineCheck
    mutants: tuple[MutantOutcome, ...]
    jobs: int
    duration_s: float
    notes: tuple[str, ...] = ()

    def strength(self) -> list[AssignmentStrength]:
        """Mutants caught per graded assignment (assignments without mutants are listed with 0/0)."""
        return [
            AssignmentStrength(
                name,
                sum(m.caught for m in self.mutants if m.mutant.assignment == name),
                sum(m.mutant.assignment == name for m in self.mutants),
            )
            for name in self.assignments
        ]

    def failures(self) -> list[str]:
        """One line per reason the suites cannot be trusted; empty when validation passed."""
        lines: list[str] = []
        for check in (self.solutions, self.stubs):
            if not check.ok:
                lines.append(
                    f"{check.target}: {len(check.problems)} test(s) off (scored {check.score}/{check.max_score})"
                )
        for outcome in self.mutants:
            name = outcome.mutant.name
            if outcome.error:
                lines.append(f"{name}: could not be graded: {outcome.error}")
                continue
            if not outcome.caught:
                lines.append(f"{name} survived: no test of {outcome.mutant.assignment} caught it")
            if outcome.collateral:
                others = sorted({t.id.split("::", 1)[0] for t in outcome.collateral})
                lines.append(f"{name} cost other assignments points: {', '.join(others)}")
        return lines

    @property
    def ok(self) -> bool:
        return not self.failures()


def effective_jobs(jobs: int, options: GradeOptions) -> tuple[int, str]:
    """``jobs``, or 1 with a note when every grading would share one server URL (they must not run at once)."""
    shared = options.redis_url or (os.environ.get(REDIS_URL_ENV) if options.backend == "auto" else None)
    if shared and jobs > 1:
        source = "--redis-url" if options.redis_url else REDIS_URL_ENV
        return 1, f"Graded one at a time: every grading uses the one server that {source} names."
    return jobs, ""


def _baseline(target: Literal["solutions", "stubs"], report: Report) -> BaselineCheck:
    expected = "passed" if target == "solutions" else "not_attempted"
    problems = [
        f"{t.id}: {t.status} (expected {expected.replace('_', ' ')})" for t in report.tests() if t.status != expected
    ]
    if not report.complete:
        problems.append("the grading was incomplete: some tests produced no result")
    return BaselineCheck(target, report.score, report.max_score, tuple(problems))


def _judge(mutant: Mutant, report: Report, *, solved: set[str]) -> MutantOutcome:
    """Compare a mutant's report with the set of test ids the solutions pass."""
    lost = [t for t in report.tests() if t.status != "passed" and t.id in solved]
    own = next((a for a in report.assignments if a.name == mutant.assignment), None)
    return MutantOutcome(
        mutant=mutant,
        score=own.score if own else 0,
        max_score=own.max_score if own else 0,
        caught_by=tuple(t for t in lost if t.id.split("::", 1)[0] == mutant.assignment),
        collateral=tuple(t for t in lost if t.id.split("::", 1)[0] != mutant.assignment),
        error="" if report.complete else "the grading was incomplete: some tests produced no result",
    )


def _keep(report: Report, folder: Path | None, name: str) -> None:
    if folder is not None:
        try:
            write_json(report, folder / name)
        except OSError as exc:
            raise UsageError(f"cannot write {folder / name}: {exc.strerror or exc}") from None


def _grade_mutant(mutant: Mutant, *, solutions: Path, workdir: Path, options: GradeOptions) -> Report:
    folder = workdir / mutant.assignment / mutant.id
    return grade(write_mutant_submission(mutant, solutions=solutions, out=folder), options=options)


def validate(
    *,
    solutions: Path = SOLUTIONS,
    stubs: Path = STUBS,
    mutants: Path = MUTANTS,
    options: GradeOptions = DEFAULT_OPTIONS,
    jobs: int = DEFAULT_JOBS,
    reports: Path | None = None,
    on_graded: Callable[[str, int, int], None] | None = None,
) -> Validation:
    """Grade the solutions, the stubs and every mutant of the graded assignments, ``jobs`` at a time.

    Raises ``UsageError`` for an unusable mutant corpus or ``jobs < 1``, and ``GraderFailure``
    when the solutions or the stubs cannot be graded at all (nothing can be judged then). A
    mutant that cannot be graded is recorded as an error, not raised. With ``reports``, every
    canonical report is kept there (``solutions.json``, ``stubs.json``, ``<assignment>/<id>.json``)
    to see why a check failed. ``on_graded(label, done, total)`` is called after each grading,
    from the calling thread.
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    started = time.monotonic()
    try:
        corpus = load_mutants(mutants)
    except MutantError as exc:
        raise UsageError(f"mutant corpus: {exc}") from None
    selected = [m for m in corpus if m.assignment in options.assignments]
    notes: list[str] = []
    if skipped := len(corpus) - len(selected):
        notes.append(f"{skipped} mutant(s) of assignments not graded here were skipped.")
    jobs, note = effective_jobs(jobs, options)
    if note:
        notes.append(note)
    redis = ""
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp, ThreadPoolExecutor(max_workers=jobs) as pool:
        baselines: dict[Future[Report], Literal["solutions", "stubs"]] = {
            pool.submit(grade, solutions, options=options): "solutions",
            pool.submit(grade, stubs, options=options): "stubs",
        }
        graded: dict[Future[Report], Mutant] = {
            pool.submit(_grade_mutant, m, solutions=solutions, workdir=Path(tmp), options=options): m for m in selected
        }
        total = len(baselines) + len(graded)
        baseline_reports: dict[str, Report] = {}
        mutant_reports: dict[str, Report | str] = {}
        try:
            for done, future in enumerate(as_completed([*baselines, *graded]), start=1):
                if future in baselines:
                    label: str = baselines[future]
                    try:
                        report = future.result()
                    except (GraderFailure, UsageError) as exc:
                        raise type(exc)(f"could not grade the {label}, so nothing can be validated: {exc}") from None
                    baseline_reports[label] = report
                    redis = redis or report.redis.description or report.redis.version
                    _keep(report, reports, f"{label}.json")
                else:
                    label = graded[future].name
                    try:
                        report = future.result()
                    except (GraderFailure, UsageError, MutantError) as exc:
                        mutant_reports[label] = str(exc) or type(exc).__name__
                    else:
                        mutant_reports[label] = report
                        _keep(report, reports, f"{label}.json")
                if on_graded is not None:
                    on_graded(label, done, total)
        except BaseException:
            for pending in [*baselines, *graded]:
                pending.cancel()  # the ones not started yet; running gradings finish before the pool exits
            raise
    solved = {t.id for t in baseline_reports["solutions"].tests() if t.status == "passed"}
    outcomes = []
    for mutant in selected:
        result = mutant_reports[mutant.name]
        if isinstance(result, str):
            outcomes.append(MutantOutcome(mutant=mutant, error=result))
        else:
            outcomes.append(_judge(mutant, result, solved=solved))
    return Validation(
        assignments=tuple(options.assignments),
        redis=redis,
        solutions=_baseline("solutions", baseline_reports["solutions"]),
        stubs=_baseline("stubs", baseline_reports["stubs"]),
        mutants=tuple(outcomes),
        jobs=jobs,
        duration_s=time.monotonic() - started,
        notes=tuple(notes),
    )
