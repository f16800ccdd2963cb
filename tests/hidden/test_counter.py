"""Hidden suite: counter (Part 3). Page-view counters, the SET NX PX lock and the fixed-window rate limiter."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from grader import feedback, properties
from grader.trace import Trace

pytestmark = pytest.mark.assignment("counter")

STRING_READS = frozenset({"GET", "MGET", "GETEX", "GETRANGE", "GETSET", "GETDEL"})
STRING_WRITES = frozenset({"SET", "SETEX", "PSETEX", "GETSET", "MSET", "SETRANGE", "APPEND", "SETNX", "MSETNX"})


# --- helpers ----------------------------------------------------------------------------------


def rate_keys(trace: Trace) -> set[str]:
    """Every rate-limit key a trace names."""
    return {a for c in trace.commands for a in c.args if a.startswith("ratelimit:")}


def current_window_now(window_s: int, offset: float) -> float:
    """A ``now`` inside the window that holds the real current time, ``offset`` seconds after its start."""
    return int(time.time() // window_s) * window_s + offset


# --- record_pageview / get_pageviews ----------------------------------------------------------


@pytest.mark.points(4)
@pytest.mark.hint(feedback.COUNTER_INCR)
def test_record_pageview_returns_new_count(impl, r):
    """record_pageview returns the page's new total as an int."""
    results = [impl.record_pageview(r, "home") for _ in range(3)]
    assert results == [1, 2, 3]
    assert all(type(x) is int for x in results)


@pytest.mark.points(4)
@pytest.mark.hint(feedback.COUNTER_INCR)
def test_record_pageview_counts_on_the_page_key(impl, r):
    """The count is stored on the server under the page's key."""
    for _ in range(3):
        impl.record_pageview(r, "pricing")
    impl.record_pageview(r, "café ☕")
    assert r.get("pageviews:pricing") == "3"
    assert r.get("pageviews:café ☕") == "1"


@pytest.mark.points(3)
@pytest.mark.hint(feedback.COUNTER_INCR)
def test_pages_are_counted_separately(impl, r):
    """Views of one page never change another page's count."""
    r.set("pageviews:about", 41)
    impl.record_pageview(r, "home")
    impl.record_pageview(r, "home")
    assert impl.record_pageview(r, "about") == 42
    assert r.get("pageviews:home") == "2"
    assert r.get("pageviews:about") == "42"


@pytest.mark.points(4)
@pytest.mark.hint(feedback.COUNTER_GET)
def test_get_pageviews_returns_int(impl, r):
    """get_pageviews reads the page's counter and returns it as an int."""
    r.set("pageviews:docs", 1234)
    impl.record_pageview(r, "home")
    docs, home = impl.get_pageviews(r, "docs"), impl.get_pageviews(r, "home")
    assert type(docs) is int and docs == 1234
    assert type(home) is int and home == 1


@pytest.mark.points(2)
@pytest.mark.hint(feedback.COUNTER_GET)
def test_get_pageviews_unknown_page_is_zero(impl, r):
    """A page never viewed has zero views."""
    r.set("pageviews:home", 5)
    for page in ["never-seen", "日本"]:
        result = impl.get_pageviews(r, page)
        assert type(result) is int and result == 0


@pytest.mark.points(6)
@pytest.mark.hint(feedback.COUNTER_ATOMIC)
def test_concurrent_pageviews_are_all_counted(impl, r, concurrently):
    """Views recorded from many clients at once are all counted, none lost."""
    per_thread = 50

    def work(client: Any, _i: int, _barrier: threading.Barrier) -> list[int]:
        return [impl.record_pageview(client, "launch") for _ in range(per_thread)]

    returned = [n for batch in concurrently(work) for n in batch]
    total = 8 * per_thread
    assert r.get("pageviews:launch") == str(total)
    assert sorted(returned) == list(range(1, total + 1))


@pytest.mark.points(4)
@pytest.mark.hint(feedback.COUNTER_ATOMIC)
def test_pageview_is_incremented_on_the_server(impl, r, trace):
    """The count is incremented on the server, not read and written back by the client."""
    r.set("pageviews:home", 7)
    with trace() as t:
        impl.record_pageview(r, "home")
    assert t.commands and not properties.reads_then_writes(t, reads=STRING_READS, writes=STRING_WRITES), t.names


# --- get_many_pageviews -----------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.COUNTER_MGET)
def test_get_many_pageviews(impl, r):
    """get_many_pageviews maps every requested page to its count as an int, zero where missing."""
    r.set("pageviews:home", 3)
    r.set("pageviews:about", 1)
    r.set("pageviews:ñandú", 12)
    impl.record_pageview(r, "about")
    result = impl.get_many_pageviews(r, ["home", "contact", "about", "ñandú"])
    assert type(result) is dict
    assert result == {"home": 3, "contact": 0, "about": 2, "ñandú": 12}
    assert all(type(k) is str and type(v) is int for k, v in result.items())


@pytest.mark.points(2)
@pytest.mark.hint(feedback.COUNTER_MGET)
def test_get_many_pageviews_of_no_pages(impl, r):
    """Asking for no pages gives an empty mapping."""
    r.set("pageviews:home", 3)
    result = impl.get_many_pageviews(r, [])
    assert type(result) is dict and result == {}


