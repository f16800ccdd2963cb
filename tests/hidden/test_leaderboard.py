"""Hidden suite: leaderboard (Part 4.4). Sorted sets as leaderboards and priority queues."""

import pytest

from grader import feedback, properties
from grader.trace import Trace

pytestmark = pytest.mark.assignment("leaderboard")

BOARD = "weekly"
KEY = "leaderboard:weekly"
QUEUE = "build"
QKEY = "tasks:build"
THREADS = 8


def assert_pairs(result, expected):
    """``result`` is exactly a list of (str, float) tuples equal to ``expected``."""
    assert type(result) is list
    for pair in result:
        assert type(pair) is tuple
        assert len(pair) == 2
        assert type(pair[0]) is str
        assert type(pair[1]) is float
    assert result == expected


def server_order(r, key):
    """The board from the top, as the server orders it (ties in reverse lexicographic order)."""
    return [(name, float(s)) for name, s in r.zrevrange(key, 0, -1, withscores=True)]


def updates_score_on_server(t: Trace, key: str) -> bool:
    """The new score was computed by the server, not read by the client and written back.

    Right: ZINCRBY, ZADD ... INCR, a server-side script, or optimistic locking (WATCH the
    key, then write inside MULTI/EXEC).
    """
    for c in t.commands:
        if properties.on_key(c, key) and (c.name == "ZINCRBY" or (c.name == "ZADD" and c.has_option("INCR"))):
            return True
    if t.used("EVAL", "EVALSHA", "FCALL"):
        return True
    watched = any(c.name == "WATCH" and key in c.args for c in t.commands)
    return watched and any(
        any(c.name == "ZADD" and properties.on_key(c, key) for c in block) for block in t.transactions()
    )


# --- add_points -------------------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.ZSET_INCR)
def test_add_points_returns_new_score_as_float(impl, r):
    """add_points returns the player's new score as a float."""
    first = impl.add_points(r, BOARD, "ada", 10)
    assert type(first) is float
    assert first == 10.0
    second = impl.add_points(r, BOARD, "ada", 5)
    assert type(second) is float
    assert second == 15.0


@pytest.mark.points(5)
@pytest.mark.hint(feedback.ZSET_KEYS)
def test_add_points_creates_player_on_board_key(impl, r):
    """add_points creates an unknown player on the board's sorted set."""
    impl.add_points(r, BOARD, "grace", 7)
    assert r.type(KEY) == "zset"
    assert r.zscore(KEY, "grace") == 7.0
    assert r.zcard(KEY) == 1


@pytest.mark.points(4)
@pytest.mark.hint(feedback.ZSET_INCR)
def test_add_points_negative_and_fractional(impl, r):
    """add_points handles negative and fractional points."""
    assert impl.add_points(r, BOARD, "alan", 2.5) == 2.5
    assert impl.add_points(r, BOARD, "alan", -4) == -1.5
    assert impl.add_points(r, BOARD, "alan", 0.25) == -1.25
    assert impl.add_points(r, BOARD, "newbie", -3.75) == -3.75
    assert r.zscore(KEY, "alan") == -1.25
    assert r.zscore(KEY, "newbie") == -3.75


@pytest.mark.points(2)
@pytest.mark.hint(feedback.ZSET_INCR)
def test_add_points_only_touches_its_player_and_board(impl, r):
    """add_points changes only its own player on its own board."""
    r.zadd(KEY, {"ada": 100, "alan": 50})
    r.zadd("leaderboard:monthly", {"ada": 1000})
    assert impl.add_points(r, BOARD, "ada", 1) == 101.0
    assert impl.add_points(r, "monthly", "alan", 3) == 3.0
    assert r.zscore(KEY, "alan") == 50.0
    assert r.zscore("leaderboard:monthly", "ada") == 1000.0
    assert r.zscore(KEY, "ada") == 101.0
    assert r.zscore("leaderboard:monthly", "alan") == 3.0


@pytest.mark.points(5)
@pytest.mark.hint(feedback.ZSET_ATOMIC)
def test_add_points_concurrent_total_is_exact(impl, r, concurrently):
    """add_points loses no points when many clients score at once."""
    per_thread = 40

    def work(client, _index, _barrier):
        for _ in range(per_thread):
            impl.add_points(client, BOARD, "racer", 1.25)

    concurrently(work, threads=THREADS)
    assert r.zscore(KEY, "racer") == THREADS * per_thread * 1.25


