"""Run pytest in this process, as ``python -m pytest`` would, and record when each phase happened.

Used by the benchmark in place of ``-m pytest`` in the grader's own command line::

    python -I bench/probe.py --timings FILE [--profile FILE] -- PYTEST ARGS...

``--timings`` gets a JSON object of wall-clock timestamps (``time.time()``, comparable with the
parent's clock): interpreter ready, pytest imported, configure start and end (the grader
plugin's configure starts the sandbox session), collection start and end, session finish,
unconfigure end; and each test's setup, call and teardown durations. ``--profile FILE.json`` writes a
pyinstrument profile of the whole run as JSON and as text (``FILE.txt``); without pyinstrument,
cProfile statistics (``FILE.pstats``).
Only the standard library and pytest are needed; the script keeps no state of its own.
"""

from __future__ import annotations

import time

READY = time.time()

import argparse  # noqa: E402 - the timestamp above must come first
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

PYTEST_IMPORTED = time.time()


class PhaseClock:
    """A pytest plugin that stamps the starts of the session's phases and each test's durations."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {"ready": READY, "pytest_imported": PYTEST_IMPORTED}
        self.tests: list[dict[str, Any]] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.marks["configure_start"] = time.time()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        self.marks["collection_start"] = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tests.append(
            {"id": report.nodeid, "when": report.when, "duration_s": report.duration, "outcome": report.outcome}
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.marks["sessionfinish"] = time.time()


class LateMarks:
    """The ends of phases: these hooks run after every other plugin's (pytest allows one hook name per plugin)."""

    def __init__(self, marks: dict[str, float]) -> None:
        self.marks = marks

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.marks["configure_end"] = time.time()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.marks["collection_end"] = time.time()

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.marks["unconfigure_end"] = time.time()


def _run(args: list[str], plugins: list[object], profile: Path | None) -> int:
    """``pytest.main(args)``, under pyinstrument (else cProfile) when ``profile`` is given."""
    if profile is None:
        return int(pytest.main(args, plugins=plugins))
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile

        with cProfile.Profile() as cprofile:
            code = int(pytest.main(args, plugins=plugins))
        cprofile.dump_stats(str(profile.with_suffix(".pstats")))
        return code
    from pyinstrument.renderers import JSONRenderer

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        code = int(pytest.main(args, plugins=plugins))
    finally:
        profiler.stop()
    profile.write_text(profiler.output(JSONRenderer()), encoding="utf-8")
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    profile.with_suffix(".txt").write_text(text, encoding="utf-8")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="probe.py")
    parser.add_argument("--timings", type=Path, required=True, help="write phase timestamps here (JSON)")
    parser.add_argument("--profile", type=Path, help="write a profile of the run here")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then pytest's arguments")
    args = parser.parse_args(argv)
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    clock = PhaseClock()
    code = _run(pytest_args, [clock, LateMarks(clock.marks)], args.profile)
    clock.marks["done"] = time.time()
    args.timings.write_text(json.dumps({"marks": clock.marks, "tests": clock.tests}), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
