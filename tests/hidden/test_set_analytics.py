"""Hidden suite: set_analytics (Part 4.3). Daily visitor sets with SADD + EXPIRE, membership and set algebra."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from grader import feedback
from grader.trace import Command, Trace

pytestmark = pytest.mark.assignment("set_analytics")

VISITOR_TTL_S = 2 * 86400
WHOLE_SET_READS = frozenset({"SMEMBERS", "SSCAN", "SORT", "SORT_RO", "DUMP"})
SET_ALGEBRA = frozenset({"SINTER", "SUNION", "SDIFF"})


# --- helpers ----------------------------------------------------------------------------------


def visitors(day: str) -> str:
    return f"visitors:{day}"


def same_set(result: Any, expected: set[str]) -> bool:
    """``result`` holds exactly the members of ``expected``, each once (the exact type is tested apart)."""
    members = list(result)
    return len(members) == len(expected) and set(members) == expected


def reads_whole_set(command: Command, keys: Iterable[str]) -> bool:
    """``command`` downloads every member of one of ``keys`` to the client."""
    keys = set(keys)
    if not command.args or command.args[0] not in keys:
        return False
    if command.name in WHOLE_SET_READS:
        return True
    if command.name == "SRANDMEMBER" and len(command.args) > 1:
        return True
    return command.name in SET_ALGEBRA and len(command.args) == 1


def downloads_a_set(trace: Trace, keys: Iterable[str]) -> list[Command]:
    keys = list(keys)
    return [c for c in trace.commands if reads_whole_set(c, keys)]


# --- record_visit -----------------------------------------------------------------------------


@pytest.mark.points(6)
@pytest.mark.hint(feedback.SET_ADD)
def test_first_visit_of_the_day(impl, r):
    """The first visit of a user on a day is reported as first, repeat visits are not."""
    assert impl.record_visit(r, "2024-05-01", "ada")
    assert not impl.record_visit(r, "2024-05-01", "ada")
    assert impl.record_visit(r, "2024-05-01", "alan")
    assert not impl.record_visit(r, "2024-05-01", "ada")
    assert not impl.record_visit(r, "2024-05-01", "alan")


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SET_ADD)
def test_record_visit_returns_bool(impl, r):
    """record_visit answers with a real bool, for a first and for a repeat visit."""
    first = impl.record_visit(r, "2024-05-02", "grace")
    again = impl.record_visit(r, "2024-05-02", "grace")
    assert type(first) is bool and first is True
    assert type(again) is bool and again is False


@pytest.mark.points(5)
@pytest.mark.hint(feedback.SET_ADD)
def test_visits_are_stored_in_the_days_set(impl, r):
    """Each day's visitors are stored once each in that day's set."""
    for user in ["ada", "alan", "ada", "grace", "alan"]:
        impl.record_visit(r, "2024-06-30", user)
    assert r.type(visitors("2024-06-30")) == "set"
    assert r.smembers(visitors("2024-06-30")) == {"ada", "alan", "grace"}


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SET_ADD)
def test_days_are_independent(impl, r):
    """A visit on one day does not count for another day."""
    r.sadd(visitors("2024-05-01"), "ada")
    assert impl.record_visit(r, "2024-05-02", "ada")
    assert r.smembers(visitors("2024-05-01")) == {"ada"}
    assert r.smembers(visitors("2024-05-02")) == {"ada"}
    assert r.exists(visitors("2024-05-03")) == 0


@pytest.mark.points(5)
@pytest.mark.hint(feedback.SET_TTL)
def test_visitor_set_expires_after_two_days(impl, r):
    """A day's visitor set expires VISITOR_TTL_S seconds after a visit."""
    impl.record_visit(r, "2024-07-14", "ada")
    assert VISITOR_TTL_S - 10 <= r.ttl(visitors("2024-07-14")) <= VISITOR_TTL_S


@pytest.mark.points(5)
@pytest.mark.hint(feedback.SET_TTL)
def test_new_visitor_refreshes_expiry(impl, r):
    """Another user's visit pushes the expiry back to the full VISITOR_TTL_S."""
    impl.record_visit(r, "2024-07-15", "ada")
    r.expire(visitors("2024-07-15"), 100)
    impl.record_visit(r, "2024-07-15", "alan")
    assert VISITOR_TTL_S - 10 <= r.ttl(visitors("2024-07-15")) <= VISITOR_TTL_S


