"""Public tests for ttl_cache.py: TTL, cache-aside and sessions (lecture Parts 1.4, 4.1, 5)."""

import json

import fakeredis


def test_cache_set_stores_json_with_ttl(r, impl):
    """cache_set stores the value as JSON at cache:{key} with an expiry of ttl_s."""
    impl.cache_set(r, "user:42", {"name": "Ada"}, 60)
    assert json.loads(r.get("cache:user:42")) == {"name": "Ada"}
    assert 0 < r.ttl("cache:user:42") <= 60


def test_cache_get_returns_decoded_value(r, impl):
    """cache_get returns what cache_set stored."""
    impl.cache_set(r, "user:42", {"name": "Ada", "langs": ["en", "fr"]}, 60)
    assert impl.cache_get(r, "user:42") == {"name": "Ada", "langs": ["en", "fr"]}


def test_cache_get_miss_is_none(r, impl):
    """A key that was never cached gives None."""
    assert impl.cache_get(r, "user:42") is None


def test_get_or_load_miss_loads_and_caches(r, impl):
    """On a miss the loader runs once and its result is cached with ttl_s."""
    calls = []

    def loader():
        calls.append(1)
        return {"name": "Ada"}

    assert impl.get_or_load(r, "user:42", loader, ttl_s=60) == {"name": "Ada"}
    assert len(calls) == 1
    assert json.loads(r.get("cache:user:42")) == {"name": "Ada"}
    assert 0 < r.ttl("cache:user:42") <= 60


def test_get_or_load_hit_does_not_call_loader(r, impl):
    """On a hit the cached value is returned and the loader is not called."""
    impl.cache_set(r, "user:42", {"name": "Ada"}, 60)

    def loader():
        raise AssertionError("the loader must not run on a cache hit")

    assert impl.get_or_load(r, "user:42", loader) == {"name": "Ada"}


def test_get_or_load_works_when_redis_is_down(impl):
    """When Redis is unreachable, get_or_load returns the loader's result instead of raising."""
    server = fakeredis.FakeServer()
    server.connected = False  # fakeredis now raises redis.ConnectionError, as a server that is down
    down = fakeredis.FakeRedis(server=server, decode_responses=True)
    assert impl.get_or_load(down, "user:42", lambda: {"name": "Ada"}) == {"name": "Ada"}


def test_invalidate(r, impl):
    """invalidate deletes cache:{key}: True if it existed, False otherwise."""
    impl.cache_set(r, "user:42", {"name": "Ada"}, 60)
    assert impl.invalidate(r, "user:42") is True
    assert r.exists("cache:user:42") == 0
    assert impl.invalidate(r, "user:42") is False


def test_find_immortal_keys(r, impl):
    """Only matching keys without an expiry are reported."""
    r.set("cache:forgotten", "1")
    r.set("cache:fresh", "1", ex=60)
    r.set("other:forgotten", "1")
    assert impl.find_immortal_keys(r) == ["cache:forgotten"]


def test_create_and_get_session(r, impl):
    """A session is the hash session:{id} with an expiry, and get_session returns its fields."""
    impl.create_session(r, "s1", {"user": "ada", "role": "student"}, ttl_s=1800)
    assert impl.get_session(r, "s1") == {"user": "ada", "role": "student"}
    assert r.hgetall("session:s1") == {"user": "ada", "role": "student"}
    assert 0 < r.ttl("session:s1") <= 1800


def test_get_unknown_session_is_none(r, impl):
    """A session that does not exist gives None."""
    assert impl.get_session(r, "gone") is None


def test_touch_session_resets_ttl(r, impl):
    """touch_session sets the TTL back to ttl_s and returns True."""
    impl.create_session(r, "s1", {"user": "ada"}, ttl_s=60)
    assert impl.touch_session(r, "s1", ttl_s=3600) is True
    assert 60 < r.ttl("session:s1") <= 3600


def test_touch_missing_session_is_false(r, impl):
    """A session that is gone cannot be touched."""
    assert impl.touch_session(r, "gone") is False
