"""Strings and atomic counters, written with explicit Redis commands."""

import time


def _as_int(reply) -> int:
    """Turn a counter reply (None, str or int) into an int, 0 when missing."""
    return 0 if reply is None else int(reply)


def record_pageview(r, page: str) -> int:
    """INCR pageviews:{page} and return the new count."""
    return int(r.execute_command("INCR", f"pageviews:{page}"))


def get_pageviews(r, page: str) -> int:
    """GET pageviews:{page}, 0 when the page was never viewed."""
    return _as_int(r.execute_command("GET", f"pageviews:{page}"))


def get_many_pageviews(r, pages: list[str]) -> dict[str, int]:
    """One MGET for every page; missing pages count 0."""
    pages = list(pages)
    if not pages:
        return {}
    replies = r.execute_command("MGET", *[f"pageviews:{page}" for page in pages])
    return {page: _as_int(reply) for page, reply in zip(pages, replies, strict=True)}


def acquire_lock(r, resource: str, owner: str, ttl_ms: int) -> bool:
    """SET lock:{resource} owner NX PX ttl_ms; True when this caller won."""
    reply = r.execute_command("SET", f"lock:{resource}", owner, "NX", "PX", int(ttl_ms))
    return reply is not None and reply is not False


def is_rate_limited(r, ip: str, limit: int = 10, window_s: int = 60, now: float | None = None) -> bool:
    """Count one attempt in the fixed window holding `now`; True when over `limit`."""
    if now is None:
        now = time.time()
    window_start = int(now // window_s) * window_s
    key = f"ratelimit:login:{ip}:{window_start}"
    with r.pipeline(transaction=True) as tx:
        tx.execute_command("INCR", key)
        tx.execute_command("EXPIRE", key, int(window_s), "NX")
        attempts, _ = tx.execute()
    return int(attempts) > limit
