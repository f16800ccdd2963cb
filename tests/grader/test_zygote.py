"""The zygote that forks sandboxed workers: confinement per worker, killing whole trees, reaping, restarts.

Workers here run a probe module (no Redis needed but for the session tests); every process a probe
starts takes this test's token as its name, so the checks can find it from outside the sandbox.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest

from grader import assignments, sandbox_session
from grader.rpc import WorkerDied, WorkerProcess
from grader.sandbox import full_mode_unavailable, plan, prepare_workspace, worker_uid
from grader.sandbox_session import SandboxSession, ZygoteHandoff, zygote_booted_early
from grader.zygote_client import PACKAGE_DIR, ZygoteProcess, install_scripts

FULL = pytest.param(
    "full",
    marks=pytest.mark.skipif(full_mode_unavailable() is not None, reason=f"needs root: {full_mode_unavailable()}"),
)
MODES = [FULL, "reduced"]

PROBE = textwrap.dedent(
    """\
    import ctypes
    import os
    import time


    def _named(token):
        ctypes.CDLL(None).prctl(15, token.encode(), 0, 0, 0)  # PR_SET_NAME


    def whoami():
        return os.getuid()


    def write_tmp(name):
        for folder in ("/tmp", "/dev/shm"):
            with open(os.path.join(folder, name), "w") as handle:
                handle.write("mine")


    def list_tmp():
        return sorted(os.listdir("/tmp")) + sorted(os.listdir("/dev/shm"))


    def detach(token):
        '''A setsid grandchild (its parent waits for it) and a double-forked daemon, both sleeping.'''
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                _named(token)
                time.sleep(60)
            os.waitpid(-1, 0)
            os._exit(0)
        first = os.fork()
        if first == 0:
            os.setsid()
            if os.fork() == 0:
                _named(token)
                os.closerange(3, 256)
                time.sleep(60)
            os._exit(0)
        os.waitpid(first, 0)
        return True


    def orphans(count):
        '''``count`` grandchildren that outlive their parent briefly, then exit: orphans to reap.'''
        for _ in range(count):
            child = os.fork()
            if child == 0:
                if os.fork() == 0:
                    time.sleep(0.2)
                os._exit(0)
            os.waitpid(child, 0)
        return count
    """
)


def processes(predicate: Callable[[int, str, list[str]], bool]) -> list[int]:
    """Pids of the processes (zombies included) whose (pid, name, /proc status uids) satisfy ``predicate``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            uids = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if predicate(int(entry.name), name, uids.split()[1:4]):
            found.append(int(entry.name))
    return found


def named(token: str) -> list[int]:
    return processes(lambda pid, name, uids: name == token)


def of_uid(uid: int) -> list[int]:
    return processes(lambda pid, name, uids: str(uid) in uids)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def zygote_pid(launcher: int) -> int:
    """The host pid of the zygote started behind ``launcher`` (setpriv, unshare and sandbox_init exec or fork)."""
    pid = launcher
    for _ in range(5):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if argv[2:3] and argv[2].endswith(b"/zygote.py"):
            return pid
        (pid,) = children(pid)
    raise AssertionError("no zygote below its launcher")


@pytest.fixture
def token() -> str:
    return "zyg" + uuid.uuid4().hex[:12]


def start_zygote(tmp_path: Path, mode: Literal["full", "reduced"]) -> ZygoteProcess:
    """A zygote over a workspace holding the probe module."""
    work = tmp_path / "work"
    work.mkdir()
    install_scripts(work)
    (work / "probe.py").write_text(PROBE)
    prepare_workspace(work)
    confinement = plan(work=work, hide=(PACKAGE_DIR.parent,), mode=mode)
    return ZygoteProcess(confinement=confinement, cwd=work, stdout=tmp_path / "z.out", stderr=tmp_path / "z.err")


@pytest.fixture(params=MODES)
def zygote(request: pytest.FixtureRequest, tmp_path: Path, token: str) -> Iterator[ZygoteProcess]:
    """A zygote in each sandbox mode."""
    process = start_zygote(tmp_path, request.param)
    yield process
    process.close()
    for pid in named(token):  # a failed check must not leave sleepers behind
        os.kill(pid, signal.SIGKILL)


