"""The pytest plugin that turns the hidden suites into graded tests.

It registers the suite markers (``assignment``, ``points``, ``hint``), provides the fixtures
every suite uses (``impl``, ``r``, ``trace``, ``make_client``, ``unreachable_client``,
``redis_backend``) and records one trusted result per test as JSON lines in
``--grader-results``: first the expected tests, then each outcome as it completes.

Load it with ``-p grader.pytest_plugin``. Options choose the implementation under test
(``--grader-impl``) and the server (``--grader-redis``: a redis URL, or ``fake``).

PYTEST_DONT_REWRITE: pytest leaves this module's asserts alone, so a fork server
(``grader.suite_process``) may import it before pytest starts.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from grader import assignments, feedback
from grader.rpc import RemoteError, RemoteNotImplementedError, WorkerDied, WorkerTimeout
from grader.sandbox_session import SandboxSession, ZygoteHandoff, hidden_paths
from grader.submission import (
    FunctionMissing,
    Implementation,
    ModuleBroken,
    ModuleMissing,
    ModuleProblem,
    import_module,
)
from grader.trace import Trace, install_tracer
from grader.worker import UNREACHABLE_TIMEOUT_S

REPO_ROOT = Path(__file__).resolve().parents[1]
Status = Literal["passed", "failed", "error", "not_attempted", "timeout"]
SWITCH_INTERVAL_S = 1e-5  # see _fine_thread_switching

RESULTS_KEY = pytest.StashKey["ResultsLog"]()
TARGET_KEY = pytest.StashKey["ServerTarget"]()
MODULES_KEY = pytest.StashKey[dict[str, "Implementation | ModuleProblem"]]()
SANDBOX_KEY = pytest.StashKey["SandboxSession | None"]()
OUTCOME_KEY = pytest.StashKey["Outcome"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "Redis course grading")
    group.addoption(
        "--grader-impl",
        default=str(REPO_ROOT / "solutions"),
        help="folder holding the modules under test (default: the reference solutions)",
    )
    group.addoption(
        "--grader-redis",
        default=os.environ.get("REDIS_URL", "fake"),
        help="redis:// or unix:// URL of the server to test against, or 'fake' for fakeredis "
        "(default: $REDIS_URL, else fake)",
    )
    group.addoption("--grader-results", default=None, help="write trusted results here as JSON lines")
    group.addoption(
        "--grader-sandbox",
        choices=("off", "auto", "full", "reduced"),
        default="off",
        help="run student code in a confined worker process (needs a real server); 'off' imports it here",
    )
    group.addoption(
        "--grader-zygote",
        default=None,
        metavar="FD:PID:MODE:WORK",
        help="take over the sandbox's zygote that the grader started (its inherited control connection, "
        "launcher's pid, mode and workspace)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "assignment(name): the assignment a hidden suite grades")
    config.addinivalue_line("markers", "points(n): the points a test is worth when it passes")
    config.addinivalue_line("markers", "hint(h): the grader.feedback.Hint students see when the test fails")
    config.stash[TARGET_KEY] = ServerTarget.from_option(config.getoption("--grader-redis"))
    config.stash[MODULES_KEY] = {}
    path = config.getoption("--grader-results")
    config.stash[RESULTS_KEY] = ResultsLog(Path(path) if path else None)
    config.stash[SANDBOX_KEY] = _start_sandbox(config, Path(path).parent if path else None)


def _start_sandbox(config: pytest.Config, results_dir: Path | None) -> SandboxSession | None:
    mode = config.getoption("--grader-sandbox")
    if mode == "off":
        return None
    target = config.stash[TARGET_KEY]
    if target.backend != "real":
        raise pytest.UsageError("--grader-sandbox needs a real Redis server (student code runs in another process)")
    hide = hidden_paths(rootdir=config.rootpath, targets=config.args, results_dir=results_dir)
    handoff = config.getoption("--grader-zygote")
    try:
        handed = ZygoteHandoff.parse(handoff) if handoff else None
    except ValueError as exc:
        raise pytest.UsageError(f"--grader-zygote {handoff!r}: {exc}") from None
    session = SandboxSession(
        admin_url=target.url, modules=Path(config.getoption("--grader-impl")), hide=hide, mode=mode, handoff=handed
    )
    session.start()
    return session


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SANDBOX_KEY, None)
    if session is not None:
        session.close()
    if RESULTS_KEY in config.stash:
        config.stash[RESULTS_KEY].close()


# --- the server under test --------------------------------------------------------------------


@dataclass
class ServerTarget:
    """Where the suites' Redis lives: a real server by URL, or one shared fakeredis server."""

    url: str
    fake_server: Any = None

    @classmethod
    def from_option(cls, value: str) -> ServerTarget:
        if value == "fake":
            import fakeredis

            return cls(url="fake", fake_server=fakeredis.FakeServer())
        return cls(url=value)

    @property
    def backend(self) -> Literal["real", "fake"]:
        return "fake" if self.fake_server is not None else "real"

    def healthy(self) -> bool:
        """True when the server answers PING within a second."""
        if self.fake_server is not None:
            return True
        client = self.client(socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def client(self, **kwargs: Any) -> redis.Redis:
        """A new client with ``decode_responses=True``, as the spec promises students."""
        if self.fake_server is not None:
            import fakeredis

            return fakeredis.FakeRedis(server=self.fake_server, decode_responses=True, **kwargs)
        # driver_info=None: no CLIENT SETINFO on each of the hundreds of connections a run opens
        return redis.Redis.from_url(self.url, decode_responses=True, driver_info=None, **kwargs)


@pytest.fixture(scope="session")
def redis_backend(pytestconfig: pytest.Config) -> Literal["real", "fake"]:
    """``"real"`` or ``"fake"``: which kind of server the suite runs on."""
    return pytestconfig.stash[TARGET_KEY].backend


@pytest.fixture
def make_client(pytestconfig: pytest.Config) -> Iterator[Callable[[], redis.Redis]]:
    """A factory of extra clients on the server under test (for threads and checks); closed after the test."""
    target = pytestconfig.stash[TARGET_KEY]
    made: list[redis.Redis] = []

    def factory() -> redis.Redis:
        client = target.client()
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


TraceFactory = Callable[[], AbstractContextManager[Trace]]


@pytest.fixture
def _traced_client(pytestconfig: pytest.Config) -> Iterator[tuple[redis.Redis, TraceFactory]]:
    target = pytestconfig.stash[TARGET_KEY]
    client = target.client()
    client.flushall()  # before any code under test sees the client: one connection per test, not two
    session = pytestconfig.stash[SANDBOX_KEY]
    tracer: TraceFactory
    if session is None:
        tracer = install_tracer(client)  # student code runs here, on this very client
    else:
        session.client_names.clear()  # the worker's own client stands in for this one
        session.client_names[id(client)] = "main"
        tracer = session.trace
    yield client, tracer
    client.close()


@pytest.fixture
def r(_traced_client: tuple[redis.Redis, TraceFactory]) -> redis.Redis:
    """A client on an empty database, as students receive it (``decode_responses=True``)."""
    return _traced_client[0]


@pytest.fixture
def trace(_traced_client: tuple[redis.Redis, TraceFactory]) -> TraceFactory:
    """``with trace() as t:`` records the commands the code under test sends inside the block."""
    return _traced_client[1]


@pytest.fixture
def concurrently(make_client: Callable[[], redis.Redis]) -> Callable[..., list[Any]]:
    """``concurrently(work, threads=8)``: run ``work(client, index, barrier)`` in that many threads at once.

    Each thread gets its own client; all start together, released by ``barrier`` (which ``work`` may
    reuse to line up rounds). Returns the results in thread order; re-raises the first real error.
    """

    def run(work: Callable[[redis.Redis, int, threading.Barrier], Any], threads: int = 8) -> list[Any]:
        clients = [make_client() for _ in range(threads)]
        barrier = threading.Barrier(threads, timeout=30)

        def one(index: int) -> Any:
            try:
                barrier.wait()
                return work(clients[index], index, barrier)
            except BaseException:
                barrier.abort()  # release the others instead of leaving them waiting
                raise

        with _fine_thread_switching(), ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(one, i) for i in range(threads)]
            errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:
            raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
        return [f.result() for f in futures]

    return run


