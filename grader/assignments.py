"""The five assignments of the course: module names, required functions, lecture sections.

This is the machine-readable mirror of ``spec/assignments.md``; everything that needs to know
which files a submission holds or which functions a module must define reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assignment:
    """One assignment: a module students complete."""

    name: str
    title: str
    lecture: str
    functions: tuple[str, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.py"


ASSIGNMENTS: tuple[Assignment, ...] = (
    Assignment(
        name="counter",
        title="Strings and atomic counters",
        lecture="Part 3",
        functions=("record_pageview", "get_pageviews", "get_many_pageviews", "acquire_lock", "is_rate_limited"),
    ),
    Assignment(
        name="capped_list",
        title="Lists: capped activity feeds and job queues",
        lecture="Part 4.2",
        functions=("push_event", "recent_events", "feed_length", "enqueue_job", "dequeue_job"),
    ),
    Assignment(
        name="set_analytics",
        title="Sets: daily visitors and set algebra",
        lecture="Part 4.3",
        functions=(
            "record_visit",
            "unique_visitors",
            "was_active",
            "active_every_day",
            "active_any_day",
            "churned",
        ),
    ),
    Assignment(
        name="leaderboard",
        title="Sorted sets: leaderboards and priority queues",
        lecture="Part 4.4",
        functions=(
            "add_points",
            "set_score",
            "top",
            "rank",
            "score",
            "players_between",
            "push_task",
            "pop_most_urgent",
        ),
    ),
    Assignment(
        name="ttl_cache",
        title="TTL, cache-aside and sessions",
        lecture="Parts 1.4, 4.1, 5",
        functions=(
            "cache_set",
            "cache_get",
            "get_or_load",
            "invalidate",
            "find_immortal_keys",
            "create_session",
            "get_session",
            "touch_session",
        ),
    ),
)

BY_NAME: dict[str, Assignment] = {a.name: a for a in ASSIGNMENTS}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def get(name: str) -> Assignment:
    """The assignment called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown assignment {name!r}; known: {', '.join(NAMES)}") from None
