"""The zygote: one confined process per grading that forks a ready worker on request, and kills it.

Run as a script inside the sandbox, never imported there::

    python -I zygote.py --control-fd N --worker DIR/worker.py --modules DIR [--site-dir DIR ...]

Full mode: ``grader.sandbox_init`` execs it as root, pid 1 of fresh mount, PID and network
namespaces; reduced mode: it runs under ``prlimit`` as the grader's user, a child subreaper.
It imports redis and the worker module once, then forks one child per worker, so a worker costs
a fork rather than an interpreter start. It uses only the standard library and the two files
copied beside it (``worker.py``, ``sandbox_init.py``), whose functions confine each child. The
trusted side (``grader.zygote_client``) imports this file for the message format only.

Control socket (fd N): SOCK_SEQPACKET, one JSON object per packet, ``seq`` echoed in replies:

* ``{"op": "spawn", "seq", "uid": int|null, "limits": {...}}`` carrying three descriptors (the
  worker's RPC socket, its stdout, its stderr) → ``{"event": "spawned", "seq", "pid"}`` or
  ``{..., "error"}``. The worker's id is the request's ``seq``.
* ``{"op": "kill", "seq", "worker"}`` → ``{"event": "killed", "seq", "worker", "complete"}`` once no
  process the worker started is left (``complete`` false: some were still there at the deadline).
* ``{"event": "exit", "worker", "status"}``, unasked, when a worker's main process ends (status
  below 0: killed by that signal); ``{"event": "ready", "pid"}`` once booted.
* End of stream: kill every worker and everything it started, then exit.

A child closes every descriptor but its three, starts a session, and (full mode, ``uid`` given)
moves into a mount namespace of its own with a private /tmp, applies the limits and becomes
``uid`` with ``no_new_privs``; it dies with the zygote (parent-death signal); then it runs the
worker loop. Killing a worker: full mode, every process of its uid (``kill(-1)`` from a helper of
that uid, until /proc shows none); reduced mode, its process group, then every child of the
zygote that is not a live worker (the orphans it adopted), until none is left.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import select
import selectors
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

MAX_PACKET = 4096
SPAWN_FDS = 3  # the RPC socket, stdout, stderr
KILL_DEADLINE_S = 5.0
KILL_POLL_S = 0.002
OPEN_FILES = 256
PR_SET_CHILD_SUBREAPER = 36

Message = dict[str, Any]


def pack(message: Message) -> bytes:
    """One control packet; raises ValueError when it exceeds ``MAX_PACKET``."""
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_PACKET:
        raise ValueError(f"control message of {len(data)} bytes")
    return data


def unpack(data: bytes) -> Message:
    """The JSON object in a control packet; raises ValueError."""
    message = json.loads(data.decode())
    if type(message) is not dict:
        raise ValueError("a control message is not a JSON object")
    return message


@dataclass
class _Worker:
    pid: int
    uid: int | None
    live: bool = True  # not reaped yet
    killed: bool = False


class Zygote:
    """Serves the control socket: forks workers, reaps every child, kills workers with their trees."""

    def __init__(self, *, control: socket.socket, worker: ModuleType, confine: ModuleType, modules: Path) -> None:
        self._control = control
        self._worker = worker
        self._confine = confine
        self._modules = modules
        self._workers: dict[int, _Worker] = {}
        self._by_pid: dict[int, int] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._gone = False  # the trusted side closed the control socket

    def serve(self) -> int:
        """Handle requests until the trusted side goes away, then kill everything; the exit code."""
        for end in (self._wake_r, self._wake_w):
            end.setblocking(False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._selector.register(self._control, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            self._send({"event": "ready", "pid": os.getpid()})
            while not self._gone:
                for key, _ in self._selector.select():
                    if key.fileobj is self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            while self._wake_r.recv(512):
                                pass
                    elif not self._handle_request():
                        self._gone = True
                self._reap()
            return 0
        finally:
            self._kill_everything()

    # -- requests --

    def _handle_request(self) -> bool:
        """Serve one packet; False at the end of the stream."""
        try:
            data, fds, flags, _ = socket.recv_fds(self._control, MAX_PACKET, SPAWN_FDS)
        except ConnectionError:
            return False
        if not data and not fds:
            return False
        try:
            request = unpack(data)
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                raise ValueError("a truncated control message")
        except ValueError as exc:
            _close_all(fds)
            self._send({"event": "error", "error": str(exc)[:200]})
            return True
        op, seq = request.get("op"), request.get("seq")
        if op == "spawn" and type(seq) is int and len(fds) == SPAWN_FDS:
            self._spawn(seq, request, fds)
        elif op == "kill" and type(seq) is int and type(request.get("worker")) is int:
            complete = self._kill(request["worker"])
            self._send({"event": "killed", "seq": seq, "worker": request["worker"], "complete": complete})
        else:
            _close_all(fds)
            self._send({"event": "error", "seq": seq, "error": f"malformed request {str(op)[:40]!r}"})
        return True

    def _spawn(self, seq: int, request: Message, fds: list[int]) -> None:
        uid, limits = request.get("uid"), request.get("limits")
        if not (uid is None or (type(uid) is int and uid > 0)) or type(limits) is not dict:
            _close_all(fds)
            self._send({"event": "spawned", "seq": seq, "error": "malformed spawn request"})
            return
        if len(os.listdir(f"/proc/{os.getpid()}/task")) != 1:
            raise RuntimeError("the zygote must be single-threaded when it forks")
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            _close_all(fds)
            self._send({"event": "spawned", "seq": seq, "error": f"fork: {exc}"})
            return
        if pid == 0:
            try:
                self._become_worker(fds, uid=uid, limits=limits)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(70)
        _close_all(fds)
        self._workers[seq] = _Worker(pid=pid, uid=uid)
        self._by_pid[pid] = seq
        self._send({"event": "spawned", "seq": seq, "pid": pid})

    def _become_worker(self, fds: list[int], *, uid: int | None, limits: Message) -> None:
        """In the forked child: keep only the worker's descriptors, confine, run the worker loop."""
        zygote = os.getppid()
        rpc, out, err = fds
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self._selector.close()
        for sock in (self._control, self._wake_r, self._wake_w):
            sock.close()
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.closerange(3, rpc)
        os.closerange(rpc + 1, max(os.sysconf("SC_OPEN_MAX"), OPEN_FILES))
        os.setsid()
        if uid is None:
            self._confine.die_with_parent(zygote)
        else:
            self._confine.private_temp()
            self._confine.apply_limits(
                cpu_s=int(limits["cpu_s"]),
                memory_bytes=int(limits["memory_mb"]) * 1024 * 1024,
                processes=int(limits["processes"]),
                file_bytes=int(limits["file_mb"]) * 1024 * 1024,
                open_files=OPEN_FILES,
            )
            self._confine.drop_privileges(uid, uid)
        self._worker.run(rpc_fd=rpc, modules=self._modules)

    # -- children --

    def _reap(self) -> None:
        """Reap every child that has ended (workers, their orphans); report the workers' exits."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            seq = self._by_pid.pop(pid, None)
            if seq is not None:
                self._workers[seq].live = False
                self._send({"event": "exit", "worker": seq, "status": os.waitstatus_to_exitcode(status)})

    def _kill(self, seq: int) -> bool:
        """Kill worker ``seq`` and everything it started; False if some process outlived the deadline."""
        worker = self._workers.get(seq)
        if worker is None:
            return True
        worker.killed = True
        deadline = time.monotonic() + KILL_DEADLINE_S
        main = worker.pid if worker.live else None
        if worker.uid is not None:
            return self._kill_uid(worker.uid, deadline, main=main)
        if main is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(main, signal.SIGKILL)
            _await_exit(main, deadline)
        return self._kill_strays(deadline, spare=lambda pid: pid in self._by_pid and pid != worker.pid)

    def _kill_uid(self, uid: int, deadline: float, *, main: int | None = None) -> bool:
        """SIGKILL every process of ``uid`` (a helper of that uid signals them all at once), and reap.

        ``main``: the worker's own process, if not reaped yet, whose end is awaited first.
        """
        while True:
            helper = os.fork()
            if helper == 0:
                try:
                    os.setresuid(uid, uid, uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(helper, 0)
            if main is not None:
                _await_exit(main, deadline)
                main = None
            self._reap()
            if not _processes_of(uid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(KILL_POLL_S)

    def _kill_strays(self, deadline: float, *, spare: Callable[[int], bool]) -> bool:
        """SIGKILL this process's children but those ``spare(pid)`` keeps, until none is left; reap them."""
        while True:
            self._reap()
            strays = [pid for pid in _children() if not spare(pid)]
            if not strays:
                return True
            if time.monotonic() >= deadline:
                return False
            for pid in strays:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(KILL_POLL_S)

    def _kill_everything(self) -> None:
        if os.getpid() == 1:
            return  # the end of the PID namespace's init takes every process in it along
        deadline = time.monotonic() + KILL_DEADLINE_S
        for worker in self._workers.values():
            if worker.uid is not None and not worker.killed:
                self._kill_uid(worker.uid, deadline)
            elif worker.live:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(worker.pid, signal.SIGKILL)
        self._kill_strays(deadline, spare=lambda pid: False)

    def _send(self, message: Message) -> None:
        if self._gone:
            return
        try:
            self._control.send(pack(message))
        except OSError:  # the trusted side is gone: kill everything and exit
            self._gone = True


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _await_exit(pid: int, deadline: float) -> None:
    """Block until the child ``pid`` has ended (it is not reaped) or ``deadline`` passes."""
    try:
        handle = os.pidfd_open(pid)
    except OSError:  # gone already, or a kernel before 5.3: the callers poll
        return
    try:
        select.select([handle], [], [], max(deadline - time.monotonic(), 0.0))
    finally:
        os.close(handle)