@contextmanager
def _fine_thread_switching() -> Iterator[None]:
    """Let threads take turns every few microseconds, as separate clients of a server would.

    Code under test that runs in this process on fakeredis never waits on a socket, so with
    Python's default 5 ms switch interval one thread could finish all its calls before another
    starts, and a read-then-write race would go unseen; on a real server each command's round
    trip lets the others in anyway.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.fixture
def unreachable_client() -> Iterator[Callable[[str], redis.Redis]]:
    """``unreachable_client("connection")`` or ``("timeout")``: a client whose every command fails that way."""
    folder = tempfile.mkdtemp(prefix="grader-unreachable-")
    listeners: list[socket.socket] = []
    clients: list[redis.Redis] = []

    def factory(kind: str = "connection") -> redis.Redis:
        path = os.path.join(folder, f"{kind}-{len(clients)}.sock")
        if kind == "timeout":
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(16)  # accepts connections into the backlog, never answers
            listeners.append(listener)
        elif kind != "connection":
            raise ValueError(f"unknown kind {kind!r}")
        client = redis.Redis(
            unix_socket_path=path,
            decode_responses=True,
            socket_timeout=UNREACHABLE_TIMEOUT_S,
            socket_connect_timeout=UNREACHABLE_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),  # fail at once: redis-py's default retries take seconds
        )
        client._grader_unreachable = kind  # type: ignore[attr-defined]  # the sandbox gives the worker the same kind
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
    for listener in listeners:
        listener.close()
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    os.rmdir(folder)


# --- the implementation under test ------------------------------------------------------------


def assignment_of(item: pytest.Item) -> assignments.Assignment:
    marker = item.get_closest_marker("assignment")
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{item.nodeid}: hidden tests need pytest.mark.assignment(name)")
    return assignments.get(str(marker.args[0]))


@pytest.fixture
def impl(request: pytest.FixtureRequest) -> Implementation:
    """The module under test for this test's assignment (imported once per run)."""
    assignment = assignment_of(request.node)
    session = request.config.stash[SANDBOX_KEY]
    if session is not None:
        names = session.client_names

        def client_name(client: object) -> str:
            return names.setdefault(id(client), f"c{len(names)}")

        return session.implementation(assignment, client_name)
    cache = request.config.stash[MODULES_KEY]
    if assignment.name not in cache:
        folder = Path(request.config.getoption("--grader-impl"))
        try:
            cache[assignment.name] = Implementation(import_module(folder, assignment), assignment)
        except ModuleProblem as problem:
            cache[assignment.name] = problem
    loaded = cache[assignment.name]
    if isinstance(loaded, ModuleProblem):
        raise loaded
    return loaded


