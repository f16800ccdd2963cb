"""Assignment 3: sets, for daily visitors and set algebra (lecture Part 4.3).

One set per day holds the ids of that day's visitors: SADD records a visit once, SCARD
counts distinct visitors, SISMEMBER checks one member without reading the set, and
SINTER, SUNION and SDIFF answer "every day", "any day" and "churned" on the server.
"""

from __future__ import annotations

import redis

VISITOR_TTL_S = 2 * 86400
"""How long a day's visitor set lives after its latest visit: two days, in seconds."""


def record_visit(r: redis.Redis, day: str, user_id: str) -> bool:
    """Record that ``user_id`` visited on ``day`` (``YYYY-MM-DD``); ``True`` on the first visit that day.

    Adds the user to the set ``visitors:{day}`` and (re)sets the set's expiry to
    ``VISITOR_TTL_S`` seconds, both in one round trip (one pipeline). Later visits the
    same day return ``False`` and do not change the count.

    Example:
        >>> record_visit(r, "2024-05-01", "ada")
        True
        >>> record_visit(r, "2024-05-01", "ada")
        False

    Commands: https://redis.io/docs/latest/commands/sadd/ and
    https://redis.io/docs/latest/commands/expire/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def unique_visitors(r: redis.Redis, day: str) -> int:
    """Return the number of distinct visitors on ``day`` (0 for a day without visits).

    Example:
        >>> record_visit(r, "2024-05-01", "ada")
        True
        >>> record_visit(r, "2024-05-01", "ada")
        False
        >>> unique_visitors(r, "2024-05-01")
        1

    Command: https://redis.io/docs/latest/commands/scard/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def was_active(r: redis.Redis, day: str, user_id: str) -> bool:
    """Return ``True`` if ``user_id`` visited on ``day``, asking the server, without reading the whole set.

    Example:
        >>> record_visit(r, "2024-05-01", "ada")
        True
        >>> was_active(r, "2024-05-01", "ada"), was_active(r, "2024-05-01", "alan")
        (True, False)

    Command: https://redis.io/docs/latest/commands/sismember/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def active_every_day(r: redis.Redis, days: list[str]) -> set[str]:
    """Return the users who visited on every one of ``days``, computed on the server.

    The intersection of the ``visitors:{day}`` sets; a day without visitors makes it
    empty. No days at all gives ``set()`` (without asking Redis).

    Example:
        >>> record_visit(r, "2024-05-01", "ada"), record_visit(r, "2024-05-02", "ada")
        (True, True)
        >>> record_visit(r, "2024-05-01", "alan")
        True
        >>> active_every_day(r, ["2024-05-01", "2024-05-02"])
        {'ada'}

    Command: https://redis.io/docs/latest/commands/sinter/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def active_any_day(r: redis.Redis, days: list[str]) -> set[str]:
    """Return the users who visited on at least one of ``days``, computed on the server.

    The union of the ``visitors:{day}`` sets. No days at all gives ``set()``.

    Example:
        >>> record_visit(r, "2024-05-01", "ada"), record_visit(r, "2024-05-02", "alan")
        (True, True)
        >>> sorted(active_any_day(r, ["2024-05-01", "2024-05-02"]))
        ['ada', 'alan']

    Command: https://redis.io/docs/latest/commands/sunion/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError


def churned(r: redis.Redis, before: str, after: str) -> set[str]:
    """Return the users who visited on day ``before`` but not on day ``after``, computed on the server.

    Example:
        >>> record_visit(r, "2024-05-01", "ada"), record_visit(r, "2024-05-01", "alan")
        (True, True)
        >>> record_visit(r, "2024-05-02", "ada")
        True
        >>> churned(r, "2024-05-01", "2024-05-02")
        {'alan'}

    Command: https://redis.io/docs/latest/commands/sdiff/
    """
    # TODO(student): implement this function (see the docstring).
    raise NotImplementedError