@pytest.mark.points(6)
@pytest.mark.hint(feedback.ZSET_ATOMIC)
def test_add_points_is_atomic_on_the_server(impl, r, trace):
    """add_points updates the score atomically, on the server."""
    r.zadd(KEY, {"ada": 10})
    with trace() as t:
        impl.add_points(r, BOARD, "ada", 5)
        impl.add_points(r, BOARD, "grace", 3)
    assert updates_score_on_server(t, KEY)
    assert r.zscore(KEY, "ada") == 15.0


# --- set_score --------------------------------------------------------------------------------


@pytest.mark.points(4)
@pytest.mark.hint(feedback.ZSET_SET)
def test_set_score_sets_and_replaces(impl, r):
    """set_score sets a score outright and replaces an earlier one."""
    impl.set_score(r, BOARD, "ada", 42)
    assert r.type(KEY) == "zset"
    assert r.zscore(KEY, "ada") == 42.0
    impl.set_score(r, BOARD, "ada", 3)
    assert r.zscore(KEY, "ada") == 3.0
    impl.set_score(r, BOARD, "alan", 3)
    assert r.zscore(KEY, "alan") == 3.0
    assert r.zscore(KEY, "ada") == 3.0
    assert r.zcard(KEY) == 2


@pytest.mark.points(2)
@pytest.mark.hint(feedback.ZSET_SET)
def test_set_score_float_negative_unicode(impl, r):
    """set_score stores fractional and negative scores and any player name."""
    impl.set_score(r, BOARD, "café", 12.5)
    impl.set_score(r, BOARD, "日本", -7.25)
    impl.set_score(r, BOARD, "🎮 gamer", 0)
    assert r.zscore(KEY, "café") == 12.5
    assert r.zscore(KEY, "日本") == -7.25
    assert r.zscore(KEY, "🎮 gamer") == 0.0
    assert r.zcard(KEY) == 3


# --- top --------------------------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.ZSET_TOP)
def test_top_highest_first(impl, r):
    """top returns the best players, highest score first, as (player, score) pairs."""
    r.zadd(KEY, {"ada": 30, "alan": 20, "grace": 50, "linus": 10, "barbara": 40})
    assert_pairs(impl.top(r, BOARD, 3), [("grace", 50.0), ("barbara", 40.0), ("ada", 30.0)])
    assert_pairs(impl.top(r, BOARD, 1), [("grace", 50.0)])


@pytest.mark.points(4)
@pytest.mark.hint(feedback.ZSET_TOP)
def test_top_ties_in_server_order(impl, r):
    """top orders equal scores as the server does."""
    r.zadd(KEY, {"alice": 10, "bob": 10, "carol": 10, "dave": 20, "erin": 5})
    assert_pairs(impl.top(r, BOARD, 5), server_order(r, KEY))
    assert [name for name, _ in impl.top(r, BOARD, 4)] == ["dave", "carol", "bob", "alice"]


@pytest.mark.points(4)
@pytest.mark.hint(feedback.ZSET_TOP_BOUNDS)
def test_top_size_bounds(impl, r):
    """top returns nothing for zero players and everyone when asked for more than exist."""
    r.zadd(KEY, {"ada": 30, "alan": 20, "grace": 50})
    assert_pairs(impl.top(r, BOARD, 0), [])
    everyone = [("grace", 50.0), ("ada", 30.0), ("alan", 20.0)]
    assert_pairs(impl.top(r, BOARD, 3), everyone)
    assert_pairs(impl.top(r, BOARD, 50), everyone)
    assert_pairs(impl.top(r, "empty", 5), [])


@pytest.mark.points(3)
@pytest.mark.hint(feedback.ZSET_TOP_BOUNDS)
def test_top_default_size(impl, r):
    """top returns ten players by default."""
    r.zadd(KEY, {f"player{i:02d}": i for i in range(25)})
    expected = [(f"player{i:02d}", float(i)) for i in range(24, 14, -1)]
    assert_pairs(impl.top(r, BOARD), expected)