def start(zygote: ZygoteProcess, tmp_path: Path) -> tuple[WorkerProcess, int | None]:
    """A worker with the probe imported, and its uid (None in reduced mode)."""
    uid = worker_uid() if zygote.confinement.worker_uids else None
    worker = zygote.start_worker(uid=uid, stdout=tmp_path / "w.out", stderr=tmp_path / "w.err")
    worker.hello("unix:///nowhere")
    assert worker.import_module("probe") == ["detach", "list_tmp", "orphans", "whoami", "write_tmp"]
    return worker, uid


def call(worker: WorkerProcess, function: str, *args: object) -> object:
    return worker.call("probe", function, args, timeout=10)


@pytest.mark.skipif(full_mode_unavailable() is not None, reason="needs the full sandbox")
def test_full_mode_workers_have_distinct_uids_and_private_temp_dirs(tmp_path: Path) -> None:
    zygote = start_zygote(tmp_path, "full")
    try:
        (first, first_uid), (second, second_uid) = start(zygote, tmp_path), start(zygote, tmp_path)
        assert first_uid != second_uid
        assert (call(first, "whoami"), call(second, "whoami")) == (first_uid, second_uid)
        call(first, "write_tmp", "secret")
        assert call(first, "list_tmp") == ["secret", "secret"]
        assert call(second, "list_tmp") == []
        first.kill()
        assert call(second, "list_tmp") == []
        second.kill()
    finally:
        zygote.close()


def test_killing_a_worker_kills_its_setsid_grandchild_and_daemon_but_not_another_worker(
    zygote: ZygoteProcess, tmp_path: Path, token: str
) -> None:
    victim, uid = start(zygote, tmp_path)
    bystander, bystander_uid = start(zygote, tmp_path)
    assert call(victim, "detach", token) is True
    wait_for(lambda: len(named(token)) == 2)
    victim.kill()
    assert named(token) == []  # kill() returns once they are gone (and reaped), not some time later
    handle = victim._process
    started = time.monotonic()
    handle.kill(wait=True)  # again: answered at once, the zygote is not asked twice
    assert time.monotonic() - started < 1.0
    assert handle.exit_code() is not None
    if uid is not None:
        assert of_uid(uid) == []
    assert call(bystander, "whoami") == (os.getuid() if bystander_uid is None else bystander_uid)
    bystander.kill()


def test_the_zygote_reaps_orphans(zygote: ZygoteProcess, tmp_path: Path) -> None:
    worker, _ = start(zygote, tmp_path)
    pid = zygote_pid(zygote.pid)
    (worker_pid,) = children(pid)
    assert call(worker, "orphans", 20) == 20
    assert len(children(pid)) > 1  # the grandchildren, orphaned, now belong to the zygote
    time.sleep(0.5)  # they have exited: reaped, or zombies
    wait_for(lambda: children(pid) == [worker_pid], timeout=2.0)
    worker.kill()
    assert children(pid) == []


@pytest.mark.real_redis
@pytest.mark.parametrize("mode", MODES)
def test_a_dead_zygote_is_replaced_and_close_leaves_no_worker_process(
    mode: str, real_redis_url: str, tmp_path: Path, token: str
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "counter.py").write_text(PROBE)
    session = SandboxSession(admin_url=real_redis_url, modules=modules, hide=(PACKAGE_DIR.parent,), mode=mode)
    session.start()
    counter = assignments.get("counter")
    uids = set()
    try:
        first = session.implementation(counter, lambda client: "main")
        uids.add(first.whoami())
        launcher = session._zygote.pid  # type: ignore[union-attr]
        dead = zygote_pid(launcher)
        os.kill(dead, signal.SIGKILL)
        # once the zygote is a zombie, its workers have been sent SIGKILL (full mode: its namespace is gone)
        wait_for(lambda: not Path(f"/proc/{dead}").exists() or state(dead) == "Z")
        with pytest.raises(WorkerDied):
            first.whoami()
        session.kill_worker()
        second = session.implementation(counter, lambda client: "main")
        uids.add(second.whoami())
        assert session._zygote is not None and session._zygote.pid != launcher
        assert second.detach(token) is True
        wait_for(lambda: len(named(token)) == 2)
    finally:
        session.close()
    assert named(token) == []
    if mode == "full":
        assert len(uids) == 2 and os.getuid() not in uids
        assert [pid for uid in uids for pid in of_uid(uid)] == []


