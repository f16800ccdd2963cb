"""End-to-end grading: the reference solutions, the stubs, alternative styles and broken submissions."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from grader import assignments, grading
from grader.grading import GradeOptions, GraderError, grade, suite_args, suite_env
from grader.report import Report
from grader.sandbox_session import ZygoteHandoff
from grader.suite_process import SuiteRun, launch, spawn

from .conftest import ALTERNATIVES, HIDDEN, SOLUTIONS, STUBS


def _grade(folder: Path, url: str | None, **kwargs: object) -> Report:
    backend = "fake" if url is None else "auto"
    return grade(folder, options=GradeOptions(redis_url=url, backend=backend, **kwargs))  # type: ignore[arg-type]


@pytest.fixture(params=["fake", "real"])
def url(request: pytest.FixtureRequest) -> str | None:
    """Grade on fakeredis and on a real server: the same suites, both backends."""
    return None if request.param == "fake" else request.getfixturevalue("real_redis_url")


def test_solutions_score_full_marks(url: str | None) -> None:
    report = _grade(SOLUTIONS, url)
    lost = [(t.id, t.status, t.feedback) for t in report.tests() if t.status != "passed"]
    assert lost == []
    assert (report.score, report.max_score) == (500, 500)
    assert [a.name for a in report.assignments] == list(assignments.NAMES)
    assert all(a.max_score == 100 for a in report.assignments)
    assert report.redis.backend == ("fake" if url is None else "real")
    assert report.redis.approximate is (url is None)
    assert report.complete


def test_stubs_score_zero_with_every_test_not_attempted(url: str | None) -> None:
    report = _grade(STUBS, url)
    assert report.score == 0 and report.max_score == 500
    assert {t.status for t in report.tests()} == {"not_attempted"}


@pytest.mark.parametrize("style", sorted(p.parent.name for p in ALTERNATIVES.glob("*/counter.py")))
def test_alternative_correct_styles_score_full_marks(style: str, url: str | None) -> None:
    report = _grade(ALTERNATIVES / style, url)
    lost = [(t.id, t.status, t.feedback) for t in report.tests() if t.status != "passed"]
    assert lost == []
    assert report.score == 500


def _submission(tmp_path: Path, **overrides: str | None) -> Path:
    """The solutions with some modules replaced by ``overrides[name]`` source (None: deleted)."""
    folder = tmp_path / "submission"
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in overrides.items():
        target = folder / f"{name}.py"
        if source is None:
            target.unlink()
        else:
            target.write_text(source)
    return folder


def _scores(report: Report) -> dict[str, int]:
    return {a.name: a.score for a in report.assignments}


def test_syntax_error_costs_only_its_assignment_with_file_and_line(tmp_path: Path) -> None:
    broken = (SOLUTIONS / "counter.py").read_text() + "\n\ndef oops(:\n    pass\n"
    report = _grade(_submission(tmp_path, counter=broken), None)
    assert _scores(report) == {"counter": 0, **{n: 100 for n in assignments.NAMES if n != "counter"}}
    counter = report.assignments[0]
    assert {t.status for t in counter.tests} == {"failed"}
    line = broken.count("\n", 0, broken.index("def oops")) + 1
    assert all(f"counter.py line {line}: SyntaxError" in t.feedback for t in counter.tests)


def test_import_error_and_missing_module_and_missing_function(tmp_path: Path) -> None:
    leaderboard = (SOLUTIONS / "leaderboard.py").read_text()
    without_rank = leaderboard.replace("def rank(", "def _renamed_rank(")
    folder = _submission(
        tmp_path,
        capped_list="import no_such_module_xyz\n",
        set_analytics=None,
        leaderboard=without_rank,
    )
    report = _grade(folder, None)
    by_name = {a.name: a for a in report.assignments}
    assert _scores(report)["counter"] == 100 and _scores(report)["ttl_cache"] == 100
    capped = by_name["capped_list"].tests
    assert {t.status for t in capped} == {"failed"}
    assert "capped_list.py line 1: importing it raised ModuleNotFoundError" in capped[0].feedback
    assert {t.status for t in by_name["set_analytics"].tests} == {"not_attempted"}
    assert "set_analytics.py is missing" in by_name["set_analytics"].tests[0].feedback
    rank_tests = [t for t in by_name["leaderboard"].tests if "defines no function rank()" in t.feedback]
    assert rank_tests and all(t.status == "failed" for t in rank_tests)
    assert 0 < by_name["leaderboard"].score < 100


def test_repository_layout_is_found_through_assignments_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SOLUTIONS, repo / "assignments")
    (repo / "README.md").write_text("student repo\n")
    report = _grade(repo, None, assignments=("counter",))
    assert [a.name for a in report.assignments] == ["counter"]
    assert report.score == 100


def test_infinite_loop_times_out_and_costs_only_that_test(tmp_path: Path) -> None:
    source = (SOLUTIONS / "capped_list.py").read_text()
    looping = source.replace(
        "def feed_length(", "def feed_length(*_a, **_k):\n    while True:\n        pass\n\n\ndef _orig(", 1
    )
    report = _grade(
        _submission(tmp_path, capped_list=looping), None, assignments=("capped_list",), per_test_timeout_s=1
    )
    statuses = {t.status for t in report.tests() if "feed_length" in t.id}
    assert statuses == {"timeout"}
    assert all(t.status == "passed" for t in report.tests() if "feed_length" not in t.id)


WRONG_RESULTS = """

