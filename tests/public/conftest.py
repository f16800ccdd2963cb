"""Fixtures for the public tests: ``r``, a Redis client, and ``impl``, the module under test.

Run them from the repository root with ``python -m pytest tests/public`` (``python -m``
puts the repository root on ``sys.path`` so ``assignments`` can be imported; with plain
``pytest``, set ``pythonpath = ["."]`` in the pytest configuration instead).

Two environment variables change what runs:

- ``REDIS_URL`` (e.g. ``redis://localhost:6379/0``): use that real Redis server instead of
  the in-memory fakeredis. The database is emptied (FLUSHDB) before every test, so point it
  at a server and database number that hold nothing you want to keep.
- ``COURSE_IMPL`` (default ``assignments``): the package whose modules are tested; the test
  file ``test_counter.py`` tests ``<COURSE_IMPL>.counter``. ``COURSE_IMPL=solutions`` runs the
  tests against the reference solutions.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from types import ModuleType

import fakeredis
import pytest
import redis


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    """An empty Redis database with ``decode_responses=True``: fakeredis, or ``$REDIS_URL`` when set."""
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url, decode_responses=True)
        client.flushdb()
    else:
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """The module under test: ``<COURSE_IMPL>.<name>`` for the test file ``test_<name>.py``."""
    package = os.environ.get("COURSE_IMPL", "assignments")
    name = request.path.stem.removeprefix("test_")
    return importlib.import_module(f"{package}.{name}")
