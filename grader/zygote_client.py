"""The trusted side of the zygote: start it confined, have it fork workers, kill them with all they started.

A :class:`ZygoteProcess` starts ``zygote.py`` (copied into the workspace by :func:`install_scripts`,
behind the confinement's ``argv_prefix``) with one end of a SOCK_SEQPACKET socketpair, and speaks
the control protocol documented in :mod:`grader.zygote`. :meth:`ZygoteProcess.start_worker` returns a connected
:class:`~grader.rpc.WorkerProcess` whose process is a :class:`ZygoteChild`. One reader thread takes
the zygote's replies and exit events; any thread may ask. When the zygote dies, its workers are
dead (their connections close, and their exit code reads as SIGKILL).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from grader.rpc import WorkerDied, WorkerProcess, reap_group, start_connected
from grader.sandbox import Confinement, Limits
from grader.zygote import MAX_PACKET, Message, pack, unpack

SPAWN_TIMEOUT_S = 30.0  # the zygote may still be booting (an interpreter start and ``import redis``)
KILL_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 10.0
READER_JOIN_S = 2.0
ZYGOTE_SUPPORTED = sys.platform == "linux"
"""The zygote needs Linux (/proc, prctl, pidfds); elsewhere reduced-mode workers are started one by one."""
SCRIPTS = ("zygote.py", "worker.py", "sandbox_init.py")
# A folder of their own: the folder of the student modules holds nothing else that a worker imported.
SCRIPTS_DIR = "_sandbox"
PACKAGE_DIR = Path(__file__).resolve().parent


def install_scripts(work: Path) -> None:
    """Copy the files the zygote runs (``grader/<name>`` for each of ``SCRIPTS``) into the workspace ``work``."""
    (work / SCRIPTS_DIR).mkdir(exist_ok=True)
    for script in SCRIPTS:
        shutil.copyfile(PACKAGE_DIR / script, work / SCRIPTS_DIR / script)


class ZygoteChild:
    """A worker the zygote forked: a :class:`~grader.rpc.ProcessHandle` that asks the zygote."""

    def __init__(self, zygote: ZygoteProcess, worker: int, pid: int) -> None:
        self._zygote = zygote
        self._worker = worker
        self._pid = pid
        self._kill_lock = threading.Lock()
        self._kill_seq: int | None = None
        self._waiting = False  # one thread waits for the zygote's answer, any others for it
        self._killed = threading.Event()

    @property
    def pid(self) -> int:
        """The worker's pid in the zygote's PID namespace."""
        return self._pid

    def exit_code(self) -> int | None:
        return self._zygote.exit_code(self._worker)

    def kill(self, *, wait: bool) -> None:
        with self._kill_lock:
            if self._kill_seq is None:
                self._kill_seq = self._zygote.request_kill(self._worker)
            seq = self._kill_seq
            answer = wait and not self._waiting
            self._waiting = self._waiting or answer
        if answer:
            try:
                self._zygote.wait_killed(seq, timeout=KILL_TIMEOUT_S)
            finally:
                self._killed.set()
        elif wait:
            self._killed.wait(KILL_TIMEOUT_S)


def launch_zygote(
    *, confinement: Confinement, cwd: Path, stdout: Path, stderr: Path
) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start the zygote confined, in a session of its own: its process and our end of its control connection.

    It boots (an interpreter, redis-py) in the background; requests sent meanwhile wait for it.
    """
    scripts = confinement.work_in_view / SCRIPTS_DIR

    def command(fd: int) -> list[str]:
        argv = [
            *confinement.argv_prefix,
            confinement.python, "-I", str(scripts / "zygote.py"),
            "--control-fd", str(fd),
            "--worker", str(scripts / "worker.py"),
            "--modules", str(confinement.work_in_view),
        ]  # fmt: skip
        for site_dir in confinement.site_dirs:
            argv += ["--site-dir", site_dir]
        return argv

    return start_connected(
        command, kind=socket.SOCK_SEQPACKET, env=confinement.env, cwd=cwd, stdout=stdout, stderr=stderr
    )