@pytest.mark.points(4)
@pytest.mark.hint(feedback.SET_TTL)
def test_repeat_visit_refreshes_expiry(impl, r):
    """A repeat visit by the same user also pushes the expiry back to the full VISITOR_TTL_S."""
    impl.record_visit(r, "2024-07-16", "ada")
    r.expire(visitors("2024-07-16"), 100)
    impl.record_visit(r, "2024-07-16", "ada")
    assert VISITOR_TTL_S - 10 <= r.ttl(visitors("2024-07-16")) <= VISITOR_TTL_S


# --- unique_visitors / was_active -------------------------------------------------------------


@pytest.mark.points(6)
@pytest.mark.hint(feedback.SET_CARD)
def test_unique_visitors(impl, r):
    """unique_visitors counts each user once, as an int, and zero for a day without visits."""
    for user in ["ada", "alan", "ada", "grace", "ada"]:
        impl.record_visit(r, "2024-08-01", user)
    r.sadd(visitors("2024-08-02"), *[f"user-{i}" for i in range(1000)])
    counts = [impl.unique_visitors(r, day) for day in ["2024-08-01", "2024-08-02", "2024-08-03"]]
    assert all(type(c) is int for c in counts)
    assert counts == [3, 1000, 0]


@pytest.mark.points(6)
@pytest.mark.hint(feedback.SET_MEMBER)
def test_was_active(impl, r):
    """was_active tells whether the user visited on that day."""
    r.sadd(visitors("2024-09-01"), "ada", "alan")
    r.sadd(visitors("2024-09-02"), "grace")
    assert impl.was_active(r, "2024-09-01", "ada")
    assert impl.was_active(r, "2024-09-02", "grace")
    assert not impl.was_active(r, "2024-09-01", "grace")
    assert not impl.was_active(r, "2024-09-02", "ada")
    assert not impl.was_active(r, "2024-09-03", "ada")


@pytest.mark.points(2)
@pytest.mark.hint(feedback.SET_MEMBER)
def test_was_active_returns_bool(impl, r):
    """was_active answers with a real bool."""
    r.sadd(visitors("2024-09-05"), "ada")
    yes, no = impl.was_active(r, "2024-09-05", "ada"), impl.was_active(r, "2024-09-05", "alan")
    assert type(yes) is bool and yes is True
    assert type(no) is bool and no is False


@pytest.mark.points(5)
@pytest.mark.hint(feedback.SET_MEMBER)
def test_was_active_does_not_read_the_whole_set(impl, r, trace):
    """was_active asks the server about one member instead of fetching the whole set."""
    r.sadd(visitors("2024-09-10"), *[f"user-{i}" for i in range(1000)])
    with trace() as t:
        impl.was_active(r, "2024-09-10", "user-500")
        impl.was_active(r, "2024-09-10", "nobody")
    assert t.commands and not downloads_a_set(t, [visitors("2024-09-10")]), t.names


# --- set algebra ------------------------------------------------------------------------------


@pytest.mark.points(7)
@pytest.mark.hint(feedback.SET_INTER)
def test_active_every_day(impl, r):
    """active_every_day returns the users who visited on every given day."""
    r.sadd(visitors("2024-10-01"), "ada", "alan", "grace", "linus")
    r.sadd(visitors("2024-10-02"), "ada", "grace", "linus", "barbara")
    r.sadd(visitors("2024-10-03"), "grace", "ada", "ken")
    result = impl.active_every_day(r, ["2024-10-01", "2024-10-02", "2024-10-03"])
    assert same_set(result, {"ada", "grace"})
    assert same_set(impl.active_every_day(r, ["2024-10-01", "2024-10-02"]), {"ada", "grace", "linus"})


@pytest.mark.points(4)
@pytest.mark.hint(feedback.SET_INTER)
def test_active_every_day_of_no_days(impl, r):
    """With no days given, nobody was active on every one of them."""
    r.sadd(visitors("2024-10-01"), "ada")
    result = impl.active_every_day(r, [])
    assert type(result) is set and result == set()


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SET_INTER)
def test_active_every_day_single_day(impl, r):
    """For a single day, everyone who visited that day counts."""
    r.sadd(visitors("2024-10-05"), "ada", "alan")
    r.sadd(visitors("2024-10-06"), "grace")
    assert same_set(impl.active_every_day(r, ["2024-10-05"]), {"ada", "alan"})


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SET_INTER)
def test_active_every_day_with_a_day_without_visits(impl, r):
    """A day without any visits leaves nobody active on every day."""
    r.sadd(visitors("2024-10-07"), "ada", "alan")
    assert same_set(impl.active_every_day(r, ["2024-10-07", "2024-10-08"]), set())
    assert same_set(impl.active_every_day(r, ["2024-10-09", "2024-10-07"]), set())
    assert same_set(impl.active_every_day(r, ["2024-10-10"]), set())


