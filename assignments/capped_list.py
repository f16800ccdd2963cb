"""Assignment 2: lists, for capped activity feeds and job queues (lecture Part 4.2).

LPUSH + LTRIM keeps a list at a fixed size (the newest N events), LRANGE reads a slice
without fetching the whole list, and RPUSH + LPOP make a FIFO queue in which every job
is handed out exactly once.
"""

from __future__ import annotations

import json
from typing import Any

import redis


def push_event(r: redis.Redis, user_id: str, event: str, cap: int = 100) -> None:
    """Add ``event`` to the front of the user's activity feed, keeping only the newest ``cap``.

    The feed is the list ``activity:user:{user_id}``, newest event first. Adding and
    trimming are sent in one round trip (one pipeline), so the list never grows beyond
    ``cap`` (a positive number) between the two commands. Returns ``None``.

    Example:
        >>> for e in ["login", "view", "logout"]:
        ...     push_event(r, "42", e, cap=2)
        >>> recent_events(r, "42")
        ['logout', 'view']

    Commands: https://redis.io/docs/latest/commands/lpush/ and
    https://redis.io/docs/latest/commands/ltrim/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def recent_events(r: redis.Redis, user_id: str, n: int = 20) -> list[str]:
    """Return the user's newest ``n`` events, newest first (fewer if fewer are stored).

    Reads only the first ``n`` elements of ``activity:user:{user_id}``, never the whole
    list. A user without events, or ``n <= 0``, gives ``[]``.

    Example:
        >>> push_event(r, "42", "login")
        >>> push_event(r, "42", "view")
        >>> recent_events(r, "42", n=1)
        ['view']

    Command: https://redis.io/docs/latest/commands/lrange/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def feed_length(r: redis.Redis, user_id: str) -> int:
    """Return how many events are stored in the user's feed (0 for an unknown user).

    Example:
        >>> push_event(r, "42", "login")
        >>> feed_length(r, "42")
        1

    Command: https://redis.io/docs/latest/commands/llen/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def enqueue_job(r: redis.Redis, queue: str, job: dict[str, Any]) -> int:
    """Append ``job`` to the back of the queue and return the queue's new length.

    The queue is the list ``queue:{queue}``; each job is stored as one JSON string
    (``json.dumps``).

    Example:
        >>> enqueue_job(r, "emails", {"to": "ada@example.com"})
        1
        >>> enqueue_job(r, "emails", {"to": "alan@example.com"})
        2

    Command: https://redis.io/docs/latest/commands/rpush/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def dequeue_job(r: redis.Redis, queue: str) -> dict[str, Any] | None:
    """Remove and return the oldest job of the queue (first in, first out); ``None`` when empty.

    Taking the job off the list is a single command, so when several workers dequeue at
    the same time no job is ever handed out twice. The job comes back decoded
    (``json.loads``), equal to the dict that was enqueued.

    Example:
        >>> enqueue_job(r, "emails", {"to": "ada@example.com"})
        1
        >>> dequeue_job(r, "emails")
        {'to': 'ada@example.com'}
        >>> dequeue_job(r, "emails") is None
        True

    Command: https://redis.io/docs/latest/commands/lpop/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError
