"""The student worker: imports submission modules and runs their functions for the trusted side.

Runs inside the sandbox, in a child the zygote (``grader.zygote``) forked, which calls
:func:`prepare` once and :func:`run` in each child; or as a script::

    python -I worker.py --rpc-fd N --modules DIR [--site-dir DIR ...]

It uses only the standard library and ``redis`` (never ``grader``), because it is copied next to
the student modules. The trusted side imports this file as ``grader.worker`` for the frame
format and the value codec, so importing it has no side effects.

Transport: SOCK_STREAM unix sockets; a frame is a 4-byte big-endian length and that many bytes of
JSON (ASCII, so also UTF-8), at most ``MAX_FRAME`` bytes.

The socket at fd N is the control connection, served by the main thread; the trusted side
sends one request at a time on it. Every request carries an ``id`` that its reply echoes:

* ``{"op": "hello", "redis": {"url", "username", "password"}}`` → ``{"ok": true}``
* ``{"op": "import", "module": "counter"}`` → ``{"ok": true, "functions": [...]}`` or ``{"error": {...}}``
* ``{"op": "channel"}`` with one socket attached (``SCM_RIGHTS``) → no reply: the socket is a new
  channel, served by a thread of its own
* ``{"op": "shutdown"}`` → the worker exits 0 without replying

Calls go on channels, one at a time per channel: the trusted side lends each channel to one
calling thread at a time, which reads its own reply, so concurrent calls run concurrently:

* ``{"op": "call", "module", "function", "args": [...], "kwargs": {...}}`` → ``{"result": v}`` or
  ``{"error": {...}}``

While a call runs, student code calling a callable argument sends, on the call's channel,
``{"op": "callback", "call", "callback", "request", "args", "kwargs"}`` and blocks until
``{"callback_reply": request, "call", "result"}`` or ``{..., "error": {"type", "message", "token"}}``;
once the call has answered, its callables raise :class:`CallbackError` without asking.
An error dict is ``{"type", "message", "file", "line", "function"}`` plus ``"callback_token"``
when the exception is the :class:`CallbackError` a failed callback raised.
"""

from __future__ import annotations

import argparse
import base64
import builtins
import contextlib
import importlib.util
import io
import itertools
import json
import math
import os
import selectors
import socket
import struct
import sys
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

MAX_FRAME = 8 * 1024 * 1024
MAX_DEPTH = 32
MAX_ITEMS = 100_000
MAX_INT_BITS = 14_000  # about 4200 digits: below the interpreter's int/str conversion limit
MAX_MESSAGE = 500
MAX_NAME = 200
CALL_THREADS = 16  # channels the trusted side opens at most: calls that run at once
MAX_PASSED_FDS = 4  # descriptors accepted with one read of the control connection
UNREACHABLE_TIMEOUT_S = 0.1  # a timeout fires no earlier on a busy machine, only later
HEADER = struct.Struct(">I")
PLAIN_VALUES_HINT = "return plain values (int, str, list, dict, ...)"
UNREACHABLE_PREFIX = "unreachable:"

Message = dict[str, Any]
_CMSG_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0)


# --- Errors --------------------------------------------------------------------------------------


class ProtocolError(Exception):
    """A frame or message that breaks the protocol (too large, not JSON, malformed)."""


