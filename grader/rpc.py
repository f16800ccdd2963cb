"""The trusted side of the student worker RPC: start a worker, call its functions, serve callbacks.

:func:`start_worker` spawns ``grader/worker.py`` (behind an optional confinement ``argv_prefix``)
with one end of a socketpair; the sandbox instead forks workers from a zygote
(:mod:`grader.zygote_client`). Either way :class:`WorkerProcess` speaks the protocol documented in
:mod:`grader.worker`, and controls the process through a :class:`ProcessHandle`. Any number of
threads may call at once: each borrows a channel (a socket the worker serves with a thread of its
own), sends its request and reads its reply itself; a callback the worker asks for runs in the
calling thread.
:class:`RemoteModule` makes a worker's module look like the imported module the suites expect.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import queue
import secrets
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Protocol

from grader.worker import (
    CALL_THREADS,
    MAX_MESSAGE,
    MAX_NAME,
    FrameReader,
    Message,
    ProtocolError,
    UnsupportedValue,
    decode,
    encode,
    pack_frame,
    type_name,
)

__all__ = [
    "ClientNamer",
    "PopenHandle",
    "ProcessHandle",
    "RemoteError",
    "RemoteFunction",
    "RemoteModule",
    "RemoteNotImplementedError",
    "UnsupportedValue",
    "WorkerDied",
    "WorkerError",
    "WorkerProcess",
    "WorkerTimeout",
    "start_connected",
    "start_worker",
]

ClientNamer = Callable[[Any], str]
"""Names a Redis client argument for the worker: the test's ``r`` → ``"main"``, others → ``"c1"``..."""

LIVENESS_POLL_S = 0.25
CONTROL_TIMEOUT_S = 10.0
READER_JOIN_S = 2.0


# --- Errors --------------------------------------------------------------------------------------


class WorkerError(RuntimeError):
    """The worker, not the student function, failed: it died, hung or broke the protocol."""


class WorkerDied(WorkerError):
    """The worker exited or closed its connection while requests were in flight."""


class WorkerTimeout(WorkerError):
    """A request did not complete in time; kill the worker, it may still be running."""


class RemoteError(Exception):
    """An exception raised in the worker, as the worker described it (no traceback, capped text)."""

    def __init__(
        self,
        *,
        type: str,
        message: str,
        file: str | None = None,
        line: int | None = None,
        function: str | None = None,
    ) -> None:
        self.type = type
        self.message = message
        self.file = file
        self.line = line
        self.function = function
        Exception.__init__(self, self._text())

    def _text(self) -> str:
        where = ""
        if self.file is not None:
            where = f" ({self.file}" + (f" line {self.line}" if self.line is not None else "")
            where += f", in {self.function})" if self.function else ")"
        return f"{self.type}: {self.message}{where}" if self.message else f"{self.type}{where}"

    @classmethod
    def from_wire(cls, error: object) -> RemoteError:
        """The exception for a reply's ``error`` dict; malformed fields are replaced, text is capped."""
        data = error if isinstance(error, dict) else {}
        kind = _text_field(data.get("type"), MAX_NAME) or "grader.ProtocolError"
        fields: dict[str, Any] = {
            "type": kind,
            "message": _text_field(data.get("message"), MAX_MESSAGE) or "",
            "file": _text_field(data.get("file"), MAX_NAME),
            "line": data.get("line") if type(data.get("line")) is int else None,
            "function": _text_field(data.get("function"), MAX_NAME),
        }
        if kind == "NotImplementedError":
            return RemoteNotImplementedError(**fields)
        return cls(**fields)


class RemoteNotImplementedError(NotImplementedError, RemoteError):
    """A ``NotImplementedError`` raised by the student's function (a stub: "not attempted")."""

    def __init__(self, **fields: Any) -> None:
        RemoteError.__init__(self, **fields)


