"""``grader validate``: solutions score 100%, stubs 0, and every mutant less, in its own assignment only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader.cli import main
from grader.grading import GradeOptions
from grader.mutants import Mutant, load_mutants, write_mutant_submission
from grader.report import load_json
from grader.validate import AssignmentStrength, effective_jobs, validate

from .conftest import MUTANTS, SOLUTIONS

CORPUS = {m.name: m for m in load_mutants(MUTANTS)}

EQUIVALENT = Mutant(
    assignment="counter",
    id="equivalent_reformatted",
    description="the solution written differently: same commands, same results",
    function="record_pageview",
    source="""
def record_pageview(r: redis.Redis, page: str) -> int:
    key = "pageviews:" + page
    new_total = r.incr(key)
    return new_total
""",
)

# Right behaviour for counter's function, but its decorator runs at import and breaks ZADD for
# every module imported after it: a "bug" that costs the leaderboard assignment points.
BREAKS_LEADERBOARD = Mutant(
    assignment="counter",
    id="breaks_sorted_sets",
    description="counts under the wrong key, and patches redis.Redis.zadd at import",
    function="record_pageview",
    source="""
@(lambda f: setattr(redis.Redis, "zadd", lambda self, *a, **k: 0) or f)
def record_pageview(r: redis.Redis, page: str) -> int:
    return r.incr(f"pageview:{page}")