class UnsupportedValue(Exception):
    """A value the codec does not carry; ``what`` names it, e.g. ``"an object of type Foo"``."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class CallbackError(Exception):
    """Raised in student code when a callback the test passed raised; ``token`` names that exception."""

    def __init__(self, message: str, *, token: str | None) -> None:
        super().__init__(message)
        self.token = token


# --- Values codec --------------------------------------------------------------------------------

_SCALARS = (type(None), bool, int, str)
_FLOAT_NAMES = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def type_name(cls: type) -> str:
    """``"ValueError"`` for a builtin type, else ``"module.QualName"`` (capped)."""
    name = getattr(cls, "__qualname__", "?")
    module = getattr(cls, "__module__", "?")
    if module == "builtins" and getattr(builtins, name, None) is cls:
        return str(name)[:MAX_NAME]
    return f"{module}.{name}"[:MAX_NAME]


def encode(
    value: object,
    *,
    register_callable: Callable[[Callable[..., Any]], int] | None = None,
    client_name: Callable[[object], str | None] | None = None,
) -> Any:
    """``value`` as JSON-able data, exact types kept; raises :class:`UnsupportedValue`.

    Carries None, bool, int, float, str, bytes, list, tuple, set, frozenset and dict, by exact
    type (subclasses are refused), nested at most ``MAX_DEPTH`` deep with at most
    ``MAX_ITEMS`` items in all. ``client_name`` may name a Redis client (``{"$client": name}``);
    ``register_callable`` may turn a callable into ``{"$callable": id}``.
    """
    budget = [MAX_ITEMS]

    def walk(item: object, depth: int) -> Any:
        kind = type(item)
        if kind in _SCALARS:
            if kind is int and isinstance(item, int) and item.bit_length() > MAX_INT_BITS:
                raise UnsupportedValue("an int with more than 4000 digits")
            return item
        if kind is float:
            assert isinstance(item, float)
            if math.isfinite(item):
                return item
            return {"$float": "nan" if math.isnan(item) else ("inf" if item > 0 else "-inf")}
        if kind is bytes:
            assert isinstance(item, bytes)
            return {"$bytes": base64.b64encode(item).decode("ascii")}
        if kind in (list, tuple, set, frozenset, dict):
            if depth >= MAX_DEPTH:
                raise UnsupportedValue(f"a value nested more than {MAX_DEPTH} levels deep")
            assert isinstance(item, list | tuple | set | frozenset | dict)
            budget[0] -= len(item)
            if budget[0] < 0:
                raise UnsupportedValue(f"a value with more than {MAX_ITEMS} items")
            if kind is dict:
                assert isinstance(item, dict)
                return {"$dict": [[walk(k, depth + 1), walk(v, depth + 1)] for k, v in item.items()]}
            items = [walk(x, depth + 1) for x in item]
            if kind is list:
                return items
            return {f"${kind.__name__}": items}
        if client_name is not None:
            name = client_name(item)
            if name is not None:
                return {"$client": name}
        if register_callable is not None and callable(item):
            return {"$callable": register_callable(item)}
        raise UnsupportedValue(f"an object of type {type_name(kind)}")

    return walk(value, 0)


def decode(
    data: Any,
    *,
    make_callable: Callable[[int], Callable[..., Any]] | None = None,
    make_client: Callable[[str], Any] | None = None,
) -> Any:
    """The value :func:`encode` encoded as ``data``; raises :class:`ProtocolError` if malformed.

    ``{"$callable": id}`` and ``{"$client": name}`` are accepted only when the matching
    factory is given.
    """
    budget = [MAX_ITEMS]

    def contents(items: Any, depth: int, *, pairs: bool = False) -> list[Any]:
        if type(items) is not list:
            raise ProtocolError("malformed value: expected a list")
        if depth >= MAX_DEPTH:
            raise ProtocolError(f"value nested more than {MAX_DEPTH} levels deep")
        budget[0] -= len(items)
        if budget[0] < 0:
            raise ProtocolError(f"value with more than {MAX_ITEMS} items")
        if not pairs:
            return [walk(x, depth + 1) for x in items]
        if any(type(p) is not list or len(p) != 2 for p in items):
            raise ProtocolError("malformed value: a dict entry is not a [key, value] pair")
        return [(walk(k, depth + 1), walk(v, depth + 1)) for k, v in items]

    def walk(item: Any, depth: int) -> Any:
        kind = type(item)
        if kind in _SCALARS:
            return item
        if kind is float:
            if not math.isfinite(item):
                raise ProtocolError("malformed value: a bare non-finite float")
            return item
        if kind is list:
            return contents(item, depth)
        if kind is not dict or len(item) != 1:
            raise ProtocolError("malformed value")
        ((tag, inner),) = item.items()
        try:
            if tag == "$tuple":
                return tuple(contents(inner, depth))
            if tag == "$set":
                return set(contents(inner, depth))
            if tag == "$frozenset":
                return frozenset(contents(inner, depth))
            if tag == "$dict":
                return dict(contents(inner, depth, pairs=True))
            if tag == "$bytes" and type(inner) is str:
                return base64.b64decode(inner, validate=True)
            if tag == "$float" and type(inner) is str and inner in _FLOAT_NAMES:
                return _FLOAT_NAMES[inner]
            if tag == "$callable" and make_callable is not None and type(inner) is int:
                return make_callable(inner)
            if tag == "$client" and make_client is not None and type(inner) is str:
                return make_client(inner)
        except (TypeError, ValueError) as exc:  # unhashable set items or dict keys, bad base64
            raise ProtocolError(f"malformed value: {exc}") from None
        raise ProtocolError(f"malformed value tagged {str(tag)[:40]!r}")

    return walk(data, 0)


# --- Frames --------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"bare {name} in a message")


def pack_frame(message: Message) -> bytes:
    """``message`` as one frame; raises :class:`ProtocolError` when it exceeds ``MAX_FRAME``."""
    body = json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"message of {len(body)} bytes exceeds the {MAX_FRAME}-byte frame limit")
    return HEADER.pack(len(body)) + body


def parse_frame(body: bytes) -> Message:
    """The JSON object in a frame's body; raises :class:`ProtocolError`."""
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"frame is not valid JSON: {str(exc)[:100]}") from None
    if type(message) is not dict:
        raise ProtocolError("frame is not a JSON object")
    return message


