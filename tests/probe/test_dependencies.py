"""Dependency probes (seed 2.2) against the machine's real PostgreSQL and Redis, and against
loopback servers that refuse, stay silent, hang mid-protocol or drip bytes.

The local PostgreSQL trusts every connection from 127.0.0.1 (pg_hba: `host all all
127.0.0.1/32 trust`), so a wrong password is accepted there: bad credentials are shown with
a role that does not exist. Redis has ACLs, so a wrong user/password pair is refused.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
import redis as redis_client

from netra_ops.config import Dependencies, Environment, find_environment_file, load_environment
from netra_ops.errors import ConfigError, SecretError
from netra_ops.probe.dependencies import (
    DependencyResult,
    check_dependencies,
    check_dependencies_async,
    redact_url,
)
from netra_ops.probe.postgres_store import postgres, postgres_async
from netra_ops.probe.redis_store import redis, redis_async

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
PROBE_NAME = "netra-ops-probe"
# Scheduling on a busy 2-core machine; a probe that ignores its bound waits forever here
# (the servers below never finish an answer).
SLACK_S = 2.0

Probe = Callable[..., DependencyResult]


def run_async(probe: Callable[..., Any]) -> Probe:
    """The async twin called from a sync test, with the same signature."""
    def call(*args: Any, **kwargs: Any) -> DependencyResult:
        result: DependencyResult = anyio.run(lambda: probe(*args, **kwargs))
        return result
    return call


PG_PROBES = pytest.mark.parametrize("probe", [postgres, run_async(postgres_async)],
                                    ids=["sync", "async"])
REDIS_PROBES = pytest.mark.parametrize("probe", [redis, run_async(redis_async)],
                                       ids=["sync", "async"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def tcp_server(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A loopback server running `handle(conn, stop)` per connection, in threads."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    threads: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=_serve_one, args=(handle, conn, stop))
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        acceptor.join()
        for thread in threads:
            thread.join()
        listener.close()


def _serve_one(handle: Callable[[socket.socket, threading.Event], None], conn: socket.socket,
               stop: threading.Event) -> None:
    with conn:
        conn.settimeout(0.05)
        with suppress(OSError):
            handle(conn, stop)


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read, never answer."""
    while not stop.is_set():
        try:
            if conn.recv(4096) == b"":
                return
        except TimeoutError:
            continue


def dripping(conn: socket.socket, stop: threading.Event) -> None:
    """Answer one byte every 0.2 s, never ending the reply (beats any per-read timeout)."""
    while not stop.wait(0.2):
        conn.sendall(b"+")


def postgres_hanging_on_query(conn: socket.socket, stop: threading.Event) -> None:
    """Complete PostgreSQL's startup (trust auth), then never answer the query."""
    while not stop.is_set():
        try:
            length, code = struct.unpack("!ii", _read(conn, 8, stop))
        except ValueError:
            return
        if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: "not supported"
            conn.sendall(b"N")
            continue
        _read(conn, length - 8, stop)
        break
    params = b"".join(b"S" + struct.pack("!i", 4 + len(k) + len(v) + 2) + k + b"\0" + v + b"\0"
                      for k, v in ((b"server_version", b"15.0"), (b"client_encoding", b"UTF8"),
                                   (b"standard_conforming_strings", b"on")))
    conn.sendall(b"R" + struct.pack("!ii", 8, 0) + params
                 + b"K" + struct.pack("!iii", 12, 1234, 5678) + b"Z" + struct.pack("!i", 5) + b"I")
    silent(conn, stop)


def _read(conn: socket.socket, count: int, stop: threading.Event) -> bytes:
    data = b""
    while len(data) < count and not stop.is_set():
        try:
            chunk = conn.recv(count - len(data))
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    return data


# --------------------------------------------------------------------------- PostgreSQL


