"""The connection cell of every generated notebook, inserted verbatim (without this docstring).

It gives a notebook what the repository's test fixtures give a test: ``new_client()``, a client on
the course's server (the real Redis at ``$REDIS_URL`` when it is set, else one in-memory fakeredis
server), ``impl`` (the functions the notebook defines, seen as a module: ``impl.record_pageview``),
``run_tests(*tests)`` (runs public tests, each on an emptied database) and ``r`` for experiments.
Students run it with only ``redis`` and ``fakeredis`` installed: it imports nothing else, and
it is never imported as a module by the grader (``globals()`` is the notebook's namespace there).
"""

import contextlib
import inspect
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import fakeredis
import redis

REDIS_URL = os.environ.get("REDIS_URL", "")
FAKE_SERVER = fakeredis.FakeServer()
CHECK_TIMEOUT_S = 10.0


def new_client() -> redis.Redis:
    """A new client (``decode_responses=True``) on the course's server: ``$REDIS_URL``, else the in-memory one."""
    if REDIS_URL:
        return redis.Redis.from_url(REDIS_URL, decode_responses=True)
    return fakeredis.FakeRedis(server=FAKE_SERVER, decode_responses=True)


def empty_client() -> redis.Redis:
    """A new client on an emptied database, as every test receives it (FLUSHDB: keep no data there)."""
    client = new_client()
    client.flushdb()
    return client


class Notebook:
    """The functions this notebook defines, seen as a module (``impl.record_pageview``), as the tests expect."""

    def __getattr__(self, name: str) -> Any:
        try:
            return globals()[name]
        except KeyError:
            raise AttributeError(f"this notebook defines no {name!r} yet: run the cell that defines it") from None


class CheckTimedOut(BaseException):
    """A check ran longer than ``CHECK_TIMEOUT_S`` (a BaseException, so ``except Exception`` cannot hide it)."""


def _time_out(signum: int, frame: FrameType | None) -> None:
    raise CheckTimedOut


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise ``CheckTimedOut`` into the block after ``seconds``; then give any other timer its time back."""
    previous = signal.signal(signal.SIGALRM, _time_out)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer_delay - (time.monotonic() - started), 0.001), outer_interval)


def run_tests(*tests: Callable[..., object]) -> None:
    """Run each test on an emptied database (``r``) with ``impl``; print every outcome, raise if one failed.

    A test gets ``CHECK_TIMEOUT_S`` seconds (where the platform has timers and this is the main thread).
    """
    timed = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    failed = 0
    for test in tests:
        name = (test.__doc__ or test.__name__).strip().splitlines()[0]
        clients: list[redis.Redis] = []
        fixtures: dict[str, Any] = {}
        for parameter in inspect.signature(test).parameters:
            if parameter == "r":
                clients.append(empty_client())
                fixtures["r"] = clients[-1]
            elif parameter == "impl":
                fixtures["impl"] = impl
        try:
            with _time_limit(CHECK_TIMEOUT_S) if timed else contextlib.nullcontext():
                test(**fixtures)
        except CheckTimedOut:
            failed += 1
            print(f"TIMEOUT  {name}  (still running after {CHECK_TIMEOUT_S:g} s: an endless loop?)")
        except NotImplementedError:
            failed += 1
            print(f"NOT YET  {name}  (the function still raises NotImplementedError)")
        except Exception as exc:
            failed += 1
            print(f"FAILED   {name}")
            tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None  # from the test on
            print("".join(traceback.format_exception(type(exc), exc, tb)))
        else:
            print(f"ok       {name}")
        finally:
            for client in clients:
                client.close()
    if failed:
        raise AssertionError(f"{failed} of {len(tests)} checks did not pass (details above)")


impl = Notebook()
r = new_client()  # a client for your own experiments; the checks get their own, on an emptied database
