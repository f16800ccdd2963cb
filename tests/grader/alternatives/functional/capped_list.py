"""Lists: capped feed and job queue, built from small key helpers."""

import json


def feed_key(user_id: str) -> str:
    """Key of a user's activity feed."""
    return f"activity:user:{user_id}"


def queue_key(queue: str) -> str:
    """Key of a job queue."""
    return f"queue:{queue}"


def push_event(r, user_id: str, event: str, cap: int = 100) -> None:
    """Prepend the event and trim to `cap`, both in one pipelined round trip."""
    key = feed_key(user_id)
    pipe = r.pipeline(transaction=False)
    pipe.lpush(key, event)
    if cap > 0:
        pipe.ltrim(key, 0, cap - 1)
    else:
        pipe.delete(key)
    pipe.execute()


def recent_events(r, user_id: str, n: int = 20) -> list[str]:
    """The newest `n` events, newest first."""
    return r.lrange(feed_key(user_id), 0, n - 1) if n > 0 else []


def feed_length(r, user_id: str) -> int:
    """How many events are stored."""
    return r.llen(feed_key(user_id))


def enqueue_job(r, queue: str, job: dict) -> int:
    """Append the JSON job; return the queue length."""
    return r.rpush(queue_key(queue), json.dumps(job))


def dequeue_job(r, queue: str) -> dict | None:
    """Pop the oldest job, None when empty."""
    payload = r.lpop(queue_key(queue))
    return json.loads(payload) if payload is not None else None
