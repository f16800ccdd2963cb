"""Publish a grade report on GitHub where people look: commit status, one commit comment, check run, job summary.

The GitHub client is githubkit (typed request bodies, a settable API base URL). Its own retries
are turned off: this module retries 5xx answers, network errors and rate limits itself, with
exponential backoff, honouring ``retry-after`` but never waiting more than a total budget, and
with an injectable ``sleep`` so tests never wait. 401/403/404 answers become a ``PublishError``
that names the permission the token lacks. The token is never printed, logged or put in an
error message: every message built here is scrubbed of it.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from grader import render_markdown
from grader.errors import GraderFailure, UsageError
from grader.report import Report

if TYPE_CHECKING:  # githubkit takes a second to import: only `publish` loads it
    from githubkit import GitHub
    from githubkit.response import Response

MARKER = "<!-- grader:hidden-report -->"
STATUS_CONTEXT = "grader/hidden"
CHECK_NAME = "grader/hidden"
DEFAULT_API_URL = "https://api.github.com"
TOKEN_VARIABLES = ("GRADER_GITHUB_TOKEN", "GITHUB_TOKEN")  # first one set wins
DESCRIPTION_LIMIT = 140  # commit status description
COMMENT_LIMIT = 65536  # commit comment body
CHECK_SUMMARY_LIMIT = 65535  # check run output.summary
COMMENT_PAGES = 10  # at most 1000 comments are searched for the marker

_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[-_](?=[A-Za-z0-9])){0,38}")  # login rules; `_` for EMU logins
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_SHA = re.compile(r"[0-9a-fA-F]{40}")

T = TypeVar("T")
Sleep = Callable[[float], None]


class PublishError(GraderFailure):
    """GitHub refused or kept failing a request; the message says what to change (exit 1)."""


@dataclass(frozen=True)
class Target:
    """The commit a report is published on."""

    owner: str
    name: str
    sha: str

    @property
    def repo(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` per step; backoff doubles from ``base_delay_s`` up to
    ``max_delay_s``; ``retry-after`` is honoured, but all waits of one publication together stay
    within ``max_total_wait_s`` (a longer rate-limit wait fails at once, saying when to retry)."""

    attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_total_wait_s: float = 120.0


@dataclass(frozen=True)
class Published:
    """What ``publish`` posted."""

    status_state: str
    status_description: str
    comment_id: int
    comment_url: str
    comment_updated: bool  # True when an earlier report's comment was edited rather than a new one posted
    check_run_id: int | None = None


@dataclass(frozen=True)
class Endpoint:
    """What a request does, for error messages, and what it needs of the token."""

    what: str  # "create the commit status", completes "could not ..."
    permission: str  # what the token needs, in every token kind's words
    note: str = ""


_STATUS = Endpoint(
    "create the commit status",
    "`statuses: write` (a workflow's `permissions:` or a GitHub App), "
    '"Commit statuses: Read and write" (fine-grained token) or `repo:status` (classic token)',
)
_COMMENTS = Endpoint(
    "list or write the commit's comments",
    "`contents: write` (a workflow's `permissions:` or a GitHub App), "
    '"Contents: Read and write" (fine-grained token) or `repo` (classic token)',
)
_CHECK_RUN = Endpoint(
    "create the check run",
    "`checks: write`, which only a GitHub App installation token or a workflow's GITHUB_TOKEN can hold",
    "Only GitHub Apps can create check runs: personal access tokens (classic or fine-grained) and OAuth "
    "tokens always get 403 here. Publish with a GitHub App installation token, or leave out --check-run.",
)
_USER = Endpoint("read the token's own user", "nothing (any user token may read itself)")


class _Transient(Exception):
    """A failure worth retrying; ``delay_s`` is what the server asked for, else None (use backoff)."""

    def __init__(self, reason: str, delay_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s


class _BadCredentials(PublishError):
    """401: every further request would fail the same way."""


def parse_target(*, repo: str, sha: str) -> Target:
    """Validate ``OWNER/NAME`` (GitHub's naming rules) and a full 40-hex commit SHA; ``UsageError`` if not."""
    owner, slash, name = repo.partition("/")
    if not slash or not _OWNER.fullmatch(owner) or not _NAME.fullmatch(name) or name in {".", ".."}:
        raise UsageError(
            f"--repo must be OWNER/NAME (owner: letters, digits and single hyphens, at most 39; "
            f"name: letters, digits, '.', '_', '-', at most 100), not {repo!r}"
        )
    if not _SHA.fullmatch(sha):
        raise UsageError(f"--sha must be the full 40-character hexadecimal commit SHA, not {sha!r}")
    return Target(owner=owner, name=name, sha=sha.lower())


def check_api_url(*, url: str) -> str:
    """The API base URL without a trailing slash: https, or http to a loopback host (tests, local proxies)."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.query or parts.fragment:
        raise UsageError(f"--api-url must be an http(s) URL such as {DEFAULT_API_URL}, not {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise UsageError(f"refusing to send the token over plain http to {parts.hostname}; use https")
    return url.rstrip("/")


def token_from_env(*, env: Mapping[str, str]) -> str:
    """The publishing token from ``$GRADER_GITHUB_TOKEN``, else ``$GITHUB_TOKEN`` (never from argv)."""
    for variable in TOKEN_VARIABLES:
        token = env.get(variable, "").strip()
        if token:
            if any(c.isspace() for c in token):
                raise UsageError(f"${variable} holds whitespace inside the token; set it to the token alone")
            return token
    raise UsageError(f"no GitHub token: set ${TOKEN_VARIABLES[0]} or ${TOKEN_VARIABLES[1]} in the environment")


def check_report_commit(*, report: Report, target: Target) -> None:
    """Refuse to publish a report that names another commit than the target's (a mixed-up matrix job)."""
    commit = report.commit.strip().lower()
    if len(commit) >= 7 and re.fullmatch(r"[0-9a-f]+", commit) and not target.sha.startswith(commit):
        raise UsageError(f"the report grades commit {commit}, not --sha {target.sha}; refusing to publish it there")


def status_state(report: Report) -> Literal["success", "error"]:
    """``success`` when grading completed, whatever the score; ``error`` when some tests could not run."""
    return "success" if report.complete else "error"


def status_description(report: Report, *, withheld: tuple[str, ...] = ()) -> str:
    """The commit status line, at most 140 characters; ``withheld``: assignments left out of ``report``."""
    shown = f"{report.score}/{report.max_score}"
    if not report.complete:
        so_far = " so far" if not withheld else ""
        text = f"Grading incomplete: {shown}{so_far}, some tests could not run"
    elif not withheld:
        text = f"Score {shown}"
    elif report.assignments:
        total = len(report.assignments) + len(withheld)
        text = f"Score {shown} on {len(report.assignments)} of {total} assignments; the others are not shown yet"
    else:
        text = "Graded; the course does not show the results yet (see the comment)"
    return text[:DESCRIPTION_LIMIT]


def comment_body(report: Report, *, target: Target, withheld: tuple[str, ...] = ()) -> str:
    """The commit comment: the marker that lets a regrade find it, then the Markdown report."""
    footer = f"\n<sub>Graded commit {target.sha[:7]}. A regrade updates this comment.</sub>\n"
    body = render_markdown.render(report, withheld=withheld)
    return _fit(f"{MARKER}\n{body}", COMMENT_LIMIT - len(footer)) + footer


def classroom_notices(report: Report) -> tuple[str, str]:
    """The two workflow commands GitHub Classroom's reporter emits, which Classroom reads the score from."""
    points = json.dumps({"totalPoints": report.score, "maxPoints": report.max_score}, separators=(",", ":"))
    return (
        f"::notice title=Autograding complete::Points {report.score}/{report.max_score}",
        f"::notice title=Autograding report::{points}",
    )


def append_step_summary(report: Report, *, path: Path, target: Target) -> None:
    """Append the Markdown report to the job summary file (``$GITHUB_STEP_SUMMARY``)."""
    text = f"**{target.repo}** @ `{target.sha[:7]}`\n\n{render_markdown.render(report)}\n"
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise GraderFailure(f"could not append the job summary to {path}: {exc.strerror or exc}") from None


def publish(
    *,
    report: Report,
    target: Target,
    token: str,
    api_url: str = DEFAULT_API_URL,
    check_run: bool = False,
    withheld: tuple[str, ...] = (),
    retry: RetryPolicy = RetryPolicy(),
    sleep: Sleep = time.sleep,
) -> Published:
    """Post the commit comment (updating the earlier report's comment if there is one), the
    ``grader/hidden`` commit status linking to it and, with ``check_run``, a check run.

    ``report`` is what students may see (``grader.visibility``); ``withheld`` says, per
    assignment left out, when its results come. Each target is tried even when an earlier one
    failed; ``PublishError`` then lists every failure (a rejected token stops at once). ``sleep``
    is called for every retry wait.
    """
    with open_github(token=token, api_url=api_url) as github:
        session = Session(github=github, token=token, target=target, retry=retry, sleep=sleep)
        failures: list[str] = []
        comment: tuple[int, str, bool] | None = None
        check_id: int | None = None
        try:
            body = comment_body(report, target=target, withheld=withheld)
            comment = session.attempt(lambda: session.upsert_comment(body), failures)
            session.attempt(
                lambda: session.post_status(
                    state=status_state(report),
                    description=status_description(report, withheld=withheld),
                    target_url=comment[1] if comment else None,
                ),
                failures,
            )
            if check_run:
                check_id = session.attempt(lambda: session.create_check_run(report, withheld), failures)
        except _BadCredentials as exc:
            failures.append(str(exc))
    if failures or comment is None:
        done = "posted the commit comment; " if comment else ""
        raise PublishError(session.scrub(f"publishing on {target.repo}@{target.sha[:7]}: {done}" + "; ".join(failures)))
    return Published(
        status_state=status_state(report),
        status_description=status_description(report, withheld=withheld),
        comment_id=comment[0],
        comment_url=comment[1],
        comment_updated=comment[2],
        check_run_id=check_id,
    )


def open_github(*, token: str, api_url: str = DEFAULT_API_URL) -> GitHub[Any]:
    """A githubkit client for ``api_url``, its own retries and caching off (:class:`Session` retries)."""
    from githubkit import GitHub

    return GitHub(
        token,
        base_url=check_api_url(url=api_url) + "/",
        auto_retry=False,
        http_cache=False,
        timeout=30.0,
        user_agent="redis-course-grader",
    )


@dataclass
class Session:
    """The requests about one repository (``target``): their retries, a shared wait budget, and
    refusals that name the permission the token lacks. ``grader.push_times`` uses it too."""

    github: GitHub[Any]
    token: str
    target: Target
    retry: RetryPolicy
    sleep: Sleep
    waited_s: float = 0.0

    def scrub(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    def attempt(self, step: Callable[[], T], failures: list[str]) -> T | None:
        """Run ``step`` with retries; a ``PublishError`` is recorded in ``failures`` (401 propagates)."""
        try:
            return self.retrying(step)
        except _BadCredentials:
            raise
        except PublishError as exc:
            failures.append(str(exc))
            return None

    def retrying(self, step: Callable[[], T]) -> T:
        """Run ``step`` until it returns, retrying ``_Transient`` failures within the policy and budget."""
        attempt = 0
        while True:
            try:
                return step()
            except _Transient as transient:
                attempt += 1
                backoff = min(self.retry.base_delay_s * 2 ** (attempt - 1), self.retry.max_delay_s)
                delay = backoff if transient.delay_s is None else max(transient.delay_s, 0.0)
                if attempt >= self.retry.attempts:
                    raise PublishError(f"gave up after {attempt} attempts: {transient.reason}") from None
                if self.waited_s + delay > self.retry.max_total_wait_s:
                    raise PublishError(
                        f"{transient.reason}; waiting {delay:.0f} s more would pass the "
                        f"{self.retry.max_total_wait_s:.0f} s this command waits in all; publish again later"
                    ) from None
                self.sleep(delay)
                self.waited_s += delay

    def call(self, endpoint: Endpoint, request: Callable[[], Response[Any, Any]]) -> Response[Any, Any]:
        """One request; retryable failures become ``_Transient``, refusals a ``PublishError``."""
        from githubkit.exception import PrimaryRateLimitExceeded, RateLimitExceeded, RequestError, RequestFailed

        trying = f"while trying to {endpoint.what} on {self.target.repo}"
        try:
            return request()
        except RateLimitExceeded as exc:
            kind = "the token's rate limit is used up" if isinstance(exc, PrimaryRateLimitExceeded) else "rate limited"
            raise _Transient(f"{kind} ({exc.response.status_code}) {trying}", exc.retry_after.total_seconds()) from None
        except RequestFailed as exc:
            response = exc.response
            code = response.status_code
            if code >= 500:
                raise _Transient(f"GitHub answered {code} {trying}") from None
            message = _message(response)
            if code == 429 or (code == 403 and "secondary rate limit" in message.lower()):
                raise _Transient(f"rate limited ({code}) {trying}", 60.0) from None  # GitHub: wait at least a minute
            raise self.refusal(endpoint, response) from None
        except RequestError as exc:
            raise _Transient(f"no answer from GitHub ({type(exc.exc).__name__}) {trying}") from None

    def refusal(self, endpoint: Endpoint, response: Response[Any, Any]) -> PublishError:
        code = response.status_code
        message = self.scrub(_message(response))
        said = f"{code} {message}" if message else str(code)
        if code == 401:
            return _BadCredentials(
                f"GitHub rejected the token ({said}): it is invalid, expired or revoked; "
                f"set a valid ${TOKEN_VARIABLES[0]} or ${TOKEN_VARIABLES[1]}"
            )
        text = f"could not {endpoint.what} on {self.target.repo} ({said})"
        if code in (403, 404):
            if code == 404:
                text += "; GitHub answers 404 when the repository or commit does not exist or the token cannot see it"
            text += f"; the token needs {endpoint.permission}"
            accepted = response.headers.get("x-accepted-github-permissions")
            if accepted:
                text += f" (GitHub says: {self.scrub(accepted)})"
            if endpoint.note:
                text += f". {endpoint.note}"
        return PublishError(text)

    def post_status(self, *, state: Literal["success", "error"], description: str, target_url: str | None) -> None:
        from githubkit.utils import UNSET

        t = self.target
        self.call(
            _STATUS,
            lambda: self.github.rest.repos.create_commit_status(
                t.owner,
                t.name,
                t.sha,
                state=state,
                description=description,
                context=STATUS_CONTEXT,
                target_url=target_url or UNSET,
            ),
        )

    def upsert_comment(self, body: str) -> tuple[int, str, bool]:
        """Edit this publisher's earlier report comment on the commit, else post one: (id, url, updated).

        Retried as a whole, so a POST that failed with a 5xx after GitHub stored it is found on the
        next attempt instead of being posted twice.
        """
        t = self.target
        earlier = self.own_report_comments()
        if earlier:
            comment_id = earlier[-1]
            response = self.call(
                _COMMENTS, lambda: self.github.rest.repos.update_commit_comment(t.owner, t.name, comment_id, body=body)
            )
        else:
            response = self.call(
                _COMMENTS, lambda: self.github.rest.repos.create_commit_comment(t.owner, t.name, t.sha, body=body)
            )
        data = json_object(response)
        return int(data.get("id", 0)), str(data.get("html_url", "")), bool(earlier)

    def own_report_comments(self) -> list[int]:
        """Ids of the commit's comments holding the marker and written by the token's own user (when
        GitHub says who that is; an installation token cannot read /user, so then by any bot)."""
        marked: list[dict[str, Any]] = []
        for page in range(1, COMMENT_PAGES + 1):
            items = self.comments_page(page).json()
            if not isinstance(items, list):
                break
            marked += [c for c in items if isinstance(c, dict) and MARKER in str(c.get("body") or "")]
            if len(items) < 100:
                break
        if not marked:
            return []
        login = self.own_login()
        return [
            int(c["id"])
            for c in marked
            if isinstance(c.get("user"), dict)
            and (c["user"].get("login") == login if login else c["user"].get("type") == "Bot")
        ]

    def comments_page(self, page: int) -> Response[Any, Any]:
        t = self.target
        return self.call(
            _COMMENTS,
            lambda: self.github.rest.repos.list_comments_for_commit(t.owner, t.name, t.sha, per_page=100, page=page),
        )

    def own_login(self) -> str | None:
        try:
            response = self.call(_USER, lambda: self.github.rest.users.get_authenticated())
        except PublishError as exc:
            if isinstance(exc, _BadCredentials):
                raise
            return None  # installation tokens get 403 here
        login = json_object(response).get("login")
        return login if isinstance(login, str) else None

    def create_check_run(self, report: Report, withheld: tuple[str, ...]) -> int:
        t = self.target
        summary = _fit(render_markdown.render(report, withheld=withheld), CHECK_SUMMARY_LIMIT)
        response = self.call(
            _CHECK_RUN,
            lambda: self.github.rest.checks.create(
                t.owner,
                t.name,
                name=CHECK_NAME,
                head_sha=t.sha,
                status="completed",
                conclusion="success" if report.complete else "failure",
                output={"title": status_description(report, withheld=withheld), "summary": summary},
            ),
        )
        return int(json_object(response).get("id", 0))


def _fit(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = "\n\n… (report truncated: it is longer than GitHub accepts here)\n"
    return text[: limit - len(cut)] + cut


def _message(response: Response[Any, Any]) -> str:
    """GitHub's one-line error ``message``, if the body has one."""
    try:
        data = response.json()
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return " ".join(str(message).split())[:300] if message else ""


def json_object(response: Response[Any, Any]) -> dict[str, Any]:
    """The response's JSON body when it is an object, else an empty dict."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
