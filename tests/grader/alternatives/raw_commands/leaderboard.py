"""Sorted sets: a leaderboard and a priority queue, with explicit Redis 7 commands."""


def _board_key(board: str) -> str:
    return f"leaderboard:{board}"


def _pairs(reply) -> list[tuple[str, float]]:
    """Parse a WITHSCORES reply (flat RESP2 list or nested pairs) into (member, score) tuples."""
    if not reply:
        return []
    if isinstance(reply[0], list | tuple):
        return [(member, float(value)) for member, value in reply]
    it = iter(reply)
    return [(member, float(value)) for member, value in zip(it, it, strict=True)]


def add_points(r, board: str, player: str, points: float) -> float:
    """ZADD key INCR points player: atomic increment, returns the new score."""
    return float(r.execute_command("ZADD", _board_key(board), "INCR", points, player))


def set_score(r, board: str, player: str, score: float) -> None:
    """ZADD key score player."""
    r.execute_command("ZADD", _board_key(board), score, player)


def top(r, board: str, n: int = 10) -> list[tuple[str, float]]:
    """ZRANGE key 0 n-1 REV WITHSCORES: best first, server tie order."""
    if n <= 0:
        return []
    return _pairs(r.execute_command("ZRANGE", _board_key(board), 0, n - 1, "REV", "WITHSCORES"))


def rank(r, board: str, player: str) -> int | None:
    """1-based ZREVRANK, None for an unknown player."""
    reply = r.execute_command("ZREVRANK", _board_key(board), player)
    return None if reply is None else int(reply) + 1


def score(r, board: str, player: str) -> float | None:
    """ZSCORE as a float, None if absent."""
    reply = r.execute_command("ZSCORE", _board_key(board), player)
    return None if reply is None else float(reply)


def players_between(r, board: str, low: float, high: float) -> list[tuple[str, float]]:
    """ZRANGE key low high BYSCORE WITHSCORES: inclusive bounds, lowest first."""
    return _pairs(r.execute_command("ZRANGE", _board_key(board), low, high, "BYSCORE", "WITHSCORES"))


def push_task(r, queue: str, task: str, priority: float) -> None:
    """ZADD tasks:{queue} priority task (lower = more urgent)."""
    r.execute_command("ZADD", f"tasks:{queue}", priority, task)


def pop_most_urgent(r, queue: str) -> str | None:
    """ZPOPMIN: atomically remove and return the lowest-priority-value task."""
    popped = _pairs(r.execute_command("ZPOPMIN", f"tasks:{queue}"))
    return popped[0][0] if popped else None
