"""Run the hidden suites' pytest process: a fresh interpreter, or a fork of a warm fork server.

Every grading runs the suites in a pytest process of their own (``grader.grading``). Starting one
as ``python -I -m pytest`` costs an interpreter and about 0.35 s of CPU for imports (pytest,
redis-py, the grader's plugin): little for one grading, a fifth of a batch's CPU. A
:class:`ForkServer` pays that once: it is started the same way (``python -I``, trusted code only,
never any student code), imports those modules, and then forks one child per run. Each child is a
pytest process as if started fresh: its own session and process group, standard input from
``/dev/null``, output into the caller's pipe, the caller's environment and working directory, no
other inherited file descriptor, and an ordinary exit (atexit hooks run).

Protocol on a ``SOCK_SEQPACKET`` socketpair: the caller sends ``{"argv", "env", "cwd"}`` with the
write end of its output pipe attached (``SCM_RIGHTS``); the server answers ``{"pid": N}``, and
``{"pid": N, "status": S}`` once that child has exited (``S`` as ``Popen.returncode``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

MAX_MESSAGE = 1 << 20
STATUS_WAIT_S = 10.0
READ_BYTES = 1 << 16


@dataclass(frozen=True)
class SuiteRun:
    """How one run ended: pytest's exit status (negative: killed by that signal; -9 when unknown),
    whether it was stopped at its deadline, and the tail of what it printed."""

    returncode: int
    timed_out: bool
    output: bytes


class LauncherError(RuntimeError):
    """The fork server could not start a run (it died or broke the protocol)."""


def launch(
    argv: Sequence[str],
    *,
    fork_server: ForkServer | None,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
    keep: int,
    pass_fds: Sequence[int] = (),
) -> SuiteRun:
    """Run pytest with ``argv``: forked from ``fork_server`` when given and working, else :func:`spawn`ed.

    ``pass_fds``: descriptors the run inherits, under the same numbers; only a spawned run can.
    """
    if fork_server is not None and not pass_fds:
        try:
            return fork_server.run(argv, env=env, cwd=cwd, timeout=timeout, keep=keep)
        except LauncherError:
            pass  # a broken server must not fail the grading: a fresh interpreter does the same job
    return spawn(argv, env=env, cwd=cwd, timeout=timeout, keep=keep, pass_fds=pass_fds)


def spawn(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float, keep: int, pass_fds: Sequence[int] = ()
) -> SuiteRun:
    """Run ``python -I -m pytest *argv`` as a new process; kill its group at ``timeout`` seconds or at its end.

    It inherits the descriptors ``pass_fds`` (under the same numbers) and no other.
    """
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", "pytest", *argv],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out, output = True, b""
    finally:
        _kill_group(proc.pid)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return SuiteRun(proc.returncode, timed_out, output[-keep:])


class ForkServer:
    """A warm process that forks pytest runs; one run at a time per server (not thread-safe).

    Use as a context manager or call :meth:`close`. A server that fails raises
    :class:`LauncherError` from :meth:`run`; the caller may then :func:`spawn` instead.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "grader.suite_process", str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours

    @property
    def pid(self) -> int:
        return self._proc.pid

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float, keep: int) -> SuiteRun:
        """As :func:`spawn`, in a child forked from the server."""
        read_end, write_end = os.pipe()
        try:
            request = json.dumps({"argv": list(argv), "env": dict(env), "cwd": str(cwd)}).encode()
            try:
                socket.send_fds(self._sock, [request], [write_end])
            except OSError as exc:
                raise LauncherError(f"the fork server is gone: {exc}") from None
            finally:
                os.close(write_end)
            pid = int(self._receive(STATUS_WAIT_S)["pid"])
            try:
                output, timed_out = _read_until_eof(read_end, deadline=time.monotonic() + timeout, keep=keep)
            finally:
                _kill_group(pid)  # also when interrupted: nothing of the run outlives it
        finally:
            os.close(read_end)
        try:
            status = int(self._receive(STATUS_WAIT_S)["status"])
        except LauncherError:
            status = -signal.SIGKILL
        return SuiteRun(status, timed_out, output)

    def close(self) -> None:
        """Stop the server (its children are runs that have ended or been killed)."""
        self._sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(STATUS_WAIT_S)
        _kill_group(self._proc.pid)
        self._proc.wait()

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, timeout: float) -> dict[str, Any]:
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(MAX_MESSAGE)
        except OSError as exc:
            raise LauncherError(f"the fork server did not answer: {exc}") from None
        try:
            message = json.loads(data) if data else None
        except ValueError:
            message = None
        if not isinstance(message, dict) or "error" in message:
            detail = message.get("error") if isinstance(message, dict) else "it closed its connection"
            raise LauncherError(f"the fork server failed: {detail}")
        return message


def _read_until_eof(fd: int, *, deadline: float, keep: int) -> tuple[bytes, bool]:
    """What ``fd`` yields until EOF (its last ``keep`` bytes), and whether the deadline came first."""
    output = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return bytes(output[-keep:]), True
            chunk = os.read(fd, READ_BYTES)
            if not chunk:
                return bytes(output[-keep:]), False
            output += chunk
            del output[: max(0, len(output) - keep)]


def _kill_group(pid: int) -> None:
    """Kill the run's whole process group, including anything the tests left behind."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# --- The server's side ---------------------------------------------------------------------------


def serve(sock: socket.socket) -> None:
    """Fork one pytest run per request until the connection closes; report each child's exit."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is wake_r:
                    os.read(wake_r, 4096)
                    _report_exits(sock)
                    continue
                message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 1)
                if not message:
                    return
                try:
                    request = json.loads(message)
                    pid = os.fork()
                    if pid == 0:
                        _run_child(request, out_fd=fds[0])
                    _send(sock, {"pid": pid})
                except Exception as exc:
                    _send(sock, {"error": f"{type(exc).__name__}: {exc}"})
                finally:
                    for fd in fds:
                        os.close(fd)


def _report_exits(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, {"pid": pid, "status": os.waitstatus_to_exitcode(status)})


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        sock.send(json.dumps(message).encode())


def _run_child(request: dict[str, Any], *, out_fd: int) -> NoReturn:
    """In the forked child: become a fresh pytest process, run, exit."""
    import pytest

    code = 3
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the server's socket and pipes among them
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        argv = [str(a) for a in request["argv"]]
        sys.argv = ["pytest", *argv]
        code = int(pytest.main(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -I -m grader.suite_process FD``: import what a run needs, then serve FD."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Warm: every forked run finds these imported. pytest_timeout is left to pytest's -p, which
    # warns when a plugin it should rewrite is already imported (grader's plugin opts out of that).
    import pytest  # noqa: F401

    import grader.pytest_plugin  # noqa: F401

    serve(socket.socket(fileno=int(args[0])))


if __name__ == "__main__":
    main()
