"""A trusted forwarding proxy between an untrusted worker's Redis client and the real server, tracing what it sends.

Student code runs in a separate process with its own client, so a trace recorded inside that
process could be forged. :class:`TracingProxy` listens on a unix socket, opens one upstream
connection per accepted client connection, forwards bytes unchanged both ways, and parses the
client's request stream as it passes, so :meth:`TracingProxy.trace` sees every command grouped
by round trip (a pipeline or MULTI/EXEC block sent at once is one round trip).

A round trip ends when the server's reply has flowed back and the client has read it: on Linux
the proxy asks the kernel (``SIOCOUTQ``) whether the client has consumed every reply byte
forwarded to it, so a large pipeline that arrives in several chunks while early replies are
already flowing back stays one round trip; elsewhere any reply forwarded since the client's
previous data ends the round trip, unless that data stopped in the middle of a command.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import selectors
import socket
import stat
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from grader.trace import Command, Trace

# SIOCOUTQ (same value as TIOCOUTQ on Linux): bytes a socket sent that its peer has not read yet.
_SIOCOUTQ: int | None = getattr(termios, "TIOCOUTQ", None)

RECV_BYTES = 256 * 1024
# Stop reading from one side while this much is waiting to be written to the other ...
HIGH_WATER_BYTES = 1024 * 1024
# ... and drop the connection if a direction ever buffers more than this.
MAX_BUFFERED_BYTES = 16 * 1024 * 1024
# Redis's own limit for an inline command or a ``*``/``$`` header line.
MAX_LINE_BYTES = 64 * 1024
# One command's size on the wire; a larger one closes the connection (it would sit in trusted memory).
MAX_COMMAND_BYTES = 16 * 1024 * 1024
MAX_CONNECTIONS = 64  # per proxy: a worker needs a handful; more only exhausts the server's clients
MAX_ARRAY_LENGTH = 2**31 - 1
UPSTREAM_CONNECT_TIMEOUT_S = 2.0
LISTEN_BACKLOG = 512
STOP_TIMEOUT_S = 10.0
# Commands a client sends while setting up a connection (redis-py's on_connect); excluded from
# traces while they precede a connection's first other command.
HANDSHAKE = frozenset({"AUTH", "HELLO", "SELECT"})
HANDSHAKE_CLIENT = frozenset({"SETINFO", "SETNAME", "MAINT_NOTIFICATIONS"})


class ProtocolError(ValueError):
    """The client's byte stream is not a Redis request stream."""


# --- Parsing the request stream ------------------------------------------------------------------


def _number(line: bytearray) -> int:
    """The integer of a ``*``/``$`` header after its type byte, as strictly as Redis reads it."""
    digits = line[1:] if line[:1] == b"-" else line
    if not digits.isdigit() or len(digits) > 18:
        raise ProtocolError(f"bad length {bytes(line)[:20]!r}")
    return int(line)


def _inline_words(line: bytes) -> list[str]:
    """The words of an inline command (``PING\\r\\n``); control bytes mean the stream is not Redis."""
    if any(b < 0x20 and b not in (0x09, 0x0D) for b in line) or b"\x7f" in line:
        raise ProtocolError("binary data where an inline command was expected")
    return line.decode("utf-8", "replace").split()


