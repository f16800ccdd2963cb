"""Hidden suite: ttl_cache (Parts 1.4, 4.1, 5). TTLs, cache-aside with graceful degradation, and sessions."""

import json

import pytest

from grader import feedback, properties
from grader.trace import Trace

pytestmark = pytest.mark.assignment("ttl_cache")

HSET_FAMILY = ("HSET", "HMSET", "HSETNX")
VALUES = [
    {"name": "Ada", "langs": ["en", "fr"], "age": 36, "admin": False, "score": 9.5, "boss": None},
    [1, "two", 3.25, None, True, {"nested": []}],
    "café 日本 🎉",
    42,
    -7.5,
    True,
    False,
    0,
    "",
    [],
]


class LoaderFailed(Exception):
    """Raised by a test loader to check that get_or_load lets it propagate."""


class Loader:
    """A loader that counts its calls and returns a fixed value."""

    def __init__(self, value):
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.value


def same_json_value(actual, expected):
    """Equal, and of the same JSON types all the way down (so True is not 1 and 1.0 is not 1)."""
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same_json_value(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(same_json_value, actual, expected))
    return actual == expected


def session_written_atomically(t: Trace, key: str) -> bool:
    """The session's fields and its expiry went in one MULTI/EXEC, or in one server-side script."""
    if properties.in_one_transaction(t, key, HSET_FAMILY, properties.EXPIRE):
        return True
    return any(c.name in {"EVAL", "EVALSHA", "FCALL"} and key in c.args for c in t.commands)


# --- cache_set / cache_get --------------------------------------------------------------------


@pytest.mark.points(6)
@pytest.mark.hint(feedback.CACHE_JSON)
def test_cache_set_stores_json(impl, r):
    """cache_set stores the value JSON-encoded under the cache key."""
    for i, value in enumerate(VALUES):
        impl.cache_set(r, f"item:{i}", value, 60)
        raw = r.get(f"cache:item:{i}")
        assert raw is not None
        assert same_json_value(json.loads(raw), value)
    assert r.type("cache:item:0") == "string"


@pytest.mark.points(4)
@pytest.mark.hint(feedback.CACHE_SET_EX)
def test_cache_set_sets_expiry(impl, r):
    """cache_set gives the key the requested time to live."""
    impl.cache_set(r, "user:42", {"name": "Ada"}, 60)
    assert 55 <= r.ttl("cache:user:42") <= 60
    impl.cache_set(r, "short", "x", 5)
    assert 0 < r.ttl("cache:short") <= 5


@pytest.mark.points(4)
@pytest.mark.hint(feedback.CACHE_SET_EX)
def test_cache_set_value_and_expiry_in_one_command(impl, r, trace):
    """cache_set creates the value and its expiry in one command."""
    with trace() as t:
        impl.cache_set(r, "user:7", {"name": "Grace"}, 120)
    assert properties.value_and_expiry_together(t, "cache:user:7")


@pytest.mark.points(4)
@pytest.mark.hint(feedback.CACHE_JSON)
def test_cache_get_decodes(impl, r):
    """cache_get returns the cached value decoded."""
    for i, value in enumerate(VALUES):
        r.set(f"cache:item:{i}", json.dumps(value), ex=60)
    for i, value in enumerate(VALUES):
        assert same_json_value(impl.cache_get(r, f"item:{i}"), value)


@pytest.mark.points(3)
@pytest.mark.hint(feedback.CACHE_JSON)
def test_cache_get_miss_is_none(impl, r):
    """cache_get returns nothing on a miss and after the entry expired."""
    assert impl.cache_get(r, "never") is None
    r.set("cache:old", json.dumps({"v": 1}), ex=60)
    r.pexpireat("cache:old", 1)
    assert impl.cache_get(r, "old") is None


# --- get_or_load ------------------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.CACHE_ASIDE)
def test_get_or_load_hit_skips_loader(impl, r):
    """get_or_load answers from the cache without calling the loader."""
    cached = {"name": "Ada", "langs": ["en"]}
    r.set("cache:user:1", json.dumps(cached), ex=60)
    loader = Loader({"name": "fresh"})
    assert same_json_value(impl.get_or_load(r, "user:1", loader), cached)
    assert loader.calls == 0


@pytest.mark.points(2)
@pytest.mark.hint(feedback.CACHE_ASIDE)
def test_get_or_load_falsy_cached_value_is_a_hit(impl, r):
    """get_or_load treats a cached zero, false or empty value as a hit."""
    for i, value in enumerate([0, False, "", [], {}]):
        r.set(f"cache:falsy:{i}", json.dumps(value), ex=60)
        loader = Loader("loaded")
        assert same_json_value(impl.get_or_load(r, f"falsy:{i}", loader), value)
        assert loader.calls == 0


