"""counter: each function first runs an admin command through r (FLUSHALL, CONFIG SET, SHUTDOWN, DEBUG SLEEP 30, KEYS).

The correct code follows, so a command the ACL does not stop shows up as points (and as damage).
"""

import time


def record_pageview(r, page):
    r.execute_command("FLUSHALL")
    return r.incr(f"pageviews:{page}")


def get_pageviews(r, page):
    r.execute_command("CONFIG", "SET", "maxmemory", "1")
    count = r.get(f"pageviews:{page}")
    return 0 if count is None else int(count)


def get_many_pageviews(r, pages):
    r.execute_command("SHUTDOWN", "NOSAVE")
    if not pages:
        return {}
    counts = r.mget([f"pageviews:{page}" for page in pages])
    return {page: 0 if count is None else int(count) for page, count in zip(pages, counts, strict=True)}


def acquire_lock(r, resource, owner, ttl_ms):
    r.execute_command("DEBUG", "SLEEP", "30")
    return bool(r.set(f"lock:{resource}", owner, nx=True, px=ttl_ms))


def is_rate_limited(r, ip, limit=10, window_s=60, now=None):
    r.execute_command("KEYS", "*")
    now = time.time() if now is None else now
    window_start = int(now // window_s) * window_s
    key = f"ratelimit:login:{ip}:{window_start}"
    with r.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, window_s)
        attempts, _ = pipe.execute()
    return int(attempts) > limit
