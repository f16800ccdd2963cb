"""Where the time of one sandboxed grading goes: the pytest process's phases, Redis, worker spawn, imports.

The hidden suites are run exactly as ``grader.grading`` runs them (same argv, env and clean
workspace), except that ``python -I -m pytest`` becomes ``python -I bench/probe.py``, which
stamps each phase from inside the process. Around that: the grader CLI's own start-up, Redis
provisioning, the pieces a worker spawn is made of (timed from outside), the import cost by
package (``-X importtime``), a pyinstrument profile, and the cost of opening a Redis client.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from measure import Finished, Handed, Variant, last_line, run_rounds, summarize

from grader import assignments
from grader.grading import GradeOptions, suite_args, suite_env
from grader.redis_proxy import TracingProxy
from grader.redis_server import DisposableRedis, find_server_binary
from grader.sandbox import full_mode_unavailable, plan
from grader.sandbox_session import SandboxSession, hidden_paths, zygote_booted_early
from grader.submission import copy_modules, import_module

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).resolve().with_name("probe.py")
SUITES = REPO_ROOT / "tests" / "hidden"
SOLUTIONS = REPO_ROOT / "solutions"
SLOWEST = 6
CONNECTIONS_PER_ROUND = 100
CALLS_PER_ROUND = 500

PHASES: dict[str, str] = {
    "interpreter": "pytest process: interpreter start-up",
    "pytest_import": "pytest process: import pytest",
    "plugins": "plugins and options (grader plugin and redis-py, pytest-timeout)",
    "sandbox_setup": "sandbox session: ACL user, tracing proxy, namespace probe",
    "collection": "collection of 5 suites, server INFO",
    "worker_spawn": "worker spawns (first test of each assignment): hello, import, any wait for the zygote",
    "fixtures": "per-test fixtures otherwise: FLUSHALL, new clients, PING (all tests)",
    "slowest_bodies": f"test bodies: the {SLOWEST} slowest",
    "other_bodies": "test bodies: all the others",
    "between_tests": "pytest bookkeeping between tests (reports, results file)",
    "finish": "session end: kill worker, stop proxy, drop ACL user, exit",
}

HOTSPOTS: dict[str, str] = {
    "_traced_client": "the r/trace fixture (FLUSHALL, two new clients, PING), all tests",
    "get_lib_version": 'redis-py: importlib.metadata.version("redis") per new connection',
    "pytest_pyfunc_call": "test bodies, all tests",
}


@dataclass(frozen=True)
class Setup:
    """What every measurement here needs."""

    python: str
    grader_argv: tuple[str, ...]
    redis_url: str
    out: Path
    repeat: int
    progress: Callable[[str], None]


# --- the pytest process, phase by phase ----------------------------------------------------------


def _grading_env(workspace: Path) -> dict[str, str]:
    """The environment ``grader.grading`` gives the suites' process."""
    return suite_env(workspace)


def _suite_args(*, modules: Path, redis_url: str, results: Path, sandbox: str) -> list[str]:
    """pytest's arguments as ``grader.grading`` passes them, for the reference solutions."""
    options = GradeOptions(suites=SUITES)
    return suite_args(
        targets=_targets(), modules=modules, redis_url=redis_url, sandbox=sandbox, results=results, options=options
    )


def _targets() -> list[str]:
    return [str(SUITES / f"test_{name}.py") for name in assignments.NAMES]