@pytest.mark.points(6)
@pytest.mark.hint(feedback.CACHE_ASIDE)
def test_get_or_load_miss_loads_once_and_caches(impl, r):
    """get_or_load calls the loader once on a miss and caches its result for the default time."""
    value = {"id": 7, "tags": ["a", "b"], "name": "Zoë"}
    loader = Loader(value)
    assert same_json_value(impl.get_or_load(r, "user:7", loader), value)
    assert loader.calls == 1
    raw = r.get("cache:user:7")
    assert raw is not None
    assert same_json_value(json.loads(raw), value)
    assert 295 <= r.ttl("cache:user:7") <= 300
    assert same_json_value(impl.get_or_load(r, "user:7", loader), value)
    assert loader.calls == 1


@pytest.mark.points(2)
@pytest.mark.hint(feedback.CACHE_ASIDE)
def test_get_or_load_custom_ttl(impl, r):
    """get_or_load caches for the time to live it is given."""
    impl.get_or_load(r, "report", Loader([1, 2, 3]), ttl_s=30)
    assert 25 <= r.ttl("cache:report") <= 30


@pytest.mark.points(4)
@pytest.mark.hint(feedback.CACHE_ASIDE_NONE)
def test_get_or_load_none_is_not_cached(impl, r):
    """get_or_load returns a missing result but does not cache it."""
    loader = Loader(None)
    assert impl.get_or_load(r, "ghost", loader) is None
    assert loader.calls == 1
    assert r.exists("cache:ghost") == 0
    assert impl.get_or_load(r, "ghost", loader) is None
    assert loader.calls == 2
    assert r.exists("cache:ghost") == 0


@pytest.mark.points(4)
@pytest.mark.hint(feedback.CACHE_ASIDE_NONE)
def test_get_or_load_loader_error_propagates(impl, r):
    """get_or_load lets the loader's error propagate and caches nothing."""
    calls = []

    def loader():
        calls.append(1)
        raise LoaderFailed("database down")

    with pytest.raises(LoaderFailed):
        impl.get_or_load(r, "broken", loader)
    assert len(calls) == 1
    assert r.exists("cache:broken") == 0


@pytest.mark.points(4)
@pytest.mark.hint(feedback.CACHE_DEGRADE)
def test_get_or_load_survives_connection_error(impl, unreachable_client):
    """get_or_load still answers, from the loader, when Redis refuses connections."""
    client = unreachable_client("connection")
    loader = Loader({"id": 1, "name": "Ada"})
    assert same_json_value(impl.get_or_load(client, "user:1", loader), {"id": 1, "name": "Ada"})
    assert loader.calls == 1


@pytest.mark.points(4)
@pytest.mark.hint(feedback.CACHE_DEGRADE)
def test_get_or_load_survives_timeout(impl, unreachable_client):
    """get_or_load still answers, from the loader, when Redis does not respond in time."""
    client = unreachable_client("timeout")
    loader = Loader(["fallback", 1])
    assert same_json_value(impl.get_or_load(client, "list", loader, ttl_s=60), ["fallback", 1])
    assert loader.calls == 1


# --- invalidate -------------------------------------------------------------------------------


@pytest.mark.points(3)
@pytest.mark.hint(feedback.CACHE_INVALIDATE)
def test_invalidate_existing_entry(impl, r):
    """invalidate removes a cached entry and reports that it existed."""
    r.set("cache:user:1", json.dumps({"v": 1}), ex=60)
    r.set("cache:user:2", json.dumps({"v": 2}), ex=60)
    assert impl.invalidate(r, "user:1") is True
    assert r.exists("cache:user:1") == 0
    assert r.exists("cache:user:2") == 1


@pytest.mark.points(2)
@pytest.mark.hint(feedback.CACHE_INVALIDATE)
def test_invalidate_missing_entry(impl, r):
    """invalidate reports a missing entry."""
    assert impl.invalidate(r, "nothing") is False
    r.set("cache:once", "1")
    assert impl.invalidate(r, "once") is True
    assert impl.invalidate(r, "once") is False


# --- find_immortal_keys -----------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.IMMORTAL_KEYS)
def test_find_immortal_keys_only_keys_without_expiry(impl, r):
    """find_immortal_keys returns exactly the matching keys that never expire."""
    r.set("cache:forgotten", "1")
    r.set("cache:fresh", "1", ex=100)
    r.set("cache:brief", "1", px=50_000)
    r.hset("cache:hash", mapping={"a": "1"})
    r.set("cache:café", "1")
    r.set("session:x", "1")
    r.set("other", "1")
    r.set("xcache:y", "1")
    result = impl.find_immortal_keys(r)
    assert type(result) is list
    assert all(type(k) is str for k in result)
    assert set(result) == {"cache:forgotten", "cache:hash", "cache:café"}