@pytest.mark.points(2)
@pytest.mark.hint(feedback.ZSET_TOP)
def test_top_unicode_and_fractional(impl, r):
    """top handles any player names and fractional or negative scores."""
    r.zadd(KEY, {"café": 2.5, "日本": -1.25, "🎮": 7.75, "zoë": 0})
    assert_pairs(impl.top(r, BOARD, 4), [("🎮", 7.75), ("café", 2.5), ("zoë", 0.0), ("日本", -1.25)])


@pytest.mark.points(2)
@pytest.mark.hint(feedback.ZSET_TOP)
def test_top_large_board(impl, r):
    """top picks the best players of a large board."""
    r.zadd(KEY, {f"p{i}": (i * 7919) % 1000 for i in range(1000)})
    assert_pairs(impl.top(r, BOARD, 10), server_order(r, KEY)[:10])


# --- rank -------------------------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.ZSET_RANK)
def test_rank_is_one_based_from_the_top(impl, r):
    """rank counts positions from 1 at the top."""
    r.zadd(KEY, {"ada": 30, "alan": 20, "grace": 50, "linus": 10})
    positions = {name: impl.rank(r, BOARD, name) for name in ("grace", "ada", "alan", "linus")}
    for value in positions.values():
        assert type(value) is int
    assert positions == {"grace": 1, "ada": 2, "alan": 3, "linus": 4}


@pytest.mark.points(3)
@pytest.mark.hint(feedback.ZSET_RANK)
def test_rank_unknown_player_is_none(impl, r):
    """rank reports an unknown player as absent."""
    r.zadd(KEY, {"ada": 30})
    assert impl.rank(r, BOARD, "nobody") is None
    assert impl.rank(r, "empty", "ada") is None


@pytest.mark.points(2)
@pytest.mark.hint(feedback.ZSET_RANK)
def test_rank_with_ties(impl, r):
    """rank agrees with the leaderboard order when scores are equal."""
    r.zadd(KEY, {"alice": 10, "bob": 10, "carol": 10, "dave": 20, "erin": 5})
    for position, (name, _) in enumerate(server_order(r, KEY), start=1):
        assert impl.rank(r, BOARD, name) == position


# --- score ------------------------------------------------------------------------------------


@pytest.mark.points(4)
@pytest.mark.hint(feedback.ZSET_SCORE)
def test_score_float_or_none(impl, r):
    """score returns a player's score as a float, and nothing for an unknown player."""
    r.zadd(KEY, {"ada": 30, "alan": -2.5})
    ada = impl.score(r, BOARD, "ada")
    assert type(ada) is float
    assert ada == 30.0
    assert impl.score(r, BOARD, "alan") == -2.5
    assert impl.score(r, BOARD, "nobody") is None
    assert impl.score(r, "empty", "ada") is None


@pytest.mark.points(3)
@pytest.mark.hint(feedback.ZSET_SCORE)
def test_score_zero_is_not_absent(impl, r):
    """score tells a score of zero apart from an absent player."""
    r.zadd(KEY, {"zero": 0})
    value = impl.score(r, BOARD, "zero")
    assert type(value) is float
    assert value == 0.0


# --- players_between --------------------------------------------------------------------------


@pytest.mark.points(5)
@pytest.mark.hint(feedback.ZSET_RANGE_BY_SCORE)
def test_players_between_inclusive_lowest_first(impl, r):
    """players_between includes both bounds and lists the lowest score first."""
    r.zadd(KEY, {"ada": 10, "alan": 20, "grace": 30, "linus": 40, "barbara": 15})
    assert_pairs(
        impl.players_between(r, BOARD, 10, 30),
        [("ada", 10.0), ("barbara", 15.0), ("alan", 20.0), ("grace", 30.0)],
    )
    assert_pairs(impl.players_between(r, BOARD, 20, 20), [("alan", 20.0)])


@pytest.mark.points(3)
@pytest.mark.hint(feedback.ZSET_RANGE_BY_SCORE)
def test_players_between_negative_and_fractional_bounds(impl, r):
    """players_between works with negative and fractional bounds and scores."""
    r.zadd(KEY, {"a": -5.5, "b": -1, "c": 0, "d": 2.25, "e": 7, "f": 2.5})
    assert_pairs(impl.players_between(r, BOARD, -5.5, 0), [("a", -5.5), ("b", -1.0), ("c", 0.0)])
    assert_pairs(impl.players_between(r, BOARD, -1.5, 2.25), [("b", -1.0), ("c", 0.0), ("d", 2.25)])


