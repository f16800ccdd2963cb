"""Run a hidden suite's tests inside a generated notebook, when nbgrader autogrades it.

The hidden grade cells of a notebook written by ``grader notebooks`` hold the hidden suite's test
functions as written, decorators included, and end with ``hidden.run(test_...)``. They only run on
the instructor's side (``nbgrader autograde``), where this package is installed; students never
see or run them. :class:`HiddenTests` gives each test the fixtures ``grader.pytest_plugin`` gives
it (``impl``, ``r``, ``trace``, ``make_client`` and ``redis_backend`` made here, for a notebook; the
plugin's other fixtures, such as ``concurrently`` and ``unreachable_client``, taken from it), runs it
with the trusted warning filters of ``grader/hidden.ini``, a time limit and its output captured
(nbgrader scores a cell that writes to stderr 0), and turns a failure into the feedback
``grader grade`` gives: "not attempted", the test's hint, or what the student's code raised.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import io
import signal
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import redis

from grader import feedback, pytest_plugin
from grader.trace import Tracer, install_tracer

DEFAULT_TIMEOUT_S = 10.0
OWN_FIXTURES = frozenset({"impl", "r", "trace", "make_client", "redis_backend"})


def plugin_fixtures() -> dict[str, Callable[..., Any]]:
    """The public fixtures of ``grader.pytest_plugin`` that need no pytest machinery: name → function.

    A fixture qualifies when every argument it takes is one of ours (``OWN_FIXTURES``) or another
    qualifying fixture; ``pytestconfig``/``request``-based ones are replaced by ours.
    """
    candidates: dict[str, Callable[..., Any]] = {}
    for name in dir(pytest_plugin):
        definition = getattr(pytest_plugin, name)
        function = getattr(definition, "__wrapped__", None)
        if name.startswith("_") or name in OWN_FIXTURES or function is None:
            continue
        if hasattr(definition, "_fixture_function_marker") or hasattr(definition, "_pytestfixturefunction"):
            candidates[name] = function
    usable: dict[str, Callable[..., Any]] = {}
    while True:
        known = OWN_FIXTURES | usable.keys()
        more = {
            name: function
            for name, function in candidates.items()
            if name not in usable and set(inspect.signature(function).parameters) <= known
        }
        if not more:
            return usable
        usable.update(more)


def fixture_names() -> frozenset[str]:
    """Every fixture a hidden test in a notebook can take."""
    return OWN_FIXTURES | plugin_fixtures().keys()


class TestFailed(Exception):
    """A hidden test did not pass; the message is the feedback the student gets."""

    __test__ = False  # not a pytest test class, whatever its name


class _TimeLimit(BaseException):
    """Raised into a test by the timer: a BaseException, so student code catching Exception cannot swallow it."""


class HiddenTests:
    """Runs hidden tests against the functions a notebook defines.

    ``namespace`` is the notebook's ``globals()`` once the suite's module-level code (imports,
    constants, helpers) has run; a snapshot of it becomes the tests' globals, so a student cell that
    later rebinds a name the suite uses (``feed``, ``KEY``) cannot change what the tests do.
    ``impl`` is the notebook seen as a module, ``new_client`` makes a client on the server the
    notebook uses, ``functions`` names the assignment's functions (to tell student frames apart).
    """

    def __init__(
        self,
        *,
        namespace: Mapping[str, Any],
        impl: Any,
        new_client: Callable[[], redis.Redis],
        functions: Sequence[str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._source = namespace
        self._globals: dict[str, Any] = dict(namespace)
        for name, value in list(self._globals.items()):
            if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
                self._globals[name] = self._rebind(value)
        self._impl = impl
        self._new_client = new_client
        self._functions = tuple(functions)
        self._timeout_s = timeout_s

    def run(self, test: Callable[..., object]) -> None:
        """Run ``test`` once; return ``None`` when it passed, raise :class:`TestFailed` with feedback otherwise.

        Exceptions while the fixtures are set up (the server is down) propagate unchanged.
        """
        __tracebackhide__ = True  # IPython leaves this frame out of the traceback feedback shows
        if not isinstance(test, types.FunctionType):
            raise TypeError(f"hidden.run() needs a test function, not {test!r}")
        hint = hint_of(test)
        bound = self._rebind(test)
        with contextlib.ExitStack() as stack:
            fixtures = _Fixtures(self, stack)
            arguments = {name: fixtures.get(name) for name in inspect.signature(test).parameters}
            try:
                with _suite_warnings(), _captured_output(), _time_limit(self._timeout_s):
                    bound(**arguments)
            except _TimeLimit:
                message = f"{feedback.TIMEOUT} {hint}"
            except Exception as exc:
                message = self._feedback(exc, hint)
            else:
                return
        raise TestFailed(feedback.neutralize(message)) from None

    def _rebind(self, function: types.FunctionType) -> types.FunctionType:
        """``function`` with the suite's snapshot as its globals (same code, defaults, marks and docstring)."""
        rebound = types.FunctionType(
            function.__code__, self._globals, function.__name__, function.__defaults__, function.__closure__
        )
        rebound.__kwdefaults__ = function.__kwdefaults__
        rebound.__dict__.update(function.__dict__)
        rebound.__doc__ = function.__doc__
        rebound.__qualname__ = function.__qualname__
        return rebound

    def _feedback(self, exc: Exception, hint: feedback.Hint) -> str:
        frame = self._student_frame(exc)
        if isinstance(exc, NotImplementedError) and frame is not None:
            return feedback.NOT_ATTEMPTED
        if frame is not None:
            message = str(exc).splitlines()[0][:200] if str(exc) else ""
            detail = f": {message}" if message else ""
            return f"{hint} Your code raised {type(exc).__name__} in {frame.name} line {frame.lineno}{detail}"
        return str(hint)

    def _student_frame(self, exc: BaseException) -> traceback.FrameSummary | None:
        """The innermost traceback frame in a cell that defines one of the assignment's functions."""
        files = set()
        for name in self._functions:
            function = self._source.get(name)
            if isinstance(function, types.FunctionType):
                files.add(function.__code__.co_filename)
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename in files:
                return frame
        return None

    @property
    def backend(self) -> Literal["real", "fake"]:
        client = self._new_client()
        try:
            return "fake" if type(client).__module__.startswith("fakeredis") else "real"
        finally:
            client.close()


