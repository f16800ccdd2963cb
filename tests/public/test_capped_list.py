"""Public tests for capped_list.py: lists for feeds and queues (lecture Part 4.2)."""

import json


def test_recent_events_newest_first(r, impl):
    """Events come back newest first."""
    for event in ["login", "view", "logout"]:
        impl.push_event(r, "42", event)
    assert impl.recent_events(r, "42") == ["logout", "view", "login"]


def test_push_event_keeps_only_cap_events(r, impl):
    """The feed activity:user:{user_id} never holds more than `cap` events."""
    for i in range(5):
        impl.push_event(r, "42", f"event-{i}", cap=3)
    assert r.lrange("activity:user:42", 0, -1) == ["event-4", "event-3", "event-2"]


def test_recent_events_returns_at_most_n(r, impl):
    """recent_events returns only the newest n."""
    for i in range(5):
        impl.push_event(r, "42", f"event-{i}")
    assert impl.recent_events(r, "42", n=2) == ["event-4", "event-3"]


def test_recent_events_of_unknown_user_is_empty(r, impl):
    """A user without events has an empty feed."""
    assert impl.recent_events(r, "nobody") == []


def test_feed_length(r, impl):
    """feed_length counts the stored events, 0 for an unknown user."""
    assert impl.feed_length(r, "42") == 0
    impl.push_event(r, "42", "login")
    impl.push_event(r, "42", "view")
    assert impl.feed_length(r, "42") == 2


def test_enqueue_job_returns_queue_length(r, impl):
    """enqueue_job returns the queue's new length."""
    assert impl.enqueue_job(r, "emails", {"to": "ada@example.com"}) == 1
    assert impl.enqueue_job(r, "emails", {"to": "alan@example.com"}) == 2


def test_job_is_stored_as_json(r, impl):
    """Jobs are JSON strings in the list queue:{queue}."""
    impl.enqueue_job(r, "emails", {"to": "ada@example.com"})
    assert json.loads(r.lindex("queue:emails", 0)) == {"to": "ada@example.com"}


def test_dequeue_job_is_fifo(r, impl):
    """The oldest job comes out first, as the dict that went in."""
    impl.enqueue_job(r, "emails", {"n": 1})
    impl.enqueue_job(r, "emails", {"n": 2})
    assert impl.dequeue_job(r, "emails") == {"n": 1}
    assert impl.dequeue_job(r, "emails") == {"n": 2}


def test_dequeue_from_empty_queue_is_none(r, impl):
    """An empty queue gives None."""
    assert impl.dequeue_job(r, "emails") is None