@pytest.mark.real_redis
def test_without_the_zygote_reduced_mode_starts_each_worker_itself(
    real_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off Linux (here: pretended) reduced-mode workers are separate interpreters, as before the zygote."""
    monkeypatch.setattr(sandbox_session, "ZYGOTE_SUPPORTED", False)
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "counter.py").write_text(PROBE)
    session = SandboxSession(admin_url=real_redis_url, modules=modules, hide=(PACKAGE_DIR.parent,), mode="reduced")
    session.start()
    try:
        first = session.implementation(assignments.get("counter"), lambda client: "main")
        assert first.whoami() == os.getuid()
        assert session._zygote is None
        worker = session._worker
        assert worker is not None and b"worker.py" in Path(f"/proc/{worker.pid}/cmdline").read_bytes()
    finally:
        session.close()


def probe_modules(tmp_path: Path) -> Path:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "counter.py").write_text(PROBE)
    return modules


@pytest.mark.real_redis
@pytest.mark.parametrize("mode", MODES)
def test_a_zygote_booted_early_is_taken_over_and_ends_with_the_session(
    mode: Literal["full", "reduced"], real_redis_url: str, tmp_path: Path, token: str
) -> None:
    modules = probe_modules(tmp_path)
    hide = (PACKAGE_DIR.parent,)
    with zygote_booted_early(modules=modules, hide=hide, mode=mode, scratch=tmp_path) as handoff:
        assert handoff is not None and handoff.mode == mode
        assert ZygoteHandoff.parse(handoff.option()) == handoff
        # the suites' process inherits the descriptor; here, in one process, it gets a copy of its own
        handed = dataclasses.replace(handoff, fd=os.dup(handoff.fd))
        session = SandboxSession(admin_url=real_redis_url, modules=modules, hide=hide, mode=mode, handoff=handed)
        session.start()
        try:
            counter = session.implementation(assignments.get("counter"), lambda client: "main")
            assert session._zygote is not None and session._zygote.pid == handoff.pid  # taken over, not a second one
            assert counter.detach(token) is True
            wait_for(lambda: len(named(token)) == 2)
        finally:
            session.close()
        assert named(token) == []
        started = time.monotonic()
    assert time.monotonic() - started < 2.0  # the zygote had exited: reaped at once
    assert not Path(f"/proc/{handoff.pid}").exists()


@pytest.mark.parametrize("mode", MODES)
def test_a_zygote_booted_early_ends_when_the_process_it_was_handed_to_dies(
    mode: Literal["full", "reduced"], tmp_path: Path
) -> None:
    with zygote_booted_early(modules=probe_modules(tmp_path), hide=(), mode=mode, scratch=tmp_path) as handoff:
        assert handoff is not None
        heir = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(handoff.fd,))
        heir.kill()
        heir.wait()
        zygotes: list[int] = []
        wait_for(lambda: booted(handoff.pid, zygotes))
        started = time.monotonic()
    assert time.monotonic() - started < 5.0
    assert not Path(f"/proc/{zygotes[0]}").exists() and not Path(f"/proc/{handoff.pid}").exists()


def booted(launcher: int, found: list[int]) -> bool:
    """Whether the zygote behind ``launcher`` runs yet; its pid is appended to ``found``."""
    try:
        found.append(zygote_pid(launcher))
    except (ValueError, OSError):  # still between its launcher's steps
        return False
    return True


def test_a_zygote_that_cannot_start_early_is_left_to_the_session(tmp_path: Path) -> None:
    modules = probe_modules(tmp_path)
    with zygote_booted_early(modules=modules, hide=(), mode="full", scratch=tmp_path / "missing") as handoff:
        assert handoff is None


@pytest.mark.parametrize("value", ["", "3", "x:1:full:/w", "3:1:partial:/w", "3:pid:full:/w"])
def test_a_malformed_handoff_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        ZygoteHandoff.parse(value)