class ZygoteProcess:
    """A running zygote; see the module docstring. :meth:`close` kills it with every worker.

    Constructed with the zygote's start (see :func:`launch_zygote`), or by :meth:`adopt` from a
    zygote another trusted process started and handed over.
    """

    def __init__(self, *, confinement: Confinement, cwd: Path, stdout: Path, stderr: Path) -> None:
        process, sock = launch_zygote(confinement=confinement, cwd=cwd, stdout=stdout, stderr=stderr)
        self._connect(confinement=confinement, sock=sock, pid=process.pid, process=process)

    @classmethod
    def adopt(cls, *, confinement: Confinement, sock: socket.socket, pid: int) -> ZygoteProcess:
        """The zygote whose control connection is ``sock`` and whose launcher leads process group ``pid``.

        The process that started it reaps it; :meth:`close` ends it all the same.
        """
        zygote = cls.__new__(cls)
        zygote._connect(confinement=confinement, sock=sock, pid=pid, process=None)
        return zygote

    def _connect(
        self, *, confinement: Confinement, sock: socket.socket, pid: int, process: subprocess.Popen[bytes] | None
    ) -> None:
        self._confinement = confinement
        self._process, self._pid, self._sock = process, pid, sock
        self._seqs = itertools.count(1)
        self._send_lock = threading.Lock()
        self._changed = threading.Condition()  # guards everything below; notified on every event
        self._replies: dict[int, Message] = {}
        self._exits: dict[int, int] = {}
        self._dead: str | None = None
        self._reader = threading.Thread(target=self._read_loop, name=f"zygote-{pid}", daemon=True)
        self._reader.start()
        _LIVE.add(self)

    @property
    def confinement(self) -> Confinement:
        return self._confinement

    @property
    def pid(self) -> int:
        """The pid of the zygote's launcher (the first of ``argv_prefix``, or the zygote itself)."""
        return self._pid

    def alive(self) -> bool:
        """True until the zygote exits or its control connection breaks."""
        return self._dead is None

    # -- workers --

    def start_worker(self, *, uid: int | None, stdout: Path, stderr: Path) -> WorkerProcess:
        """Fork a worker (as ``uid`` in full mode) whose output is appended to the given files.

        Raises :class:`~grader.rpc.WorkerDied` when the zygote is dead or cannot fork.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with open(stdout, "ab") as out, open(stderr, "ab") as err:
                child = self._spawn(
                    uid=uid, limits=self._confinement.limits, fds=[theirs.fileno(), out.fileno(), err.fileno()]
                )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return WorkerProcess(process=child, sock=ours)

    def _spawn(self, *, uid: int | None, limits: Limits, fds: list[int]) -> ZygoteChild:
        seq = next(self._seqs)
        reply = self._ask({"op": "spawn", "seq": seq, "uid": uid, "limits": asdict(limits)}, fds, SPAWN_TIMEOUT_S)
        pid = reply.get("pid")
        if type(pid) is not int:
            raise WorkerDied(f"the zygote could not start a worker: {str(reply.get('error'))[:200]}")
        return ZygoteChild(self, seq, pid)

    def exit_code(self, worker: int) -> int | None:
        """Worker ``worker``'s exit status, None while it runs; a dead zygote's workers read as killed."""
        with self._changed:
            if worker in self._exits:
                return self._exits[worker]
            return None if self._dead is None else -signal.SIGKILL

    def request_kill(self, worker: int) -> int:
        """Ask the zygote to kill ``worker`` with everything it started; the request's number."""
        seq = next(self._seqs)
        with contextlib.suppress(WorkerDied):
            self._send({"op": "kill", "seq": seq, "worker": worker})
        return seq

    def wait_killed(self, seq: int, *, timeout: float) -> None:
        """Wait for kill request ``seq`` to be done; if the zygote does not confirm in time, kill it."""
        try:
            reply = self._wait(seq, timeout)
        except WorkerDied:
            return  # the zygote is gone, and its workers with it
        if reply.get("complete") is not True:
            self.close(timeout=0)  # a worker's processes outlived the kill: take the whole sandbox down

    # -- lifecycle --

    def close(self, *, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """End the zygote: it kills every worker and all they started, then exits; safe to call twice.

        After ``timeout`` seconds it is killed regardless (in full mode its PID namespace then
        takes every worker with it).
        """
        _LIVE.discard(self)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)  # the end of its requests: the zygote cleans up and exits
        if self._process is not None:
            reap_group(self._process, timeout=timeout)
        elif not self._connection_ended(timeout):  # adopted: its end of the connection closes when it exits
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
        if threading.current_thread() is not self._reader:
            self._reader.join(READER_JOIN_S)
        with self._send_lock:
            self._sock.close()
        status = "" if self._process is None else f" with status {self._process.returncode}"
        self._fail(f"the zygote exited{status}")

    def _connection_ended(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the zygote to close its end of the connection."""
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout)
        return not self._reader.is_alive()

    # -- the control connection --

    def _ask(self, message: Message, fds: list[int], timeout: float) -> Message:
        self._send(message, fds)
        return self._wait(message["seq"], timeout)

    def _send(self, message: Message, fds: list[int] | None = None) -> None:
        with self._send_lock:
            if self._dead is not None:
                raise WorkerDied(self._dead)
            try:
                if fds:
                    socket.send_fds(self._sock, [pack(message)], fds)
                else:
                    self._sock.send(pack(message))
            except OSError as exc:
                self._fail(f"the connection to the zygote broke: {exc}")
                raise WorkerDied(self._dead or "the zygote died") from None

    def _wait(self, seq: int, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        with self._changed:
            while seq not in self._replies:
                remaining = deadline - time.monotonic()
                if self._dead is not None:
                    raise WorkerDied(self._dead)
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            else:
                return self._replies.pop(seq)
        self.close(timeout=0)  # a zygote that does not answer is of no use
        raise WorkerDied("the zygote did not answer in time")

    def _read_loop(self) -> None:
        reason = "the zygote closed its connection"
        try:
            while True:
                data = self._sock.recv(MAX_PACKET)
                if not data:
                    break
                self._route(unpack(data))
        except (OSError, ValueError) as exc:
            reason = f"the connection to the zygote broke: {exc}"
        self._fail(reason)

    def _route(self, message: Message) -> None:
        with self._changed:
            event = message.get("event")
            if event == "exit" and type(message.get("worker")) is int and type(message.get("status")) is int:
                self._exits[message["worker"]] = message["status"]
            elif type(message.get("seq")) is int:
                self._replies[message["seq"]] = message
            self._changed.notify_all()

    def _fail(self, reason: str) -> None:
        with self._changed:
            if self._dead is None:
                self._dead = reason
            self._changed.notify_all()


_LIVE: set[ZygoteProcess] = set()


@atexit.register
def _close_leftovers() -> None:
    for zygote in list(_LIVE):
        zygote.close(timeout=1.0)