@PG_PROBES
def test_postgres_answers_select_1_within_the_seed_budget(probe: Probe) -> None:
    result = probe(PG)
    assert result.ok and result.state == "ok" and result.error is None, result.error
    assert result.query_ms is not None and result.query_ms < 100
    assert result.connect_ms is not None and result.latency_ms is not None
    assert result.latency_ms >= result.query_ms
    assert result.server_version is not None and result.server_version[0].isdigit()
    assert result.budget_ms == 100
    frame = result.to_frame()
    assert list(frame["name"]) == ["postgres"] and bool(frame["ok"].iloc[0])


@PG_PROBES
def test_postgres_password_is_never_shown(probe: Probe) -> None:
    # trust auth accepts any password: the probe succeeds and must still hide it
    result = probe("postgresql://postgres:pg-pass-8472@127.0.0.1:5432/postgres")
    assert result.ok, result.error
    assert result.target == "postgresql://postgres:***@127.0.0.1:5432/postgres"
    assert "pg-pass-8472" not in repr(result) + result.to_frame().to_string()


@PG_PROBES
def test_postgres_wrong_port_is_refused_at_once(probe: Probe) -> None:
    port = closed_port()
    result = probe(f"postgresql://postgres:pg-pass-8472@127.0.0.1:{port}/postgres")
    assert not result.ok and result.state == "failed"
    assert result.failure == "refused"
    assert "refused" in (result.error or "") and str(port) in (result.error or "")
    assert "pg-pass-8472" not in repr(result)
    assert result.latency_ms is not None and result.latency_ms < 1000


@PG_PROBES
def test_postgres_bad_credentials_fail_clearly(probe: Probe) -> None:
    result = probe("postgresql://no_such_role:pg-pass-8472@127.0.0.1:5432/postgres")
    assert not result.ok and result.failure == "credentials"
    assert (result.error or "").startswith("bad credentials:")
    assert 'role "no_such_role" does not exist' in (result.error or "")
    assert "pg-pass-8472" not in repr(result)


@PG_PROBES
def test_postgres_unknown_database_fails_clearly(probe: Probe) -> None:
    result = probe("postgresql://postgres@127.0.0.1:5432/no_such_database")
    assert not result.ok and result.failure == "database"
    assert 'database "no_such_database" does not exist' in (result.error or "")


@PG_PROBES
def test_postgres_silent_server_times_out_within_the_bound(probe: Probe) -> None:
    with tcp_server(silent) as port:
        started = time.monotonic()
        result = probe(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout_s=2.0)
        elapsed = time.monotonic() - started
    assert not result.ok and result.failure == "timeout"
    assert "while connecting" in (result.error or "") or "(connecting)" in (result.error or "")
    assert 1.9 < elapsed < 2.0 + SLACK_S


@PG_PROBES
def test_postgres_hanging_query_is_cut_at_the_deadline(probe: Probe) -> None:
    with tcp_server(postgres_hanging_on_query) as port:
        started = time.monotonic()
        result = probe(f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable",
                       timeout_s=0.5)
        elapsed = time.monotonic() - started
    assert not result.ok and result.failure == "timeout", result.error
    assert result.connect_ms is not None and "waiting for the answer" in (result.error or "")
    assert 0.45 < elapsed < 0.5 + SLACK_S


@PG_PROBES
def test_postgres_over_budget_is_a_failure_with_the_figure(probe: Probe) -> None:
    result = probe(PG, budget_ms=0.0)
    assert not result.ok and result.failure == "slow"
    assert "over the 0 ms budget" in (result.error or "")


@pytest.mark.parametrize("url", ["mysql://root:my-pass-1@127.0.0.1/test", "redis://x@y:1/0"])
def test_postgres_refuses_other_schemes_without_echoing_them(url: str) -> None:
    result = postgres(url)
    assert not result.ok and result.failure == "config" and result.target == "(hidden)"
    assert "my-pass-1" not in repr(result)


def test_postgres_leaves_no_connection_open() -> None:
    for _ in range(3):
        postgres(PG)
        postgres("postgresql://postgres@127.0.0.1:5432/no_such_database")
    with psycopg.connect(PG, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (PROBE_NAME,)).fetchone()
    assert row == (0,)