class RequestParser:
    """Split a client's request stream into commands as bytes arrive, across any chunking.

    Accepts what clients send: RESP arrays of bulk strings, and inline commands. Anything else
    raises :class:`ProtocolError`; so does a header line over ``MAX_LINE_BYTES`` or a command
    over ``MAX_COMMAND_BYTES``.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._args: list[str] = []
        self._missing = 0  # bulk strings still expected in the current array
        self._bulk = -1  # length of the bulk string awaited, -1 while its ``$`` header is awaited
        self._size = 0  # wire bytes of the current command so far

    @property
    def mid_command(self) -> bool:
        """True when the bytes fed so far stop inside a command."""
        return self._missing > 0 or bool(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Command]:
        """The commands that ``data`` completes, in order."""
        buf = self._buf
        buf += data
        commands: list[Command] = []
        pos = 0
        size = len(buf)
        while pos < size:
            if self._bulk >= 0:  # awaiting a bulk string's payload
                end = pos + self._bulk
                if end + 2 > size:
                    break
                if buf[end : end + 2] != b"\r\n":
                    raise ProtocolError("bulk string not followed by CRLF")
                self._args.append(buf[pos:end].decode("utf-8", "replace"))
                pos = end + 2
                self._bulk = -1
                self._missing -= 1
                if self._missing == 0:
                    args = self._args
                    commands.append(Command(args[0].upper(), tuple(args[1:])))
                    self._args = []
                continue
            eol = buf.find(b"\n", pos)
            if eol < 0:
                if size - pos > MAX_LINE_BYTES:
                    raise ProtocolError("header or inline command too long")
                break
            if self._missing:  # a ``$<len>`` header
                if buf[pos] != 0x24 or buf[eol - 1] != 0x0D:
                    raise ProtocolError(f"expected a bulk string header, got {bytes(buf[pos : pos + 20])!r}")
                length = _number(buf[pos + 1 : eol - 1])
                self._size += eol + 1 - pos + length + 2
                if length < 0 or self._size > MAX_COMMAND_BYTES:
                    raise ProtocolError("bulk string too long")
                self._bulk = length
            elif buf[pos] == 0x2A:  # a ``*<count>`` header
                if buf[eol - 1] != 0x0D:
                    raise ProtocolError("array header not terminated by CRLF")
                count = _number(buf[pos + 1 : eol - 1])
                if count > MAX_ARRAY_LENGTH:
                    raise ProtocolError("array too long")
                if count > 0:  # Redis ignores empty and null arrays
                    self._missing = count
                    self._size = eol + 1 - pos
            else:
                words = _inline_words(bytes(buf[pos:eol]))
                if words:
                    commands.append(Command(words[0].upper(), tuple(words[1:])))
            pos = eol + 1
        del buf[:pos]
        return commands


def _is_handshake(command: Command) -> bool:
    if command.name in HANDSHAKE:
        return True
    return command.name == "CLIENT" and bool(command.args) and command.args[0].upper() in HANDSHAKE_CLIENT


def _switches_user(command: Command) -> bool:
    """True for AUTH, and for HELLO with an AUTH clause: commands that change the connection's user."""
    if command.name == "AUTH":
        return True
    return command.name == "HELLO" and any(a.upper() == "AUTH" for a in command.args)


# --- The upstream server -------------------------------------------------------------------------


def _parse_upstream(url: str) -> tuple[str | tuple[str, int], int]:
    """``(unix path or (host, port), db)`` of a ``unix://`` or ``redis://`` URL without credentials."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("the upstream URL must not carry credentials: clients authenticate through the proxy")
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"no socket path in {url!r}")
        return parts.path, int(query.get("db", ["0"])[0])
    if parts.scheme == "redis":
        path = parts.path.strip("/")
        db = int(path) if path else int(query.get("db", ["0"])[0])
        return (parts.hostname or "localhost", parts.port or 6379), db
    raise ValueError(f"upstream must be a unix:// or redis:// URL, got {url!r}")


def _request(sock: socket.socket, *parts: bytes) -> None:
    """Send one command on a blocking ``sock`` and raise ConnectionError unless the server answers +OK."""
    sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(256)
        if not chunk:
            break
        reply += chunk
    if reply != b"+OK\r\n":
        raise ConnectionError(f"upstream refused {parts[0].decode()}: {reply[:100]!r}")


def _connect(address: str | tuple[str, int], db: int, auth: tuple[str, str] | None = None) -> socket.socket:
    """A non-blocking connection to the server, logged in as ``auth`` (user, password) when given, on
    database ``db``; raises OSError when unreachable or refused."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(UPSTREAM_CONNECT_TIMEOUT_S)
            sock.connect(address)
        except OSError:
            sock.close()
            raise
    else:
        sock = socket.create_connection(address, timeout=UPSTREAM_CONNECT_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if auth is not None:
            _request(sock, b"AUTH", auth[0].encode(), auth[1].encode())
        if db:
            _request(sock, b"SELECT", str(db).encode())
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _unread_by_peer(sock: socket.socket) -> int:
    """Bytes written to ``sock`` that its peer has not read yet (0 where the kernel cannot say)."""
    if _SIOCOUTQ is None:
        return 0
    out = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), _SIOCOUTQ, out, True)
    except OSError:
        return 0
    return out[0]


# --- Connections ---------------------------------------------------------------------------------


class _End:
    """One socket of a proxied connection and the bytes waiting to be written to it."""

    __slots__ = ("conn", "events", "is_client", "peer", "pending", "sock")

    def __init__(self, conn: _Connection, sock: socket.socket, *, is_client: bool) -> None:
        self.conn = conn
        self.sock = sock
        self.is_client = is_client
        self.pending = bytearray()
        self.events = 0
        self.peer: _End = self


class _Connection:
    """A client connection, its upstream connection, and its round-trip bookkeeping."""

    __slots__ = (
        "batch",
        "batch_index",
        "client",
        "drain",
        "handshaking",
        "parser",
        "replied",
        "upstream",
    )

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = _End(self, client, is_client=True)
        self.upstream = _End(self, upstream, is_client=False)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.parser = RequestParser()
        self.handshaking = True
        self.replied = False  # server bytes went to the client since its previous data
        self.batch: tuple[Command, ...] | None = None  # the round trip still open, as stored in a trace
        self.batch_index = -1
        self.drain: _End | None = None  # once one side closed: the end still being flushed


