"""A pytest run forked from the warm fork server behaves like a freshly started ``python -I -m pytest``."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.suite_process import ForkServer, LauncherError, SuiteRun, launch, spawn

PROBE = """
import atexit, json, os, sys

def test_probe():
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # the listing's own descriptor, closed by now
    record = {
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "session_leader": os.getsid(0) == os.getpid(),
        "stdin": os.readlink("/proc/self/fd/0"),
        "fds": fds,
        "isolated": sys.flags.isolated,
    }
    with open(os.environ["PROBE_OUT"], "w") as handle:
        json.dump(record, handle)
    atexit.register(lambda: open(os.environ["PROBE_OUT"] + ".atexit", "w").close())
    print("probe printed this")

def test_fails():
    assert os.environ.get("PROBE_FAIL") != "1"
"""

SLOW = """
import os, subprocess, sys, time

def test_sleeps():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(os.environ["PROBE_OUT"], "w") as handle:
        handle.write(str(child.pid))
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    with ForkServer() as fork_server:
        yield fork_server


def suite(folder: Path, source: str) -> list[str]:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_probe.py").write_text(source)
    return ["-c", str(folder / "pytest.ini"), "--rootdir", str(folder), "-q", "-p", "no:cacheprovider", str(folder)]


def test_a_forked_run_gets_its_own_session_stdio_environment_and_directory(server: ForkServer, tmp_path: Path) -> None:
    out = tmp_path / "probe.json"
    env = {"PATH": os.environ["PATH"], "PROBE_OUT": str(out), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = server.run(suite(tmp_path, PROBE), env=env, cwd=tmp_path, timeout=60, keep=100_000)
    assert run.returncode == 0 and not run.timed_out, run.output
    assert b"2 passed" in run.output and b"probe printed this" not in run.output  # pytest captured it
    record = json.loads(out.read_text())
    assert record["cwd"] == str(tmp_path)
    pytest_own = {"PYTEST_CURRENT_TEST", "PYTEST_VERSION"}
    assert {k: v for k, v in record["env"].items() if k not in pytest_own} == env  # nothing of the server's
    assert record["session_leader"] and record["stdin"] == "/dev/null"
    assert record["isolated"] == 1  # as python -I
    targets = set(record["fds"].values())
    assert not any(t.startswith("socket:") for t in targets), targets  # not the server's control socket
    assert len({t for t in targets if t.startswith("pipe:")}) == 1, targets  # only the output pipe (and pytest's dups)
    assert Path(f"{out}.atexit").exists()  # the run exits like a process, atexit hooks included


def test_the_exit_status_and_output_tail_come_back(server: ForkServer, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "PROBE_OUT": str(tmp_path / "p.json"), "PROBE_FAIL": "1"}
    run = server.run(suite(tmp_path, PROBE), env=env, cwd=tmp_path, timeout=60, keep=200)
    assert run.returncode == 1 and not run.timed_out
    assert len(run.output) == 200 and b"1 failed, 1 passed" in run.output


def test_a_run_over_time_is_killed_with_everything_it_started(server: ForkServer, tmp_path: Path) -> None:
    out = tmp_path / "child.pid"
    started = time.monotonic()
    run = server.run(suite(tmp_path, SLOW), env={"PROBE_OUT": str(out)}, cwd=tmp_path, timeout=3, keep=1000)
    assert run.timed_out and run.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 20
    deadline = time.monotonic() + 5
    while _running(int(out.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(int(out.read_text()))  # the test's own child went with the process group
    # and the server still serves
    again = server.run(suite(tmp_path, PROBE), env={"PROBE_OUT": str(out)}, cwd=tmp_path, timeout=60, keep=1000)
    assert again.returncode == 0


def test_a_dead_server_is_an_error_and_launch_falls_back_to_a_new_process(tmp_path: Path) -> None:
    args = suite(tmp_path, PROBE)
    env = {"PATH": os.environ["PATH"], "PROBE_OUT": str(tmp_path / "p.json")}
    with ForkServer() as fork_server:
        os.kill(fork_server.pid, signal.SIGKILL)
        with pytest.raises(LauncherError):
            fork_server.run(args, env=env, cwd=tmp_path, timeout=60, keep=1000)
        fallback = launch(args, fork_server=fork_server, env=env, cwd=tmp_path, timeout=60, keep=1000)
    assert isinstance(fallback, SuiteRun) and fallback.returncode == 0


def test_spawn_and_fork_give_the_same_result(server: ForkServer, tmp_path: Path) -> None:
    args = suite(tmp_path, PROBE)
    env = {"PATH": os.environ["PATH"], "PROBE_OUT": str(tmp_path / "p.json"), "PROBE_FAIL": "1"}
    spawned = spawn(args, env=env, cwd=tmp_path, timeout=60, keep=100_000)
    forked = server.run(args, env=env, cwd=tmp_path, timeout=60, keep=100_000)
    assert forked.returncode == spawned.returncode == 1
    forked_fds = json.loads((tmp_path / "p.json").read_text())["fds"]
    spawn(args, env=env, cwd=tmp_path, timeout=60, keep=100_000)
    assert sorted(forked_fds) == sorted(json.loads((tmp_path / "p.json").read_text())["fds"])
    assert forked.output.splitlines()[-1].split(b" in ")[0] == spawned.output.splitlines()[-1].split(b" in ")[0]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_passed_descriptors_are_inherited_under_their_numbers_and_force_a_spawn(
    server: ForkServer, tmp_path: Path
) -> None:
    args = suite(tmp_path, PROBE)
    out = tmp_path / "p.json"
    env = {"PATH": os.environ["PATH"], "PROBE_OUT": str(out)}
    read_end, write_end = os.pipe()
    try:
        run = launch(args, fork_server=server, env=env, cwd=tmp_path, timeout=60, keep=1000, pass_fds=(write_end,))
        record = json.loads(out.read_text())
        assert run.returncode == 0
        assert record["fds"][str(write_end)] == f"pipe:[{os.fstat(write_end).st_ino}]"
        assert record["isolated"] == 1 and record["session_leader"]
        launch(args, fork_server=None, env=env, cwd=tmp_path, timeout=60, keep=1000)
        assert str(write_end) not in json.loads(out.read_text())["fds"]  # not passed: not inherited
    finally:
        os.close(read_end)
        os.close(write_end)
