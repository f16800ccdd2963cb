"""Grade one submission: copy its modules, run the hidden suites on Redis, build the canonical report.

The suites run in a separate pytest process started with trusted configuration only
(``-I``, ``-c grader/hidden.ini``, ``--noconftest``), in a clean workspace holding nothing but
the allowlisted module files. The set of expected tests is recorded before any student code
runs; a test that leaves no trusted result scores 0, so ``max_score`` never shrinks.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import grader
from grader import assignments
from grader.errors import GraderFailure
from grader.redis_server import Provisioned, provision
from grader.report import AssignmentResult, RedisInfo, Report, TestResult
from grader.submission import copy_modules, locate
from grader.suite_process import ForkServer, launch

if TYPE_CHECKING:
    from grader.sandbox_session import ZygoteHandoff

PACKAGE_DIR = Path(__file__).resolve().parent
HIDDEN_SUITES = PACKAGE_DIR.parent / "tests" / "hidden"
TRUSTED_INI = PACKAGE_DIR / "hidden.ini"
OUTPUT_CAP = 20_000

STOPPED_EARLY = "The grading run stopped before this test finished (the test process crashed or was killed)."
OVER_BUDGET = "Not run: grading this submission took longer than the time budget."
INCOMPLETE_NOTE = "Some tests produced no result; their points are withheld until a regrade."


class GraderError(GraderFailure):
    """The grader itself could not complete (not the submission's fault)."""


@dataclass(frozen=True)
class GradeOptions:
    """How to grade: which assignments, which server, which time limits."""

    assignments: tuple[str, ...] = assignments.NAMES
    redis_url: str | None = None
    backend: Literal["auto", "fake"] = "auto"
    per_test_timeout_s: float = 10.0
    budget_s: float = 300.0
    suites: Path = HIDDEN_SUITES
    sandbox: Literal["auto", "full", "reduced", "off"] = "auto"
    allow_empty: bool = False  # grade a submission without any module (0 points) instead of refusing it


def grade(submission: Path, *, options: GradeOptions = GradeOptions(), launcher: ForkServer | None = None) -> Report:
    """Grade ``submission`` (a folder of modules, or a repository with ``assignments/``).

    The suites run in a new ``python -I -m pytest`` process, or in one forked from ``launcher``
    when given (a batch's warm fork server; a new process if the server fails).

    Raises ``SubmissionError`` for an unusable submission, ``ProvisioningError`` when no Redis can
    be had, ``GraderError`` when the suites could not run at all.
    """
    started = time.monotonic()
    source = locate(submission, allow_empty=options.allow_empty)
    files = [options.suites / f"test_{name}.py" for name in options.assignments]
    if missing := [str(f) for f in files if not f.is_file()]:
        raise GraderError(f"hidden suites not found: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        workspace = Path(tmp)
        modules = workspace / "submission"
        problems = copy_modules(source, modules)
        with provision(redis_url=options.redis_url, backend=options.backend) as server:
            run = _run_suites(
                targets=[str(f) for f in files],
                modules=modules,
                server=server,
                options=options,
                workspace=workspace,
                launcher=launcher,
            )
            collected, outcomes = _read_results(run)
            _check_collected(collected, options.assignments, run)
        if retry := _infrastructure_failures(collected, outcomes, run, options):
            # Once more, on a fresh server: a fault outside the submission must not cost points.
            with provision(redis_url=options.redis_url, backend=options.backend) as server:
                rerun = _run_suites(
                    targets=retry,
                    modules=modules,
                    server=server,
                    options=options,
                    workspace=workspace,
                    launcher=launcher,
                )
                outcomes.update(_read_results(rerun)[1])
    return _build_report(
        collected=collected,
        outcomes=outcomes,
        problems=problems,
        server=server,
        over_budget=run.timed_out,
        submission=str(submission),
        duration_s=time.monotonic() - started,
    )


@dataclass(frozen=True)
class _Run:
    returncode: int
    timed_out: bool
    output: str
    results: Path


def _infrastructure_failures(
    collected: dict[str, Any], outcomes: dict[str, dict[str, Any]], run: _Run, options: GradeOptions
) -> list[str]:
    """Node ids of the tests that errored for reasons outside the submission, or left no result."""
    if run.timed_out:
        return []
    ids = [t["id"] for t in collected["tests"] if t["id"] not in outcomes or outcomes[t["id"]]["status"] == "error"]
    return [str(options.suites / f"test_{i.split('::', 1)[0]}.py") + "::" + i.split("::", 1)[1] for i in ids]


def _run_suites(
    *,
    targets: list[str],
    modules: Path,
    server: Provisioned,
    options: GradeOptions,
    workspace: Path,
    launcher: ForkServer | None,
) -> _Run:
    results = workspace / f"results-{time.monotonic_ns()}.jsonl"
    sandbox: Literal["auto", "full", "reduced", "off"] = options.sandbox if server.backend == "real" else "off"
    with _zygote_for(
        sandbox, launcher=launcher, modules=modules, targets=targets, options=options, workspace=workspace
    ) as zygote:
        argv = suite_args(
            targets=targets,
            modules=modules,
            redis_url=server.url,
            sandbox=sandbox,
            results=results,
            options=options,
            zygote=zygote.option() if zygote else None,
        )
        env = suite_env(workspace)
        run = launch(
            argv,
            fork_server=launcher,
            env=env,
            cwd=workspace,
            timeout=options.budget_s,
            keep=OUTPUT_CAP,
            pass_fds=(zygote.fd,) if zygote else (),
        )
    return _Run(run.returncode, run.timed_out, run.output.decode(errors="replace"), results)


def _zygote_for(
    sandbox: Literal["auto", "full", "reduced", "off"],
    *,
    launcher: ForkServer | None,
    modules: Path,
    targets: list[str],
    options: GradeOptions,
    workspace: Path,
) -> AbstractContextManager[ZygoteHandoff | None]:
    """The sandbox's zygote, booting while a spawned pytest process starts (it is then ready for the
    first test), or None: no sandbox, or a warm fork server's run (started in no time, it boots its own)."""
    if sandbox == "off" or launcher is not None:
        return contextlib.nullcontext(None)
    from grader.sandbox_session import hidden_paths, zygote_booted_early

    hide = hidden_paths(rootdir=options.suites, targets=targets, results_dir=workspace)
    return zygote_booted_early(modules=modules, hide=hide, mode=sandbox, scratch=workspace)


def suite_args(
    *,
    targets: list[str],
    modules: Path,
    redis_url: str,
    sandbox: str,
    results: Path,
    options: GradeOptions,
    zygote: str | None = None,
) -> list[str]:
    """The arguments of ``python -I -m pytest`` that run the hidden suites as a grading does.

    ``zygote``: the ``--grader-zygote`` value of a zygote started for this run.
    """
    return [
        "-c", str(TRUSTED_INI), "--rootdir", str(options.suites), "-q", "--no-header",
        # The trusted results file carries every outcome; printing each failure's full traceback
        # only cost CPU (2.5x the whole run for a submission of stubs). One line says enough.
        "--tb=line",
        "-p", "no:cacheprovider",
        "-p", "pytest_timeout",  # with autoload off (suite_env), the only plugins are the ones named here
        f"--timeout={options.per_test_timeout_s:g}",
        "--grader-impl", str(modules),
        "--grader-redis", redis_url,
        "--grader-results", str(results),
        "--grader-sandbox", sandbox,
        *(["--grader-zygote", zygote] if zygote else []),
        *targets,
    ]  # fmt: skip


def suite_env(workspace: Path) -> dict[str, str]:
    """The whole environment of the suites' process: nothing of the grader's own is passed on."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workspace),
        "TMPDIR": str(workspace),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Trusted configuration only: no third-party pytest plugin that happens to be installed.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def _read_results(run: _Run) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    path = run.results
    collected: dict[str, Any] | None = None
    outcomes: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed run
            if record.get("kind") == "collected" and collected is None:
                collected = record
            elif record.get("kind") == "result":
                outcomes[record["id"]] = record
    if collected is None:
        raise GraderError(f"the hidden suites did not start (pytest exit {run.returncode}):\n{_tail(run)}")
    return collected, outcomes


def _check_collected(collected: dict[str, Any], names: tuple[str, ...], run: _Run) -> None:
    """Every requested assignment has tests: a hidden suite that cannot even be collected (an
    instructor's error) fails the grading rather than reporting 0 of 0 points."""
    found = {test["assignment"] for test in collected["tests"]}
    if empty := [name for name in names if name not in found]:
        raise GraderError(
            f"the hidden suites of {', '.join(empty)} have no test that could be collected "
            f"(pytest exit {run.returncode}):\n{_tail(run)}"
        )


def _tail(run: _Run) -> str:
    return "\n".join(run.output.splitlines()[-15:])


def _build_report(
    *,
    collected: dict[str, Any],
    outcomes: dict[str, dict[str, Any]],
    problems: dict[str, str],
    server: Provisioned,
    over_budget: bool,
    submission: str,
    duration_s: float,
) -> Report:
    by_assignment: dict[str, list[TestResult]] = {}
    complete = True
    for expected in collected["tests"]:
        outcome = outcomes.get(expected["id"])
        if outcome is None:
            complete = False
            status: Any = "timeout" if over_budget else "error"
            result = TestResult(
                expected["id"],
                expected["name"],
                status,
                0,
                expected["max_score"],
                OVER_BUDGET if over_budget else STOPPED_EARLY,
                expected.get("section", ""),
            )
        else:
            status, message = outcome["status"], outcome["feedback"]
            complete = complete and status != "error"
            if expected["assignment"] in problems and status == "not_attempted":
                status, message = "failed", problems[expected["assignment"]]
            passed = status == "passed"
            result = TestResult(
                expected["id"],
                expected["name"],
                status,
                expected["max_score"] if passed else 0,
                expected["max_score"],
                message,
                expected.get("section", ""),
            )
        by_assignment.setdefault(expected["assignment"], []).append(result)
    isolation = collected.get("isolation", {"mode": "none", "detail": ""})
    notes: list[str] = []
    if server.approximate:
        notes.append(f"Graded on {server.description}: results on a real Redis server may differ.")
    if isolation["mode"] != "full":
        notes.append(f"Isolation: {isolation['detail']}.")
    if not complete:
        notes.append(INCOMPLETE_NOTE)
    return Report(
        assignments=tuple(AssignmentResult(name, tuple(tests)) for name, tests in by_assignment.items()),
        redis=RedisInfo(
            backend=collected["backend"],
            version=collected["server_version"],
            description=server.description,
            approximate=server.approximate,
        ),
        duration_s=duration_s,
        submission=submission,
        graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        grader_version=grader.__version__,
        isolation=isolation["mode"],
        complete=complete,
        notes=tuple(notes),
    )