class PhaseProbe:
    """The sandboxed suites run as ``grader.grading`` runs them, stamped by ``probe.py``, as a timed row.

    Timed in the main rounds (so it pairs with ``grader grade``); each run's phases are kept in
    :attr:`runs`. Extra single runs (:meth:`run_once`) take the import times and the profile.
    """

    def __init__(self, setup: Setup, *, sandbox: str = "full") -> None:
        self.setup = setup
        self.sandbox = sandbox
        self.key = f"probe_{sandbox}"
        self.workspace = Path(tempfile.mkdtemp(prefix="grader-"))  # short: the proxy's socket lives below
        self.modules = self.workspace / "submission"
        copy_modules(SOLUTIONS, self.modules)
        self.timings = self.workspace / "timings.json"
        self.runs: list[dict[str, Any]] = []

    def argv(self, *, profile: Path | None = None, importtime: bool = False) -> tuple[str, ...]:
        argv = [self.setup.python, "-I", *(["-X", "importtime"] if importtime else []), str(PROBE)]
        argv += ["--timings", str(self.timings), *(["--profile", str(profile)] if profile else []), "--"]
        results = self.workspace / "results.jsonl"
        url = self.setup.redis_url
        return (*argv, *_suite_args(modules=self.modules, redis_url=url, results=results, sandbox=self.sandbox))

    def variant(self) -> Variant:
        label = f"grader's pytest process alone, --grader-sandbox {self.sandbox} (probe)"
        env = _grading_env(self.workspace)
        return Variant(
            self.key, label, "parts", self.argv(), self.workspace, env, outcome=self._record, beside=self._zygote
        )

    @contextlib.contextmanager
    def _zygote(self) -> Iterator[Handed]:
        """The sandbox's zygote, started beside the process as ``grader.grading`` starts it."""
        if self.sandbox == "off":
            yield Handed()
            return
        hide = hidden_paths(rootdir=SUITES, targets=_targets(), results_dir=self.workspace)
        with zygote_booted_early(modules=self.modules, hide=hide, mode="full", scratch=self.workspace) as zygote:
            yield Handed(("--grader-zygote", zygote.option()), (zygote.fd,)) if zygote else Handed()

    def _record(self, finished: Finished) -> str:
        data = json.loads(self.timings.read_text(encoding="utf-8"))
        phases, slowest = _phases(data, finished.launched, finished.launched + finished.seconds)
        failed = sum(1 for t in data["tests"] if t.get("outcome") == "failed")
        setups = [(t["duration_s"], t["id"]) for t in data["tests"] if t["when"] == "setup"]
        run = {"seconds": finished.seconds, "phases": phases, "slowest": slowest, "failed": failed}
        self.runs.append({**run, "workers_started": _spawn_time(setups)[1]})
        return last_line(finished)

    def run_once(self, *, profile: Path | None = None, importtime: bool = False) -> subprocess.CompletedProcess[str]:
        """One extra run outside the rounds (its timings are not kept)."""
        with self._zygote() as handed:
            return subprocess.run(
                (*self.argv(profile=profile, importtime=importtime), *handed.args),
                cwd=self.workspace,
                env=_grading_env(self.workspace),
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
                pass_fds=handed.fds,
            )

    def cleanup(self) -> None:
        shutil.rmtree(self.workspace, ignore_errors=True)


def _spawn_time(setups: list[tuple[float, str]]) -> tuple[float, int]:
    """Time the workers took to start, and how many started.

    The first test of each suite file starts that assignment's worker (the grader gives every
    assignment a fresh one, killing the previous); its setup less the median setup of the other
    tests is the spawn.
    """
    firsts: dict[str, float] = {}
    others: list[float] = []
    for duration, nodeid in setups:
        suite = nodeid.split("::", 1)[0]
        if suite in firsts:
            others.append(duration)
        else:
            firsts[suite] = duration
    typical = statistics.median(others) if others else 0.0
    return sum(max(0.0, first - typical) for first in firsts.values()), len(firsts)


