"""TTL, cache-aside and sessions, built from small key helpers."""

import contextlib
import json

import redis

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)
_MISS = object()


def cache_key(key: str) -> str:
    """Key of a cached value."""
    return f"cache:{key}"


def session_key(session_id: str) -> str:
    """Key of a session hash."""
    return f"session:{session_id}"


def encode(value) -> str:
    """JSON text stored in Redis."""
    return json.dumps(value)


def decode(raw: str | None, default=None):
    """Decoded value, `default` when nothing was stored."""
    return default if raw is None else json.loads(raw)


def cache_set(r, key: str, value, ttl_s: int) -> None:
    """Store the JSON value with its expiry in a single SET ... EX."""
    r.set(cache_key(key), encode(value), ex=ttl_s)


def cache_get(r, key: str):
    """Cached value, None on a miss."""
    return decode(r.get(cache_key(key)))


def read_cache_quietly(r, key: str):
    """Cached value, or _MISS when absent or when Redis cannot be reached."""
    try:
        return decode(r.get(cache_key(key)), _MISS)
    except REDIS_DOWN:
        return _MISS


def write_cache_quietly(r, key: str, value, ttl_s: int) -> None:
    """Cache the value, ignoring an unreachable Redis."""
    with contextlib.suppress(*REDIS_DOWN):
        r.set(cache_key(key), encode(value), ex=ttl_s)


def get_or_load(r, key: str, loader, ttl_s: int = 300):
    """Cache-aside: cached value, else `loader()` once (cached unless None)."""
    cached = read_cache_quietly(r, key)
    if cached is not _MISS:
        return cached
    value = loader()
    if value is not None:
        write_cache_quietly(r, key, value, ttl_s)
    return value


def invalidate(r, key: str) -> bool:
    """Delete the cached value; True if it existed."""
    return r.delete(cache_key(key)) == 1


def find_immortal_keys(r, pattern: str = "cache:*") -> list[str]:
    """Keys matching `pattern` without an expiry, via incremental SCAN."""
    keys = sorted(set(r.scan_iter(match=pattern, count=250)))
    if not keys:
        return []
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.ttl(k)
    return [k for k, ttl in zip(keys, pipe.execute(), strict=True) if ttl == -1]


def create_session(r, session_id: str, data: dict[str, str], ttl_s: int = 3600) -> None:
    """Write the hash and its TTL atomically (MULTI/EXEC pipeline)."""
    if not data:
        return
    key = session_key(session_id)
    pipe = r.pipeline()
    pipe.hset(key, mapping=data)
    pipe.expire(key, ttl_s)
    pipe.execute()


def get_session(r, session_id: str) -> dict[str, str] | None:
    """The session's fields, None when it is gone."""
    fields = r.hgetall(session_key(session_id))
    return {k: v for k, v in fields.items()} or None


def touch_session(r, session_id: str, ttl_s: int = 3600) -> bool:
    """Slide the expiry; False when the session no longer exists."""
    return bool(r.expire(session_key(session_id), ttl_s))
