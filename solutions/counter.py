"""Assignment 1: strings and atomic counters (lecture Part 3).

Page-view counters, a distributed lock and a login rate limiter, all built on Redis
strings: INCR counts atomically on the server, MGET reads many keys in one round trip,
and SET with NX and PX takes a lock that frees itself.
"""

from __future__ import annotations

import time

import redis


def record_pageview(r: redis.Redis, page: str) -> int:
    """Count one view of ``page`` and return the page's new total.

    The counter lives at ``pageviews:{page}`` and is incremented on the server, so
    concurrent requests never lose an update. A page never viewed before starts at 0,
    so its first view returns 1.

    Example:
        >>> record_pageview(r, "home")
        1
        >>> record_pageview(r, "home")
        2

    Command: https://redis.io/docs/latest/commands/incr/
    """
    ### BEGIN SOLUTION
    return r.incr(f"pageviews:{page}")
    ### END SOLUTION


def get_pageviews(r: redis.Redis, page: str) -> int:
    """Return how often ``page`` was viewed, as an ``int``; 0 for a page never viewed.

    Reads ``pageviews:{page}``. Redis stores the counter as a string, so convert it.

    Example:
        >>> get_pageviews(r, "never-seen")
        0
        >>> record_pageview(r, "home")
        1
        >>> get_pageviews(r, "home")
        1

    Command: https://redis.io/docs/latest/commands/get/
    """
    ### BEGIN SOLUTION
    count = r.get(f"pageviews:{page}")
    return 0 if count is None else int(count)
    ### END SOLUTION


def get_many_pageviews(r: redis.Redis, pages: list[str]) -> dict[str, int]:
    """Return ``{page: count}`` for every page in ``pages``, with 0 where a page was never viewed.

    All counters are read in one round trip (one MGET, not one GET per page). An empty
    ``pages`` list gives an empty dict.

    Example:
        >>> record_pageview(r, "home")
        1
        >>> get_many_pageviews(r, ["home", "about"])
        {'home': 1, 'about': 0}

    Command: https://redis.io/docs/latest/commands/mget/
    """
    ### BEGIN SOLUTION
    if not pages:
        return {}
    counts = r.mget([f"pageviews:{page}" for page in pages])
    return {page: 0 if count is None else int(count) for page, count in zip(pages, counts, strict=True)}
    ### END SOLUTION


def acquire_lock(r: redis.Redis, resource: str, owner: str, ttl_ms: int) -> bool:
    """Try to take the lock on ``resource`` for ``owner``; return ``True`` when acquired.

    Sets ``lock:{resource}`` to ``owner`` only if the key does not exist yet, with an
    expiry of ``ttl_ms`` milliseconds so a crashed owner cannot hold the lock forever.
    Check and set happen in ONE command, so when several clients race, exactly one wins.
    Returns ``False`` while someone else (or the same owner) holds the lock.

    Example:
        >>> acquire_lock(r, "report", "worker-1", 5000)
        True
        >>> acquire_lock(r, "report", "worker-2", 5000)
        False

    Command: https://redis.io/docs/latest/commands/set/
    """
    ### BEGIN SOLUTION
    return bool(r.set(f"lock:{resource}", owner, nx=True, px=ttl_ms))
    ### END SOLUTION


def is_rate_limited(r: redis.Redis, ip: str, limit: int = 10, window_s: int = 60, now: float | None = None) -> bool:
    """Record one login attempt from ``ip`` and return ``True`` when it is over ``limit``.

    Fixed-window rate limiting: attempts are counted per window of ``window_s`` seconds.
    The window holding ``now`` (default: the current time, ``time.time()``) starts at
    ``window_start = int(now // window_s) * window_s`` and its counter key is
    ``ratelimit:login:{ip}:{window_start}``. The counter is incremented atomically and
    given an expiry of (at most) ``window_s`` seconds so old windows clean themselves up.
    Attempts 1 to ``limit`` are allowed (``False``); attempt ``limit + 1`` and later in the
    same window are limited (``True``). A new window starts counting from 1 again.

    Example:
        >>> [is_rate_limited(r, "10.0.0.1", limit=2, now=120.0) for _ in range(3)]
        [False, False, True]
        >>> is_rate_limited(r, "10.0.0.1", limit=2, now=180.0)  # next window
        False

    Commands: https://redis.io/docs/latest/commands/incr/ and
    https://redis.io/docs/latest/commands/expire/
    """
    ### BEGIN SOLUTION
    now = time.time() if now is None else now
    window_start = int(now // window_s) * window_s
    key = f"ratelimit:login:{ip}:{window_start}"
    with r.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, window_s)
        attempts, _ = pipe.execute()
    return int(attempts) > limit
    ### END SOLUTION
