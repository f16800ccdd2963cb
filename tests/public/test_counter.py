"""Public tests for counter.py: strings and atomic counters (lecture Part 3)."""


def test_first_pageview_returns_1(r, impl):
    """The first view of a page counts 1."""
    assert impl.record_pageview(r, "home") == 1


def test_pageviews_count_up(r, impl):
    """Every view adds one and returns the new total."""
    impl.record_pageview(r, "home")
    impl.record_pageview(r, "home")
    assert impl.record_pageview(r, "home") == 3


def test_pageview_counter_key_name(r, impl):
    """The counter lives at pageviews:{page}, one key per page."""
    impl.record_pageview(r, "home")
    impl.record_pageview(r, "about")
    assert r.get("pageviews:home") == "1"
    assert r.get("pageviews:about") == "1"


def test_get_pageviews_returns_the_count_as_int(r, impl):
    """get_pageviews returns an int, not the string Redis stores."""
    impl.record_pageview(r, "home")
    impl.record_pageview(r, "home")
    assert impl.get_pageviews(r, "home") == 2


def test_get_pageviews_of_unknown_page_is_0(r, impl):
    """A page never viewed has 0 views."""
    assert impl.get_pageviews(r, "never-seen") == 0


def test_get_many_pageviews(r, impl):
    """get_many_pageviews returns every requested page, 0 where missing."""
    impl.record_pageview(r, "home")
    impl.record_pageview(r, "home")
    impl.record_pageview(r, "about")
    assert impl.get_many_pageviews(r, ["home", "about", "contact"]) == {"home": 2, "about": 1, "contact": 0}


def test_acquire_free_lock(r, impl):
    """A free lock is acquired: True, and lock:{resource} holds the owner."""
    assert impl.acquire_lock(r, "report", "worker-1", 5000) is True
    assert r.get("lock:report") == "worker-1"


def test_held_lock_is_not_acquired_again(r, impl):
    """While the lock is held, another owner gets False and the lock keeps its owner."""
    impl.acquire_lock(r, "report", "worker-1", 5000)
    assert impl.acquire_lock(r, "report", "worker-2", 5000) is False
    assert r.get("lock:report") == "worker-1"


def test_lock_expires(r, impl):
    """The lock key gets an expiry of ttl_ms milliseconds."""
    impl.acquire_lock(r, "report", "worker-1", 5000)
    assert 0 < r.pttl("lock:report") <= 5000


def test_attempts_up_to_the_limit_are_allowed(r, impl):
    """The first `limit` attempts in a window are not rate limited."""
    results = [impl.is_rate_limited(r, "10.0.0.1", limit=3, now=120.0) for _ in range(3)]
    assert results == [False, False, False]


def test_attempt_over_the_limit_is_limited(r, impl):
    """The attempt after `limit` (the 11th of 10) is rate limited."""
    for _ in range(10):
        impl.is_rate_limited(r, "10.0.0.1", now=120.0)
    assert impl.is_rate_limited(r, "10.0.0.1", now=120.0) is True


def test_rate_limit_key_and_expiry(r, impl):
    """Attempts are counted at ratelimit:login:{ip}:{window_start}, which expires within the window."""
    impl.is_rate_limited(r, "10.0.0.1", window_s=60, now=130.0)
    assert r.get("ratelimit:login:10.0.0.1:120") == "1"
    assert 0 < r.ttl("ratelimit:login:10.0.0.1:120") <= 60


def test_next_window_starts_fresh(r, impl):
    """A new window counts from 1 again."""
    for _ in range(3):
        impl.is_rate_limited(r, "10.0.0.1", limit=2, now=120.0)
    assert impl.is_rate_limited(r, "10.0.0.1", limit=2, now=180.0) is False
