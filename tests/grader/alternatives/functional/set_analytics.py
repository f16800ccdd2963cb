"""Sets: daily visitors, built from small key helpers."""

VISITOR_TTL_S = 2 * 86400


def visitors_key(day: str) -> str:
    """Key of one day's visitor set."""
    return f"visitors:{day}"


def visitors_keys(days: list[str]) -> list[str]:
    """Keys for several days."""
    return [visitors_key(d) for d in days]


def record_visit(r, day: str, user_id: str) -> bool:
    """Add the visitor and push the day's expiry out; True on a first visit."""
    key = visitors_key(day)
    pipe = r.pipeline(transaction=False)
    pipe.sadd(key, user_id)
    pipe.expire(key, VISITOR_TTL_S)
    added, _ = pipe.execute()
    return added == 1


def unique_visitors(r, day: str) -> int:
    """Distinct visitors that day."""
    return r.scard(visitors_key(day))


def was_active(r, day: str, user_id: str) -> bool:
    """Membership test on the server."""
    return bool(r.sismember(visitors_key(day), user_id))


def active_every_day(r, days: list[str]) -> set[str]:
    """Users in every day's set (server-side intersection)."""
    keys = visitors_keys(days)
    return {u for u in r.sinter(keys)} if keys else set()


def active_any_day(r, days: list[str]) -> set[str]:
    """Users in at least one day's set (server-side union)."""
    keys = visitors_keys(days)
    return {u for u in r.sunion(keys)} if keys else set()


def churned(r, before: str, after: str) -> set[str]:
    """Users of `before` missing from `after`."""
    return {u for u in r.sdiff([visitors_key(before), visitors_key(after)])}