@pytest.mark.points(6)
@pytest.mark.hint(feedback.SET_SERVER_SIDE)
def test_active_every_day_is_computed_on_the_server(impl, r, trace):
    """active_every_day lets the server combine the days' sets instead of downloading them."""
    days = ["2024-11-01", "2024-11-02", "2024-11-03"]
    for offset, day in enumerate(days):
        r.sadd(visitors(day), *[f"user-{i}" for i in range(offset * 100, offset * 100 + 500)])
    with trace() as t:
        impl.active_every_day(r, days)
    assert t.commands and not downloads_a_set(t, [visitors(d) for d in days]), t.names


@pytest.mark.points(7)
@pytest.mark.hint(feedback.SET_UNION)
def test_active_any_day(impl, r):
    """active_any_day returns the users who visited on at least one given day."""
    r.sadd(visitors("2024-12-01"), "ada", "alan")
    r.sadd(visitors("2024-12-02"), "alan", "grace")
    r.sadd(visitors("2024-12-03"), "linus")
    result = impl.active_any_day(r, ["2024-12-01", "2024-12-02", "2024-12-04"])
    assert same_set(result, {"ada", "alan", "grace"})
    assert same_set(impl.active_any_day(r, ["2024-12-03"]), {"linus"})
    assert same_set(impl.active_any_day(r, ["2024-12-05"]), set())


@pytest.mark.points(7)
@pytest.mark.hint(feedback.SET_DIFF)
def test_churned(impl, r):
    """churned returns the users of the first day who did not come back on the second."""
    r.sadd(visitors("2025-01-01"), "ada", "alan", "grace")
    r.sadd(visitors("2025-01-02"), "alan", "linus")
    assert same_set(impl.churned(r, "2025-01-01", "2025-01-02"), {"ada", "grace"})
    assert same_set(impl.churned(r, "2025-01-02", "2025-01-01"), {"linus"})


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SET_DIFF)
def test_churned_with_a_day_without_visits(impl, r):
    """Nobody came on a day without visits: all of the first day churned, and nobody churned from an empty day."""
    r.sadd(visitors("2025-01-05"), "ada", "alan")
    assert same_set(impl.churned(r, "2025-01-05", "2025-01-06"), {"ada", "alan"})
    assert same_set(impl.churned(r, "2025-01-07", "2025-01-05"), set())


@pytest.mark.points(4)
@pytest.mark.hint(feedback.SET_ALGEBRA_EXACT)
def test_set_algebra_on_large_sets(impl, r):
    """Set algebra gives exact answers on days with many visitors."""
    r.sadd(visitors("2025-02-01"), *[f"u{i}" for i in range(0, 1000)])
    r.sadd(visitors("2025-02-02"), *[f"u{i}" for i in range(500, 1500)])
    r.sadd(visitors("2025-02-03"), *[f"u{i}" for i in range(0, 2000, 2)])
    days = ["2025-02-01", "2025-02-02", "2025-02-03"]
    assert same_set(impl.active_every_day(r, days), {f"u{i}" for i in range(500, 1000, 2)})
    assert same_set(impl.active_any_day(r, days[:2]), {f"u{i}" for i in range(1500)})
    assert same_set(impl.churned(r, days[0], days[1]), {f"u{i}" for i in range(500)})
    assert same_set(impl.churned(r, days[1], days[0]), {f"u{i}" for i in range(1000, 1500)})


@pytest.mark.points(2)
@pytest.mark.hint(feedback.SET_ADD)
def test_non_ascii_user_ids(impl, r):
    """User ids with accents, CJK characters and emoji work like any other."""
    for user in ["café", "日本", "🎉"]:
        assert impl.record_visit(r, "2025-03-01", user)
    assert not impl.record_visit(r, "2025-03-01", "日本")
    assert r.smembers(visitors("2025-03-01")) == {"café", "日本", "🎉"}
    assert impl.was_active(r, "2025-03-01", "🎉")
    assert not impl.was_active(r, "2025-03-01", "cafe")


@pytest.mark.points(4)
@pytest.mark.hint(feedback.SET_RESULT)
def test_set_functions_return_sets_of_str(impl, r):
    """The set functions return Python sets of user ids as str."""
    r.sadd(visitors("2025-04-01"), "ada", "alan")
    r.sadd(visitors("2025-04-02"), "ada")
    results = [
        impl.active_every_day(r, ["2025-04-01", "2025-04-02"]),
        impl.active_any_day(r, ["2025-04-01", "2025-04-02"]),
        impl.churned(r, "2025-04-01", "2025-04-02"),
    ]
    assert all(type(result) is set for result in results), [type(x).__name__ for x in results]
    assert all(type(m) is str for result in results for m in result)