class FrameReader:
    """Reads frames from a stream socket, buffering; a socket timeout leaves the buffer intact.

    With ``fds``, descriptors passed along with the data (``SCM_RIGHTS``) are appended to it as
    they arrive, not inherited by child processes.
    """

    def __init__(self, sock: socket.socket, *, fds: list[int] | None = None) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._fds = fds

    def read(self) -> Message | None:
        """The next message, or None at a clean end of stream; raises :class:`ProtocolError`."""
        buffer = self._buffer
        while True:
            if len(buffer) >= HEADER.size:
                (size,) = HEADER.unpack_from(buffer)
                if size > MAX_FRAME:
                    raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
                end = HEADER.size + size
                if len(buffer) >= end:
                    body = bytes(buffer[HEADER.size : end])
                    del buffer[:end]
                    return parse_frame(body)
            chunk = self._receive()
            if not chunk:
                if buffer:
                    raise ProtocolError("connection closed in the middle of a frame")
                return None
            buffer += chunk

    def _receive(self) -> bytes:
        if self._fds is None:
            return self._sock.recv(1 << 18)
        data, fds, _, _ = socket.recv_fds(self._sock, 1 << 18, MAX_PASSED_FDS, _CMSG_CLOEXEC)
        for fd in fds:
            os.set_inheritable(fd, False)  # where MSG_CMSG_CLOEXEC does not exist
        self._fds.extend(fds)
        return data


# --- The worker ----------------------------------------------------------------------------------


def _error(type_: str, message: str) -> Message:
    return {"type": type_, "message": message[:MAX_MESSAGE], "file": None, "line": None, "function": None}


def _unknown_op(op: object) -> Message:
    return {"error": _error("grader.ProtocolError", f"unknown op {str(op)[:40]!r}")}


def _reply_frame(request: Message, body: Message) -> bytes:
    return pack_frame({"id": request.get("id"), **body})


