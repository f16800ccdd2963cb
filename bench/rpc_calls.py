"""What one student call costs: direct, through the tracing proxy, through the sandboxed worker.

Times ``counter.record_pageview(client, page)`` (one INCR), the call the concurrency suites make
thousands of times, on a disposable real Redis server::

    .venv/bin/python bench/rpc_calls.py                     # 7 rounds, all three paths
    .venv/bin/python bench/rpc_calls.py --only sandboxed --rounds 50   # e.g. under py-spy
    .venv/bin/python bench/rpc_calls.py --baseline /tmp/base/.venv/bin/python

Each round times ``--calls`` sequential calls and ``--threads`` threads x ``--per-thread`` calls
at once (each thread with its own client, as the ``concurrently`` fixture gives them), for each
path in turn; the report is the median microseconds per call over the rounds: wall clock (of the
concurrent batch divided by all its calls) and CPU time of this process and all its descendants
(the worker and Redis; Linux /proc, clock ticks, so use 1000+ calls), which a busy shared machine
distorts less. ``--baseline PYTHON`` runs every round twice, once with this interpreter and once
with PYTHON (e.g. another checkout's venv, whose ``grader`` it imports), alternating, each in a
fresh process, so both are measured in the same spell.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from grader import assignments
from grader.redis_proxy import TracingProxy
from grader.redis_server import DisposableRedis, find_server_binary
from grader.sandbox_session import SandboxSession
from grader.submission import import_module

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
PATHS = ("direct", "proxy", "sandboxed")
MODES = ("seq", "seq_cpu", "conc", "conc_cpu")  # wall-clock and CPU us/call, sequential and concurrent

Call = Callable[[redis.Redis, str], Any]


def tree_cpu_s() -> float:
    """CPU seconds used so far by this process and every live descendant (the worker, its launchers, Redis)."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    ours = {os.getpid()}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= found
        grew = bool(found)
    return sum(used[pid] for pid in ours if pid in used)


def sequential(call: Call, client: redis.Redis, calls: int) -> tuple[float, float]:
    """Wall-clock and CPU (all our processes) microseconds per call over ``calls`` calls in this thread."""
    cpu = tree_cpu_s()
    started = time.perf_counter()
    for _ in range(calls):
        call(client, "seq")
    wall = time.perf_counter() - started
    return wall / calls * 1e6, (tree_cpu_s() - cpu) / calls * 1e6


def concurrent(call: Call, clients: list[redis.Redis], per_thread: int) -> tuple[float, float]:
    """Wall-clock (all calls at once) and CPU microseconds per call, one thread per client, started together."""
    barrier = threading.Barrier(len(clients) + 1)

    def work(client: redis.Redis) -> None:
        barrier.wait()
        for _ in range(per_thread):
            call(client, "conc")

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    cpu = tree_cpu_s()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    calls = per_thread * len(clients)
    return wall / calls * 1e6, (tree_cpu_s() - cpu) / calls * 1e6