def _phases(data: dict[str, Any], launched: float, exited: float) -> tuple[dict[str, float], list[str]]:
    """Split ``exited - launched`` into the phases of ``PHASES`` (they add up exactly)."""
    marks = data["marks"]
    by_phase: dict[str, list[tuple[float, str]]] = {"setup": [], "call": [], "teardown": []}
    for test in data["tests"]:
        by_phase[test["when"]].append((test["duration_s"], test["id"]))
    spawn, _ = _spawn_time(by_phase["setup"])
    setup_total = sum(d for d, _ in by_phase["setup"])
    teardown_total = sum(d for d, _ in by_phase["teardown"])
    calls = sorted(by_phase["call"], reverse=True)
    in_tests = setup_total + sum(d for d, _ in calls) + teardown_total
    phases = {
        "interpreter": marks["ready"] - launched,
        "pytest_import": marks["pytest_imported"] - marks["ready"],
        "plugins": marks["configure_start"] - marks["pytest_imported"],
        "sandbox_setup": marks["configure_end"] - marks["configure_start"],
        "collection": marks["collection_end"] - marks["configure_end"],
        "worker_spawn": spawn,
        "fixtures": setup_total + teardown_total - spawn,
        "slowest_bodies": sum(d for d, _ in calls[:SLOWEST]),
        "other_bodies": sum(d for d, _ in calls[SLOWEST:]),
        "between_tests": marks["sessionfinish"] - marks["collection_end"] - in_tests,
        "finish": exited - marks["sessionfinish"],
    }
    return phases, [name for _, name in calls[:SLOWEST]]


def _connections_received(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.info("stats")["total_connections_received"])


def phases_summary(probe: PhaseProbe) -> dict[str, Any]:
    """Median of each phase over the probe's timed runs, and the connections one more run opens."""
    runs = probe.runs
    if not runs:
        raise RuntimeError("no probe run succeeded")
    before = _connections_received(probe.setup.redis_url)
    probe.run_once()
    connections = _connections_received(probe.setup.redis_url) - before - 1  # less our own INFO
    return {
        "total": summarize([r["seconds"] for r in runs]).as_dict(),
        "phases": {key: summarize([r["phases"][key] for r in runs]).as_dict() for key in PHASES},
        "labels": PHASES,
        "slowest_tests": runs[-1]["slowest"],
        "failed_tests_per_run": [r["failed"] for r in runs],
        "workers_started_per_run": runs[-1]["workers_started"] if probe.sandbox != "off" else 0,
        "connections_per_run": connections,
    }


def cli_variant(setup: Setup) -> Variant:
    """``grader grade <missing dir>``: the CLI's start-up (imports everything grading needs, exits 2)."""
    missing = setup.out / "no-such-submission"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    label = "grader CLI start-up: `grader grade <missing dir>` (exits 2)"
    argv = (*setup.grader_argv, "grade", str(missing))
    return Variant("cli_startup", label, "parts", argv, setup.out, env, timeout_s=120, ok_returncodes=(2,))


# --- imports and profile -------------------------------------------------------------------------


def import_cost(probe: PhaseProbe, *, top: int = 8) -> dict[str, Any]:
    """Self time of every import in one probe run, summed by top-level package (``-X importtime``)."""
    probe.setup.progress("breakdown: import times (-X importtime)")
    run = probe.run_once(importtime=True)
    by_package: dict[str, int] = {}
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line.removeprefix("import time:").split("|")
        if not fields[0].strip().isdigit():
            continue  # the header line
        package = fields[2].strip().split(".")[0]
        by_package[package] = by_package.get(package, 0) + int(fields[0])
    ranked = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    rest = sum(us for _, us in ranked[top:])
    return {
        "total_s": sum(by_package.values()) / 1e6,
        "top": {name: us / 1e6 for name, us in ranked[:top]},
        "rest_s": rest / 1e6,
    }


def _frame_time(frame: Mapping[str, Any], function: str) -> float:
    """Total time of the outermost frames named ``function`` in a pyinstrument JSON tree."""
    if frame.get("function") == function:
        return float(frame.get("time", 0.0))
    return sum(_frame_time(child, function) for child in frame.get("children", []))


def profile_hotspots(probe: PhaseProbe) -> dict[str, Any]:
    """One probe run under pyinstrument: the time spent in a few named functions (trusted process only)."""
    probe.setup.progress("breakdown: profile (pyinstrument)")
    profile = probe.setup.out / "profile.json"
    try:
        import pyinstrument  # noqa: F401 - only to know whether the probe can use it
    except ImportError:
        probe.run_once(profile=profile)
        return {"tool": "cProfile", "file": str(profile.with_suffix(".pstats")), "hotspots": {}}
    probe.run_once(profile=profile)
    data = json.loads(profile.read_text(encoding="utf-8"))
    root = data["root_frame"]
    return {
        "tool": "pyinstrument",
        "file": str(profile.with_suffix(".txt")),
        "duration_s": data["duration"],
        "hotspots": {name: _frame_time(root, name) for name in HOTSPOTS},
        "labels": HOTSPOTS,
    }