# --- The proxy -----------------------------------------------------------------------------------


class TracingProxy:
    """Forward Redis connections from ``listen_path`` to ``upstream`` and trace the commands sent.

    With ``auth`` (user, password) the proxy logs every upstream connection in as that user itself
    and closes any client connection that tries to log in as anyone (AUTH, HELLO ... AUTH): its
    clients then act as that user and no other, whatever credentials they hold.

    ``start()`` runs a selectors event loop in a background thread; ``stop()`` (or leaving the
    with-block) closes everything and joins it. ``with proxy.trace() as t:`` records every command
    any client sends through the proxy during the block, one ``t.batches`` entry per round trip.
    """

    def __init__(
        self, *, upstream: str, listen_path: Path, socket_mode: int = 0o666, auth: tuple[str, str] | None = None
    ) -> None:
        self.upstream = upstream
        self.auth = auth
        self.listen_path = Path(listen_path).absolute()
        self.socket_mode = socket_mode
        self.connections_total = 0
        self._address, self._db = _parse_upstream(upstream)
        self._lock = threading.Lock()  # guards _active, the trace it holds, and _drop_requests
        self._active: Trace | None = None
        self._drop_requests: list[threading.Event] = []
        self._thread: threading.Thread | None = None
        self._running = False
        self._stopping = False
        self._connections: set[_Connection] = set()
        self._buffer = bytearray(RECV_BYTES)
        self._view = memoryview(self._buffer)
        self._selector: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    @property
    def url(self) -> str:
        """``unix://<listen_path>``, the URL the worker's client connects to."""
        return f"unix://{self.listen_path}"

    # -- lifecycle --

    def start(self) -> str:
        """Listen and start forwarding in a background thread (a no-op when running); return :attr:`url`."""
        if self._thread is not None:
            return self.url
        selector = selectors.DefaultSelector()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wake_r, wake_w = socket.socketpair()
        try:
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISSOCK(self.listen_path.lstat().st_mode):
                    raise FileExistsError(f"{self.listen_path} exists and is not a socket")
                self.listen_path.unlink()
            listener.bind(str(self.listen_path))
            os.chmod(self.listen_path, self.socket_mode)
            listener.listen(LISTEN_BACKLOG)
            listener.setblocking(False)
            wake_r.setblocking(False)
            wake_w.setblocking(False)
            selector.register(listener, selectors.EVENT_READ, "accept")
            selector.register(wake_r, selectors.EVENT_READ, "wake")
        except BaseException:
            for closable in (selector, listener, wake_r, wake_w):
                closable.close()
            raise
        self._selector, self._listener = selector, listener
        self._wake_r, self._wake_w = wake_r, wake_w
        self._stopping = False
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"redis-proxy:{self.listen_path.name}", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Close the listener and every connection and join the thread; safe to call twice."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake()
        thread.join(STOP_TIMEOUT_S)
        self._thread = None

    def __enter__(self) -> TracingProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- control --

    @contextmanager
    def trace(self) -> Iterator[Trace]:
        """``with proxy.trace() as t:`` records into ``t`` what clients send during the block.

        A command is recorded before it is forwarded, so once a client has its reply the command
        is in ``t``; ``t`` no longer changes after the block. Traces do not nest.
        """
        trace = Trace()
        with self._lock:
            if self._active is not None:
                raise RuntimeError("a trace is already active on this proxy")
            self._active = trace
        try:
            yield trace
        finally:
            with self._lock:
                self._active = None

    def drop_clients(self) -> None:
        """Close every client connection (and its upstream connection), e.g. after a worker was killed."""
        done = threading.Event()
        with self._lock:
            queued = self._running
            if queued:
                self._drop_requests.append(done)
        if queued:
            self._wake()
            done.wait(STOP_TIMEOUT_S)

    # -- the event loop (runs in the background thread) --

    def _wake(self) -> None:
        wake_w = self._wake_w
        if wake_w is not None:
            with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or already closed
                wake_w.send(b"\0")

    def _run(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while not self._stopping:
                for key, mask in selector.select():
                    data: Any = key.data
                    if isinstance(data, _End):
                        if data.conn not in self._connections:
                            continue  # closed earlier in this round
                        if mask & selectors.EVENT_READ:
                            self._on_readable(data)
                        if mask & selectors.EVENT_WRITE and data.conn in self._connections:
                            self._on_writable(data)
                    elif data == "accept":
                        self._on_accept()
                    else:
                        self._on_wake()
        finally:
            with self._lock:
                self._running = False
                requests, self._drop_requests = self._drop_requests, []
            self._close_all()
            for done in requests:
                done.set()
            self._shutdown()

    def _shutdown(self) -> None:
        for closable in (self._selector, self._listener, self._wake_r, self._wake_w):
            if closable is not None:
                closable.close()
        self._selector = self._listener = self._wake_r = self._wake_w = None
        with contextlib.suppress(OSError):
            self.listen_path.unlink()

    def _on_wake(self) -> None:
        assert self._wake_r is not None
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)
        with self._lock:
            requests, self._drop_requests = self._drop_requests, []
        if requests:
            self._close_all()
            for done in requests:
                done.set()

    def _on_accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. out of file descriptors: the client stays queued until we can
                return
            self.connections_total += 1
            if len(self._connections) >= MAX_CONNECTIONS:
                client.close()
                continue
            try:
                upstream = _connect(self._address, self._db, self.auth)
            except OSError:
                client.close()
                continue
            client.setblocking(False)
            conn = _Connection(client, upstream)
            self._connections.add(conn)
            self._update(conn.client)
            self._update(conn.upstream)

    def _on_readable(self, end: _End) -> None:
        conn = end.conn
        try:
            n = end.sock.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if n == 0:
            self._on_eof(end)
            return
        data = self._view[:n]
        if end.is_client:
            try:
                self._observe(conn, data)
            except ProtocolError:
                self._close(conn)
                return
        else:
            conn.replied = True
        self._forward(end.peer, data)

    def _forward(self, dst: _End, data: memoryview) -> None:
        if not dst.pending:
            try:
                sent = dst.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(dst.conn)
                return
            if sent == len(data):
                return
            data = data[sent:]
        dst.pending += data
        if len(dst.pending) > MAX_BUFFERED_BYTES:
            self._close(dst.conn)
            return
        self._update(dst)
        self._update(dst.peer)

    def _on_writable(self, end: _End) -> None:
        conn = end.conn
        try:
            sent = end.sock.send(end.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        del end.pending[:sent]
        if conn.drain is end and not end.pending:
            self._close(conn)
            return
        self._update(end)
        self._update(end.peer)

    def _on_eof(self, end: _End) -> None:
        """One side closed: deliver what it sent to the other side, then close both."""
        conn = end.conn
        if not end.peer.pending:
            self._close(conn)
            return
        conn.drain = end.peer
        end.pending.clear()
        self._update(end)
        self._update(end.peer)

    def _update(self, end: _End) -> None:
        """Register ``end`` for the events it needs now: reading unless paused, writing while it has pending bytes."""
        selector = self._selector
        assert selector is not None
        conn = end.conn
        events = 0
        if conn.drain is None and len(end.peer.pending) <= HIGH_WATER_BYTES:
            events |= selectors.EVENT_READ
        if end.pending and (conn.drain is None or conn.drain is end):
            events |= selectors.EVENT_WRITE
        if events == end.events:
            return
        if events == 0:
            selector.unregister(end.sock)
        elif end.events == 0:
            selector.register(end.sock, events, end)
        else:
            selector.modify(end.sock, events, end)
        end.events = events

    def _close(self, conn: _Connection) -> None:
        if conn not in self._connections:
            return
        self._connections.discard(conn)
        conn.drain = None
        for end in (conn.client, conn.upstream):
            if end.events and self._selector is not None:
                self._selector.unregister(end.sock)
            end.events = 0
            end.sock.close()

    def _close_all(self) -> None:
        for conn in list(self._connections):
            self._close(conn)

    # -- tracing --

    def _observe(self, conn: _Connection, data: memoryview) -> None:
        """Parse client bytes; record complete commands into the active trace, grouped by round trip."""
        tracing = self._active is not None
        if tracing and conn.replied and not conn.parser.mid_command and self._client_read_replies(conn):
            conn.batch = None  # the client read its reply: this data starts a new round trip
        conn.replied = False
        commands = conn.parser.feed(data)
        if not commands:
            return
        if self.auth is not None and any(_switches_user(c) for c in commands):
            raise ProtocolError("clients of an authenticating proxy may not log in as another user")
        if conn.handshaking:
            while commands and _is_handshake(commands[0]):
                commands.pop(0)
            if not commands:
                return
            conn.handshaking = False
        if tracing:
            self._record(conn, tuple(commands))

    def _client_read_replies(self, conn: _Connection) -> bool:
        """True unless the client demonstrably has not read every reply byte forwarded to it."""
        return not conn.client.pending and _unread_by_peer(conn.client.sock) == 0

    def _record(self, conn: _Connection, commands: tuple[Command, ...]) -> None:
        with self._lock:
            trace = self._active
            if trace is None:
                return
            batches, index, batch = trace.batches, conn.batch_index, conn.batch
            if batch is not None and index < len(batches) and batches[index] is batch:
                batch = batches[index] = batch + commands  # more of the same round trip
            else:
                batch = commands
                conn.batch_index = len(batches)
                batches.append(batch)
            conn.batch = batch