def hint_of(test: Callable[..., object]) -> feedback.Hint:
    """The ``feedback.Hint`` of the test's ``@pytest.mark.hint``; ``ValueError`` when it has none."""
    for mark in getattr(test, "pytestmark", ()):
        if mark.name == "hint" and mark.args and isinstance(mark.args[0], feedback.Hint):
            hint: feedback.Hint = mark.args[0]
            return hint
    raise ValueError(f"{getattr(test, '__name__', test)!r} has no @pytest.mark.hint(feedback.X)")


class _Fixtures:
    """The fixtures of one test run, made on first use (once each) and torn down by ``stack``."""

    def __init__(self, tests: HiddenTests, stack: contextlib.ExitStack) -> None:
        self._tests = tests
        self._stack = stack
        self._made: dict[str, Any] = {}
        self._traced: tuple[redis.Redis, Tracer] | None = None

    def get(self, name: str) -> Any:
        if name not in self._made:
            self._made[name] = self._make(name)
        return self._made[name]

    def _make(self, name: str) -> Any:
        if name == "impl":
            return self._tests._impl
        if name == "r":
            return self._traced_client()[0]
        if name == "trace":
            return self._traced_client()[1]
        if name == "make_client":
            return self._make_client()
        if name == "redis_backend":
            return self._tests.backend
        function = plugin_fixtures().get(name)
        if function is None:
            raise ValueError(
                f"hidden tests in notebooks get the fixtures {', '.join(sorted(fixture_names()))}, not {name!r}"
            )
        arguments = {parameter: self.get(parameter) for parameter in inspect.signature(function).parameters}
        if inspect.isgeneratorfunction(function):
            return self._stack.enter_context(contextlib.contextmanager(function)(**arguments))
        return function(**arguments)

    def _traced_client(self) -> tuple[redis.Redis, Tracer]:
        """As the plugin's ``r``: an emptied database, and a client whose commands the tracer sees."""
        if self._traced is None:
            admin = self._tests._new_client()
            try:
                admin.flushdb()
            finally:
                admin.close()
            client = self._tests._new_client()
            self._stack.callback(client.close)
            tracer = install_tracer(client)
            client.ping()
            self._traced = (client, tracer)
        return self._traced

    def _make_client(self) -> Callable[[], redis.Redis]:
        def factory() -> redis.Redis:
            client = self._tests._new_client()
            self._stack.callback(client.close)
            return client

        return factory


@contextlib.contextmanager
def _suite_warnings() -> Iterator[None]:
    """The warning filters of ``grader/hidden.ini``, except that ResourceWarnings stay silent.

    (An unclosed socket warns when it is collected, possibly in a later cell, where a printed
    warning would cost that cell its points.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", ResourceWarning)
        yield


@contextlib.contextmanager
def _captured_output() -> Iterator[None]:
    """Swallow what the test prints: nbgrader gives a cell that wrote to stderr no points."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_TimeLimit` into the block after ``seconds``, and into the threads it started.

    (A thread cannot be killed; the exception stops one running Python code, so a test whose
    threads loop forever in student code still ends.) Main thread only; elsewhere there is no limit.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    before = set(threading.enumerate())

    def expire(signum: int, frame: types.FrameType | None) -> None:
        for thread in threading.enumerate():
            if thread not in before and thread.ident is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_TimeLimit))
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, expire)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # someone else's timer was running (pytest-timeout): give it back its time left
            left = max(outer_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
