"""Strings and atomic counters, built from small key helpers."""

import time


def pageviews_key(page: str) -> str:
    """Key of a page's view counter."""
    return f"pageviews:{page}"


def lock_key(resource: str) -> str:
    """Key of a resource's lock."""
    return f"lock:{resource}"


def window_start(now: float, window_s: int) -> int:
    """Start of the fixed window that holds `now`."""
    return int(now // window_s) * window_s


def ratelimit_key(ip: str, start: int) -> str:
    """Key of an IP's login counter for one window."""
    return f"ratelimit:login:{ip}:{start}"


def to_count(value: str | None) -> int:
    """A stored counter as an int, 0 when missing."""
    return int(value) if value is not None else 0


def record_pageview(r, page: str) -> int:
    """Atomically bump the page's counter and return it."""
    return r.incr(pageviews_key(page))


def get_pageviews(r, page: str) -> int:
    """The page's count, 0 if never viewed."""
    return to_count(r.get(pageviews_key(page)))


def get_many_pageviews(r, pages: list[str]) -> dict[str, int]:
    """All counts with a single MGET."""
    names = list(pages)
    if not names:
        return {}
    values = r.mget([pageviews_key(p) for p in names])
    return {p: to_count(v) for p, v in zip(names, values, strict=True)}


def acquire_lock(r, resource: str, owner: str, ttl_ms: int) -> bool:
    """Take the lock only if free (SET NX PX); True when acquired."""
    return bool(r.set(lock_key(resource), owner, nx=True, px=ttl_ms))


def is_rate_limited(r, ip: str, limit: int = 10, window_s: int = 60, now: float | None = None) -> bool:
    """Record one attempt; True when the window's count exceeds `limit`."""
    moment = time.time() if now is None else now
    key = ratelimit_key(ip, window_start(moment, window_s))
    pipe = r.pipeline()  # MULTI/EXEC: the counter never lives without an expiry
    pipe.incr(key)
    pipe.expire(key, window_s, nx=True)
    count, _ = pipe.execute()
    return count > limit
