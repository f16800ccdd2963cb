"""``grader publish`` against a stand-in for the GitHub REST API on 127.0.0.1 that records every request.

The stand-in keeps commit comments like GitHub does (so regrades can be checked for updating rather
than duplicating) and can be scripted to answer with errors: 5xx, rate limits, 401, 403, 404, 422.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from grader import render_markdown
from grader.cli import main
from grader.course import load_course
from grader.publish import (
    MARKER,
    PublishError,
    RetryPolicy,
    classroom_notices,
    parse_target,
    publish,
    status_description,
)
from grader.report import AssignmentResult, RedisInfo, Report, TestResult, write_json
from grader.visibility import shown

from .conftest import ROOT

TOKEN = "ghs_" + "S3cr3tT0k3n" * 3
SHA = "0123456789abcdef0123456789abcdef01234567"
TARGET = parse_target(repo="o/n", sha=SHA)
COMMENTS = f"/repos/o/n/commits/{SHA}/comments"
STATUSES = f"/repos/o/n/statuses/{SHA}"

REPORT = Report(
    assignments=(
        AssignmentResult(
            "counter",
            (
                TestResult("counter::a", "INCR counts", "passed", 60, 60),
                TestResult("counter::b", "TTL expires", "failed", 0, 40, "[Part 3 · Expiry] set the TTL"),
            ),
        ),
    ),
    redis=RedisInfo("real", "redis 7.2.4", "disposable"),
    duration_s=1.5,
    commit=SHA,
)


@dataclass
class Answer:
    """A scripted answer; with ``apply`` the request is also carried out (GitHub stored it, then failed)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    apply: bool = False


@dataclass
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-cased names
    body: Any


