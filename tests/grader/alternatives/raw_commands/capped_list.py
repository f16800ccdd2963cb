"""Lists: a capped activity feed and a FIFO job queue, with explicit commands."""

import json


def _feed_key(user_id: str) -> str:
    return f"activity:user:{user_id}"


def push_event(r, user_id: str, event: str, cap: int = 100) -> None:
    """LPUSH the event and LTRIM to the newest `cap`, in one MULTI/EXEC round trip."""
    key = _feed_key(user_id)
    start, stop = (0, cap - 1) if cap > 0 else (1, 0)  # 1..0 is an empty range: keep nothing
    with r.pipeline(transaction=True) as tx:
        tx.execute_command("LPUSH", key, event)
        tx.execute_command("LTRIM", key, start, stop)
        tx.execute()


def recent_events(r, user_id: str, n: int = 20) -> list[str]:
    """LRANGE 0 n-1: newest first, never more than `n` items."""
    if n <= 0:
        return []
    return list(r.execute_command("LRANGE", _feed_key(user_id), 0, n - 1))


def feed_length(r, user_id: str) -> int:
    """LLEN of the feed."""
    return int(r.execute_command("LLEN", _feed_key(user_id)))


def enqueue_job(r, queue: str, job: dict) -> int:
    """RPUSH the JSON-encoded job; return the queue length."""
    return int(r.execute_command("RPUSH", f"queue:{queue}", json.dumps(job)))


def dequeue_job(r, queue: str) -> dict | None:
    """LPOP the oldest job (atomic on the server), None when the queue is empty."""
    raw = r.execute_command("LPOP", f"queue:{queue}")
    return None if raw is None else json.loads(raw)
