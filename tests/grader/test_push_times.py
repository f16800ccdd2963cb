"""``python -m grader.push_times`` against the loopback stand-in for GitHub of ``test_publish``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import ci_matrix, push_times
from grader.ci_matrix import MatrixEntry
from grader.publish import PublishError, RetryPolicy

from .test_publish import SHA, TOKEN, Answer, FakeGitHub

OTHER = "fedcba9876543210fedcba9876543210fedcba98"
NO_WAIT = RetryPolicy(attempts=2, base_delay_s=0.0)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    for name in ("GITHUB_TOKEN", "GRADER_GITHUB_TOKEN", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeGitHub()
    try:
        yield fake
    finally:
        fake.close()


def entry(student_id: str = "s1", *, repository: str = "o/n", ref: str = "", received_at: str = "") -> MatrixEntry:
    return MatrixEntry(student_id, repository, ref, received_at, timeout="10", budget="300")


def activity(after: str, timestamp: str, *, kind: str = "push", ref: str = "refs/heads/main") -> dict[str, str]:
    return {"before": "0" * 40, "after": after, "ref": ref, "timestamp": timestamp, "activity_type": kind}


def pin(github: FakeGitHub, *entries: MatrixEntry) -> push_times.Pinned:
    return push_times.pin(entries, token=TOKEN, api_url=github.url, retry=NO_WAIT, sleep=lambda _: None)


def test_a_run_without_a_time_grades_the_head_as_of_its_first_arrival(github: FakeGitHub) -> None:
    github.activities = [
        activity(SHA, "2026-10-07T02:00:00Z", kind="force_push"),  # pushed back later: not when it arrived
        activity(OTHER, "2026-10-07T01:00:00Z", kind="force_push"),
        activity(SHA, "2026-10-06T21:58:00Z"),
        activity(OTHER, "2026-10-06T20:00:00Z", ref="refs/heads/experiment"),
    ]
    given = entry("s2", ref=OTHER, received_at="2026-10-06T21:00:00+00:00")
    result = pin(github, entry(), given)
    assert result.entries == (entry(ref=SHA, received_at="2026-10-06T21:58:00+00:00"), given)
    assert result.warnings == ()
    assert github.calls() == [
        ("GET", "/repos/o/n"),
        ("GET", "/repos/o/n/branches/main"),
        ("GET", "/repos/o/n/activity"),
    ]
    assert "ref=refs%2Fheads%2Fmain" in github.requests[-1].path


def test_the_arrival_is_found_on_a_later_page(github: FakeGitHub) -> None:
    github.activities = [activity(f"{n:040x}", "2026-10-07T00:00:00Z") for n in range(1, 151)]
    github.activities.insert(120, activity(SHA, "2026-10-05T12:00:00+02:00"))
    (pinned,) = pin(github, entry()).entries
    assert pinned.received_at == "2026-10-05T10:00:00+00:00"
    assert "after=100" in [r.path for r in github.requests if "/activity" in r.path][1]


def test_a_named_commit_is_searched_on_every_branch(github: FakeGitHub) -> None:
    github.activities = [activity(OTHER, "2026-10-06T08:00:00Z", ref="refs/heads/experiment")]
    (pinned,) = pin(github, entry(ref=OTHER)).entries
    assert (pinned.ref, pinned.received_at) == (OTHER, "2026-10-06T08:00:00+00:00")
    assert github.calls() == [("GET", "/repos/o/n/activity")] and "ref=" not in github.requests[0].path


def test_a_commit_the_activity_does_not_show_is_graded_without_a_late_penalty(github: FakeGitHub) -> None:
    github.activities = [activity(OTHER, "2026-10-06T08:00:00Z")]
    result = pin(github, entry())
    assert result.entries == (entry(ref=SHA, received_at=""),)
    assert result.warnings == (
        f"s1: GitHub's activity of o/n does not show when commit {SHA[:7]} arrived; graded without a late penalty",
    )


def test_a_repository_the_token_cannot_read_is_left_to_the_grading_job(github: FakeGitHub) -> None:
    github.activities = [activity(SHA, "2026-10-06T08:00:00Z")]
    result = pin(github, entry("gone", repository="o/deleted"), entry())
    assert result.entries == (
        entry("gone", repository="o/deleted"),
        entry(ref=SHA, received_at="2026-10-06T08:00:00+00:00"),
    )
    (warning,) = result.warnings
    assert warning.startswith("gone: could not read the repository") and "404" in warning
    assert '"Contents: Read-only"' in warning and TOKEN not in warning


def test_a_server_error_is_retried(github: FakeGitHub) -> None:
    github.activities = [activity(SHA, "2026-10-06T08:00:00Z")]
    github.script("GET", "/repos/o/n/activity", Answer(502, {"message": "Bad Gateway"}))
    (pinned,) = pin(github, entry()).entries
    assert pinned.received_at == "2026-10-06T08:00:00+00:00"


def test_a_rejected_token_stops_everything_without_printing_it(github: FakeGitHub) -> None:
    github.script("GET", "/repos/o/n", Answer(401, {"message": f"Bad credentials {TOKEN}"}))
    with pytest.raises(PublishError, match="rejected the token") as info:
        pin(github, entry())
    assert TOKEN not in str(info.value)


def test_the_command_reads_the_matrix_and_prints_it_pinned(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    github.activities = [activity(SHA, "2026-10-06T08:00:00Z")]
    matrix = tmp_path / "matrix.txt"
    matrix.write_text(ci_matrix.render_output([entry(), entry("s2", repository="o/deleted")]))
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", TOKEN)
    assert push_times.main([str(matrix), "--api-url", github.url]) == 0
    out, err = capsys.readouterr()
    assert ci_matrix.read_output(out) == [
        entry(ref=SHA, received_at="2026-10-06T08:00:00+00:00"),
        entry("s2", repository="o/deleted"),
    ]
    assert out.endswith("count=2\n") and "push_times: warning: s2: could not read" in err and TOKEN not in out + err


@pytest.mark.parametrize(
    ("matrix", "token", "message"),
    [
        ("not a matrix\n", TOKEN, "not a matrix written by grader.ci_matrix"),
        (ci_matrix.render_output([entry()]), "", "no GitHub token"),
        ('matrix={"include":[{"student_id":"s1"}]}\n', TOKEN, "not a matrix written by grader.ci_matrix"),
    ],
)
def test_bad_input_is_a_usage_error(
    github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    matrix: str,
    token: str,
    message: str,
) -> None:
    path = tmp_path / "matrix.txt"
    path.write_text(matrix)
    if token:
        monkeypatch.setenv("GRADER_GITHUB_TOKEN", token)
    assert push_times.main([str(path), "--api-url", github.url]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err
    assert github.requests == []


def test_a_rejected_token_exits_1(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    github.script("GET", "/repos/o/n", *[Answer(401, {"message": "Bad credentials"})] * 5)
    path = tmp_path / "matrix.txt"
    path.write_text(ci_matrix.render_output([entry()]))
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", TOKEN)
    assert push_times.main([str(path), "--api-url", github.url]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "rejected the token" in err and json.dumps(TOKEN) not in err
