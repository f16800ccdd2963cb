"""Sets: daily unique visitors, with explicit commands."""

VISITOR_TTL_S = 2 * 86400


def _day_key(day: str) -> str:
    return f"visitors:{day}"


def _as_set(reply) -> set[str]:
    return set(reply) if reply else set()


def record_visit(r, day: str, user_id: str) -> bool:
    """SADD + EXPIRE in MULTI/EXEC; True on the user's first visit that day."""
    key = _day_key(day)
    with r.pipeline(transaction=True) as tx:
        tx.execute_command("SADD", key, user_id)
        tx.execute_command("EXPIRE", key, VISITOR_TTL_S)
        added, _ = tx.execute()
    return int(added) == 1


def unique_visitors(r, day: str) -> int:
    """SCARD of the day's set."""
    return int(r.execute_command("SCARD", _day_key(day)))


def was_active(r, day: str, user_id: str) -> bool:
    """SISMEMBER: a single membership check."""
    return int(r.execute_command("SISMEMBER", _day_key(day), user_id)) == 1


def active_every_day(r, days: list[str]) -> set[str]:
    """SINTER over all days on the server; empty set for no days."""
    days = list(days)
    if not days:
        return set()
    return _as_set(r.execute_command("SINTER", *[_day_key(day) for day in days]))


def active_any_day(r, days: list[str]) -> set[str]:
    """SUNION over all days on the server; empty set for no days."""
    days = list(days)
    if not days:
        return set()
    return _as_set(r.execute_command("SUNION", *[_day_key(day) for day in days]))


def churned(r, before: str, after: str) -> set[str]:
    """SDIFF before after."""
    return _as_set(r.execute_command("SDIFF", _day_key(before), _day_key(after)))
