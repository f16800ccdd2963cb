"""Assignment 5: TTL, cache-aside and sessions (lecture Parts 1.4, 4.1 and 5).

Keys that expire by themselves: a JSON cache written with SET ... EX in one command,
the cache-aside pattern that keeps the application working when Redis is down, finding
keys that were forgotten without an expiry using SCAN (never KEYS), and sessions stored
as hashes whose expiry slides on every request.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import redis


def cache_set(r: redis.Redis, key: str, value: Any, ttl_s: int) -> None:
    """Cache ``value`` (anything ``json.dumps`` accepts) at ``cache:{key}`` for ``ttl_s`` seconds.

    The value is stored JSON-encoded, and the key and its expiry are created in ONE
    command, so the key never exists without an expiry. Overwrites an existing entry.

    Example:
        >>> cache_set(r, "user:42", {"name": "Ada"}, ttl_s=60)
        >>> r.ttl("cache:user:42")
        60

    Command: https://redis.io/docs/latest/commands/set/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def cache_get(r: redis.Redis, key: str) -> Any:
    """Return the value cached at ``cache:{key}``, decoded from JSON; ``None`` on a miss.

    Example:
        >>> cache_set(r, "user:42", {"name": "Ada"}, ttl_s=60)
        >>> cache_get(r, "user:42")
        {'name': 'Ada'}
        >>> cache_get(r, "user:43") is None
        True

    Command: https://redis.io/docs/latest/commands/get/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def get_or_load(r: redis.Redis, key: str, loader: Callable[[], Any], ttl_s: int = 300) -> Any:
    """Cache-aside read of ``cache:{key}``: the cached value, or ``loader()``'s result on a miss.

    On a hit, return the decoded cached value without calling ``loader``. On a miss,
    call ``loader()`` exactly once, cache its result JSON-encoded for ``ttl_s`` seconds and
    return it. A ``None`` result is returned but not cached; an exception raised by
    ``loader`` propagates and nothing is cached. If Redis is unreachable
    (``redis.ConnectionError`` or ``redis.TimeoutError``, when reading or when writing),
    do not raise: return ``loader()``'s result (still calling it at most once). The
    application keeps working, only slower.

    Example:
        >>> get_or_load(r, "user:42", lambda: {"name": "Ada"}, ttl_s=60)  # miss: loads
        {'name': 'Ada'}
        >>> get_or_load(r, "user:42", lambda: {"name": "changed"})  # hit: from the cache
        {'name': 'Ada'}

    Commands: https://redis.io/docs/latest/commands/get/ and
    https://redis.io/docs/latest/commands/set/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def invalidate(r: redis.Redis, key: str) -> bool:
    """Delete ``cache:{key}``; return ``True`` if it existed, ``False`` if there was nothing to delete.

    Example:
        >>> cache_set(r, "user:42", {"name": "Ada"}, ttl_s=60)
        >>> invalidate(r, "user:42"), invalidate(r, "user:42")
        (True, False)

    Command: https://redis.io/docs/latest/commands/del/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def find_immortal_keys(r: redis.Redis, pattern: str = "cache:*") -> list[str]:
    """Return the keys matching ``pattern`` that have no expiry (TTL -1), sorted by name.

    Walks the key space incrementally with SCAN, which never blocks the server the way
    KEYS does, and asks each matching key for its TTL. Keys with an expiry are left out.

    Example:
        >>> cache_set(r, "fresh", 1, ttl_s=60)
        >>> r.set("cache:forgotten", "1")
        True
        >>> find_immortal_keys(r)
        ['cache:forgotten']

    Commands: https://redis.io/docs/latest/commands/scan/ and
    https://redis.io/docs/latest/commands/ttl/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def create_session(r: redis.Redis, session_id: str, data: dict[str, str], ttl_s: int = 3600) -> None:
    """Store ``data`` as the hash ``session:{session_id}``, expiring after ``ttl_s`` seconds.

    The fields and the expiry are written atomically in one MULTI/EXEC transaction, so
    no other client ever sees the session without its expiry. ``data`` needs at least
    one field: Redis has no empty hashes.

    Example:
        >>> create_session(r, "s1", {"user": "ada", "role": "student"}, ttl_s=1800)
        >>> get_session(r, "s1")
        {'user': 'ada', 'role': 'student'}

    Commands: https://redis.io/docs/latest/commands/hset/,
    https://redis.io/docs/latest/commands/expire/ and
    https://redis.io/docs/latest/commands/multi/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def get_session(r: redis.Redis, session_id: str) -> dict[str, str] | None:
    """Return all fields of the session ``session:{session_id}``; ``None`` if it expired or never existed.

    Example:
        >>> create_session(r, "s1", {"user": "ada"})
        >>> get_session(r, "s1")
        {'user': 'ada'}
        >>> get_session(r, "gone") is None
        True

    Command: https://redis.io/docs/latest/commands/hgetall/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def touch_session(r: redis.Redis, session_id: str, ttl_s: int = 3600) -> bool:
    """Slide the session's expiry: reset the TTL of ``session:{session_id}`` to ``ttl_s`` seconds.

    Returns ``True`` when the session exists, ``False`` if it is already gone (an expired
    session is not brought back).

    Example:
        >>> create_session(r, "s1", {"user": "ada"}, ttl_s=60)
        >>> touch_session(r, "s1", ttl_s=3600), touch_session(r, "gone")
        (True, False)

    Command: https://redis.io/docs/latest/commands/expire/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError
