"""The public tests students get: green on the solutions on both backends, red on the stubs, and fast."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT


def _run_public(impl: str, redis_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["COURSE_IMPL"] = impl
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", "tests/public", "tests/public"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("backend", ["fake", "real"])
def test_public_tests_pass_on_the_solutions(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("real_redis_url") if backend == "real" else None
    done = _run_public("solutions", url)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_public_tests_fail_on_the_stubs_as_not_implemented() -> None:
    done = _run_public("assignments")
    assert done.returncode == 1
    assert "NotImplementedError" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1]
