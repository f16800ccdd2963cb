"""Record the commands a Redis client sends, grouped by round trip, so suites can check properties.

A *round trip* is one write to the server: a single command, or a whole pipeline or
MULTI/EXEC transaction sent at once. The tracer hooks the client's connection class, so it
sees exactly what the client put on the wire, on real Redis and on fakeredis alike.
Commands a connection sends while it is being set up (HELLO, CLIENT SETINFO, ...) are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

WRITES_WITH_EXPIRY = frozenset({"SETEX", "PSETEX"})
EXPIRY_COMMANDS = frozenset({"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"})


@dataclass(frozen=True)
class Command:
    """One command as sent: upper-cased name and its arguments as text."""

    name: str
    args: tuple[str, ...]

    def has_option(self, *options: str) -> bool:
        """True when any of ``options`` (case-insensitive) appears among the arguments."""
        wanted = {o.upper() for o in options}
        return any(a.upper() in wanted for a in self.args)


@dataclass
class Trace:
    """The commands sent while a trace was active, one tuple per round trip."""

    batches: list[tuple[Command, ...]] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        return len(self.batches)

    @property
    def commands(self) -> list[Command]:
        return [c for batch in self.batches for c in batch]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.commands]

    def count(self, *names: str) -> int:
        """How many commands sent have one of ``names``."""
        wanted = {n.upper() for n in names}
        return sum(1 for n in self.names if n in wanted)

    def used(self, *names: str) -> bool:
        return self.count(*names) > 0

    def transactions(self) -> list[list[Command]]:
        """The commands queued inside each MULTI ... EXEC block, in order."""
        blocks: list[list[Command]] = []
        current: list[Command] | None = None
        for command in self.commands:
            if command.name == "MULTI":
                current = []
            elif command.name == "EXEC" and current is not None:
                blocks.append(current)
                current = None
            elif current is not None:
                current.append(command)
        return blocks


def parse_resp_commands(data: bytes) -> list[Command]:
    """Split a packed RESP request (one or many ``*N`` arrays of bulk strings) into commands."""
    commands: list[Command] = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + 1] != b"*":
            raise ValueError(f"not a RESP array at byte {pos}")
        end = data.index(b"\r\n", pos)
        count = int(data[pos + 1 : end])
        pos = end + 2
        parts: list[str] = []
        for _ in range(count):
            end = data.index(b"\r\n", pos)
            length = int(data[pos + 1 : end])
            start = end + 2
            parts.append(data[start : start + length].decode("utf-8", "replace"))
            pos = start + length + 2
        if parts:
            commands.append(Command(parts[0].upper(), tuple(parts[1:])))
    return commands


def _as_bytes(packed: Any) -> bytes:
    if isinstance(packed, str):
        return packed.encode()
    if isinstance(packed, (bytes, bytearray, memoryview)):
        return bytes(packed)
    return b"".join(bytes(chunk) for chunk in packed)


class Tracer:
    """Collects round trips from every connection of one client while a trace is active."""

    def __init__(self) -> None:
        self._active: Trace | None = None

    def record(self, packed: Any) -> None:
        if self._active is not None:
            self._active.batches.append(tuple(parse_resp_commands(_as_bytes(packed))))

    @contextmanager
    def __call__(self) -> Iterator[Trace]:
        """``with tracer() as t:`` records what the client sends inside the block into ``t``."""
        trace = Trace()
        self._active = trace
        try:
            yield trace
        finally:
            self._active = None


def install_tracer(client: redis.Redis) -> Tracer:
    """Make every connection ``client`` opens from now on report what it sends to the returned tracer.

    Call it before the client has opened a connection (connections already in the pool are dropped).
    """
    tracer = Tracer()
    pool = client.connection_pool
    base: type[Any] = pool.connection_class

    class TracedConnection(base):  # type: ignore[misc]
        _handshaking = False

        def on_connect(self) -> None:
            self._handshaking = True
            try:
                super().on_connect()
            finally:
                self._handshaking = False

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            if not self._handshaking:
                tracer.record(command)
            super().send_packed_command(command, check_health)

    TracedConnection.__name__ = f"Traced{base.__name__}"
    pool.connection_class = TracedConnection
    pool.reset()
    return tracer


def names_in(trace: Trace, commands: Iterable[str]) -> list[str]:
    """The commands of ``trace`` whose names are in ``commands``, in order (for readable asserts)."""
    wanted = {c.upper() for c in commands}
    return [n for n in trace.names if n in wanted]
