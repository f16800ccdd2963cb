"""Public tests for set_analytics.py: sets for daily visitors (lecture Part 4.3)."""


def test_first_visit_of_the_day_is_true(r, impl):
    """The first visit of a user on a day returns True, a repeat visit False."""
    assert impl.record_visit(r, "2024-05-01", "ada") is True
    assert impl.record_visit(r, "2024-05-01", "ada") is False


def test_visits_are_stored_in_a_set_that_expires(r, impl):
    """Visitors are stored in visitors:{day}, which expires after VISITOR_TTL_S seconds."""
    impl.record_visit(r, "2024-05-01", "ada")
    assert r.smembers("visitors:2024-05-01") == {"ada"}
    assert 0 < r.ttl("visitors:2024-05-01") <= impl.VISITOR_TTL_S == 2 * 86400


def test_unique_visitors_counts_each_user_once(r, impl):
    """Repeat visits do not change the count of distinct visitors."""
    for user in ["ada", "alan", "ada"]:
        impl.record_visit(r, "2024-05-01", user)
    assert impl.unique_visitors(r, "2024-05-01") == 2


def test_unique_visitors_of_empty_day_is_0(r, impl):
    """A day without visits has 0 visitors."""
    assert impl.unique_visitors(r, "2024-05-01") == 0


def test_was_active(r, impl):
    """was_active is True for a visitor of that day, False otherwise."""
    impl.record_visit(r, "2024-05-01", "ada")
    assert impl.was_active(r, "2024-05-01", "ada") is True
    assert impl.was_active(r, "2024-05-01", "alan") is False
    assert impl.was_active(r, "2024-05-02", "ada") is False


def test_active_every_day(r, impl):
    """active_every_day keeps only users who visited on all days."""
    impl.record_visit(r, "2024-05-01", "ada")
    impl.record_visit(r, "2024-05-01", "alan")
    impl.record_visit(r, "2024-05-02", "ada")
    assert impl.active_every_day(r, ["2024-05-01", "2024-05-02"]) == {"ada"}


def test_active_every_day_of_no_days_is_empty(r, impl):
    """No days at all gives the empty set."""
    assert impl.active_every_day(r, []) == set()


def test_active_any_day(r, impl):
    """active_any_day returns users who visited on at least one day."""
    impl.record_visit(r, "2024-05-01", "ada")
    impl.record_visit(r, "2024-05-02", "alan")
    impl.record_visit(r, "2024-05-03", "grace")
    assert impl.active_any_day(r, ["2024-05-01", "2024-05-02"]) == {"ada", "alan"}


def test_churned(r, impl):
    """churned returns users who came on `before` but not on `after`."""
    impl.record_visit(r, "2024-05-01", "ada")
    impl.record_visit(r, "2024-05-01", "alan")
    impl.record_visit(r, "2024-05-02", "ada")
    assert impl.churned(r, "2024-05-01", "2024-05-02") == {"alan"}