def _text_field(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


# --- Starting a worker ---------------------------------------------------------------------------


def start_worker(
    *,
    python: str,
    worker_script: Path,
    modules: Path,
    argv_prefix: Sequence[str] = (),
    site_dirs: Sequence[str] = (),
    env: Mapping[str, str],
    cwd: Path,
    stdout: Path,
    stderr: Path,
) -> WorkerProcess:
    """Spawn a worker in its own session and return it connected; it is ready once ``hello`` answers.

    The worker is started by :func:`start_connected`; ``--rpc-fd`` names its end of the socketpair.
    """

    def command(fd: int) -> list[str]:
        argv = [
            *argv_prefix,
            python, "-I", str(worker_script),
            "--rpc-fd", str(fd),
            "--modules", str(modules),
        ]  # fmt: skip
        for site_dir in site_dirs:
            argv += ["--site-dir", site_dir]
        return argv

    process, sock = start_connected(command, env=env, cwd=cwd, stdout=stdout, stderr=stderr)
    return WorkerProcess(process=process, sock=sock)


def start_connected(
    command: Callable[[int], Sequence[str]],
    *,
    kind: socket.SocketKind = socket.SOCK_STREAM,
    env: Mapping[str, str],
    cwd: Path,
    stdout: Path,
    stderr: Path,
) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start ``command(fd)`` in a session of its own, and our end of a unix socketpair (of ``kind``) to it.

    ``fd`` is the number of its end, inherited (and, ``subprocess`` being unable to renumber
    descriptors without a thread-unsafe ``preexec_fn``, the trusted side's number too); every other
    descriptor is closed. It gets exactly ``env``, stdin from /dev/null, and stdout and stderr
    appended to the given files.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, kind)
    try:
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            process = subprocess.Popen(
                command(theirs.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(theirs.fileno(),),
                close_fds=True,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return process, ours


def reap_group(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Wait up to ``timeout`` seconds for ``process`` (a session leader, as :func:`start_connected`
    starts it) to exit, else SIGKILL its process group; either way, reap it."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- The worker's process ------------------------------------------------------------------------


class ProcessHandle(Protocol):
    """The process behind a :class:`WorkerProcess`: is it running, and kill it with all it started."""

    @property
    def pid(self) -> int:
        """The process id (as its own namespace sees it, for a sandboxed worker)."""
        ...

    def exit_code(self) -> int | None:
        """None while it runs, then its exit status (below 0: the signal that killed it)."""
        ...

    def kill(self, *, wait: bool) -> None:
        """SIGKILL it and every process it started; ``wait``: until they are gone and reaped.

        Safe to call again, and from any thread.
        """
        ...


class PopenHandle:
    """A worker started by :func:`start_worker`, in a session of its own: its process group is its tree."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        return self._process.pid

    def exit_code(self) -> int | None:
        """See :meth:`ProcessHandle.exit_code`.

        It never reaps (where ``os.waitid`` exists), so the process group id stays ours until :meth:`kill`.
        """
        if self._process.returncode is not None:
            return self._process.returncode
        if not hasattr(os, "waitid"):  # macOS before Python 3.13: reaping is the only way to ask
            return self._process.poll()
        try:
            info = os.waitid(os.P_PID, self._process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._process.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def kill(self, *, wait: bool) -> None:
        # The worker leads its own session, so its pid is the group id; the group stays reserved
        # until the leader is reaped, which only a waiting kill does, after signalling.
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
        if wait:
            self._process.wait()


# --- The worker, seen from the trusted side ------------------------------------------------------


_DEAD = object()  # put in the control queue when the worker is gone


class _Channel:
    """One of the worker's channels, used by one calling thread at a time (see :mod:`grader.worker`)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = FrameReader(sock)


@dataclass
class _Request:
    """One call in flight: the callables it passed, and what those raised here."""

    callbacks: dict[int, Callable[..., Any]] = field(default_factory=dict)
    raised: dict[str, BaseException] = field(default_factory=dict)

    def register(self, function: Callable[..., Any]) -> int:
        number = len(self.callbacks) + 1
        self.callbacks[number] = function
        return number


class WorkerProcess:
    """A running worker: thread-safe ``call``, plus ``hello``, ``import_module``, ``kill``.

    Each calling thread borrows a channel of its own (at most ``CALL_THREADS`` at once, the
    others wait for one), sends its request and reads its own reply: no thread stands between a
    caller and the worker. ``hello`` and ``import_module`` go one at a time on the control
    connection, whose reader thread also notices at once when the worker exits or breaks the
    protocol. Use it as a context manager, or call :meth:`kill` when done; workers still running
    at interpreter exit are killed.
    """

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes] | ProcessHandle,
        sock: socket.socket,
        client_name: ClientNamer | None = None,
    ) -> None:
        self.client_name = client_name
        self._process: ProcessHandle = PopenHandle(process) if isinstance(process, subprocess.Popen) else process
        self._sock = sock
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # guards _dead, _killed, _channels, _idle, _control_id
        self._send_lock = threading.Lock()  # the control connection's writers
        self._control_lock = threading.Lock()  # one control request at a time
        self._control_id: int | None = None  # the control request awaiting its reply
        self._control_replies: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(CALL_THREADS)
        self._channels: set[_Channel] = set()
        self._idle: list[_Channel] = []
        self._dead: str | None = None
        self._killed = False
        self._reader = threading.Thread(target=self._read_control, name=f"worker-{process.pid}-reader", daemon=True)
        _LIVE.add(self)
        self._reader.start()

    # -- lifecycle --

    @property
    def pid(self) -> int:
        """The spawned process (the first of ``argv_prefix``, or the worker itself)."""
        return self._process.pid

    def alive(self) -> bool:
        """True while the process runs and its connection is usable."""
        return self._dead is None and self._running()

    def kill(self) -> None:
        """SIGKILL the worker and all it started, close the connections and reap; safe to call twice."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
        _LIVE.discard(self)
        self._signal_group()
        self._fail("the worker was killed")
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if threading.current_thread() is not self._reader:
            self._reader.join(READER_JOIN_S)
        with self._send_lock:
            self._sock.close()
        with self._lock:
            idle, self._idle = self._idle, []
        for channel in idle:  # a borrowed channel is closed by its borrower, who sees WorkerDied
            self._discard(channel)
        self._process.kill(wait=True)

    def shutdown(self, *, timeout: float = 1.0) -> None:
        """Ask the worker to exit, wait up to ``timeout`` seconds, then :meth:`kill` it regardless."""
        deadline = time.monotonic() + timeout
        if self.alive():
            with contextlib.suppress(WorkerError), self._send_lock:
                self._send_all(self._sock, pack_frame({"op": "shutdown"}), deadline=deadline)
            # Wait without reaping, so kill() can still signal whatever the worker left behind.
            while self._running() and time.monotonic() < deadline:
                time.sleep(0.005)
        self.kill()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()

    # -- requests --

    def hello(
        self, url: str, username: str | None = None, password: str | None = None, *, timeout: float = CONTROL_TIMEOUT_S
    ) -> None:
        """Give the worker the Redis it connects to; credentials travel only here."""
        credentials = {"url": url, "username": username, "password": password}
        reply = self._control({"op": "hello", "redis": credentials}, timeout)
        if reply.get("ok") is not True:
            raise RemoteError.from_wire(reply.get("error"))

    def import_module(self, name: str, *, timeout: float = CONTROL_TIMEOUT_S) -> list[str]:
        """Import ``name``.py in the worker; its public callables, or :class:`RemoteError`."""
        reply = self._control({"op": "import", "module": name}, timeout)
        functions = reply.get("functions")
        if reply.get("ok") is not True or type(functions) is not list:
            raise RemoteError.from_wire(reply.get("error"))
        return [f for f in functions if isinstance(f, str)]

    def call(
        self,
        module: str,
        function: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None,
        client_name: ClientNamer | None = None,
    ) -> Any:
        """Run ``module.function(*args, **kwargs)`` in the worker and return its result, exact types kept.

        Redis clients among the arguments become the worker's own clients (named by
        ``client_name``, else this worker's ``client_name``, else ``"main"``); callables are
        served back here, in this thread, while the call runs. Raises what the student code
        raised as :class:`RemoteError` (:class:`RemoteNotImplementedError` for a stub), the
        original exception when a callback's exception propagated out, :class:`WorkerTimeout`
        after ``timeout`` seconds, :class:`WorkerDied` if the worker goes away.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        request = _Request()
        namer = _client_namer(client_name or self.client_name)
        message = {
            "op": "call",
            "module": module,
            "function": function,
            "args": [encode(a, register_callable=request.register, client_name=namer) for a in args],
            "kwargs": {
                str(k): encode(v, register_callable=request.register, client_name=namer)
                for k, v in (kwargs or {}).items()
            },
        }
        return self._outcome(request, self._request(message, request, deadline))

    # -- internals: requests --

    def _control(self, message: Message, timeout: float) -> Message:
        """Send ``message`` on the control connection and wait for its reply."""
        deadline = time.monotonic() + timeout
        with self._control_lock:
            number = next(self._ids)
            with self._lock:
                self._control_id = number
            try:
                with self._send_lock:
                    self._send_all(self._sock, pack_frame({**message, "id": number}), deadline=deadline)
                return self._await(lambda wait: self._control_replies.get(timeout=wait), deadline)
            finally:
                with self._lock:
                    self._control_id = None

    def _request(self, message: Message, request: _Request, deadline: float | None) -> Message:
        """Send ``message`` on a borrowed channel and return its reply, serving callbacks meanwhile."""
        try:
            frame = pack_frame({**message, "id": next(self._ids)})
        except ProtocolError as exc:
            raise UnsupportedValue(f"arguments too large to send: {exc}") from None
        channel = self._borrow(deadline)
        reusable = False
        try:
            self._send_all(channel.sock, frame, deadline=deadline)
            while True:
                reply = self._receive(channel, deadline)
                if reply.get("op") != "callback":
                    reusable = True
                    return reply
                self._serve_callback(channel, request, reply, deadline=deadline)
        finally:
            self._give_back(channel, reusable=reusable)

    def _borrow(self, deadline: float | None) -> _Channel:
        """An idle channel, or a new one; waits while ``CALL_THREADS`` are in use."""
        while not self._slots.acquire(timeout=LIVENESS_POLL_S):
            if self._dead is not None:
                raise WorkerDied(self._dead)
            if deadline is not None and time.monotonic() >= deadline:
                raise WorkerTimeout("every channel to the worker stayed busy")
        try:
            with self._lock:
                if self._dead is not None:
                    raise WorkerDied(self._dead)
                if self._idle:
                    return self._idle.pop()
            return self._open_channel(deadline)
        except BaseException:
            self._slots.release()
            raise

    def _open_channel(self, deadline: float | None) -> _Channel:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        channel = _Channel(ours)
        with self._lock:
            self._channels.add(channel)
        try:
            with theirs, self._send_lock:
                if self._dead is not None:
                    raise WorkerDied(self._dead)
                self._send_all(self._sock, pack_frame({"op": "channel"}), deadline=deadline, fd=theirs.fileno())
        except BaseException:
            self._discard(channel)
            raise
        return channel

    def _give_back(self, channel: _Channel, *, reusable: bool) -> None:
        """Return a borrowed channel; one whose exchange did not end cleanly is closed instead."""
        with self._lock:
            keep = reusable and self._dead is None
            if keep:
                self._idle.append(channel)
        if not keep:
            self._discard(channel)
        self._slots.release()

    def _discard(self, channel: _Channel) -> None:
        with self._lock:
            self._channels.discard(channel)
        channel.sock.close()

    def _receive(self, channel: _Channel, deadline: float | None) -> Message:
        """The next message on ``channel``; raises WorkerTimeout or WorkerDied."""

        def read(timeout: float) -> object:
            channel.sock.settimeout(timeout)
            try:
                message = channel.reader.read()
            except TimeoutError:
                raise queue.Empty from None
            except ProtocolError as exc:
                self._broken(f"protocol error: {exc}")
            except OSError as exc:
                self._broken(f"the connection to the worker broke: {exc}")
            if message is None:
                self._broken("the worker closed its connection")
            if message.get("op") != "callback" and "id" not in message:
                self._broken("protocol error: a message that is neither a reply nor a callback")
            return message

        return self._await(read, deadline)

    def _await(self, read: Callable[[float], object], deadline: float | None) -> Message:
        """What ``read(timeout)`` returns (it raises ``queue.Empty`` on a timeout), polling for the
        worker's exit: raises WorkerTimeout after ``deadline``, WorkerDied once the worker is gone."""
        exited_at: float | None = None
        while True:
            if self._dead is not None:
                raise WorkerDied(self._dead)
            wait = LIVENESS_POLL_S if deadline is None else min(LIVENESS_POLL_S, deadline - time.monotonic())
            if wait <= 0:
                raise WorkerTimeout("the worker did not answer in time")
            try:
                item = read(wait)
            except queue.Empty:
                # A descendant may hold the socket open after the worker exited: notice the exit.
                if not self._running():
                    if exited_at is None:
                        exited_at = time.monotonic()
                    elif time.monotonic() - exited_at >= LIVENESS_POLL_S:
                        self._fail(f"the worker exited with status {self._exit_code()}")
                continue
            if item is _DEAD:
                raise WorkerDied(self._dead or "the worker died")
            assert isinstance(item, dict)
            return item

    def _broken(self, reason: str) -> NoReturn:
        """The worker cannot talk: stop it now, and raise WorkerDied (with the first reason given)."""
        self._fail(reason)
        self._signal_group()
        raise WorkerDied(self._dead or reason)

    def _outcome(self, request: _Request, reply: Message) -> Any:
        if "result" in reply:
            try:
                return decode(reply["result"])
            except ProtocolError as exc:
                raise RemoteError(type="grader.ProtocolError", message=str(exc)) from None
        error = reply.get("error")
        token = error.get("callback_token") if isinstance(error, dict) else None
        if isinstance(token, str) and token in request.raised:
            raise request.raised[token]
        raise RemoteError.from_wire(error)

    def _serve_callback(
        self, channel: _Channel, request: _Request, message: Message, *, deadline: float | None
    ) -> None:
        reply: Message = {"callback_reply": message.get("request"), "call": message.get("call")}
        escaping: BaseException | None = None
        try:
            function = request.callbacks.get(message.get("callback"))  # type: ignore[arg-type]
            raw_args, raw_kwargs = message.get("args"), message.get("kwargs")
            if function is None or type(raw_args) is not list or type(raw_kwargs) is not dict:
                raise RemoteError(type="grader.ProtocolError", message="malformed callback request")
            args = [decode(a) for a in raw_args]
            kwargs = {str(k): decode(v) for k, v in raw_kwargs.items()}
            reply["result"] = encode(function(*args, **kwargs))
        except BaseException as exc:
            token = secrets.token_hex(8)
            request.raised[token] = exc
            try:
                text = str(exc)
            except Exception:
                text = ""
            reply["error"] = {"type": type_name(type(exc)), "message": text[:MAX_MESSAGE], "token": token}
            if not isinstance(exc, Exception):
                escaping = exc  # e.g. pytest's timeout or KeyboardInterrupt: stop waiting
        try:
            frame = pack_frame(reply)
        except ProtocolError:
            token = secrets.token_hex(8)
            request.raised[token] = UnsupportedValue("a callback result too large to send")
            frame = pack_frame({**reply, "result": None, "error": {"type": "grader.UnsupportedValue", "token": token}})
        self._send_all(channel.sock, frame, deadline=deadline)
        if escaping is not None:
            raise escaping

    # -- internals: the connections --

    def _send_all(self, sock: socket.socket, frame: bytes, *, deadline: float | None, fd: int | None = None) -> None:
        """Send all of ``frame`` (with descriptor ``fd`` attached) without blocking past ``deadline``.

        The caller owns ``sock`` meanwhile; a send cut off by the deadline stops the worker.
        """
        view = memoryview(frame)
        while view:
            if self._dead is not None:
                raise WorkerDied(self._dead)
            wait = LIVENESS_POLL_S if deadline is None else min(LIVENESS_POLL_S, deadline - time.monotonic())
            if wait <= 0:
                if len(view) < len(frame):
                    self._fail("a message to the worker was cut off by a timeout")
                    self._signal_group()
                raise WorkerTimeout("the worker stopped reading its requests")
            try:
                if fd is not None:
                    sent = socket.send_fds(sock, [view], [fd], socket.MSG_DONTWAIT)
                else:
                    sent = sock.send(view, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                poll = select.poll()  # the socket's own timeout is its reader's business
                poll.register(sock, select.POLLOUT)
                poll.poll(wait * 1000)
                continue
            except OSError as exc:
                self._broken(f"the connection to the worker broke: {exc}")
            fd = None
            view = view[sent:]

    def _read_control(self) -> None:
        """Hand each control reply to the request awaiting it; anything else, or the end, means trouble."""
        reader = FrameReader(self._sock)
        reason = "the worker closed its connection"
        try:
            while (message := reader.read()) is not None:
                with self._lock:
                    expected = self._control_id
                if expected is None or message.get("id") != expected:
                    reason = "protocol error: an unexpected message on the control connection"
                    break
                self._control_replies.put(message)
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
        except OSError as exc:
            reason = f"the connection to the worker broke: {exc}"
        self._fail(reason)
        self._signal_group()  # a worker that cannot talk is of no use; stop it now

    def _fail(self, reason: str) -> None:
        """Mark the worker dead and wake every caller blocked on a channel (it raises WorkerDied)."""
        with self._lock:
            if self._dead is not None:
                return
            self._dead = reason
            channels = list(self._channels)
        self._control_replies.put(_DEAD)
        for channel in channels:
            with contextlib.suppress(OSError):
                channel.sock.shutdown(socket.SHUT_RDWR)

    # -- internals: the process --

    def _running(self) -> bool:
        return self._exit_code() is None

    def _exit_code(self) -> int | None:
        """The exit status (negative: the killing signal) once the process ended, else None."""
        return self._process.exit_code()

    def _signal_group(self) -> None:
        """SIGKILL the worker and all it started, without waiting (:meth:`kill` waits)."""
        self._process.kill(wait=False)


def _client_namer(namer: ClientNamer | None) -> Callable[[object], str | None]:
    """The codec hook: a name for Redis clients (anything with a ``connection_pool``), None otherwise."""

    def name(value: object) -> str | None:
        if not hasattr(value, "connection_pool"):
            return None
        unreachable = getattr(value, "_grader_unreachable", None)
        if unreachable in ("connection", "timeout"):
            return f"unreachable:{unreachable}"
        return namer(value) if namer is not None else "main"

    return name


_LIVE: set[WorkerProcess] = set()


@atexit.register
def _kill_leftovers() -> None:
    for worker in list(_LIVE):
        worker.kill()


# --- A worker's module, seen as a module ---------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    worker: WorkerProcess
    module_name: str
    functions: frozenset[str]
    client_name: ClientNamer | None
    timeout: float | None


class RemoteFunction:
    """A function of a :class:`RemoteModule`: calling it runs the student's function in the worker."""

    def __init__(self, target: _Target, name: str) -> None:
        self._target = target
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        target = self._target
        return target.worker.call(
            target.module_name,
            self.__name__,
            args,
            kwargs,
            timeout=target.timeout,
            client_name=target.client_name,
        )

    def __repr__(self) -> str:
        return f"<remote function {self._target.module_name}.{self.__name__}>"


class RemoteModule:
    """The student module ``module_name`` in ``worker``: ``remote.f(r, ...)`` calls it there.

    Only the names in ``functions`` exist (the proxy has no public attributes of its own, so
    no student function is shadowed); any other name raises AttributeError. ``timeout``
    bounds each call (None: the test's own timeout applies).
    """

    def __init__(
        self,
        worker: WorkerProcess,
        module_name: str,
        functions: Sequence[str],
        client_name: ClientNamer | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        self._target = _Target(worker, module_name, frozenset(functions), client_name, timeout)

    def __getattr__(self, name: str) -> RemoteFunction:
        target: _Target | None = self.__dict__.get("_target")
        if target is None or name.startswith("_") or name not in target.functions:
            module = target.module_name if target is not None else "the module"
            raise AttributeError(f"{module}.py defines no function {name}()")
        return RemoteFunction(target, name)

    def __dir__(self) -> list[str]:
        return sorted(self._target.functions)

    def __repr__(self) -> str:
        return f"<remote module {self._target.module_name} in worker {self._target.worker.pid}>"