# --- outside the pytest process ------------------------------------------------------------------


def wrapper_profile(setup: Setup) -> dict[str, Any]:
    """One ``grader grade solutions --sandbox full`` under pyinstrument: its time outside the pytest subprocess."""
    setup.progress("breakdown: profile of the grader CLI process (pyinstrument)")
    profile = setup.out / "grader-profile.json"
    argv = [setup.python, "-m", "pyinstrument", "-r", "json", "-o", str(profile), "-m", "grader", "grade"]
    argv += [str(SOLUTIONS), "--sandbox", "full", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run(argv, cwd=setup.out, env=env, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0 or not profile.is_file():
        raise RuntimeError(f"pyinstrument run failed (is pyinstrument installed?): {done.stderr[-300:]}")
    data = json.loads(profile.read_text(encoding="utf-8"))
    root = data["root_frame"]
    total, waiting = float(data["duration"]), _frame_time(root, "_run_suites")
    imports = _frame_time(root, "build_parser")
    return {"total_s": total, "waiting_s": waiting, "imports_s": imports, "other_s": total - waiting - imports}


def provisioning(setup: Setup) -> dict[str, Any]:
    """A disposable server as ``grader grade`` starts one: spawn, wait for PING, INFO, stop."""
    found = find_server_binary()
    if found is None:
        return {"error": "no Redis server binary"}
    seconds: list[float] = []
    for index in range(setup.repeat):
        setup.progress(f"breakdown: Redis provisioning {index + 1}/{setup.repeat}")
        started = time.perf_counter()
        with DisposableRedis(binary=found[0]) as server:
            _ = server.version
        seconds.append(time.perf_counter() - started)
    return summarize(seconds).as_dict()


def startup_and_spawn(setup: Setup) -> dict[str, Any]:
    """Interpreter, import and sandbox costs, each a whole command timed from outside."""
    work = Path(tempfile.mkdtemp(prefix="grader-bench-view-"))
    work.chmod(0o755)
    try:
        variants = _spawn_variants(setup, work)
        results = run_rounds(variants, repeat=setup.repeat, warmup=False, progress=setup.progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        v.key: {"label": v.label, **summarize(results[v.key].seconds).as_dict(), "failures": results[v.key].failures}
        for v in variants
    }


def _spawn_variants(setup: Setup, work: Path) -> list[Variant]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    py = setup.python

    def variant(key: str, label: str, argv: list[str], variant_env: Mapping[str, str] = env) -> Variant:
        return Variant(key, label, "spawn", tuple(argv), work, variant_env, timeout_s=60)

    found = [
        variant("python", "python -I, nothing imported", [py, "-I", "-c", "pass"]),
        variant("python_redis", "python -I + import redis", [py, "-I", "-c", "import redis"]),
    ]
    if full_mode_unavailable() is not None:
        return found
    confinement = plan(work=work, hide=(), mode="full")
    site = "; ".join(f"sys.path.append({d!r})" for d in confinement.site_dirs)
    namespaces = ["unshare", "--mount", "--pid", "--net", "--fork", "--kill-child", "--mount-proc", "true"]
    confined = [*confinement.argv_prefix, confinement.python, "-I", "-c"]
    found += [
        variant("namespaces", "unshare (mount, pid, net namespaces) + true", namespaces),
        variant("confined_python", "confined: unshare + sandbox_init + python", [*confined, "pass"], confinement.env),
        variant(
            "confined_redis",
            "confined: unshare + sandbox_init + python + import redis",
            [*confined, f"import sys; {site}; import redis"],
            confinement.env,
        ),
    ]
    return found


def client_cost(setup: Setup) -> dict[str, Any]:
    """Open a client, PING, close: redis-py's default versus no CLIENT SETINFO (``driver_info=None``)."""
    kinds: dict[str, dict[str, Any]] = {"default": {}, "no_setinfo": _no_setinfo_kwargs()}
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    for index in range(setup.repeat):
        setup.progress(f"breakdown: new Redis client cost {index + 1}/{setup.repeat}")
        for kind, kwargs in kinds.items():
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # lib_name/lib_version on old redis-py
                for _ in range(CONNECTIONS_PER_ROUND):
                    client = redis.Redis.from_url(setup.redis_url, decode_responses=True, **kwargs)
                    client.ping()
                    client.close()
            seconds[kind].append((time.perf_counter() - started) / CONNECTIONS_PER_ROUND)
    return {kind: summarize(values).as_dict() for kind, values in seconds.items()}


def _no_setinfo_kwargs() -> dict[str, Any]:
    """Client options that skip CLIENT SETINFO (and the version lookup) on this redis-py."""
    parameters = inspect.signature(redis.connection.AbstractConnection.__init__).parameters
    if "driver_info" in parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}  # redis-py before driver_info


def call_cost(setup: Setup) -> dict[str, Any]:
    """One student call, ``counter.get_pageviews(r, page)`` (one GET): direct, through the proxy, through the worker.

    Direct: the solution imported here, its own client. Proxy: the same, its client connected to a
    :class:`TracingProxy`. Worker: the grader's :class:`SandboxSession` (confined worker, RPC, proxy),
    as every sandboxed test calls student code.
    """
    counter = import_module(SOLUTIONS, assignments.get("counter"))
    work = Path(tempfile.mkdtemp(prefix="grader-bench-calls-"))
    proxy = TracingProxy(upstream=setup.redis_url, listen_path=work / "proxy.sock")
    session = SandboxSession(admin_url=setup.redis_url, modules=SOLUTIONS, hide=(REPO_ROOT,), mode="full")
    clients = {
        "direct": redis.Redis.from_url(setup.redis_url, decode_responses=True),
        "proxy": redis.Redis.from_url(proxy.start(), decode_responses=True),
        "worker": redis.Redis.from_url(setup.redis_url, decode_responses=True),
    }
    seconds: dict[str, list[float]] = {kind: [] for kind in clients}
    try:
        session.start()
        remote = session.implementation(assignments.get("counter"), lambda _client: "main")
        calls = {"direct": counter.get_pageviews, "proxy": counter.get_pageviews, "worker": remote.get_pageviews}
        for index in range(setup.repeat):
            setup.progress(f"breakdown: cost of one student call {index + 1}/{setup.repeat}")
            for kind, function in calls.items():
                function(clients[kind], "warm")
                started = time.perf_counter()
                for _ in range(CALLS_PER_ROUND):
                    function(clients[kind], "home")
                seconds[kind].append((time.perf_counter() - started) / CALLS_PER_ROUND)
    finally:
        for client in clients.values():
            client.close()
        session.close()
        proxy.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {kind: summarize(values).as_dict() for kind, values in seconds.items()}


def measure(sandboxed: PhaseProbe, in_process: PhaseProbe) -> dict[str, Any]:
    """Everything in this module, as one JSON-ready dict; a part that fails says why and the rest goes on."""
    setup = sandboxed.setup
    parts: dict[str, Callable[[], dict[str, Any]]] = {
        "phases": lambda: phases_summary(sandboxed),
        "phases_in_process": lambda: phases_summary(in_process),
        "provisioning": lambda: provisioning(setup),
        "spawn": lambda: startup_and_spawn(setup),
        "imports": lambda: import_cost(sandboxed),
        "client_cost": lambda: client_cost(setup),
        "call_cost": lambda: call_cost(setup),
        "wrapper": lambda: wrapper_profile(setup),
        "profile": lambda: profile_hotspots(sandboxed),
    }
    found: dict[str, Any] = {}
    for name, part in parts.items():
        try:
            found[name] = part()
        except Exception as exc:  # one broken measurement must not lose the others
            setup.progress(f"breakdown: {name} failed: {type(exc).__name__}: {exc}")
            found[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return found
