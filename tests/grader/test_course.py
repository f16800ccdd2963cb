"""course.toml: the shipped example loads, each kind of mistake gets a precise message, late penalties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.course import CourseConfigError, LatePolicy, load_course
from grader.errors import UsageError

from .conftest import ROOT

EXAMPLE = ROOT / "course.toml"


def test_shipped_example_loads() -> None:
    course = load_course(EXAMPLE)
    assert course.name == "Redis Fundamentals"
    assert course.lecture_url == "https://example.edu/redis-lecture"
    assert course.hidden_visibility == "after_due_date"
    assert (course.per_test_timeout_s, course.budget_s) == (10.0, 300.0)
    assert [a.name for a in course.assignments] == [
        "counter",
        "capped_list",
        "set_analytics",
        "leaderboard",
        "ttl_cache",
    ]
    counter = course.assignment("counter")
    assert counter.due == datetime(2026, 10, 6, 23, 59, tzinfo=UTC) and counter.points == 100
    assert course.assignment("ttl_cache").points == 100  # the default
    assert [s.student_id for s in course.roster] == ["s001", "s002", "s003"]
    ada = course.student("s001")
    assert (ada.name, ada.email, ada.repository) == ("Ada Lovelace", "ada@example.edu", "redis-course-2026/redis-ada")
    assert course.student("s003").email == ""
    policy = course.late_policy
    assert policy == LatePolicy(
        grace=timedelta(minutes=15), penalty_per_day=0.1, max_penalty=0.5, hard_deadline=timedelta(days=7)
    )
    with pytest.raises(KeyError, match="s999"):
        course.student("s999")
    with pytest.raises(KeyError, match="nope"):
        course.assignment("nope")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "course.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _variant(old: str, new: str) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'hidden_visibility = "after_due_date"',
            'hidden_visibility = "sometimes"',
            "hidden_visibility: must be one of visible, after_due_date, after_published, hidden, not 'sometimes'",
        ),
        ("budget_s = 300", "budget_s = 300\nbudget_minutes = 5", "grading: unknown key(s) budget_minutes"),
        ("[late_policy]", "[late_policy]\ngrace_hours = 1", "late_policy: unknown key(s) grace_hours"),
        ('name = "Redis Fundamentals"', "title = 'x'", "course: unknown key(s) title"),
        ('name = "Redis Fundamentals"', "", "course.name: missing required key"),
        ("per_test_timeout_s = 10", "", "grading.per_test_timeout_s: missing required key"),
        (
            "per_test_timeout_s = 10",
            'per_test_timeout_s = "10"',
            "grading.per_test_timeout_s: must be a number, not a string ('10')",
        ),
        ("budget_s = 300", "budget_s = -5", "grading.budget_s: must not be negative, got -5"),
        ("budget_s = 300", "budget_s = 0", "grading.budget_s: must be greater than 0"),
        ("grace_minutes = 15", "grace_minutes = -1", "late_policy.grace_minutes: must not be negative, got -1"),
        (
            "penalty_per_day = 0.10",
            "penalty_per_day = 1.5",
            "late_policy.penalty_per_day: must be a fraction between 0 and 1, got 1.5",
        ),
        ("max_penalty = 0.5", "max_penalty = -0.5", "late_policy.max_penalty: must not be negative"),
        ("max_penalty = 0.5", "max_penalty = true", "late_policy.max_penalty: must be a number, not a boolean (True)"),
        (
            "hard_deadline_days = 7",
            "hard_deadline_days = 0.005",
            "late_policy.hard_deadline_days: must be later than the grace period",
        ),
        (
            'name = "counter"',
            'name = "hashes"',
            "assignments[0].name: unknown assignment 'hashes'; known: counter, capped_list",
        ),
        ('name = "capped_list"', 'name = "counter"', "assignments[1].name: assignment 'counter' is configured twice"),
        (
            "due = 2026-10-06T23:59:00Z",
            "due = 2026-10-06T23:59:00",
            "assignments[0].due: 2026-10-06T23:59:00 has no UTC offset",
        ),
        (
            "due = 2026-10-06T23:59:00Z",
            "due = 2026-10-06",
            "assignments[0].due: must be a TOML date-time with an offset",
        ),
        (
            "due = 2026-10-06T23:59:00Z",
            'due = "tomorrow"',
            "assignments[0].due: must be a TOML date-time with an offset (2026-12-01T23:59:00Z), not a string",
        ),
        ("points = 100 ", "points = -10 ", "assignments[0].points: must be a positive integer, got -10"),
        ("points = 100 ", "points = 99.5 ", "assignments[0].points: must be an integer, not a float (99.5)"),
        ("points = 100 ", "weight = 2 ", "assignments[0]: unknown key(s) weight"),
        (
            'student_id = "s002"',
            'student_id = "s001"',
            "roster[1].student_id: duplicate student id 's001' (also roster[0])",
        ),
        ('student_id = "s003"', 'student_id = "../s003"', "roster[2].student_id: '../s003' must be 1-64 letters"),
        ('student_id = "s003"', "student_id = 3", "roster[2].student_id: must be a string, not an integer (3)"),
        ('name = "Grace Hopper"', "", "roster[2].name: missing required key"),
        (
            'repository = "redis-course-2026/redis-grace"',
            'repository = "https://github.com/x/y"',
            "roster[2].repository: must be OWNER/NAME",
        ),
        ('email = "alan@example.edu"', 'github = "alan"', "roster[1]: unknown key(s) github"),
    ],
)
def test_each_mistake_names_file_key_and_problem(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = _write(tmp_path, _variant(old, new))
    with pytest.raises(CourseConfigError) as caught:
        load_course(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_missing_assignment_and_missing_tables(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    without_ttl = text.replace('[[assignments]]\nname = "ttl_cache"\ndue = 2026-12-01T23:59:00Z\n', "")
    assert without_ttl != text
    with pytest.raises(CourseConfigError, match=r"assignments: no \[\[assignments\]\] entry for ttl_cache"):
        load_course(_write(tmp_path, without_ttl))
    no_policy = text[: text.index("[late_policy]")] + text[text.index("# One per assignment") :]
    with pytest.raises(CourseConfigError, match=r"course.toml: \[late_policy\]: missing table"):
        load_course(_write(tmp_path, no_policy))
    with pytest.raises(CourseConfigError, match=r"top level: unknown key\(s\) late_rules"):
        load_course(_write(tmp_path, text.replace("[late_policy]", "[late_policy]\n[late_rules]")))
    with pytest.raises(CourseConfigError, match=r"grading: must be a table \(\[grading\]\), not an integer"):
        load_course(_write(tmp_path, 'grading = 3\n[course]\nname = "x"\n'))
    with pytest.raises(CourseConfigError, match=r"roster: must be an array of tables \(\[\[roster\]\]\)"):
        load_course(_write(tmp_path, 'roster = "everyone"\n' + text[: text.index("[[roster]]")]))


def test_roster_is_optional(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    course = load_course(_write(tmp_path, text[: text.index("[[roster]]")]))
    assert course.roster == ()


def test_unreadable_or_invalid_toml_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(CourseConfigError, match="no such course file"):
        load_course(tmp_path / "absent.toml")
    bad = _write(tmp_path, "[course\nname = 1")
    with pytest.raises(UsageError, match=f"{bad}: not valid TOML"):
        load_course(bad)


DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
POLICY = LatePolicy(grace=timedelta(minutes=15), penalty_per_day=0.1, max_penalty=0.5, hard_deadline=timedelta(days=7))


@pytest.mark.parametrize(
    ("late", "expected"),
    [
        (timedelta(hours=-5), 0.0),  # early
        (timedelta(0), 0.0),  # on time
        (timedelta(minutes=15), 0.0),  # at the end of the grace
        (timedelta(minutes=16), 0.1),  # just past the grace: one started day
        (timedelta(days=1), 0.1),  # one day late
        (timedelta(days=1, seconds=1), 0.2),  # the second day has started
        (timedelta(days=3.5), 0.4),  # 3.5 days late: 4 started days
        (timedelta(days=6, hours=1), 0.5),  # 7 started days, capped at max_penalty
        (timedelta(days=7), 0.5),  # exactly at the hard deadline: still capped
        (timedelta(days=7, seconds=1), 1.0),  # past the hard deadline: everything
    ],
)
def test_late_penalty(late: timedelta, expected: float) -> None:
    assert POLICY.penalty(due=DUE, received=DUE + late) == pytest.approx(expected)


def test_late_penalty_other_offsets_and_no_hard_deadline() -> None:
    paris = datetime(2026, 12, 2, 0, 30, tzinfo=datetime.fromisoformat("2026-01-01T00:00+01:00").tzinfo)
    assert POLICY.penalty(due=DUE, received=paris) == 0.0  # 23:30 UTC: before the due date
    lenient = LatePolicy(grace=timedelta(0), penalty_per_day=0.25, max_penalty=1.0)
    assert lenient.penalty(due=DUE, received=DUE + timedelta(days=30)) == 1.0
    assert lenient.penalty(due=DUE, received=DUE + timedelta(days=2)) == 0.5
    with pytest.raises(ValueError, match="timezone-aware"):
        POLICY.penalty(due=DUE, received=datetime(2026, 12, 5))