# --- points, hints and trusted results --------------------------------------------------------


@dataclass
class TestMeta:
    id: str
    assignment: str
    name: str
    points: int
    hint: feedback.Hint

    @classmethod
    def of(cls, item: pytest.Item) -> TestMeta:
        assignment = assignment_of(item)
        points = item.get_closest_marker("points")
        hint = item.get_closest_marker("hint")
        if points is None or not points.args or not isinstance(points.args[0], int):
            raise pytest.UsageError(f"{item.nodeid}: every hidden test needs pytest.mark.points(int)")
        if hint is None or not hint.args or not isinstance(hint.args[0], feedback.Hint):
            raise pytest.UsageError(f"{item.nodeid}: every hidden test needs pytest.mark.hint(feedback.X)")
        doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
        name = doc.strip().splitlines()[0]
        params = getattr(item, "callspec", None)
        if params is not None:
            name = f"{name} [{params.id}]"
        return cls(f"{assignment.name}::{item.name}", assignment.name, name, points.args[0], hint.args[0])


@dataclass
class Outcome:
    """What happened to one test across its phases; the first failure wins."""

    excinfo: pytest.ExceptionInfo[BaseException] | None = None
    phase: str = ""
    skipped: bool = False
    duration: float = 0.0


class ResultsLog:
    """Appends JSON lines to the results file, flushed per line so a killed run keeps what it had."""

    def __init__(self, path: Path | None) -> None:
        self._file: IO[str] | None = path.open("w", encoding="utf-8") if path else None

    def write(self, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def pytest_collection_finish(session: pytest.Session) -> None:
    target = session.config.stash[TARGET_KEY]
    metas = [TestMeta.of(item) for item in session.items]
    sandbox = session.config.stash[SANDBOX_KEY]
    if sandbox is not None:
        sandbox.plan(list(dict.fromkeys(m.assignment for m in metas)))
    session.config.stash[RESULTS_KEY].write(
        {
            "kind": "collected",
            "backend": target.backend,
            "server_version": server_version(target),
            "isolation": _isolation(session.config),
            "tests": [
                {
                    "id": m.id,
                    "assignment": m.assignment,
                    "name": m.name,
                    "max_score": m.points,
                    "section": m.hint.section,
                }
                for m in metas
            ],
        }
    )


def _isolation(config: pytest.Config) -> dict[str, str]:
    session = config.stash[SANDBOX_KEY]
    if session is None:
        return {"mode": "none", "detail": "in-process: student code ran inside the test process"}
    return {"mode": session.confinement.mode, "detail": session.confinement.describe()}


def server_version(target: ServerTarget) -> str:
    if target.fake_server is not None:
        import fakeredis

        return f"fakeredis {fakeredis.__version__}"
    client = target.client()
    try:
        info = client.info("server")
    finally:
        client.close()
    if "valkey_version" in info:
        return f"valkey {info['valkey_version']} (redis {info['redis_version']} compatible)"
    return f"redis {info['redis_version']}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    outcome = item.stash.setdefault(OUTCOME_KEY, Outcome())
    if call.when == "call":
        outcome.duration = call.duration
    if call.excinfo is not None and outcome.excinfo is None:
        outcome.skipped = call.excinfo.errisinstance(pytest.skip.Exception)
        outcome.excinfo = call.excinfo
        outcome.phase = call.when
    if call.when == "teardown":
        status = _record(item, outcome)
        session = item.config.stash[SANDBOX_KEY]
        if session is not None and (status == "timeout" or _worker_gone(outcome)):
            session.kill_worker()  # kills every process it started; the next test gets a fresh worker
    return report


def _worker_gone(outcome: Outcome) -> bool:
    return outcome.excinfo is not None and isinstance(outcome.excinfo.value, (WorkerDied, WorkerTimeout))


def _record(item: pytest.Item, outcome: Outcome) -> Status:
    meta = TestMeta.of(item)
    status, message = classify(outcome, meta, Path(item.config.getoption("--grader-impl")))
    if status != "passed" and not item.config.stash[TARGET_KEY].healthy():
        status, message = "error", feedback.INFRA_ERROR  # the server died: not the submission's fault
    item.config.stash[RESULTS_KEY].write(
        {
            "kind": "result",
            "id": meta.id,
            "status": status,
            "score": meta.points if status == "passed" else 0,
            "feedback": feedback.neutralize(message),
            "duration_s": round(outcome.duration, 4),
        }
    )
    return status


def classify(outcome: Outcome, meta: TestMeta, impl_folder: Path) -> tuple[Status, str]:
    """The status and student-facing feedback for one finished test."""
    info = outcome.excinfo
    if info is None:
        return "passed", ""
    exc = info.value
    if outcome.skipped:
        return "error", "This test was skipped by the grader; it will be regraded."
    if isinstance(exc, ModuleMissing):
        return "not_attempted", str(exc)
    if isinstance(exc, (ModuleBroken, FunctionMissing)):
        return "failed", str(exc)
    if isinstance(exc, WorkerTimeout) or (isinstance(exc, pytest.fail.Exception) and str(exc).startswith("Timeout")):
        return "timeout", f"{feedback.TIMEOUT} {meta.hint}"
    if isinstance(exc, RemoteNotImplementedError):
        return "not_attempted", feedback.NOT_ATTEMPTED
    if isinstance(exc, WorkerDied):
        return "failed", f"{meta.hint} {feedback.WORKER_DIED}"
    if isinstance(exc, RemoteError):
        return "failed", remote_feedback(exc, meta.hint)
    student_frame = _student_frame(info, impl_folder)
    if isinstance(exc, NotImplementedError) and student_frame is not None:
        return "not_attempted", feedback.NOT_ATTEMPTED
    if student_frame is not None:
        return "failed", f"{meta.hint} Your code raised {_describe(exc, student_frame)}"
    if outcome.phase == "setup" and not isinstance(exc, AssertionError):
        return "error", feedback.INFRA_ERROR
    return "failed", str(meta.hint)


def remote_feedback(error: RemoteError, hint: feedback.Hint) -> str:
    """Feedback for an exception raised by student code in the worker."""
    kind = (error.type or "Exception").rsplit(".", 1)[-1]
    message = error.message or ""
    if kind == "NoPermissionError" or message.startswith("NOPERM") or "no permissions to run" in message:
        command = re.search(r"'([^']+)' command", message)
        name = command.group(1).upper() if command else "that command"
        if name == "KEYS":
            return str(feedback.KEYS_FORBIDDEN)
        return f"{feedback.FORBIDDEN_COMMAND} (your code ran {name}.) {hint}"
    if kind == "UnsupportedValue":
        return f"{hint} {message}"
    where = f" in {error.file} line {error.line}" if error.file and error.line else ""
    function = f" ({error.function})" if error.function else ""
    detail = f": {message}" if message else ""
    return f"{hint} Your code raised {kind}{where}{function}{detail}"


def _student_frame(info: pytest.ExceptionInfo[BaseException], folder: Path) -> traceback.FrameSummary | None:
    """The innermost traceback frame that runs a file of the implementation under test."""
    prefix = str(folder.resolve()) + os.sep
    for frame in reversed(traceback.extract_tb(info.tb)):
        if frame.filename.startswith(prefix):
            return frame
    return None


def _describe(exc: BaseException, frame: traceback.FrameSummary) -> str:
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    detail = f": {message}" if message else ""
    return f"{type(exc).__name__} in {Path(frame.filename).name} line {frame.lineno} ({frame.name}){detail}"