@pytest.mark.points(3)
@pytest.mark.hint(feedback.IMMORTAL_KEYS)
def test_find_immortal_keys_custom_pattern(impl, r):
    """find_immortal_keys uses the pattern it is given."""
    r.set("session:a", "1")
    r.set("session:b", "1", ex=100)
    r.hset("session:c", mapping={"user": "ada"})
    r.set("cache:x", "1")
    assert set(impl.find_immortal_keys(r, "session:*")) == {"session:a", "session:c"}
    assert impl.find_immortal_keys(r, "nomatch:*") == []


@pytest.mark.points(4)
@pytest.mark.hint(feedback.IMMORTAL_SCAN_CURSOR)
def test_find_immortal_keys_many_keys(impl, r):
    """find_immortal_keys finds every such key among many."""
    with r.pipeline(transaction=False) as pipe:
        for i in range(300):
            pipe.set(f"cache:k{i}", "v", ex=600 if i % 2 else None)
        for i in range(50):
            pipe.set(f"other:{i}", "v")
        pipe.execute()
    expected = {f"cache:k{i}" for i in range(0, 300, 2)}
    result = impl.find_immortal_keys(r)
    assert type(result) is list
    assert set(result) == expected


@pytest.mark.points(4)
@pytest.mark.hint(feedback.KEYS_FORBIDDEN)
def test_find_immortal_keys_does_not_block(impl, r, trace):
    """find_immortal_keys walks the keys without blocking the server."""
    r.set("cache:forgotten", "1")
    r.set("cache:fresh", "1", ex=100)
    with trace() as t:
        impl.find_immortal_keys(r)
    assert t.used("SCAN")
    assert not properties.walks_keyspace_blocking(t)


# --- sessions ---------------------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.SESSION_HASH)
def test_create_session_stores_hash(impl, r):
    """create_session stores the session data as a hash."""
    data = {"user": "ada", "role": "student", "name": "Zoë 日本 🎓"}
    impl.create_session(r, "s1", data)
    assert r.type("session:s1") == "hash"
    assert r.hgetall("session:s1") == data


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SESSION_ATOMIC)
def test_create_session_sets_expiry(impl, r):
    """create_session gives the session its time to live."""
    impl.create_session(r, "s1", {"user": "ada"})
    assert 3590 <= r.ttl("session:s1") <= 3600
    impl.create_session(r, "s2", {"user": "alan"}, ttl_s=120)
    assert 115 <= r.ttl("session:s2") <= 120


@pytest.mark.points(5)
@pytest.mark.hint(feedback.SESSION_ATOMIC)
def test_create_session_is_atomic(impl, r, trace):
    """create_session writes the data and the expiry atomically."""
    with trace() as t:
        impl.create_session(r, "s9", {"user": "grace", "role": "admin"}, ttl_s=600)
    assert session_written_atomically(t, "session:s9")


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SESSION_HASH)
def test_get_session_returns_fields(impl, r):
    """get_session returns every field of the session."""
    data = {"user": "ada", "role": "student", "cart": "3 items · café"}
    r.hset("session:s1", mapping=data)
    r.expire("session:s1", 600)
    result = impl.get_session(r, "s1")
    assert type(result) is dict
    assert result == data


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SESSION_MISSING)
def test_get_session_missing_or_expired_is_none(impl, r):
    """get_session returns nothing for a missing or expired session."""
    assert impl.get_session(r, "never") is None
    r.hset("session:old", mapping={"user": "ada"})
    r.pexpireat("session:old", 1)
    assert impl.get_session(r, "old") is None


@pytest.mark.points(5)
@pytest.mark.hint(feedback.SESSION_TOUCH)
def test_touch_session_resets_expiry(impl, r):
    """touch_session resets the session's time to live."""
    data = {"user": "ada"}
    r.hset("session:s1", mapping=data)
    r.expire("session:s1", 10)
    assert impl.touch_session(r, "s1") is True
    assert 3590 <= r.ttl("session:s1") <= 3600
    r.expire("session:s1", 5)
    assert impl.touch_session(r, "s1", ttl_s=600) is True
    assert 595 <= r.ttl("session:s1") <= 600
    assert r.hgetall("session:s1") == data


@pytest.mark.points(3)
@pytest.mark.hint(feedback.SESSION_TOUCH)
def test_touch_session_missing(impl, r):
    """touch_session reports a session that is gone and does not bring it back."""
    assert impl.touch_session(r, "ghost") is False
    assert r.exists("session:ghost") == 0
    r.hset("session:old", mapping={"user": "ada"})
    r.pexpireat("session:old", 1)
    assert impl.touch_session(r, "old", ttl_s=600) is False
    assert r.exists("session:old") == 0