class _Channel:
    """One channel's socket, as its serving thread and the callbacks of its current call share it.

    The lock orders what is written and read while a call runs: a callback's request and its
    reply, and the call's answer, after which the call's callables fail without asking.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.reader = FrameReader(sock)
        self._sock = sock
        self._lock = threading.Lock()
        self._call: object = None  # the id of the call running, None between calls
        self._requests = itertools.count(1)

    def finish(self, frame: bytes) -> bool:
        """Send the answer to the request being served; False once the trusted side is gone."""
        with self._lock:
            self._call = None
            try:
                self._sock.sendall(frame)
            except OSError:
                return False
        return True

    def begin(self, call_id: int) -> None:
        """Call ``call_id`` is being served: its callables may ask, until :meth:`finish`."""
        self._call = call_id

    def callback(self, call_id: int, callback_id: int) -> Callable[..., Any]:
        """The stand-in for callable ``callback_id`` of call ``call_id``, which runs it on the trusted side."""

        def callback(*args: Any, **kwargs: Any) -> Any:
            return self._invoke(call_id, callback_id, args, kwargs)

        return callback

    def _invoke(self, call_id: int, callback_id: int, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        request = next(self._requests)
        try:
            frame = pack_frame(
                {
                    "op": "callback",
                    "call": call_id,
                    "callback": callback_id,
                    "request": request,
                    "args": [encode(a) for a in args],
                    "kwargs": {k: encode(v) for k, v in kwargs.items()},
                }
            )
        except ProtocolError:
            raise UnsupportedValue("callback arguments too large to send (over 8 MiB)") from None
        with self._lock:
            if self._call != call_id:
                raise CallbackError("the call this callback belongs to is over", token=None)
            try:
                self._sock.sendall(frame)
                reply = self.reader.read()
                while reply is not None and reply.get("callback_reply") != request:
                    reply = self.reader.read()
            except (OSError, ProtocolError):
                reply = None
        if reply is None:
            raise CallbackError("the grader stopped waiting for this call", token=None)
        error = reply.get("error")
        if error is not None:
            if type(error) is not dict:
                raise CallbackError("the callback failed", token=None)
            token = error.get("token")
            message = f"{str(error.get('type'))[:MAX_NAME]}: {str(error.get('message'))[:MAX_MESSAGE]}"
            raise CallbackError(message, token=token if type(token) is str else None)
        return decode(reply.get("result"))


class Worker:
    """Serves the control connection and a thread per channel: imports modules, runs calls, proxies callbacks."""

    def __init__(self, *, sock: socket.socket, modules: Path) -> None:
        self._sock = sock
        self._modules = modules.resolve()
        self._prefix = str(self._modules) + os.sep
        self._loaded: dict[str, ModuleType] = {}
        self._public_names: dict[str, str] = {}  # private module name -> "counter"
        self._redis: dict[str, Any] | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._cleanup: list[Callable[[], None]] = []

    # -- the loops --

    def serve(self) -> int:
        """Take channels until shutdown (0), end of stream (0) or a protocol error (2)."""
        fds: list[int] = []
        reader = FrameReader(self._sock, fds=fds)
        while True:
            try:
                message = reader.read()
            except (ProtocolError, OSError) as exc:
                print(f"worker: {exc}", file=sys.__stderr__)
                return 2
            if message is None:
                return 0
            op = message.get("op")
            if op == "channel" and fds:
                channel = socket.socket(fileno=fds.pop(0))
                threading.Thread(target=self._serve_channel, args=(channel,), name="student-call", daemon=True).start()
            elif op == "hello":
                self._reply(message, self._hello(message))
            elif op == "import":  # in the main thread, where a module may set signal handlers
                self._reply(message, self._import(message.get("module")))
            elif op == "shutdown":
                return 0
            else:
                self._reply(message, _unknown_op(op))

    def _serve_channel(self, sock: socket.socket) -> None:
        """Answer the requests of one channel in order, until it closes."""
        channel = _Channel(sock)
        with sock:
            while True:
                try:
                    message = channel.reader.read()
                except (ProtocolError, OSError):
                    return
                if message is None:
                    return
                try:
                    frame = self._answer(channel, message)
                except BaseException as exc:  # a bug here must still answer, or the caller waits forever
                    error = _error("grader.WorkerError", f"{type(exc).__name__}: {exc}")
                    frame = _reply_frame(message, {"error": error})
                if not channel.finish(frame):
                    return

    def _answer(self, channel: _Channel, message: Message) -> bytes:
        if message.get("op") == "call":
            return self._run_call(channel, message)
        return _reply_frame(message, _unknown_op(message.get("op")))

    def close(self) -> None:
        """Best-effort cleanup before exit (listening sockets, temporary files)."""
        for action in self._cleanup:
            with contextlib.suppress(Exception):
                action()

    def _reply(self, request: Message, body: Message) -> None:
        """Answer a request of the control connection."""
        try:
            self._sock.sendall(_reply_frame(request, body))
        except OSError:  # the trusted side is gone: nothing left to do
            _flush_and_exit(0)

    # -- hello and import --

    def _hello(self, message: Message) -> Message:
        config = message.get("redis")
        if type(config) is not dict or type(config.get("url")) is not str:
            return {"error": _error("grader.ProtocolError", "hello needs redis.url")}
        credentials = {key: config.get(key) for key in ("username", "password")}
        if any(value is not None and type(value) is not str for value in credentials.values()):
            return {"error": _error("grader.ProtocolError", "username/password must be strings")}
        self._redis = {"url": config["url"], **credentials}
        return {"ok": True}

    def _import(self, name: object) -> Message:
        if type(name) is not str or not name.isidentifier():
            return {"error": _error("grader.ProtocolError", "import needs a module name")}
        if name in self._loaded:
            return {"ok": True, "functions": _public_callables(self._loaded[name])}
        path = self._modules / f"{name}.py"
        if not path.is_file():
            return {"error": _error("FileNotFoundError", f"{name}.py is missing")}
        private = f"_student_{name}"
        spec = importlib.util.spec_from_file_location(private, path)
        if spec is None or spec.loader is None:
            return {"error": _error("ImportError", f"{name}.py cannot be loaded as a module")}
        module = importlib.util.module_from_spec(spec)
        self._public_names[private] = name
        sys.modules[private] = module
        try:
            spec.loader.exec_module(module)
            functions = _public_callables(module)
        except BaseException as exc:
            sys.modules.pop(private, None)
            return {"error": self.describe(exc)}
        self._loaded[name] = module
        return {"ok": True, "functions": functions}

    # -- calls --

    def _run_call(self, channel: _Channel, message: Message) -> bytes:
        """Run the call ``message`` asks for; the frame that answers it."""
        try:
            function = self._function(message.get("module"), message.get("function"))
            args, kwargs = self._arguments(channel, message)
        except ProtocolError as exc:
            return _reply_frame(message, {"error": _error("grader.ProtocolError", str(exc))})
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            _flush_output()
            return _reply_frame(message, {"error": self.describe(exc)})
        _flush_output()
        try:
            return _reply_frame(message, {"result": encode(result)})
        except UnsupportedValue as exc:
            return _reply_frame(message, {"error": self._unsupported("returned", exc.what)})
        except ProtocolError:
            return _reply_frame(
                message, {"error": self._unsupported("returned", "a value too large to send (over 8 MiB)")}
            )
        except Exception as exc:  # e.g. a set changed size while being encoded
            return _reply_frame(message, {"error": self.describe(exc)})

    def _function(self, module: object, function: object) -> Callable[..., Any]:
        loaded = self._loaded.get(module) if type(module) is str else None
        if loaded is None:
            raise ProtocolError(f"module {str(module)[:40]!r} is not imported")
        if type(function) is not str or function.startswith("_"):
            raise ProtocolError("call needs a public function name")
        value: object = getattr(loaded, function, None)
        if not callable(value):
            raise ProtocolError(f"{module}.py defines no function {function}()")
        return value

    def _arguments(self, channel: _Channel, message: Message) -> tuple[list[Any], dict[str, Any]]:
        call_id = message.get("id")
        if type(call_id) is not int:
            raise ProtocolError("call needs an integer id")
        channel.begin(call_id)
        raw_args, raw_kwargs = message.get("args", []), message.get("kwargs", {})
        if type(raw_args) is not list or type(raw_kwargs) is not dict:
            raise ProtocolError("call needs args (list) and kwargs (object)")

        def value(data: Any) -> Any:
            return decode(data, make_callable=lambda c: channel.callback(call_id, c), make_client=self.client)

        return [value(a) for a in raw_args], {str(k): value(v) for k, v in raw_kwargs.items()}

    # -- Redis clients --

    def client(self, name: str) -> Any:
        """The worker's client called ``name``, created on first use and then shared."""
        with self._clients_lock:
            found = self._clients.get(name)
            if found is None:
                found = self._clients[name] = self._new_client(name)
            return found

    def _new_client(self, name: str) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if name.startswith(UNREACHABLE_PREFIX):
            kind = name[len(UNREACHABLE_PREFIX) :]
            if kind == "connection":
                path = os.path.join(tempfile.gettempdir(), f"grader-absent-{uuid.uuid4().hex}", "redis.sock")
            elif kind == "timeout":
                path = self._silent_listener()
            else:
                raise ProtocolError(f"unknown client {name[:40]!r}")
            return redis.Redis(
                unix_socket_path=path,
                decode_responses=True,
                socket_timeout=UNREACHABLE_TIMEOUT_S,
                socket_connect_timeout=UNREACHABLE_TIMEOUT_S,
                retry=Retry(NoBackoff(), 0),
            )
        if self._redis is None:
            raise ProtocolError("a Redis client was requested before hello")
        return redis.Redis.from_url(
            self._redis["url"],
            username=self._redis["username"],
            password=self._redis["password"],
            decode_responses=True,
            driver_info=None,  # no CLIENT SETINFO round trips on every new connection
        )

    def _silent_listener(self) -> str:
        """The address of a unix socket that accepts connections and never answers."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if sys.platform == "linux":
            address = f"\0grader-silent-{uuid.uuid4().hex}"  # abstract: nothing left on disk
        else:
            folder = tempfile.mkdtemp(prefix="grader-silent-")
            address = os.path.join(folder, "redis.sock")

            def remove() -> None:
                os.unlink(address)
                os.rmdir(folder)

            self._cleanup.append(remove)
        listener.bind(address)
        listener.listen(64)
        threading.Thread(target=_hold_connections, args=(listener,), name="silent-redis", daemon=True).start()
        return address

    # -- errors --

    def describe(self, exc: BaseException) -> Message:
        """The error dict for ``exc``: type, capped message, and the innermost student frame."""
        file = function = None
        line: int | None = None
        if isinstance(exc, SyntaxError):
            message = str(exc.msg)
            if exc.filename and str(exc.filename).startswith(self._prefix):
                file, line = os.path.basename(exc.filename), exc.lineno
        else:
            try:
                message = str(exc)
            except Exception:
                message = "<exception message could not be converted to text>"
            for frame, lineno in reversed(list(traceback.walk_tb(exc.__traceback__))):
                if frame.f_code.co_filename.startswith(self._prefix):
                    file = os.path.basename(frame.f_code.co_filename)
                    line, function = lineno, frame.f_code.co_name
                    break
        described: Message = {
            "type": self._type_name(exc),
            "message": message[:MAX_MESSAGE],
            "file": file,
            "line": line,
            "function": function,
        }
        if isinstance(exc, CallbackError) and exc.token is not None:
            described["callback_token"] = exc.token
        return described

    def _type_name(self, exc: BaseException) -> str:
        kind = type(exc)
        if kind is UnsupportedValue:
            return "grader.UnsupportedValue"
        if kind is CallbackError:
            return "grader.CallbackError"
        public = self._public_names.get(getattr(kind, "__module__", ""))
        if public is not None:
            return f"{public}.{kind.__qualname__}"[:MAX_NAME]
        return type_name(kind)

    @staticmethod
    def _unsupported(verb: str, what: str) -> Message:
        return _error("grader.UnsupportedValue", f"{verb} {what}; {PLAIN_VALUES_HINT}")


def _public_callables(module: ModuleType) -> list[str]:
    return sorted(name for name, value in list(vars(module).items()) if not name.startswith("_") and callable(value))


def _hold_connections(listener: socket.socket) -> None:
    """Accept connections on ``listener`` and read from them forever without ever answering."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if sock is listener:
                    conn, _ = listener.accept()
                    selector.register(conn, selectors.EVENT_READ)
                elif not sock.recv(65536):
                    selector.unregister(sock)
                    sock.close()
            except OSError:
                pass


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()