def _wrong(function):
    def wrapper(*args, **kwargs):
        function(*args, **kwargs)
        return "wrong"
    return wrapper


for _name in {functions!r}:
    globals()[_name] = _wrong(globals()[_name])
"""


def test_hidden_suite_source_never_appears_in_feedback(tmp_path: Path) -> None:
    broken = {
        a.name: (SOLUTIONS / a.filename).read_text() + WRONG_RESULTS.format(functions=a.functions)
        for a in assignments.ASSIGNMENTS
    }
    report = _grade(_submission(tmp_path, **broken), None)
    failed = [t for t in report.tests() if t.status == "failed"]
    assert {t.status for t in report.tests()} <= {"failed", "passed"}
    assert len(failed) > len(report.tests()) / 2
    suite_lines = {
        line.strip()
        for path in HIDDEN.glob("test_*.py")
        for line in path.read_text().splitlines()
        if len(line.strip()) > 25 and not line.strip().startswith(("#", '"""', "@pytest.mark.hint", "def test_"))
    }
    for test in report.tests():
        for line in suite_lines:
            assert line not in test.feedback, (test.id, line)


SERVER_DIES_ONCE = '''
import os

import pytest

from grader import feedback

pytestmark = pytest.mark.assignment("counter")


@pytest.mark.points(60)
@pytest.mark.hint(feedback.COUNTER_INCR)
def test_server_goes_away_in_the_first_run(impl, r):
    """The server dies while this test runs, the first time only."""
    if not os.path.exists({flag!r}):
        open({flag!r}, "w").close()
        try:
            r.shutdown(nosave=True)
        except Exception:
            pass
    assert impl.record_pageview(r, "home") == 1


@pytest.mark.points(40)
@pytest.mark.hint(feedback.COUNTER_GET)
def test_runs_after_the_server_died(impl, r):
    """This test starts after the server has gone."""
    assert impl.get_pageviews(r, "never") == 0
'''


def test_infrastructure_failure_is_rerun_once_on_a_fresh_server(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_counter.py").write_text(SERVER_DIES_ONCE.format(flag=str(tmp_path / "died-once")))
    report = grade(SOLUTIONS, options=GradeOptions(suites=suites, assignments=("counter",)))
    assert (tmp_path / "died-once").exists()
    assert [(t.status, t.score) for t in report.tests()] == [("passed", 60), ("passed", 40)]
    assert report.complete


def test_a_student_connection_error_is_the_students_failure_not_infrastructure(tmp_path: Path) -> None:
    ttl_cache = (SOLUTIONS / "ttl_cache.py").read_text()
    no_fallback = ttl_cache.replace("except (redis.ConnectionError, redis.TimeoutError):", "except ValueError:")
    report = grade(_submission(tmp_path, ttl_cache=no_fallback), options=GradeOptions(assignments=("ttl_cache",)))
    degraded = [t for t in report.tests() if t.status != "passed"]
    assert degraded and {t.status for t in degraded} == {"failed"}
    assert all("ConnectionError" in t.feedback or "TimeoutError" in t.feedback for t in degraded)


def test_one_module_patching_redis_cannot_touch_another_assignment(tmp_path: Path) -> None:
    saboteur = (SOLUTIONS / "counter.py").read_text() + "\n\nredis.Redis.zadd = lambda *args, **kwargs: 0\n"
    report = grade(_submission(tmp_path, counter=saboteur), options=GradeOptions())
    assert report.isolation in {"full", "reduced"}  # student code ran in workers, not in the test process
    assert _scores(report)["leaderboard"] == 100


def test_a_hidden_suite_that_cannot_be_collected_fails_the_grading_not_the_student(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    shutil.copytree(HIDDEN, suites)
    (suites / "test_leaderboard.py").write_text("import module_the_instructor_forgot\n")
    with pytest.raises(GraderError, match=r"(?s)leaderboard have no test.*module_the_instructor_forgot"):
        _grade(SOLUTIONS, None, suites=suites, assignments=("counter", "leaderboard"))


@pytest.mark.real_redis
def test_a_spawned_grading_hands_its_sandbox_zygote_to_the_suites_process(
    real_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[tuple[list[str], tuple[int, ...]]] = []

    def spy(argv: list[str], **kwargs: Any) -> SuiteRun:
        launched.append((list(argv), tuple(kwargs["pass_fds"])))
        return launch(argv, **kwargs)

    monkeypatch.setattr(grading, "launch", spy)
    report = _grade(SOLUTIONS, real_redis_url, assignments=("counter",))
    ((argv, fds),) = launched
    handoff = ZygoteHandoff.parse(argv[argv.index("--grader-zygote") + 1])
    assert fds == (handoff.fd,) and handoff.mode == report.isolation
    assert (report.score, report.max_score) == (100, 100)


@pytest.mark.real_redis
def test_a_malformed_zygote_handoff_is_a_usage_error(real_redis_url: str, tmp_path: Path) -> None:
    argv = suite_args(
        targets=[str(HIDDEN / "test_counter.py")],
        modules=SOLUTIONS,
        redis_url=real_redis_url,
        sandbox="auto",
        results=tmp_path / "results.jsonl",
        options=GradeOptions(),
        zygote="3:1:partial:/nowhere",
    )
    run = spawn(argv, env=suite_env(tmp_path), cwd=tmp_path, timeout=60, keep=10_000)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert b"--grader-zygote '3:1:partial:/nowhere': unknown sandbox mode 'partial'" in run.output