@pytest.mark.points(2)
@pytest.mark.hint(feedback.COUNTER_MGET)
def test_get_many_pageviews_with_repeated_pages(impl, r):
    """A page named twice in the request is reported once, with its count."""
    r.set("pageviews:home", 3)
    result = impl.get_many_pageviews(r, ["home", "faq", "home"])
    assert type(result) is dict and result == {"home": 3, "faq": 0}


@pytest.mark.points(4)
@pytest.mark.hint(feedback.COUNTER_MGET)
def test_get_many_pageviews_in_one_round_trip(impl, r, trace):
    """get_many_pageviews asks the server once for all pages."""
    for page in ["a", "c", "e"]:
        r.set(f"pageviews:{page}", 1)
    with trace() as t:
        impl.get_many_pageviews(r, ["a", "b", "c", "d", "e", "f"])
    assert t.round_trips == 1, t.names


# --- acquire_lock -----------------------------------------------------------------------------


@pytest.mark.points(6)
@pytest.mark.hint(feedback.LOCK_SET_NX)
def test_free_lock_is_acquired(impl, r):
    """A free lock is acquired and the lock key holds its owner."""
    assert impl.acquire_lock(r, "nightly-report", "worker-7", 30_000)
    assert r.get("lock:nightly-report") == "worker-7"


@pytest.mark.points(5)
@pytest.mark.hint(feedback.LOCK_SET_NX)
def test_held_lock_is_refused(impl, r):
    """While a lock is held, nobody else gets it and its owner stays unchanged."""
    assert impl.acquire_lock(r, "invoice:17", "alice", 30_000)
    assert not impl.acquire_lock(r, "invoice:17", "bob", 30_000)
    assert not impl.acquire_lock(r, "invoice:17", "carol", 5_000)
    assert not impl.acquire_lock(r, "invoice:17", "alice", 30_000)
    assert r.get("lock:invoice:17") == "alice"


@pytest.mark.points(3)
@pytest.mark.hint(feedback.LOCK_HOLDER_UNTOUCHED)
def test_refused_attempt_leaves_the_holders_expiry(impl, r):
    """A refused attempt does not change the holder's expiry."""
    r.set("lock:batch", "holder", px=2_000)
    assert not impl.acquire_lock(r, "batch", "latecomer", 600_000)
    assert r.get("lock:batch") == "holder"
    assert 0 < r.pttl("lock:batch") <= 2_000


@pytest.mark.points(2)
@pytest.mark.hint(feedback.LOCK_SET_NX)
def test_acquire_lock_returns_bool(impl, r):
    """acquire_lock answers with a real bool, both when acquired and when refused."""
    won = impl.acquire_lock(r, "export", "w1", 10_000)
    lost = impl.acquire_lock(r, "export", "w2", 10_000)
    assert type(won) is bool and won is True
    assert type(lost) is bool and lost is False


@pytest.mark.points(6)
@pytest.mark.hint(feedback.LOCK_SET_NX)
def test_lock_expires_after_ttl(impl, r):
    """The lock expires after the requested number of milliseconds."""
    assert impl.acquire_lock(r, "cleanup", "w1", 30_000)
    assert 15_000 < r.pttl("lock:cleanup") <= 30_000
    assert impl.acquire_lock(r, "thumbs", "w1", 1_500)
    assert 0 < r.pttl("lock:thumbs") <= 1_500


@pytest.mark.points(3)
@pytest.mark.hint(feedback.LOCK_SET_NX)
def test_expired_lock_can_be_taken_by_another_owner(impl, r):
    """Once a lock has expired, another owner can acquire it."""
    assert impl.acquire_lock(r, "sync", "old-owner", 60_000)
    r.pexpireat("lock:sync", 1)  # expire it now
    assert impl.acquire_lock(r, "sync", "new-owner", 60_000)
    assert r.get("lock:sync") == "new-owner"
    assert 0 < r.pttl("lock:sync") <= 60_000


@pytest.mark.points(2)
@pytest.mark.hint(feedback.LOCK_SET_NX)
def test_locks_on_different_resources_are_independent(impl, r):
    """Holding the lock on one resource does not block another resource."""
    assert impl.acquire_lock(r, "a", "w1", 10_000)
    assert impl.acquire_lock(r, "b", "w2", 10_000)
    assert impl.acquire_lock(r, "日本", "w3", 10_000)
    assert (r.get("lock:a"), r.get("lock:b"), r.get("lock:日本")) == ("w1", "w2", "w3")


@pytest.mark.points(6)
@pytest.mark.hint(feedback.LOCK_RACE)
def test_racing_clients_have_exactly_one_winner(impl, r, concurrently):
    """When many clients race for a free lock, exactly one wins and owns it."""
    rounds = 25

    def work(client: Any, i: int, barrier: threading.Barrier) -> list[bool]:
        won = []
        for k in range(rounds):
            barrier.wait()
            won.append(bool(impl.acquire_lock(client, f"race-{k}", f"worker-{i}", 30_000)))
        return won

    results = concurrently(work)
    for k in range(rounds):
        winners = [i for i in range(8) if results[i][k]]
        assert len(winners) == 1, f"round {k}: {len(winners)} winners"
        assert r.get(f"lock:race-{k}") == f"worker-{winners[0]}"


# --- is_rate_limited --------------------------------------------------------------------------


@pytest.mark.points(4)
@pytest.mark.hint(feedback.RATE_LIMIT_WINDOW)
def test_rate_limit_key_uses_window_start_of_now(impl, r, trace):
    """Attempts are counted on the key of the window that holds the given time."""
    with trace() as t:
        impl.is_rate_limited(r, "10.1.2.3", now=125.7)
    assert rate_keys(t) == {"ratelimit:login:10.1.2.3:120"}, sorted(rate_keys(t))
    with trace() as t:
        impl.is_rate_limited(r, "10.1.2.3", limit=5, window_s=30, now=1_700_000_059.99)
    assert rate_keys(t) == {"ratelimit:login:10.1.2.3:1700000040"}, sorted(rate_keys(t))


@pytest.mark.points(3)
@pytest.mark.hint(feedback.RATE_LIMIT)
def test_first_attempt_is_allowed_and_counted(impl, r):
    """The first attempt is allowed and counted on the window's key on the server."""
    now = current_window_now(60, 45.7)
    window_start = int(now // 60) * 60
    assert not impl.is_rate_limited(r, "192.0.2.1", now=now)
    assert r.get(f"ratelimit:login:192.0.2.1:{window_start}") == "1"


@pytest.mark.points(5)
@pytest.mark.hint(feedback.RATE_LIMIT)
def test_eleventh_attempt_is_limited(impl, r):
    """With the default limit, attempts up to the limit pass and later ones in the same window are limited."""
    now = current_window_now(60, 12.5)
    results = [impl.is_rate_limited(r, "192.0.2.2", now=now + i) for i in range(12)]
    assert all(type(x) is bool for x in results)
    assert results == [False] * 10 + [True, True]


@pytest.mark.points(3)
@pytest.mark.hint(feedback.RATE_LIMIT)
def test_custom_limit_and_window(impl, r):
    """A custom limit and window size are honoured."""
    now = current_window_now(10, 7.5)
    window_start = int(now // 10) * 10
    results = [bool(impl.is_rate_limited(r, "192.0.2.3", limit=3, window_s=10, now=now)) for _ in range(5)]
    assert results == [False, False, False, True, True]
    assert r.get(f"ratelimit:login:192.0.2.3:{window_start}") == "5"


@pytest.mark.points(3)
@pytest.mark.hint(feedback.RATE_LIMIT_WINDOW)
def test_new_window_starts_a_new_count(impl, r):
    """A new window starts counting again from the first attempt."""
    now = current_window_now(60, 30.0)
    window_start = int(now // 60) * 60
    for _ in range(11):
        impl.is_rate_limited(r, "192.0.2.4", now=now)
    assert impl.is_rate_limited(r, "192.0.2.4", now=now)
    assert not impl.is_rate_limited(r, "192.0.2.4", now=now + 60)
    assert r.get(f"ratelimit:login:192.0.2.4:{window_start}") == "12"
    assert r.get(f"ratelimit:login:192.0.2.4:{window_start + 60}") == "1"


@pytest.mark.points(4)
@pytest.mark.hint(feedback.RATE_LIMIT)
def test_rate_limit_key_expires_within_window(impl, r):
    """The counter key expires within one window."""
    now = current_window_now(30, 20.5)
    key = f"ratelimit:login:192.0.2.5:{int(now // 30) * 30}"
    impl.is_rate_limited(r, "192.0.2.5", window_s=30, now=now)
    assert 0 < r.ttl(key) <= 30
    impl.is_rate_limited(r, "192.0.2.5", window_s=30, now=now)
    impl.is_rate_limited(r, "192.0.2.5", window_s=30, now=now)
    assert r.get(key) == "3"
    assert 0 < r.ttl(key) <= 30


@pytest.mark.points(2)
@pytest.mark.hint(feedback.RATE_LIMIT)
def test_ips_are_limited_independently(impl, r):
    """One address being limited does not limit another."""
    now = current_window_now(60, 5.0)
    for _ in range(11):
        impl.is_rate_limited(r, "203.0.113.9", now=now)
    assert impl.is_rate_limited(r, "203.0.113.9", now=now)
    assert not impl.is_rate_limited(r, "2001:db8::1", now=now)
    assert not impl.is_rate_limited(r, "203.0.113.10", now=now)


@pytest.mark.points(3)
@pytest.mark.hint(feedback.RATE_LIMIT_NOW)
def test_default_now_is_the_current_time(impl, r):
    """Without an explicit time, the attempt is counted in the current window."""
    before = time.time()
    limited = impl.is_rate_limited(r, "198.51.100.7")
    after = time.time()
    assert not limited
    windows = {int(before // 60) * 60, int(after // 60) * 60}
    values = [r.get(f"ratelimit:login:198.51.100.7:{w}") for w in windows]
    assert "1" in values
