"""Properties the spec asks for, judged from a command trace, with equivalent commands counted as right.

The spec lets students pick any equivalent command (UNLINK for DEL, ZRANGE ... REV for
ZREVRANGE, a MULTI block or a pipeline). Suites call these predicates instead of comparing
command names, so every correct style passes and only the missing property fails.
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.trace import Command, Trace

DELETE = frozenset({"DEL", "UNLINK"})
EXPIRE = frozenset({"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"})
BLOCKING_KEYSPACE_WALK = frozenset({"KEYS"})
SET_EXPIRY_OPTIONS = frozenset({"EX", "PX", "EXAT", "PXAT"})
SCRIPTS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})


def on_key(command: Command, key: str) -> bool:
    """True when ``command``'s first argument is ``key``."""
    return bool(command.args) and command.args[0] == key


def sets_value_with_expiry(command: Command, key: str) -> bool:
    """True for one command that writes ``key`` together with its expiry (SET .. EX/PX/EXAT/PXAT, SETEX, PSETEX)."""
    if not on_key(command, key):
        return False
    if command.name in {"SETEX", "PSETEX"}:
        return True
    return command.name == "SET" and command.has_option(*SET_EXPIRY_OPTIONS)


def value_and_expiry_together(trace: Trace, key: str) -> bool:
    """``key`` got its value and expiry at once: one command, or SET and an expiry inside one MULTI/EXEC."""
    if any(sets_value_with_expiry(c, key) for c in trace.commands):
        return True
    return any(
        any(c.name == "SET" and on_key(c, key) for c in block)
        and any(c.name in EXPIRE and on_key(c, key) for c in block)
        for block in trace.transactions()
    )


def in_one_transaction(trace: Trace, key: str, *groups: Iterable[str]) -> bool:
    """Some MULTI/EXEC block sends, on ``key``, at least one command of every group in ``groups``."""
    wanted = [frozenset(n.upper() for n in group) for group in groups]
    return any(
        all(any(c.name in group and on_key(c, key) for c in block) for group in wanted)
        for block in trace.transactions()
    )


def writes_on_key(trace: Trace, key: str, names: Iterable[str]) -> list[Command]:
    """The commands of ``trace`` named in ``names`` whose key is ``key``."""
    wanted = {n.upper() for n in names}
    return [c for c in trace.commands if c.name in wanted and on_key(c, key)]


def walks_keyspace_blocking(trace: Trace) -> bool:
    """True when the code used KEYS, which blocks the server while it walks every key."""
    return trace.used(*BLOCKING_KEYSPACE_WALK)


def reads_then_writes(trace: Trace, *, reads: Iterable[str], writes: Iterable[str]) -> bool:
    """The client read outside a transaction and wrote afterwards, without WATCH or a script.

    That is a client-side read-modify-write (or peek-then-remove): two clients doing it at once
    lose an update or take the same item. Optimistic locking (WATCH) and scripts are atomic.
    """
    read_names, write_names = {n.upper() for n in reads}, {n.upper() for n in writes}
    if any(c.name in SCRIPTS or c.name == "WATCH" for c in trace.commands):
        return False
    in_multi = read_seen = False
    for command in trace.commands:
        if command.name == "MULTI":
            in_multi = True
        elif command.name in {"EXEC", "DISCARD"}:
            in_multi = False
        elif command.name in write_names and read_seen:
            return True
        elif command.name in read_names and not in_multi:
            read_seen = True
    return False