def run_rounds(options: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Every round's us/call per path and mode, e.g. ``{"sandboxed": {"seq": [...], "conc": [...]}}``."""
    found = find_server_binary()
    if found is None:
        raise SystemExit("no redis-server found")
    server = DisposableRedis(binary=found[0])
    url = server.start()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-rpc-"))
    counter = assignments.get("counter")
    module = import_module(SOLUTIONS, counter)
    proxy = TracingProxy(upstream=url, listen_path=work / "proxy.sock")
    session = SandboxSession(admin_url=url, modules=SOLUTIONS, hide=(SOLUTIONS.parent,), mode="full")
    made: list[redis.Redis] = []

    def client(target: str) -> redis.Redis:
        made.append(redis.Redis.from_url(target, decode_responses=True))
        return made[-1]

    try:
        paths: dict[str, tuple[Call, str]] = {}
        if "direct" in options.only:
            paths["direct"] = (module.record_pageview, url)
        if "proxy" in options.only:
            paths["proxy"] = (module.record_pageview, proxy.start())
        if "sandboxed" in options.only:
            session.start()
            names: dict[int, str] = {}
            remote = session.implementation(counter, lambda c: names.get(id(c), "main"))
            paths["sandboxed"] = (remote.record_pageview, url)
        clients: dict[str, tuple[redis.Redis, list[redis.Redis]]] = {}
        for path, (_call, target) in paths.items():
            main, others = client(target), [client(target) for _ in range(options.threads)]
            if path == "sandboxed":
                names.update({id(c): f"c{i + 1}" for i, c in enumerate(others)})
            clients[path] = (main, others)
        results: dict[str, dict[str, list[float]]] = {path: {mode: [] for mode in MODES} for path in paths}
        for round_ in range(options.rounds + 1):  # round 0 warms up (connections, pool threads)
            for path, (call, _target) in paths.items():
                main, others = clients[path]
                seq = sequential(call, main, options.calls)
                conc = concurrent(call, others, options.per_thread)
                if round_:
                    for mode, value in zip(MODES, (*seq, *conc), strict=True):
                        results[path][mode].append(value)
        return results
    finally:
        for made_client in made:
            made_client.close()
        session.close()
        proxy.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def one_round(python: str, options: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """One round in a fresh process of ``python`` (this script, its ``grader`` from that interpreter)."""
    argv = [python, __file__, "--json", "--rounds", "1", "--calls", str(options.calls)]
    argv += ["--per-thread", str(options.per_thread), "--threads", str(options.threads), "--only", *options.only]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    result: dict[str, dict[str, list[float]]] = json.loads(done.stdout.splitlines()[-1])
    return result


def compare(options: argparse.Namespace) -> None:
    """Alternate rounds of the baseline interpreter and this one; print both medians and the paired ratio.

    The ratio is the median over rounds of this/baseline within a round (two runs seconds apart),
    which cancels the slow spells of a shared machine better than the ratio of the medians.
    """
    pythons = {"baseline": options.baseline, "this": sys.executable}
    rounds: list[dict[str, dict[str, dict[str, list[float]]]]] = []
    for index in range(options.rounds):
        order = list(pythons.items()) if index % 2 == 0 else list(pythons.items())[::-1]
        print(f"round {index + 1}/{options.rounds}", file=sys.stderr, flush=True)
        rounds.append({label: one_round(python, options) for label, python in order})
    print(f"median us/call over {options.rounds} alternating rounds (seq: {options.calls} calls; "
          f"conc: {options.threads} threads x {options.per_thread})")  # fmt: skip
    print(f"{'path':<10} {'mode':<5} {'baseline':>9} {'this':>9} {'paired this/base':>17}")
    for path, modes in rounds[0]["this"].items():
        for mode in modes:
            base = [r["baseline"][path][mode][0] for r in rounds]
            this = [r["this"][path][mode][0] for r in rounds]
            ratio = statistics.median(t / b for t, b in zip(this, base, strict=True))
            medians = f"{statistics.median(base):>9.1f} {statistics.median(this):>9.1f}"
            print(f"{path:<10} {mode:<5} {medians} {ratio:>17.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls per round")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=200, help="calls per thread per round")
    parser.add_argument("--only", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--baseline", metavar="PYTHON", help="alternate rounds with this interpreter's grader")
    parser.add_argument("--json", action="store_true", help="print every round's numbers as one JSON line")
    options = parser.parse_args()
    if options.baseline:
        compare(options)
        return
    results = run_rounds(options)
    if options.json:
        print(json.dumps(results))
        return
    print(f"median us/call over {options.rounds} rounds (seq: {options.calls} calls; "
          f"conc: {options.threads} threads x {options.per_thread})")  # fmt: skip
    print(f"{'path':<10} " + " ".join(f"{mode:>9}" for mode in MODES))
    for path, modes in results.items():
        print(f"{path:<10} " + " ".join(f"{statistics.median(modes[mode]):>9.1f}" for mode in MODES))


if __name__ == "__main__":
    main()