# --------------------------------------------------------------------------- Redis


@REDIS_PROBES
def test_redis_answers_ping(probe: Probe) -> None:
    result = probe(REDIS)
    assert result.ok and result.state == "ok", result.error
    assert result.query_ms is not None and result.query_ms < 100
    assert result.server_version is not None and result.server_version[0].isdigit()


@REDIS_PROBES
def test_redis_bad_credentials_fail_clearly(probe: Probe) -> None:
    result = probe("redis://nobody:rd-pass-5531@127.0.0.1:6379/0")
    assert not result.ok and result.failure == "credentials"
    assert "invalid username-password pair" in (result.error or "")
    assert result.target == "redis://nobody:***@127.0.0.1:6379/0"
    assert "rd-pass-5531" not in repr(result) + result.to_frame().to_string()


@REDIS_PROBES
def test_redis_wrong_port_is_refused(probe: Probe) -> None:
    result = probe(f"redis://127.0.0.1:{closed_port()}/0")
    assert not result.ok and result.failure == "refused"
    assert "is Redis listening there?" in (result.error or "")


@REDIS_PROBES
def test_redis_unknown_database_fails_clearly(probe: Probe) -> None:
    result = probe("redis://127.0.0.1:6379/999")
    assert not result.ok and result.failure == "database"


