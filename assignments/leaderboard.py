"""Assignment 4: sorted sets, for leaderboards and priority queues (lecture Part 4.4).

A sorted set keeps members ordered by score on the server: ZINCRBY adds points
atomically, ZREVRANGE and ZREVRANK read the board from the top, ZRANGEBYSCORE selects a
score range, and ZPOPMIN turns a sorted set into a priority queue.
"""

from __future__ import annotations

import redis


def add_points(r: redis.Redis, board: str, player: str, points: float) -> float:
    """Add ``points`` (may be negative) to ``player``'s score on ``board`` and return the new score.

    The board is the sorted set ``leaderboard:{board}``; the addition happens atomically
    on the server, and an unknown player starts at 0. The score comes back as a ``float``.

    Example:
        >>> add_points(r, "weekly", "ada", 10)
        10.0
        >>> add_points(r, "weekly", "ada", 5)
        15.0

    Command: https://redis.io/docs/latest/commands/zincrby/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def set_score(r: redis.Redis, board: str, player: str, score: float) -> None:
    """Set ``player``'s score on ``board`` to ``score`` outright, adding the player if needed.

    Example:
        >>> set_score(r, "weekly", "ada", 42)
        >>> score(r, "weekly", "ada")
        42.0

    Command: https://redis.io/docs/latest/commands/zadd/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def top(r: redis.Redis, board: str, n: int = 10) -> list[tuple[str, float]]:
    """Return the ``n`` best players of ``board`` as ``(player, score)`` pairs, highest score first.

    The order is the server's: equal scores come in reverse lexicographic order of the
    player names, as ZREVRANGE returns them. Fewer players give a shorter list; an empty
    board, or ``n <= 0``, gives ``[]``. Scores are ``float``.

    Example:
        >>> set_score(r, "weekly", "ada", 30)
        >>> set_score(r, "weekly", "alan", 20)
        >>> top(r, "weekly", n=1)
        [('ada', 30.0)]

    Command: https://redis.io/docs/latest/commands/zrevrange/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def rank(r: redis.Redis, board: str, player: str) -> int | None:
    """Return ``player``'s 1-based position from the top of ``board`` ("you are #1"); ``None`` if unknown.

    Redis ranks are 0-based, so the best player has Redis rank 0 and position 1.

    Example:
        >>> set_score(r, "weekly", "ada", 30)
        >>> set_score(r, "weekly", "alan", 20)
        >>> rank(r, "weekly", "alan")
        2
        >>> rank(r, "weekly", "nobody") is None
        True

    Command: https://redis.io/docs/latest/commands/zrevrank/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def score(r: redis.Redis, board: str, player: str) -> float | None:
    """Return ``player``'s score on ``board`` as a ``float``; ``None`` if the player is not on it.

    Example:
        >>> add_points(r, "weekly", "ada", 7)
        7.0
        >>> score(r, "weekly", "ada"), score(r, "weekly", "nobody")
        (7.0, None)

    Command: https://redis.io/docs/latest/commands/zscore/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def players_between(r: redis.Redis, board: str, low: float, high: float) -> list[tuple[str, float]]:
    """Return the ``(player, score)`` pairs with ``low <= score <= high``, lowest score first.

    Both bounds are inclusive. No player in range gives ``[]``.

    Example:
        >>> for player, points in [("ada", 10), ("alan", 20), ("grace", 30)]:
        ...     set_score(r, "weekly", player, points)
        >>> players_between(r, "weekly", 10, 20)
        [('ada', 10.0), ('alan', 20.0)]

    Command: https://redis.io/docs/latest/commands/zrangebyscore/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def push_task(r: redis.Redis, queue: str, task: str, priority: float) -> None:
    """Add ``task`` to the priority queue ``tasks:{queue}``; a lower ``priority`` is more urgent.

    Adding a task that is already queued updates its priority.

    Example:
        >>> push_task(r, "build", "deploy", priority=5)
        >>> push_task(r, "build", "hotfix", priority=1)
        >>> pop_most_urgent(r, "build")
        'hotfix'

    Command: https://redis.io/docs/latest/commands/zadd/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def pop_most_urgent(r: redis.Redis, queue: str) -> str | None:
    """Remove and return the most urgent task (lowest priority value); ``None`` when the queue is empty.

    Finding and removing the task is one command, so when several workers pop at the
    same time no task is ever handed out twice.

    Example:
        >>> push_task(r, "build", "deploy", priority=5)
        >>> pop_most_urgent(r, "build")
        'deploy'
        >>> pop_most_urgent(r, "build") is None
        True

    Command: https://redis.io/docs/latest/commands/zpopmin/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError
