"""Hidden suite: capped_list (Part 4.2). Capped activity feeds with LPUSH + LTRIM, FIFO job queues with RPUSH + LPOP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grader import feedback, properties
from grader.trace import Trace

pytestmark = pytest.mark.assignment("capped_list")

ELEMENT_READS = frozenset({"LRANGE", "LINDEX", "SORT", "SORT_RO"})
ELEMENT_REMOVALS = frozenset({"LPOP", "RPOP", "LREM", "LTRIM", "LSET", "DEL", "UNLINK", "LMPOP", "LMOVE", "RPOPLPUSH"})


# --- helpers ----------------------------------------------------------------------------------


def feed(user_id: str) -> str:
    return f"activity:user:{user_id}"


def store_feed(r: Any, user_id: str, newest_first: list[str]) -> None:
    """Put a feed on the server from the test side, newest event first."""
    r.rpush(feed(user_id), *newest_first)


def elements_read(trace: Trace) -> int | None:
    """How many list elements the trace asked for; None when one read was unbounded."""
    total = 0
    for command in trace.commands:
        if command.name in {"SORT", "SORT_RO"}:
            return None
        if command.name == "LINDEX":
            total += 1
        elif command.name == "LRANGE":
            start, stop = int(command.args[1]), int(command.args[2])
            if start < 0 or stop < 0:
                return None
            total += max(0, stop - start + 1)
    return total


# --- push_event -------------------------------------------------------------------------------


@pytest.mark.points(8)
@pytest.mark.hint(feedback.LIST_PUSH_TRIM)
def test_push_event_puts_newest_first(impl, r):
    """Events are stored in the user's feed list, newest first."""
    for event in ["signup", "login", "café ☕", "logout"]:
        impl.push_event(r, "u17", event)
    assert r.type(feed("u17")) == "list"
    assert r.lrange(feed("u17"), 0, -1) == ["logout", "café ☕", "login", "signup"]


@pytest.mark.points(8)
@pytest.mark.hint(feedback.LIST_PUSH_TRIM)
def test_push_event_keeps_only_cap_newest(impl, r):
    """The feed keeps only the newest events, up to the cap."""
    for i in range(12):
        impl.push_event(r, "u1", f"e{i}", cap=5)
    assert r.lrange(feed("u1"), 0, -1) == ["e11", "e10", "e9", "e8", "e7"]
    impl.push_event(r, "u1", "e12", cap=5)
    assert r.lrange(feed("u1"), 0, -1) == ["e12", "e11", "e10", "e9", "e8"]


@pytest.mark.points(4)
@pytest.mark.hint(feedback.LIST_PUSH_TRIM)
def test_push_event_cap_one(impl, r):
    """The smallest possible cap keeps only the latest event."""
    for event in ["a", "b", "c"]:
        impl.push_event(r, "u2", event, cap=1)
    assert r.lrange(feed("u2"), 0, -1) == ["c"]


@pytest.mark.points(4)
@pytest.mark.hint(feedback.LIST_PUSH_TRIM)
def test_push_event_default_cap(impl, r):
    """Without an explicit cap, the feed keeps the default number of newest events."""
    store_feed(r, "u3", [f"old{i}" for i in range(103, 0, -1)][:100])
    for i in range(5):
        impl.push_event(r, "u3", f"new{i}")
    stored = r.lrange(feed("u3"), 0, -1)
    assert len(stored) == 100
    assert stored[:5] == ["new4", "new3", "new2", "new1", "new0"]
    assert stored[-1] == "old9"


@pytest.mark.points(5)
@pytest.mark.hint(feedback.LIST_ONE_ROUND_TRIP)
def test_push_event_in_one_round_trip(impl, r, trace):
    """Adding and trimming are sent to the server in one round trip."""
    store_feed(r, "u4", ["x", "y", "z"])
    with trace() as t:
        impl.push_event(r, "u4", "w", cap=3)
    assert t.round_trips == 1, t.names


# --- recent_events / feed_length --------------------------------------------------------------


@pytest.mark.points(8)
@pytest.mark.hint(feedback.LIST_RANGE)
def test_recent_events_returns_newest_n(impl, r):
    """recent_events returns exactly the newest n events, newest first."""
    store_feed(r, "u5", [f"e{i}" for i in range(9, -1, -1)])
    result = impl.recent_events(r, "u5", 3)
    assert type(result) is list
    assert result == ["e9", "e8", "e7"]
    assert impl.recent_events(r, "u5", n=1) == ["e9"]


@pytest.mark.points(3)
@pytest.mark.hint(feedback.LIST_RANGE)
def test_recent_events_default_n(impl, r):
    """Without an explicit n, the default number of newest events is returned."""
    store_feed(r, "u6", [f"e{i}" for i in range(29, -1, -1)])
    assert impl.recent_events(r, "u6") == [f"e{i}" for i in range(29, 9, -1)]


@pytest.mark.points(4)
@pytest.mark.hint(feedback.LIST_RANGE)
def test_recent_events_zero(impl, r):
    """Asking for no events returns an empty list."""
    store_feed(r, "u7", ["c", "b", "a"])
    result = impl.recent_events(r, "u7", 0)
    assert type(result) is list and result == []


@pytest.mark.points(3)
@pytest.mark.hint(feedback.LIST_RANGE)
def test_recent_events_short_or_missing_feed(impl, r):
    """A feed shorter than n is returned whole, and an unknown user has no events."""
    store_feed(r, "u8", ["c", "b", "a"])
    assert impl.recent_events(r, "u8", 50) == ["c", "b", "a"]
    missing = impl.recent_events(r, "nobody", 5)
    assert type(missing) is list and missing == []


@pytest.mark.points(5)
@pytest.mark.hint(feedback.LIST_RANGE)
def test_recent_events_reads_no_more_than_n(impl, r, trace):
    """recent_events fetches only the events it returns, not the whole feed."""
    store_feed(r, "u9", [f"e{i}" for i in range(199, -1, -1)])
    with trace() as t:
        impl.recent_events(r, "u9", 5)
    read = elements_read(t)
    assert t.commands and read is not None and read <= 5, t.commands


@pytest.mark.points(4)
@pytest.mark.hint(feedback.LIST_LEN)
def test_feed_length(impl, r):
    """feed_length counts the stored events as an int, zero for an unknown user."""
    store_feed(r, "u10", ["c", "b", "a"])
    length, missing = impl.feed_length(r, "u10"), impl.feed_length(r, "ghost")
    assert type(length) is int and length == 3
    assert type(missing) is int and missing == 0
    for i in range(4):
        impl.push_event(r, "u11", f"e{i}", cap=2)
    assert impl.feed_length(r, "u11") == 2


# --- enqueue_job / dequeue_job ----------------------------------------------------------------


@pytest.mark.points(6)
@pytest.mark.hint(feedback.QUEUE_FIFO)
def test_enqueue_appends_json_to_the_queue(impl, r):
    """Jobs are appended to the queue's list as JSON strings, oldest at the head."""
    jobs = [{"id": 1, "to": "ada@example.com"}, {"id": 2, "to": "alan@example.com"}, {"id": 3}]
    for job in jobs:
        impl.enqueue_job(r, "emails", job)
    assert r.type("queue:emails") == "list"
    assert [json.loads(raw) for raw in r.lrange("queue:emails", 0, -1)] == jobs


@pytest.mark.points(4)
@pytest.mark.hint(feedback.QUEUE_FIFO)
def test_enqueue_returns_queue_length(impl, r):
    """enqueue_job returns the queue's new length as an int."""
    r.rpush("queue:resize", json.dumps({"id": 0}))
    lengths = [impl.enqueue_job(r, "resize", {"id": i}) for i in range(1, 4)]
    assert all(type(n) is int for n in lengths)
    assert lengths == [2, 3, 4]
    assert impl.enqueue_job(r, "other", {"id": 9}) == 1


@pytest.mark.points(5)
@pytest.mark.hint(feedback.QUEUE_FIFO)
def test_job_round_trips_through_json(impl, r):
    """A job comes back equal to what was enqueued, including nested data and non-ASCII text."""
    job = {
        "id": "job-42",
        "user": {"name": "Zoë", "city": "東京", "tags": ["vip", "β"]},
        "emoji": "🎉",
        "attempts": 0,
        "ratio": 0.25,
        "urgent": False,
        "parent": None,
        "steps": [{"op": "resize", "size": [640, 480]}, {"op": "upload"}],
    }
    impl.enqueue_job(r, "media", job)
    assert json.loads(r.lindex("queue:media", 0)) == job
    result = impl.dequeue_job(r, "media")
    assert type(result) is dict
    assert result == job


@pytest.mark.points(8)
@pytest.mark.hint(feedback.QUEUE_FIFO)
def test_dequeue_is_first_in_first_out(impl, r):
    """Jobs come out in the order they went in, then the queue is empty."""
    jobs = [{"n": i} for i in range(5)]
    for job in jobs:
        impl.enqueue_job(r, "fifo", job)
    assert [impl.dequeue_job(r, "fifo") for _ in range(5)] == jobs
    assert impl.dequeue_job(r, "fifo") is None
    impl.enqueue_job(r, "fifo", {"n": 5})
    impl.enqueue_job(r, "fifo", {"n": 6})
    assert impl.dequeue_job(r, "fifo") == {"n": 5}


@pytest.mark.points(3)
@pytest.mark.hint(feedback.QUEUE_FIFO)
def test_dequeue_takes_jobs_other_producers_queued(impl, r):
    """dequeue_job takes JSON jobs that another producer appended to the queue."""
    r.rpush("queue:reports", json.dumps({"report": "weekly"}), json.dumps({"report": "monthly"}))
    assert impl.dequeue_job(r, "reports") == {"report": "weekly"}
    assert r.lrange("queue:reports", 0, -1) == [json.dumps({"report": "monthly"})]


@pytest.mark.points(5)
@pytest.mark.hint(feedback.QUEUE_EMPTY)
def test_dequeue_from_empty_queue(impl, r):
    """An empty or unknown queue gives None and creates nothing."""
    assert impl.dequeue_job(r, "never-used") is None
    assert r.exists("queue:never-used") == 0
    r.rpush("queue:drained", json.dumps({"n": 1}))
    impl.dequeue_job(r, "drained")
    assert impl.dequeue_job(r, "drained") is None
    assert r.exists("queue:drained") == 0


@pytest.mark.points(8)
@pytest.mark.hint(feedback.QUEUE_ATOMIC_POP)
def test_concurrent_workers_get_each_job_once(impl, r, concurrently):
    """Workers dequeuing at the same time get every job exactly once."""
    total = 160
    r.rpush("queue:work", *[json.dumps({"id": i}) for i in range(total)])

    def work(client: Any, _i: int, _barrier: Any) -> list[int]:
        taken = []
        while (job := impl.dequeue_job(client, "work")) is not None:
            taken.append(job["id"])
        return taken

    taken = [job_id for batch in concurrently(work) for job_id in batch]
    assert sorted(taken) == list(range(total))
    assert r.exists("queue:work") == 0


@pytest.mark.points(5)
@pytest.mark.hint(feedback.QUEUE_ATOMIC_POP)
def test_dequeue_takes_the_job_in_one_step(impl, r, trace):
    """A job is taken off the queue in one step, not read first and removed after."""
    r.rpush("queue:step", json.dumps({"id": 1}), json.dumps({"id": 2}))
    with trace() as t:
        impl.dequeue_job(r, "step")
    assert r.llen("queue:step") == 1
    assert not properties.reads_then_writes(t, reads=ELEMENT_READS, writes=ELEMENT_REMOVALS), t.names
