"""TTL, cache-aside and sessions, with explicit commands."""

import contextlib
import json

import redis

_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


def _cache_key(key: str) -> str:
    return f"cache:{key}"


def _session_key(session_id: str) -> str:
    return f"session:{session_id}"


def cache_set(r, key: str, value, ttl_s: int) -> None:
    """SET cache:{key} <json> EX ttl_s: value and expiry in one command."""
    r.execute_command("SET", _cache_key(key), json.dumps(value), "EX", int(ttl_s))


def cache_get(r, key: str):
    """GET and JSON-decode; None on a miss."""
    raw = r.execute_command("GET", _cache_key(key))
    return None if raw is None else json.loads(raw)


def get_or_load(r, key: str, loader, ttl_s: int = 300):
    """Cache-aside read; falls back to `loader()` (called at most once) when Redis is down."""
    try:
        raw = r.execute_command("GET", _cache_key(key))
    except _UNREACHABLE:
        return loader()
    if raw is not None:
        return json.loads(raw)
    value = loader()
    if value is not None:
        with contextlib.suppress(*_UNREACHABLE):
            cache_set(r, key, value, ttl_s)
    return value


def invalidate(r, key: str) -> bool:
    """UNLINK cache:{key}; True if it existed."""
    return int(r.execute_command("UNLINK", _cache_key(key))) == 1


def find_immortal_keys(r, pattern: str = "cache:*") -> list[str]:
    """SCAN (never KEYS) for keys matching `pattern` whose TTL is -1."""
    found: list[str] = []
    seen: set[str] = set()
    cursor = 0
    while True:
        reply = r.execute_command("SCAN", cursor, "MATCH", pattern, "COUNT", 200)
        cursor, batch = int(reply[0]), [k for k in reply[1] if k not in seen]
        seen.update(batch)
        if batch:
            with r.pipeline(transaction=False) as pipe:
                for k in batch:
                    pipe.execute_command("TTL", k)
                ttls = pipe.execute()
            found.extend(k for k, ttl in zip(batch, ttls, strict=True) if int(ttl) == -1)
        if cursor == 0:
            return sorted(found)


def create_session(r, session_id: str, data: dict[str, str], ttl_s: int = 3600) -> None:
    """HSET + EXPIRE inside MULTI/EXEC, so the session never exists without a TTL."""
    if not data:
        return
    key = _session_key(session_id)
    flat = [part for field, value in data.items() for part in (field, value)]
    with r.pipeline(transaction=True) as tx:
        tx.execute_command("HSET", key, *flat)
        tx.execute_command("EXPIRE", key, int(ttl_s))
        tx.execute()


def get_session(r, session_id: str) -> dict[str, str] | None:
    """HGETALL, None when the hash is gone."""
    reply = r.execute_command("HGETALL", _session_key(session_id))
    if not reply:
        return None
    if isinstance(reply, dict):
        return dict(reply)
    it = iter(reply)
    return dict(zip(it, it, strict=True))


def touch_session(r, session_id: str, ttl_s: int = 3600) -> bool:
    """EXPIRE resets the TTL; False when the session no longer exists."""
    return int(r.execute_command("EXPIRE", _session_key(session_id), int(ttl_s))) == 1