@REDIS_PROBES
@pytest.mark.parametrize("server", [silent, dripping], ids=["silent", "dripping"])
def test_redis_stuck_server_is_cut_at_the_deadline(
        probe: Probe, server: Callable[[socket.socket, threading.Event], None]) -> None:
    with tcp_server(server) as port:
        started = time.monotonic()
        result = probe(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
        elapsed = time.monotonic() - started
    assert not result.ok and result.failure == "timeout", result.error
    assert "within 0.5 s" in (result.error or "")
    assert 0.45 < elapsed < 0.5 + SLACK_S


def test_redis_leaves_no_connection_open() -> None:
    for _ in range(3):
        redis(REDIS)
        anyio.run(lambda: redis_async(REDIS))
        redis("redis://127.0.0.1:6379/999")
    with redis_client.Redis.from_url(REDIS) as client:
        names = [c.get("name") for c in client.client_list()]
    assert PROBE_NAME not in names


# --------------------------------------------------------------------------- references


def test_connection_string_from_a_secret_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_TEST_PG_URL", "postgresql://postgres:ref-pass-77@127.0.0.1/postgres")
    result = postgres("env:NETRA_TEST_PG_URL")
    assert result.ok and result.target == "postgresql://postgres:***@127.0.0.1/postgres"
    monkeypatch.delenv("NETRA_TEST_PG_URL")
    with pytest.raises(SecretError, match="NETRA_TEST_PG_URL is not set"):
        postgres("env:NETRA_TEST_PG_URL")


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://app:s3cr3t@db:5432/x", "postgresql://app:***@db:5432/x"),
    ("postgresql://app@db/x", "postgresql://app@db/x"),
    ("redis://:s3cr3t@cache:6379/0", "redis://:***@cache:6379/0"),
    ("postgresql://db/x?user=app&password=s3cr3t", "postgresql://db/x?user=app&password=***"),
    ("host=db user=app password=s3cr3t dbname=x", "host=db user=app password=*** dbname=x"),
    ("s3cr3t", "(hidden)"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# --------------------------------------------------------------------------- the environment


def with_dependencies(env: Environment, **fields: Any) -> Environment:
    return env.model_copy(update={"dependencies": Dependencies(**fields)})


@pytest.fixture()
def store_urls(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("NETRA_TEST_PG", "postgresql://postgres:env-pass-31@127.0.0.1:5432/postgres")
    monkeypatch.setenv("NETRA_TEST_REDIS", REDIS)
    return {"postgres": "env:NETRA_TEST_PG", "redis": "env:NETRA_TEST_REDIS"}


@pytest.mark.sandbox
def test_check_dependencies_all_answer(sandbox_env: Environment,
                                       store_urls: dict[str, str]) -> None:
    checks = check_dependencies(with_dependencies(sandbox_env, **store_urls))
    assert checks.ok, checks.to_frame().to_string()
    frame = checks.to_frame()
    assert list(frame["name"]) == ["postgres", "redis", "auth", "frontend"]
    assert list(frame["state"]) == ["ok"] * 4
    assert "env-pass-31" not in frame.to_string() + repr(checks)
    rows = checks.checks()
    assert len(rows) == 4 and all(r.ok for r in rows)


@pytest.mark.sandbox
def test_check_dependencies_async_twin_leaves_no_thread(
        sandbox_env: Environment, store_urls: dict[str, str]) -> None:
    before = threading.active_count()
    checks = anyio.run(lambda: check_dependencies_async(
        with_dependencies(sandbox_env, **store_urls)))
    assert checks.ok, checks.to_frame().to_string()
    assert [r.state for r in checks.stores] == ["ok", "ok"]
    assert threading.active_count() == before


@pytest.mark.sandbox
def test_not_configured_is_reported_not_ok_and_does_not_fail(sandbox_env: Environment) -> None:
    env = with_dependencies(sandbox_env, postgres="env:NETRA_TEST_UNSET_PG")
    checks = check_dependencies(env)
    assert checks.ok and checks.not_configured == ("postgres", "redis")
    postgres_result = checks.store("postgres")
    assert postgres_result is not None and not postgres_result.ok
    assert postgres_result.state == "not configured"
    assert "NETRA_TEST_UNSET_PG is not set" in (postgres_result.error or "")
    assert all(r.ok for r in checks.checks())


@pytest.mark.sandbox
def test_required_dependencies_fail_when_not_configured(sandbox_env: Environment) -> None:
    checks = check_dependencies(with_dependencies(sandbox_env, required=True))
    assert not checks.ok and checks.failed == ("postgres", "redis")
    assert checks.not_configured == ()


@pytest.mark.sandbox
def test_a_failing_dependency_fails_the_checks(sandbox_env: Environment,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_TEST_PG", f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    checks = check_dependencies(with_dependencies(sandbox_env, postgres="env:NETRA_TEST_PG"))
    assert not checks.ok and checks.failed == ("postgres",)
    failing = [r for r in checks.checks() if not r.ok]
    assert [r.name for r in failing] == ["postgres answers (seed 2.2)"]
    assert "connection refused" in failing[0].detail


def test_environment_file_names_dependencies_by_reference(tmp_path: Path) -> None:
    text = find_environment_file("staging").read_text()
    relative = text.replace('postgres = "env:NETRA_STAGING_POSTGRES_URL"',
                            'postgres = "file:secrets/pg-url"')
    (tmp_path / "staging.toml").write_text(relative)
    env = load_environment(tmp_path / "staging.toml")
    assert env.dependencies.postgres == f"file:{tmp_path / 'secrets' / 'pg-url'}"
    assert env.dependencies.required is True
    (tmp_path / "bad.toml").write_text(text.replace('"env:NETRA_STAGING_POSTGRES_URL"',
                                                    '"postgresql://u:pw@db/x"'))
    with pytest.raises(ConfigError, match=r"dependencies\.postgres.*secret reference"):
        load_environment(tmp_path / "bad.toml")


def test_the_store_drivers_are_imported_only_by_their_probes() -> None:
    """Every runbook kernel imports the probes; few ask the stores (redis-py and psycopg
    cost 0.3 s of CPU a kernel): the drivers are imported by the probes that use them."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c",
         "import sys, netra_ops.probe as p, netra_ops.metrics, netra_ops.record; "
         "assert 'redis' not in sys.modules and 'psycopg' not in sys.modules, "
         "sorted(m for m in sys.modules if m.startswith(('redis', 'psycopg'))); "
         f"assert p.redis({REDIS!r}).ok; "
         "assert 'redis' in sys.modules and 'psycopg' not in sys.modules"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
