"""Sorted sets: leaderboard and priority queue, built from small key helpers."""


def board_key(board: str) -> str:
    """Key of a leaderboard."""
    return f"leaderboard:{board}"


def tasks_key(queue: str) -> str:
    """Key of a task queue."""
    return f"tasks:{queue}"


def as_pairs(rows) -> list[tuple[str, float]]:
    """(member, score) rows as str/float tuples."""
    return [(member, float(value)) for member, value in rows]


def add_points(r, board: str, player: str, points: float) -> float:
    """Atomic increment of the player's score; returns the new score."""
    return float(r.zincrby(board_key(board), points, player))


def set_score(r, board: str, player: str, score: float) -> None:
    """Overwrite the player's score."""
    r.zadd(board_key(board), {player: score})


def top(r, board: str, n: int = 10) -> list[tuple[str, float]]:
    """The `n` best players, highest first."""
    if n <= 0:
        return []
    return as_pairs(r.zrange(board_key(board), 0, n - 1, desc=True, withscores=True))


def rank(r, board: str, player: str) -> int | None:
    """1-based rank from the top, None if unknown."""
    position = r.zrevrank(board_key(board), player)
    return None if position is None else position + 1


def score(r, board: str, player: str) -> float | None:
    """The player's score, None if absent."""
    value = r.zscore(board_key(board), player)
    return None if value is None else float(value)


def players_between(r, board: str, low: float, high: float) -> list[tuple[str, float]]:
    """Players scoring within [low, high], lowest first."""
    return as_pairs(r.zrangebyscore(board_key(board), low, high, withscores=True))


def push_task(r, queue: str, task: str, priority: float) -> None:
    """Queue a task; lower priority value = more urgent."""
    r.zadd(tasks_key(queue), {task: priority})


def pop_most_urgent(r, queue: str) -> str | None:
    """Atomically pop the most urgent task, None when empty."""
    popped = r.zpopmin(tasks_key(queue), 1)  # explicit count: always a list of pairs
    return next((member for member, _ in popped), None)
