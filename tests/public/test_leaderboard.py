"""Public tests for leaderboard.py: sorted sets (lecture Part 4.4)."""


def test_add_points_returns_new_score(r, impl):
    """add_points adds to the score and returns the new score as a float."""
    assert impl.add_points(r, "weekly", "ada", 10) == 10.0
    assert impl.add_points(r, "weekly", "ada", 5) == 15.0


def test_board_is_a_sorted_set(r, impl):
    """Scores live in the sorted set leaderboard:{board}."""
    impl.add_points(r, "weekly", "ada", 10)
    assert r.zscore("leaderboard:weekly", "ada") == 10.0


def test_set_score_overwrites(r, impl):
    """set_score replaces the score instead of adding to it."""
    impl.set_score(r, "weekly", "ada", 10)
    impl.set_score(r, "weekly", "ada", 3)
    assert impl.score(r, "weekly", "ada") == 3.0


def test_top_highest_first(r, impl):
    """top returns (player, score) pairs, highest score first, at most n."""
    for player, points in [("ada", 20), ("alan", 30), ("grace", 10)]:
        impl.set_score(r, "weekly", player, points)
    assert impl.top(r, "weekly", n=2) == [("alan", 30.0), ("ada", 20.0)]


def test_top_of_empty_board(r, impl):
    """An empty board has an empty top list."""
    assert impl.top(r, "weekly") == []


def test_rank_is_1_based(r, impl):
    """The best player is #1."""
    impl.set_score(r, "weekly", "ada", 20)
    impl.set_score(r, "weekly", "alan", 30)
    assert impl.rank(r, "weekly", "alan") == 1
    assert impl.rank(r, "weekly", "ada") == 2


def test_rank_of_unknown_player_is_none(r, impl):
    """A player not on the board has no rank."""
    assert impl.rank(r, "weekly", "nobody") is None


def test_score_of_unknown_player_is_none(r, impl):
    """A player not on the board has no score."""
    assert impl.score(r, "weekly", "nobody") is None


def test_players_between_is_inclusive_lowest_first(r, impl):
    """players_between includes both bounds and lists the lowest score first."""
    for player, points in [("ada", 10), ("alan", 20), ("grace", 30), ("linus", 40)]:
        impl.set_score(r, "weekly", player, points)
    assert impl.players_between(r, "weekly", 20, 30) == [("alan", 20.0), ("grace", 30.0)]


def test_most_urgent_task_first(r, impl):
    """The task with the lowest priority value comes out first."""
    impl.push_task(r, "build", "deploy", 5)
    impl.push_task(r, "build", "hotfix", 1)
    impl.push_task(r, "build", "docs", 9)
    assert impl.pop_most_urgent(r, "build") == "hotfix"
    assert impl.pop_most_urgent(r, "build") == "deploy"


def test_tasks_live_in_a_sorted_set(r, impl):
    """Tasks are stored in tasks:{queue} with their priority as score."""
    impl.push_task(r, "build", "deploy", 5)
    assert r.zscore("tasks:build", "deploy") == 5.0


def test_pop_from_empty_queue_is_none(r, impl):
    """An empty task queue gives None."""
    assert impl.pop_most_urgent(r, "build") is None