""",
)


def _corpus_dir(folder: Path, mutants: list[Mutant]) -> Path:
    """Write ``mutants`` as ``<assignment>.toml`` files, as instructors write the corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[str]] = {}
    for m in mutants:
        entry = (
            f'[[mutant]]\nid = "{m.id}"\ndescription = {json.dumps(m.description)}\n'
            f"function = \"{m.function}\"\nsource = '''\n{m.source.strip()}\n'''\n"
        )
        by_file.setdefault(m.assignment, []).append(entry)
    for assignment, entries in by_file.items():
        (folder / f"{assignment}.toml").write_text("\n".join(entries), encoding="utf-8")
    return folder


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide console, so table rows and summary lines print on one line each."""
    monkeypatch.setenv("COLUMNS", "250")


def _row(output: str, mutant_id: str) -> str:
    match = re.search(rf"^.*│ {re.escape(mutant_id)} .*$", output, re.MULTILINE)
    assert match, f"no table row for {mutant_id}:\n{output}"
    return match.group(0)


def test_equivalent_mutant_survives_and_real_ones_are_caught(tmp_path: Path) -> None:
    mutants = [CORPUS["counter/singular_key_prefix"], CORPUS["counter/returns_string"], EQUIVALENT]
    validation = validate(
        mutants=_corpus_dir(tmp_path / "mutants", mutants),
        options=GradeOptions(assignments=("counter",), backend="fake"),
        jobs=2,
        reports=tmp_path / "reports",
    )
    assert validation.solutions.ok and validation.stubs.ok
    assert (validation.solutions.score, validation.solutions.max_score, validation.stubs.score) == (100, 100, 0)
    outcomes = {o.mutant.id: o for o in validation.mutants}
    assert list(outcomes) == ["singular_key_prefix", "returns_string", "equivalent_reformatted"]
    for name in ("singular_key_prefix", "returns_string"):
        outcome = outcomes[name]
        assert outcome.caught and outcome.ok and outcome.score < outcome.max_score == 100
        assert outcome.caught_by and all(
            t.id.startswith("counter::") and t.status != "passed" for t in outcome.caught_by
        )
        assert outcome.collateral == () and outcome.error == ""
    survivor = outcomes["equivalent_reformatted"]
    assert not survivor.caught and survivor.caught_by == () and (survivor.score, survivor.max_score) == (100, 100)
    assert validation.strength() == [AssignmentStrength("counter", 2, 3)]
    assert validation.failures() == ["counter/equivalent_reformatted survived: no test of counter caught it"]
    assert not validation.ok
    kept = sorted(str(p.relative_to(tmp_path / "reports")) for p in (tmp_path / "reports").rglob("*.json"))
    assert kept == [
        "counter/equivalent_reformatted.json",
        "counter/returns_string.json",
        "counter/singular_key_prefix.json",
        "solutions.json",
        "stubs.json",
    ]
    assert load_json(tmp_path / "reports" / "counter" / "returns_string.json").score == outcomes["returns_string"].score


def test_cli_exits_1_and_names_the_surviving_mutant(
    tmp_path: Path, wide: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _corpus_dir(tmp_path / "mutants", [CORPUS["counter/missing_page_none"], EQUIVALENT])
    argv = ["validate", "--backend", "fake", "--assignment", "counter", "--mutants", str(folder), "--jobs", "2"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "SURVIVED" in _row(out, "equivalent_reformatted") and "caught" in _row(out, "missing_page_none")
    assert "counter/equivalent_reformatted survived: no test of counter caught it" in out
    assert "Validation FAILED (1 problem(s))" in out
    assert re.search(r"counter\s*│\s*1/2", out)  # suite strength


def test_cli_exits_1_when_a_mutant_costs_another_assignment_points(
    tmp_path: Path, wide: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _corpus_dir(tmp_path / "mutants", [BREAKS_LEADERBOARD])
    argv = ["validate", "--backend", "fake", "--mutants", str(folder)]
    assert main([*argv, "--assignment", "counter", "--assignment", "leaderboard"]) == 1
    out = capsys.readouterr().out
    assert "counter/breaks_sorted_sets cost other assignments points: leaderboard" in out
    assert "survived" not in out  # it is caught in counter; the failure is the collateral damage
    assert "caught" in _row(out, "breaks_sorted_sets")
    assert "+collateral" in out and "also lost: leaderboard (" in out


def test_cli_exits_1_when_solutions_or_stubs_are_off(
    tmp_path: Path, wide: None, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = write_mutant_submission(CORPUS["counter/returns_string"], solutions=SOLUTIONS, out=tmp_path / "wrong")
    empty = tmp_path / "no-mutants"
    empty.mkdir()
    argv = ["validate", "--backend", "fake", "--assignment", "counter", "--mutants", str(empty)]
    assert main([*argv, "--solutions", str(wrong), "--stubs", str(SOLUTIONS)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"solutions: \d+ test\(s\) off \(scored \d+/100\)", out)
    assert "stubs: " in out and "test(s) off (scored 100/100)" in out
    assert re.search(r"solutions: counter::test_\w+: failed \(expected passed\)", out)
    assert re.search(r"stubs: counter::test_\w+: passed \(expected not attempted\)", out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mutants", "/nonexistent/mutants"], "not a directory"),
        (["--jobs", "0"], "must be at least 1"),
        (["--jobs", "two"], "must be a whole number"),
    ],
)
def test_bad_usage_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--backend", "fake", *argv]) == 2
    assert message in capsys.readouterr().err


def test_malformed_corpus_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "counter.toml").write_text("[[mutant]]\nid = 'x'\n", encoding="utf-8")
    assert main(["validate", "--backend", "fake", "--mutants", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "counter.toml" in err and "missing key(s)" in err


def test_one_shared_server_means_one_grading_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert effective_jobs(3, GradeOptions()) == (3, "")
    assert effective_jobs(3, GradeOptions(backend="fake")) == (3, "")
    jobs, note = effective_jobs(3, GradeOptions(redis_url="redis://localhost:6379/0"))
    assert jobs == 1 and "--redis-url" in note
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    jobs, note = effective_jobs(2, GradeOptions())
    assert jobs == 1 and "REDIS_URL" in note
    assert effective_jobs(2, GradeOptions(backend="fake")) == (2, "")  # fake ignores an ambient REDIS_URL


@pytest.mark.real_redis
@pytest.mark.slow
def test_real_redis_catches_the_lock_race(tmp_path: Path, wide: None, capsys: pytest.CaptureFixture[str]) -> None:
    """``counter/exists_then_set`` is only caught under real concurrency, hence ``--backend auto`` by default.

    ``--sandbox reduced``: the full sandbox runs every grading's student code as one shared
    unprivileged uid, whose process limit other tests' fork bombs can exhaust meanwhile.
    """
    mutants = [CORPUS[n] for n in ("counter/exists_then_set", "counter/get_then_set", "counter/lock_ttl_in_seconds")]
    folder = _corpus_dir(tmp_path / "mutants", mutants)
    argv = ["validate", "--assignment", "counter", "--mutants", str(folder), "--sandbox", "reduced"]
    assert main(argv) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    for mutant in mutants:
        assert "caught" in _row(out, mutant.id)
    assert "Validation passed" in out and "fakeredis" not in out


@pytest.mark.parametrize("verb", ["validate", "grade"])
def test_help_renders(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([verb, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--mutants" in out if verb == "validate" else "--hidden-visibility" in out
