"""Regrades: the pure merge and diff over reports, and ``grader batch --regrade --assignment`` end to end."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from grader.cli import main
from grader.mutants import load_mutants, write_mutant_submission
from grader.regrade import CSV_COLUMNS, INCOMPLETE_NOTE, diff_reports, merge_reports, render_csv
from grader.report import AssignmentResult, RedisInfo, Report, TestResult, load_json, write_json

from .conftest import MUTANTS, SOLUTIONS

REDIS = RedisInfo(backend="fake", version="7.2", description="fakeredis", approximate=True)


def _test(tid: str, status: str, score: int, max_score: int = 2) -> TestResult:
    return TestResult(id=tid, name=tid.split("::")[-1], status=status, score=score, max_score=max_score)


def _report(*assignments: AssignmentResult, **fields: object) -> Report:
    return Report(assignments=assignments, redis=REDIS, duration_s=1.0, student_id="s001", **fields)


OLD = _report(
    AssignmentResult("counter", (_test("counter::a", "passed", 2), _test("counter::b", "failed", 0))),
    AssignmentResult("leaderboard", (_test("leaderboard::x", "failed", 0, 3),)),
    graded_at="2026-12-01T00:00:00+00:00",
    notes=("Graded on fakeredis.",),
)


def test_diff_lists_totals_and_each_changed_test() -> None:
    new = _report(
        AssignmentResult(
            "counter",
            (_test("counter::a", "passed", 2), _test("counter::b", "passed", 2), _test("counter::c", "timeout", 0)),
        ),
        AssignmentResult("leaderboard", (_test("leaderboard::x", "failed", 0, 3),)),
    )
    diff = diff_reports(OLD, new)
    assert (diff.student_id, diff.old_score, diff.new_score, diff.delta) == ("s001", 2, 4, 2)
    assert (diff.old_max, diff.new_max) == (7, 9)
    assert [(c.test_id, c.old_status, c.new_status, c.old_points, c.new_points) for c in diff.changes] == [
        ("counter::b", "failed", "passed", 0, 2),
        ("counter::c", None, "timeout", 0, 0),  # a test the fixed suite added
    ]
    assert diff.changed
    same = diff_reports(OLD, OLD)
    assert (same.delta, same.changes, same.changed) == (0, (), False)
    removed = diff_reports(new, OLD)
    assert [(c.test_id, c.old_status, c.new_status) for c in removed.changes] == [
        ("counter::b", "passed", "failed"),
        ("counter::c", "timeout", None),
    ]


def test_csv_has_a_row_per_changed_test_and_per_unchanged_student() -> None:
    new = _report(AssignmentResult("counter", (_test("counter::a", "failed", 0), _test("counter::b", "passed", 2))))
    rows = list(csv.reader(io.StringIO(render_csv([diff_reports(OLD, new), diff_reports(OLD, OLD)]))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1:] == [
        ["s001", "2", "2", "0", "counter", "counter::a", "a", "passed", "failed", "2", "0", "2"],
        ["s001", "2", "2", "0", "counter", "counter::b", "b", "failed", "passed", "0", "2", "2"],
        ["s001", "2", "2", "0", "leaderboard", "leaderboard::x", "x", "failed", "absent", "0", "0", "3"],
        ["s001", "2", "2", "0", "", "", "", "", "", "", "", ""],
    ]


def test_merge_replaces_only_the_regraded_assignment() -> None:
    new = _report(
        AssignmentResult("counter", (_test("counter::a", "passed", 2), _test("counter::b", "passed", 2))),
        AssignmentResult("ttl_cache", (_test("ttl_cache::t", "passed", 1, 1),)),
        graded_at="2026-12-02T00:00:00+00:00",
        commit="abc",
        notes=("Graded on fakeredis.", "Isolation: reduced."),
    )
    merged = merge_reports(OLD, new, note="Regraded counter.")
    assert [a.name for a in merged.assignments] == ["counter", "leaderboard", "ttl_cache"]
    assert merged.assignments[0] == new.assignments[0]
    assert merged.assignments[1] is OLD.assignments[1]  # kept as it was
    assert (merged.score, merged.max_score) == (5, 8)
    assert (merged.graded_at, merged.commit, merged.complete) == ("2026-12-02T00:00:00+00:00", "abc", True)
    assert merged.notes == ("Graded on fakeredis.", "Isolation: reduced.", "Regraded counter.")
    assert Report.from_dict(merged.to_dict()) == merged


def test_merge_tracks_completeness() -> None:
    broken = _report(AssignmentResult("counter", (_test("counter::a", "error", 0),)), complete=False)
    incomplete_old = replace(broken, assignments=(*broken.assignments, OLD.assignments[1]), notes=(INCOMPLETE_NOTE,))
    fixed = _report(AssignmentResult("counter", (_test("counter::a", "passed", 2),)))
    assert merge_reports(incomplete_old, fixed).complete  # the regrade replaced the incomplete assignment
    assert INCOMPLETE_NOTE not in merge_reports(incomplete_old, fixed).notes
    still = merge_reports(incomplete_old, _report(OLD.assignments[1]))  # the broken one is kept
    assert not still.complete and still.notes[-1] == INCOMPLETE_NOTE


FAST = ["--backend", "fake", "--sandbox", "off"]


def test_regrade_one_assignment_merges_and_writes_the_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    mutant = next(m for m in load_mutants(MUTANTS) if m.name == "counter/singular_key_prefix")
    source, out = tmp_path / "class", tmp_path / "reports"
    shutil.copytree(SOLUTIONS, source / "s001")
    write_mutant_submission(mutant, solutions=SOLUTIONS, out=source / "s002")
    shutil.copytree(SOLUTIONS, source / "s003")
    two = ["--assignment", "counter", "--assignment", "capped_list"]
    assert main(["batch", str(source), "--out", str(out), "--jobs", "2", *two, *FAST]) == 0
    solution, buggy = load_json(out / "s001.json"), load_json(out / "s002.json")
    assert solution.score == 200 and 100 < buggy.score < 200

    # A suite bug graded s001's counter as the mutant's (the "old" grade), and capped_list is marked
    # so we can see it is kept as it was, not regraded.
    counter = next(a for a in buggy.assignments if a.name == "counter")
    capped = next(a for a in solution.assignments if a.name == "capped_list")
    marked = AssignmentResult("capped_list", (replace(capped.tests[0], feedback="kept"), *capped.tests[1:]))
    old = replace(solution, assignments=(counter, marked))
    write_json(old, out / "s001.json")
    # s003 changed since it was graded: a partial regrade must not mix two submissions.
    shutil.copyfile(source / "s002" / "counter.py", source / "s003" / "counter.py")
    s003_before = (out / "s003.json").read_bytes()
    capsys.readouterr()

    args = ["batch", str(source), "--out", str(out), "--jobs", "2", "--regrade", "--assignment", "counter", *FAST]
    assert main(args) == 0
    printed = capsys.readouterr().out
    new = load_json(out / "s001.json")
    assert new.score == 200
    assert next(a for a in new.assignments if a.name == "capped_list") == marked
    assert [a.name for a in new.assignments] == ["counter", "capped_list"]
    assert any(n.startswith("Regraded counter on ") for n in new.notes)
    assert load_json(out / "s002.json").score == buggy.score  # regraded, same result
    assert (out / "s003.json").read_bytes() == s003_before
    assert "changed since graded: not regraded" in printed

    (path,) = out.glob("regrade-*.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    expected = diff_reports(old, new)
    lost = 100 - counter.score
    assert expected.delta == lost and len(expected.changes) >= 1
    assert [r["student_id"] for r in rows] == ["s001"] * len(expected.changes) + ["s002"]
    for row, change in zip(rows, expected.changes, strict=False):
        assert (row["old_score"], row["new_score"], row["delta"]) == (str(old.score), "200", str(lost))
        assert (row["assignment"], row["test_id"]) == ("counter", change.test_id)
        assert (row["old_status"], row["new_status"]) == (change.old_status, "passed")
        assert row["new_points"] == row["max_points"] and row["old_points"] == "0"
    assert rows[-1]["delta"] == "0" and rows[-1]["test_id"] == ""
    assert f"+{lost}" in printed and "Regrade: 1 of 2 student(s) changed" in printed
    assert f"counter: {expected.changes[0].name}: {expected.changes[0].old_status} → passed" in printed

    # New content graded for one assignment keeps the report whole: what the old report had is graded too.
    shutil.copyfile(SOLUTIONS / "counter.py", source / "s002" / "counter.py")
    assert main(["batch", str(source), "--out", str(out), "--jobs", "2", "--assignment", "counter", *FAST]) == 0
    fixed = load_json(out / "s002.json")
    assert [a.name for a in fixed.assignments] == ["counter", "capped_list"] and fixed.score == 200