def _flush_and_exit(code: int) -> None:
    _flush_output()
    os._exit(code)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="worker.py", description="Run student functions for the grader.")
    parser.add_argument("--rpc-fd", type=int, required=True, help="file descriptor of the RPC socket")
    parser.add_argument("--modules", type=Path, required=True, help="folder holding the student modules")
    parser.add_argument("--site-dir", action="append", default=[], help="append to sys.path (repeatable)")
    return parser.parse_args(argv)


def prepare(*, site_dirs: Sequence[str]) -> None:
    """Ready this process to serve: the import path, unbuffered lines, redis-py imported.

    A worker started as a script does this itself; the zygote does it once for all the workers it forks.
    """
    sys.path.extend(site_dirs)
    sys.dont_write_bytecode = True
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    import redis  # noqa: F401 (fail fast, before any student code, if the sandbox lacks it)


def run(*, rpc_fd: int, modules: Path) -> None:
    """Serve the RPC socket at ``rpc_fd`` until told to stop, then exit without running atexit hooks."""
    os.set_inheritable(rpc_fd, False)
    worker = Worker(sock=socket.socket(fileno=rpc_fd), modules=modules)
    code = worker.serve()
    worker.close()
    # Student threads may still run (or hang): exit without waiting for them.
    _flush_and_exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run as a script: prepare, then serve; the process exits from :func:`run`."""
    args = _parse_args(argv)
    prepare(site_dirs=args.site_dir)
    run(rpc_fd=args.rpc_fd, modules=args.modules)
    return 0


if __name__ == "__main__":
    main()