@pytest.mark.points(3)
@pytest.mark.hint(feedback.ZSET_RANGE_BY_SCORE)
def test_players_between_nobody_in_range(impl, r):
    """players_between returns an empty list when nobody is in range."""
    r.zadd(KEY, {"ada": 10, "alan": 20})
    assert_pairs(impl.players_between(r, BOARD, 11, 19), [])
    assert_pairs(impl.players_between(r, BOARD, 30, 40), [])
    assert_pairs(impl.players_between(r, "empty", 0, 100), [])


# --- push_task / pop_most_urgent --------------------------------------------------------------


@pytest.mark.points(3)
@pytest.mark.hint(feedback.ZSET_KEYS)
def test_push_task_stores_priority_on_queue_key(impl, r):
    """push_task stores the task with its priority on the queue's sorted set."""
    impl.push_task(r, QUEUE, "deploy", 5)
    impl.push_task(r, QUEUE, "hotfix", 1.5)
    impl.push_task(r, "other", "lint", -2)
    assert r.type(QKEY) == "zset"
    assert r.zrange(QKEY, 0, -1, withscores=True) == [("hotfix", 1.5), ("deploy", 5.0)]
    assert r.zrange("tasks:other", 0, -1, withscores=True) == [("lint", -2.0)]


@pytest.mark.points(5)
@pytest.mark.hint(feedback.ZSET_PRIORITY_QUEUE)
def test_pop_most_urgent_lowest_priority_first(impl, r):
    """pop_most_urgent returns the most urgent task first and removes it."""
    r.zadd(QKEY, {"deploy": 5, "hotfix": 1, "docs": 9.5, "rollback": -3, "tests": 2.5})
    popped = [impl.pop_most_urgent(r, QUEUE) for _ in range(5)]
    for task in popped:
        assert type(task) is str
    assert popped == ["rollback", "hotfix", "tests", "deploy", "docs"]
    assert r.exists(QKEY) == 0


@pytest.mark.points(3)
@pytest.mark.hint(feedback.ZSET_PRIORITY_QUEUE)
def test_pop_most_urgent_empty_is_none(impl, r):
    """pop_most_urgent returns nothing for an empty queue."""
    assert impl.pop_most_urgent(r, QUEUE) is None
    r.zadd(QKEY, {"only": 1})
    assert impl.pop_most_urgent(r, QUEUE) == "only"
    assert impl.pop_most_urgent(r, QUEUE) is None


@pytest.mark.points(2)
@pytest.mark.hint(feedback.ZSET_PRIORITY_QUEUE)
def test_push_then_pop_round_trip(impl, r):
    """Tasks pushed with push_task come back from pop_most_urgent by priority."""
    impl.push_task(r, QUEUE, "später", 3)
    impl.push_task(r, QUEUE, "jetzt", 0.5)
    impl.push_task(r, "other", "elsewhere", 0)
    assert impl.pop_most_urgent(r, QUEUE) == "jetzt"
    assert impl.pop_most_urgent(r, QUEUE) == "später"
    assert impl.pop_most_urgent(r, QUEUE) is None
    assert r.zcard("tasks:other") == 1


@pytest.mark.points(6)
@pytest.mark.hint(feedback.ZSET_ATOMIC_POP)
def test_pop_most_urgent_concurrent_each_task_once(impl, r, concurrently):
    """pop_most_urgent hands every task out exactly once when many workers pop at once."""
    tasks = {f"task-{i}": i % 37 for i in range(160)}
    r.zadd(QKEY, tasks)

    def work(client, _index, _barrier):
        mine = []
        while (task := impl.pop_most_urgent(client, QUEUE)) is not None:
            mine.append(task)
            if len(mine) > len(tasks):
                break
        return mine

    handed_out = [task for mine in concurrently(work, threads=THREADS) for task in mine]
    assert len(handed_out) == len(tasks)
    assert set(handed_out) == set(tasks)
    assert r.exists(QKEY) == 0