class FakeGitHub:
    """A loopback HTTP server answering the few REST endpoints ``publish`` uses, as GitHub would."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.comments: dict[int, dict[str, Any]] = {}
        self.login = "grader-bot"  # the token's own user; None: GET /user is refused (installation token)
        self.user_type = "User"
        self.user_refused = False
        self.default_branch = "main"
        self.head = SHA
        self.activities: list[dict[str, Any]] = []  # newest first, as GitHub lists them
        self._script: list[tuple[str, str, Answer]] = []
        self._next_id = 1
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            do_POST = do_PATCH = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``method path`` (query ignored) with ``answers``, in order."""
        self._script += [(method, path, a) for a in answers]

    def add_comment(self, body: str, *, login: str, user_type: str = "User") -> int:
        with self._lock:
            return self._store(body, login=login, user_type=user_type)

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path.split("?")[0]) for r in self.requests]

    def _store(self, body: str, *, login: str, user_type: str) -> int:
        comment_id, self._next_id = self._next_id, self._next_id + 1
        self.comments[comment_id] = {
            "id": comment_id,
            "body": body,
            "commit_id": SHA,
            "html_url": f"https://github.example/o/n/commit/{SHA}#commitcomment-{comment_id}",
            "user": {"login": login, "type": user_type},
        }
        return comment_id

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(
                Request(handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
            )
            path = urlsplit(handler.path).path
            scripted = next((i for i, (m, p, _) in enumerate(self._script) if m == handler.command and p == path), None)
            answer = self._script.pop(scripted)[2] if scripted is not None else None
            headers: dict[str, str] = {}
            if answer is None or answer.apply:
                status, payload, headers = self._route(handler.command, handler.path, body)
            if answer is not None:
                status, payload, headers = answer.status, answer.body, answer.headers
        data = json.dumps(payload).encode() if payload is not None else b""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method: str, full_path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(full_path)
        path, query = parts.path, parse_qs(parts.query)
        if method == "GET" and path == "/repos/o/n/activity":
            return self._activity(query)
        status, payload = self._answer(method, path, query, body)
        return status, payload, {}

    def _activity(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        """The activity list, filtered by ``ref``, paged by an ``after`` cursor (an index here) and a Link header."""
        listed = [a for a in self.activities if a["ref"] == query.get("ref", [a["ref"]])[0]]
        start, per_page = int(query.get("after", ["0"])[0]), int(query.get("per_page", ["30"])[0])
        page, more = listed[start : start + per_page], start + per_page < len(listed)
        link = f'<{self.url}/repos/o/n/activity?per_page={per_page}&after={start + per_page}>; rel="next"'
        return 200, page, {"Link": link} if more else {}

    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if (method, path) == ("GET", "/repos/o/n"):
            return 200, {"full_name": "o/n", "default_branch": self.default_branch}
        if (method, path) == ("GET", f"/repos/o/n/branches/{self.default_branch}"):
            return 200, {"name": self.default_branch, "commit": {"sha": self.head}}
        if (method, path) == ("POST", STATUSES):
            return 201, {"id": len(self.requests), "state": body["state"], "context": body.get("context")}
        if (method, path) == ("GET", COMMENTS):
            page, per_page = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["30"])[0])
            listed = list(self.comments.values())
            return 200, listed[(page - 1) * per_page : page * per_page]
        if (method, path) == ("POST", COMMENTS):
            comment_id = self._store(body["body"], login=self.login, user_type=self.user_type)
            return 201, self.comments[comment_id]
        if method == "PATCH" and (found := re.fullmatch(r"/repos/o/n/comments/(\d+)", path)):
            comment = self.comments.get(int(found[1]))
            if comment is None:
                return 404, {"message": "Not Found"}
            comment["body"] = body["body"]
            return 200, comment
        if (method, path) == ("GET", "/user"):
            if self.user_refused:
                return 403, {"message": "Resource not accessible by integration"}
            return 200, {"login": self.login, "type": self.user_type}
        if (method, path) == ("POST", "/repos/o/n/check-runs"):
            return 201, {"id": 77, "name": body["name"], "head_sha": body["head_sha"]}
        return 404, {"message": "Not Found"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token, summary, API URL or proxy from the machine running the tests: all traffic stays on loopback."""
    for name in ("GITHUB_TOKEN", "GRADER_GITHUB_TOKEN", "GITHUB_STEP_SUMMARY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    write_json(REPORT, path)
    return path


def _cli(github: FakeGitHub, report: Path, *extra: str) -> int:
    return main(["publish", str(report), "--repo", "o/n", "--sha", SHA, "--api-url", github.url, *extra])


def _publish(github: FakeGitHub, sleeps: list[float] | None = None, **options: Any) -> Any:
    return publish(
        report=options.pop("report", REPORT),
        target=TARGET,
        token=TOKEN,
        api_url=github.url,
        sleep=(sleeps if sleeps is not None else []).append,
        **options,
    )


# --- what gets posted ------------------------------------------------------------------------------


def test_publish_posts_one_comment_then_a_status_linking_to_it(
    github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", TOKEN)
    assert _cli(github, report_file) == 0
    assert github.calls() == [("GET", COMMENTS), ("POST", COMMENTS), ("POST", STATUSES)]
    listing, post, status = github.requests
    assert parse_qs(urlsplit(listing.path).query) == {"per_page": ["100"], "page": ["1"]}
    assert post.body["body"].startswith(MARKER + "\n")
    assert render_markdown.render(REPORT) in post.body["body"]
    assert status.body == {
        "state": "success",
        "context": "grader/hidden",
        "description": "Score 60/100",
        "target_url": f"https://github.example/o/n/commit/{SHA}#commitcomment-1",
    }
    for request in github.requests:
        assert request.headers["authorization"] == f"token {TOKEN}"
        assert request.headers["x-github-api-version"]
    out, err = capsys.readouterr()
    assert "posted the report comment" in out and "Score 60/100" in out
    assert TOKEN not in out + err


def test_a_regrade_updates_the_comment_instead_of_posting_another(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    write_json(REPORT, first)
    regraded = Report(
        assignments=(AssignmentResult("counter", (TestResult("counter::a", "INCR counts", "passed", 60, 60),)),),
        redis=REPORT.redis,
        duration_s=1.0,
    )
    write_json(regraded, second)
    assert _cli(github, first) == 0
    github.requests.clear()
    assert _cli(github, second) == 0
    assert github.calls() == [
        ("GET", COMMENTS),
        ("GET", "/user"),
        ("PATCH", "/repos/o/n/comments/1"),
        ("POST", STATUSES),
    ]
    assert list(github.comments) == [1]
    assert "60/60" in github.comments[1]["body"] and MARKER in github.comments[1]["body"]
    assert github.requests[-1].body["description"] == "Score 60/60"
    assert "updated the report comment" in capsys.readouterr().out


def test_a_marked_comment_by_someone_else_is_left_alone(github: FakeGitHub) -> None:
    planted = github.add_comment(f"{MARKER} I got full marks", login="student")
    done = _publish(github)
    assert not done.comment_updated and done.comment_id != planted
    assert github.comments[planted]["body"] == f"{MARKER} I got full marks"
    assert ("POST", COMMENTS) in github.calls() and not any(m == "PATCH" for m, _ in github.calls())


def test_an_installation_token_that_cannot_read_user_updates_its_bot_comment(github: FakeGitHub) -> None:
    github.user_refused = True
    human = github.add_comment(f"{MARKER} fake", login="student", user_type="User")
    bot = github.add_comment(f"{MARKER}\nold report", login="github-actions[bot]", user_type="Bot")
    done = _publish(github)
    assert done.comment_updated and done.comment_id == bot
    assert ("PATCH", f"/repos/o/n/comments/{bot}") in github.calls()
    assert github.comments[human]["body"] == f"{MARKER} fake"
    assert len(github.comments) == 2


def test_the_earlier_comment_is_found_on_a_later_page(github: FakeGitHub) -> None:
    for i in range(130):
        github.add_comment(f"comment {i}", login="ta")
    ours = github.add_comment(f"{MARKER}\nold", login="grader-bot")
    done = _publish(github)
    assert done.comment_id == ours and done.comment_updated
    pages = [
        parse_qs(urlsplit(r.path).query)["page"] for r in github.requests if r.method == "GET" and "comments" in r.path
    ]
    assert pages == [["1"], ["2"]]


def test_an_incomplete_grading_is_an_error_status_and_a_failed_check_run(github: FakeGitHub) -> None:
    incomplete = Report(assignments=REPORT.assignments, redis=REPORT.redis, duration_s=1.0, complete=False)
    done = _publish(github, report=incomplete, check_run=True)
    status = next(r for r in github.requests if r.path == STATUSES)
    assert status.body["state"] == "error" and done.status_state == "error"
    assert "incomplete" in status.body["description"] and len(status.body["description"]) <= 140
    check = next(r for r in github.requests if r.path == "/repos/o/n/check-runs")
    assert check.body["conclusion"] == "failure"


def test_status_description_stays_within_140_characters() -> None:
    huge = Report(
        assignments=(AssignmentResult("a", (TestResult("a::t", "t", "passed", 10**60, 10**60),)),),
        redis=REPORT.redis,
        duration_s=0,
        complete=False,
    )
    assert len(status_description(huge)) == 140


def test_check_run_is_created_when_asked(github: FakeGitHub) -> None:
    done = _publish(github, check_run=True)
    assert done.check_run_id == 77
    assert github.calls()[-1] == ("POST", "/repos/o/n/check-runs")
    body = github.requests[-1].body
    assert (body["name"], body["head_sha"], body["status"], body["conclusion"]) == (
        "grader/hidden",
        SHA,
        "completed",
        "success",
    )
    assert body["output"]["title"] == "Score 60/100"
    assert render_markdown.render(REPORT) in body["output"]["summary"]


def test_check_run_refused_for_a_personal_token_explains_github_apps_but_keeps_the_rest(
    github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.script(
        "POST",
        "/repos/o/n/check-runs",
        Answer(
            403,
            {"message": "You must authenticate via a GitHub App."},
            {"X-Accepted-GitHub-Permissions": "checks=write"},
        ),
    )
    assert _cli(github, report_file, "--check-run") == 1
    assert github.calls() == [
        ("GET", COMMENTS),
        ("POST", COMMENTS),
        ("POST", STATUSES),
        ("POST", "/repos/o/n/check-runs"),
    ]
    err = capsys.readouterr().err
    assert "could not create the check run" in err and "checks: write" in err and "GitHub App" in err
    assert "checks=write" in err and "--check-run" in err
    assert TOKEN not in err


# --- retries -----------------------------------------------------------------------------------------


def test_a_server_error_is_retried_with_backoff(github: FakeGitHub) -> None:
    github.script("POST", STATUSES, Answer(500, {"message": "Server Error"}), Answer(502))
    sleeps: list[float] = []
    _publish(github, sleeps)
    assert [c for c in github.calls() if c == ("POST", STATUSES)] == [("POST", STATUSES)] * 3
    assert sleeps == [1.0, 2.0]


def test_a_secondary_rate_limit_waits_what_retry_after_says(github: FakeGitHub) -> None:
    github.script(
        "POST",
        STATUSES,
        Answer(403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "7"}),
    )
    sleeps: list[float] = []
    done = _publish(github, sleeps)
    assert sleeps == [7.0] and done.status_state == "success"
    assert github.calls().count(("POST", STATUSES)) == 2


def test_a_429_without_headers_waits_a_minute(github: FakeGitHub) -> None:
    github.script("POST", STATUSES, Answer(429, {"message": "Too Many Requests"}))
    sleeps: list[float] = []
    _publish(github, sleeps)
    assert sleeps == [60.0]


def test_retries_stop_after_the_attempts(github: FakeGitHub) -> None:
    github.script("POST", STATUSES, *[Answer(503)] * 10)
    sleeps: list[float] = []
    with pytest.raises(
        PublishError, match=r"gave up after 5 attempts: GitHub answered 503 while trying to create the commit status"
    ) as failure:
        _publish(github, sleeps)
    assert github.calls().count(("POST", STATUSES)) == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert "posted the commit comment" in str(failure.value)  # the comment went through; nothing hidden


def test_a_wait_beyond_the_budget_fails_at_once(github: FakeGitHub) -> None:
    github.script("POST", STATUSES, Answer(403, {"message": "secondary rate limit"}, {"Retry-After": "3600"}))
    sleeps: list[float] = []
    with pytest.raises(
        PublishError,
        match=r"rate limited \(403\) while trying to create the commit status on o/n; "
        r"waiting 3600 s more would pass the 120 s",
    ):
        _publish(github, sleeps)
    assert sleeps == [] and github.calls().count(("POST", STATUSES)) == 1


def test_the_budget_is_shared_by_all_requests(github: FakeGitHub) -> None:
    github.script("POST", STATUSES, Answer(500), Answer(500))
    github.script("POST", COMMENTS, Answer(500), Answer(500))
    sleeps: list[float] = []
    with pytest.raises(PublishError, match="would pass the 3 s"):
        _publish(github, sleeps, retry=RetryPolicy(base_delay_s=1.0, max_total_wait_s=3.0))
    assert sum(sleeps) <= 3.0


def test_an_exhausted_primary_rate_limit_fails_without_waiting_for_the_reset(github: FakeGitHub) -> None:
    github.script(
        "GET",
        COMMENTS,
        Answer(
            403,
            {"message": "API rate limit exceeded"},
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"},
        ),
    )
    sleeps: list[float] = []
    with pytest.raises(PublishError, match="rate limit is used up"):
        _publish(github, sleeps)
    assert sleeps == []


def test_a_comment_stored_despite_a_5xx_is_found_not_posted_twice(github: FakeGitHub) -> None:
    github.script("POST", COMMENTS, Answer(500, {"message": "Server Error"}, apply=True))
    sleeps: list[float] = []
    done = _publish(github, sleeps)
    assert github.calls()[:5] == [
        ("GET", COMMENTS),
        ("POST", COMMENTS),
        ("GET", COMMENTS),
        ("GET", "/user"),
        ("PATCH", "/repos/o/n/comments/1"),
    ]
    assert list(github.comments) == [1] and done.comment_id == 1 and sleeps == [1.0]


def test_an_unreachable_api_is_retried_then_reported_without_the_token() -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(PublishError, match="no answer from GitHub") as failure:
        publish(report=REPORT, target=TARGET, token=TOKEN, api_url=f"http://127.0.0.1:{port}", sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0, 8.0] * 2  # the comment, then the status: each target is tried
    assert str(failure.value).count("gave up after 5 attempts") == 2
    assert TOKEN not in str(failure.value)


# --- refusals name the permission, never the token ---------------------------------------------------


def test_a_rejected_token_stops_at_once_and_is_not_printed(
    github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.script("GET", COMMENTS, Answer(401, {"message": "Bad credentials"}))
    assert _cli(github, report_file, "--check-run") == 1
    assert github.calls() == [("GET", COMMENTS)]
    out, err = capsys.readouterr()
    assert "rejected the token (401 Bad credentials)" in err and "$GRADER_GITHUB_TOKEN" in err
    assert TOKEN not in out + err


@pytest.mark.parametrize(
    ("method", "path", "code", "needed"),
    [
        ("POST", STATUSES, 403, ["`statuses: write`", '"Commit statuses: Read and write"']),
        ("POST", STATUSES, 404, ["`statuses: write`", "cannot see it"]),
        ("GET", COMMENTS, 403, ["`contents: write`", '"Contents: Read and write"']),
        ("POST", COMMENTS, 404, ["`contents: write`", "cannot see it"]),
    ],
)
def test_refusals_name_the_missing_permission(
    github: FakeGitHub, method: str, path: str, code: int, needed: list[str]
) -> None:
    github.script(method, path, Answer(code, {"message": "Resource not accessible by personal access token"}))
    with pytest.raises(PublishError) as failure:
        _publish(github)
    text = str(failure.value)
    assert f"({code} Resource not accessible" in text
    for words in needed:
        assert words in text
    assert TOKEN not in text


def test_a_422_is_reported_with_githubs_message_and_the_token_scrubbed(github: FakeGitHub) -> None:
    github.script("POST", STATUSES, Answer(422, {"message": f"No commit found for SHA, token {TOKEN} rejected"}))
    with pytest.raises(PublishError, match=r"422 No commit found for SHA") as failure:
        _publish(github)
    assert TOKEN not in str(failure.value) and "***" in str(failure.value)
    assert github.calls().count(("POST", STATUSES)) == 1  # not retried


# --- step summary and Classroom notices ---------------------------------------------------------------


def test_the_step_summary_is_appended(
    github: FakeGitHub, report_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert _cli(github, report_file) == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n**o/n** @ `0123456`")
    assert render_markdown.render(REPORT) in text
    assert _cli(github, report_file, "--no-summary") == 0
    assert summary.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("flag", "message"), [("--summary", "GITHUB_STEP_SUMMARY"), ("--release", "--release needs --course")]
)
def test_a_flag_without_what_it_needs_is_a_usage_error(
    github: FakeGitHub,
    report_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    message: str,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert _cli(github, report_file, flag) == 2
    assert message in capsys.readouterr().err and github.requests == []


def test_classroom_notices_are_printed_exactly(
    github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert _cli(github, report_file, "--classroom-notices") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "::notice title=Autograding complete::Points 60/100",
        '::notice title=Autograding report::{"totalPoints":60,"maxPoints":100}',
    ]
    assert classroom_notices(REPORT) == tuple(lines[:2])


# --- input validation: exit 2 before any request ------------------------------------------------------


@pytest.mark.parametrize(
    "repo", ["noslash", "o/n/x", "-owner/n", "owner-/n", "ow--ner/n", "o/..", "o/n n", "o/", "/n", "a" * 40 + "/n"]
)
def test_a_bad_repo_is_a_usage_error(
    repo: str, github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    argv = ["publish", str(report_file), "--repo", repo, "--sha", SHA, "--api-url", github.url]
    assert main(argv) == 2 and github.requests == []


@pytest.mark.parametrize("repo", ["Octo-Cat/redis.ada_2026", "ada_acme/.github", "a" * 39 + "/" + "n" * 100])
def test_valid_repo_names_are_accepted(repo: str) -> None:
    assert parse_target(repo=repo, sha=SHA.upper()).sha == SHA


@pytest.mark.parametrize("sha", ["abc1234", SHA[:-1], SHA[:-1] + "g", SHA + "0" * 24, f"{SHA[:20]} {SHA[21:]}"])
def test_a_bad_sha_is_a_usage_error(
    sha: str, github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    argv = ["publish", str(report_file), "--repo", "o/n", "--sha", sha, "--api-url", github.url]
    assert main(argv) == 2 and github.requests == []
    assert "40-character" in capsys.readouterr().err


def test_no_token_is_a_usage_error(github: FakeGitHub, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(github, report_file) == 2
    assert "$GRADER_GITHUB_TOKEN or $GITHUB_TOKEN" in capsys.readouterr().err and github.requests == []


def test_the_token_cannot_be_given_on_the_command_line(github: FakeGitHub, report_file: Path) -> None:
    assert _cli(github, report_file, "--token", TOKEN) == 2 and github.requests == []


def test_grader_token_wins_over_github_token(
    github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_workflow_token")
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", TOKEN)
    assert _cli(github, report_file) == 0
    assert {r.headers["authorization"] for r in github.requests} == {f"token {TOKEN}"}


def test_the_api_url_defaults_to_github_api_url(
    github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", github.url + "/")
    assert main(["publish", str(report_file), "--repo", "o/n", "--sha", SHA]) == 0
    assert github.calls()[-1] == ("POST", STATUSES)


@pytest.mark.parametrize("url", ["http://api.example.com", "ftp://127.0.0.1", "not a url"])
def test_the_token_is_not_sent_over_plain_http_or_odd_urls(
    url: str, report_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    argv = ["publish", str(report_file), "--repo", "o/n", "--sha", SHA, "--api-url", url]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--api-url must be" in err or "refusing to send the token over plain http" in err


def test_a_report_of_another_commit_is_refused(
    github: FakeGitHub, report_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    other = "f" * 40
    assert main(["publish", str(report_file), "--repo", "o/n", "--sha", other, "--api-url", github.url]) == 2
    assert "refusing to publish" in capsys.readouterr().err and github.requests == []


def test_an_unreadable_report_is_a_usage_error(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert _cli(github, bad) == 2
    assert "bad.json" in capsys.readouterr().err and github.requests == []


# --- what students may see: course.toml's hidden_visibility ---------------------------------------

TWO = dataclasses.replace(
    REPORT,
    assignments=(
        *REPORT.assignments,
        AssignmentResult(
            "capped_list", (TestResult("capped_list::c", "LTRIM caps", "failed", 0, 100, "[Part 2] cap"),)
        ),
    ),
)
PAST, FUTURE = "2026-10-06T23:59:00Z", "2999-10-20T23:59:00Z"


def _course_file(tmp_path: Path, visibility: str) -> Path:
    """This repository's course.toml with ``visibility``, counter due in the past, capped_list in the future."""
    text = (ROOT / "course.toml").read_text()
    text = re.sub(r'(?m)^hidden_visibility = "[a-z_]+"', f'hidden_visibility = "{visibility}"', text)
    text = re.sub(r"(?m)^due = 2026-10-20T23:59:00Z", f"due = {FUTURE}", text)
    assert f"due = {FUTURE}" in text and "due = 2026-10-06T23:59:00Z" in text
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("visibility", "release", "kept"),
    [
        ("visible", False, ["counter", "capped_list"]),
        ("after_due_date", False, ["counter"]),
        ("after_published", False, []),
        ("after_published", True, ["counter", "capped_list"]),
        ("hidden", True, []),
    ],
)
def test_students_see_what_the_course_policy_allows(
    tmp_path: Path, visibility: str, release: bool, kept: list[str]
) -> None:
    course = load_course(_course_file(tmp_path, visibility))
    view = shown(TWO, course=course, now=datetime.now(UTC), release=release)
    assert [a.name for a in view.report.assignments] == kept
    assert len(view.withheld) == 2 - len(kept)
    if visibility == "after_due_date":
        assert view.withheld == ("capped_list: results after its due date, 2999-10-20 23:59 UTC",)


def test_a_withheld_assignment_leaves_nothing_of_itself_on_the_commit(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report.json"
    write_json(TWO, report)
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", TOKEN)
    assert _cli(github, report, "--course", str(_course_file(tmp_path, "after_due_date")), "--check-run") == 0
    comment = next(r for r in github.requests if r.method == "POST" and r.path == COMMENTS).body["body"]
    status = next(r for r in github.requests if r.path == STATUSES).body
    check = next(r for r in github.requests if r.path == "/repos/o/n/check-runs").body
    assert "## Redis course: 60/100 points" in comment and "TTL expires" in comment
    assert "capped_list: results after its due date, 2999-10-20 23:59 UTC" in comment
    for text in (comment, json.dumps(status), json.dumps(check)):
        assert "LTRIM caps" not in text and "[Part 2] cap" not in text and "/200" not in text
    assert status["description"] == "Score 60/100 on 1 of 2 assignments; the others are not shown yet"
    assert check["output"]["title"] == status["description"]


def test_when_nothing_may_be_shown_the_commit_says_it_was_graded(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", TOKEN)
    report = tmp_path / "report.json"
    write_json(TWO, report)
    assert _cli(github, report, "--course", str(_course_file(tmp_path, "hidden"))) == 0
    comment = next(r for r in github.requests if r.method == "POST" and r.path == COMMENTS).body["body"]
    status = next(r for r in github.requests if r.path == STATUSES).body
    assert "Your submission was graded" in comment and "counter: results are not shown in this course" in comment
    assert not any(t.name in comment for t in TWO.tests()) and "points" not in comment
    assert status["state"] == "success" and "Score" not in status["description"]