def _children() -> list[int]:
    """The pids of this process's children (its own, and the orphans it adopted)."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as handle:
            return [int(pid) for pid in handle.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN
        found = []
        for entry in os.listdir("/proc"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if entry.isdigit() and int(_stat_fields(entry)[1]) == me:
                    found.append(int(entry))
        return found


def _stat_fields(pid: str) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: state, ppid, ..."""
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _processes_of(uid: int) -> list[int]:
    """Processes (zombies included) whose real, effective or saved uid is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                line = next(line for line in handle if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if str(uid) in line.split()[1:4]:
            found.append(int(entry))
    return found


def _load(name: str, path: Path) -> ModuleType:
    """Import the file ``path`` as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zygote.py", description="Fork confined workers for the grader.")
    parser.add_argument("--control-fd", type=int, required=True, help="file descriptor of the control socket")
    parser.add_argument("--worker", type=Path, required=True, help="the worker script to run in each child")
    parser.add_argument("--modules", type=Path, required=True, help="folder holding the student modules")
    parser.add_argument("--site-dir", action="append", default=[], help="append to sys.path (repeatable)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Boot (imports, subreaper), then serve the control socket until it closes, and exit."""
    args = _parse_args(argv)
    confine = _load("grader_sandbox_init", Path(__file__).resolve().with_name("sandbox_init.py"))
    worker = _load("grader_worker", args.worker)
    worker.prepare(site_dirs=args.site_dir)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    os.set_inheritable(args.control_fd, False)
    control = socket.socket(fileno=args.control_fd)
    gc.freeze()  # what the boot allocated stays shared with the children (no copy-on-write by the collector)
    code = Zygote(control=control, worker=worker, confine=confine, modules=args.modules).serve()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)  # no interpreter teardown: closing a session waits for this exit


if __name__ == "__main__":
    main()
