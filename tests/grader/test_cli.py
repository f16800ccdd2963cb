"""The CLI contract: options, output files and exit codes other tools rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.report import load_json

from .conftest import SOLUTIONS, STUBS


def test_grade_writes_canonical_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_md = tmp_path / "r" / "report.json", tmp_path / "report.md"
    code = main(
        [
            "grade",
            str(SOLUTIONS),
            "--backend",
            "fake",
            "--assignment",
            "counter",
            "--assignment",
            "leaderboard",
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
        ]
    )
    assert code == 0
    data = json.loads(out_json.read_text())
    assert data["schema_version"] == 1
    assert (data["score"], data["max_score"]) == (200, 200)
    assert [a["name"] for a in data["assignments"]] == ["counter", "leaderboard"]
    test = data["assignments"][0]["tests"][0]
    assert set(test) == {"id", "name", "status", "score", "max_score", "feedback", "section"}
    assert test["section"].startswith("Part 3")
    assert data["redis"]["backend"] == "fake" and data["redis"]["approximate"] is True
    assert isinstance(data["duration_s"], float)
    assert load_json(out_json).score == 200
    assert sorted(p.name for p in out_json.parent.iterdir()) == ["report.json"]  # no temp file left behind
    assert "## Redis course: 200/200 points" in out_md.read_text()
    printed = capsys.readouterr().out
    assert "counter" in printed and "200/200" in printed and "approximate" in printed


def test_stub_report_lists_not_attempted_tests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "grade",
                str(STUBS),
                "--backend",
                "fake",
                "--assignment",
                "ttl_cache",
                "--markdown",
                str(tmp_path / "m.md"),
            ]
        )
        == 0
    )
    markdown = (tmp_path / "m.md").read_text()
    assert "0/100" in markdown and "not attempted" in markdown
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["grade"], ["grade", "x", "--assignment", "nope"], ["grade", "x", "--timeout", "0"], ["frobnicate"], []],
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_unusable_submission_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", str(tmp_path / "missing"), "--backend", "fake"]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--backend", "fake"]) == 2
    assert "none of counter.py" in capsys.readouterr().err


def test_allow_empty_grades_a_checkout_without_modules_as_not_attempted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What CI does with a student repository that holds no module: a report the student can read, not a refusal."""
    repository = tmp_path / "repository"
    (repository / "assignments").mkdir(parents=True)
    (repository / "assignments" / "notes.txt").write_text("started in the wrong folder")
    out = tmp_path / "report.json"
    argv = ["grade", str(repository), "--backend", "fake", "--assignment", "counter", "--json", str(out)]
    assert main([*argv, "--allow-empty", "--quiet"]) == 0
    report = load_json(out)
    assert report.score == 0 and report.max_score == 100
    assert {(t.status, t.feedback) for t in report.tests()} == {
        ("not_attempted", "counter.py is missing from the submission")
    }
    assert main(["grade", str(tmp_path / "missing"), "--allow-empty", "--backend", "fake"]) == 2  # still refused
    assert "no such file or directory" in capsys.readouterr().err


def test_unreachable_redis_is_a_grader_failure_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    assert main(["grade", str(SOLUTIONS), "--redis-url", f"unix://{tmp_path}/nope.sock", "--json", str(out)]) == 1
    assert "grader: failed:" in capsys.readouterr().err
    assert not out.exists()


def test_python_dash_m_grader_works() -> None:
    done = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "grade" in done.stdout and "release" in done.stdout


def test_release_check_passes_on_the_committed_stubs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
