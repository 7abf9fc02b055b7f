"""Dependency probes (seed 2.2): PostgreSQL and Redis answer, auth and the frontend are up.

`postgres(url_or_ref)` connects and runs `SELECT 1`; `redis(url_or_ref)` connects and sends
`PING`. Each is timed against the seed's "Database Connectivity: <100ms query response
times" (the query's round trip, not the connect) and reports the server's version.
`check_dependencies(env)` asks both, as the environment's `[dependencies]` names them, plus
the auth service's health and the frontend's page (`netra_ops.probe.check_services`).

Connection strings carry passwords, so they come from a secret reference (`env:NAME`,
`file:PATH`) or are passed by the caller; results only ever show them redacted
(`postgresql://user:***@host:5432/db`). A bad answer (refused, unknown database or user,
bad password, a server that never answers) is a failed result with a reason, never an
exception; every probe is bounded in time (`timeout_s`; PostgreSQL's connect waits at least
2 s, libpq's minimum) and closes what it opened. `postgres_async` and `redis_async` are the
asyncio twins.
"""

from __future__ import annotations

import asyncio
import errno
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
import psycopg
import redis as redis_lib
import redis.asyncio as redis_async_lib
from psycopg.conninfo import conninfo_to_dict
from redis.backoff import NoBackoff
from redis.retry import Retry

from netra_ops.config import Environment
from netra_ops.errors import SecretError
from netra_ops.probe.health import HealthResult
from netra_ops.probe.services import check_services
from netra_ops.secrets import SECRET_SCHEMES, resolve_secret

__all__ = [
    "DEFAULT_BUDGET_MS",
    "DependencyChecks",
    "DependencyResult",
    "check_dependencies",
    "check_dependencies_async",
    "postgres",
    "postgres_async",
    "redact_url",
    "redis",
    "redis_async",
]

DEFAULT_BUDGET_MS = 100.0
"""Seed "Technical Health Metrics" 4: database connectivity < 100 ms query response times."""

State = Literal["ok", "failed", "not configured"]
_PG_SCHEMES = ("postgresql://", "postgres://")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_SECRET_QUERY_KEYS = re.compile(r"pass|secret|token|key|auth", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PG_MIN_CONNECT_S = 2


@dataclass(frozen=True)
class DependencyResult:
    """What one dependency probe saw. `ok`: it answered, within the budget when one is set.

    `latency_ms` is the whole probe (connect and query); `query_ms` the query's round trip
    alone, which the seed's 100 ms criterion is about. `failure` names the kind of failure
    (`refused`, `unreachable`, `timeout`, `credentials`, `database`, `protocol`, `slow`,
    `config`) and `error` says it in words. `target` never shows a password.
    """

    name: str
    target: str
    state: State
    ok: bool
    latency_ms: float | None
    connect_ms: float | None
    query_ms: float | None
    budget_ms: float | None
    server_version: str | None
    failure: str | None
    error: str | None
    checked_at: datetime

    @property
    def skipped(self) -> bool:
        """True when the dependency is not configured (reported, not checked)."""
        return self.state == "not configured"

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([asdict(self)])


# --------------------------------------------------------------------------- redaction


def redact_url(url: str) -> str:
    """`url` with its password (and secret-looking query values) replaced by `***`.

    `postgresql://app:pw@db:5432/x` -> `postgresql://app:***@db:5432/x`; libpq key=value
    strings get `password=***`. Anything unparseable is hidden whole.
    """
    text = url.strip()
    if "://" not in text:
        return _KV_PASSWORD.sub(r"\1***", text) if "=" in text else "(hidden)"
    try:
        parts = urlsplit(text)
        netloc = _redacted_netloc(parts.netloc)
        query = urlencode([(k, "***" if _SECRET_QUERY_KEYS.search(k) else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)],
                          safe="*/:")
    except ValueError:
        return "(hidden: not a valid URL)"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _redacted_netloc(netloc: str) -> str:
    if "@" not in netloc:
        return netloc
    userinfo, host = netloc.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    return f"{user}:***@{host}" if has_password else f"{user}@{host}"


def _scrubbed(text: str, *secrets: str | None) -> str:
    """An error text without the connection string or its password, on one line."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return " ".join(text.split())


# --------------------------------------------------------------------------- shared logic


@dataclass(frozen=True)
class _Target:
    """A connection string ready to use, and how it may be shown."""

    name: str
    url: str
    shown: str
    password: str | None


def _target(name: str, url_or_ref: str) -> _Target:
    """Resolve a secret reference (SecretError if it cannot be) and prepare the display."""
    url = resolve_secret(url_or_ref) if url_or_ref.startswith(SECRET_SCHEMES) else url_or_ref
    password = _password_of(url)
    return _Target(name, url, redact_url(url), password)


def _password_of(url: str) -> str | None:
    try:
        if "://" in url:
            return urlsplit(url).password
        return conninfo_to_dict(url).get("password")  # type: ignore[return-value]
    except (ValueError, psycopg.Error):
        return None


class _Clock:
    """Timings of one probe: start, connect and query phases, in milliseconds."""

    def __init__(self) -> None:
        self.checked_at = datetime.now(UTC)
        self.started = time.perf_counter()
        self.connect_ms: float | None = None
        self.query_ms: float | None = None
        self._mark = self.started

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self._mark = (now - self._mark) * 1000, now
        return elapsed

    def total_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def _answered(target: _Target, clock: _Clock, version: str | None,
              budget_ms: float | None, query: str) -> DependencyResult:
    """The result of a probe whose query was answered; failed only when over budget."""
    slow = budget_ms is not None and clock.query_ms is not None and clock.query_ms > budget_ms
    error = (f"{query} answered in {clock.query_ms:.1f} ms, over the {budget_ms:g} ms budget"
             if slow else None)
    return DependencyResult(target.name, target.shown, "failed" if slow else "ok", not slow,
                            clock.total_ms(), clock.connect_ms, clock.query_ms, budget_ms,
                            version, "slow" if slow else None, error, clock.checked_at)


def _failed(name: str, shown: str, clock: _Clock, budget_ms: float | None, failure: str,
            error: str) -> DependencyResult:
    return DependencyResult(name, shown, "failed", False, clock.total_ms(), clock.connect_ms,
                            clock.query_ms, budget_ms, None, failure, error, clock.checked_at)


def _not_configured(name: str, reference: str, why: str) -> DependencyResult:
    """A dependency reported but not checked (no reference, or one that does not resolve)."""
    return DependencyResult(name, reference, "not configured", False, None, None, None, None, None,
                            None, why, datetime.now(UTC))


def _timeout_text(what: str, timeout_s: float, clock: _Clock) -> str:
    phase = "connecting" if clock.connect_ms is None else "waiting for the answer"
    return f"no answer from {what} within {timeout_s:g} s ({phase})"


# --------------------------------------------------------------------------- watchdog


class _Watchdog:
    """At the deadline, shut down the socket `find_fd()` names, so a blocked read returns.

    Sync drivers have no whole-operation timeout; a server that accepts and then never
    answers (or drips bytes) would hold the probe forever. Shutting the socket down makes
    the driver's read fail at once. Sync probes use a timer thread, joined on exit before
    the caller closes the connection, so it never touches a reused descriptor. Async
    probes pass their `loop` and the deadline is a `call_later` on it: psycopg answers a
    cancelled query by asking the server to cancel it and waiting up to 5 s, which a stuck
    server turns into 5 s past the deadline; a shut-down socket fails the query at once.
    """

    def __init__(self, seconds: float, find_fd: Callable[[], int | None],
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.fired = False
        self._find_fd = find_fd
        self._seconds = max(seconds, 0.0)
        self._loop = loop
        self._timer: threading.Timer | None = None
        self._handle: asyncio.TimerHandle | None = None

    def __enter__(self) -> _Watchdog:
        if self._loop is not None:
            self._handle = self._loop.call_later(self._seconds, self._fire)
        else:
            self._timer = threading.Timer(self._seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()

    def _fire(self) -> None:
        try:
            fd = self._find_fd()
            if fd is None or fd < 0:
                return
            with socket.socket(fileno=os.dup(fd)) as sock:
                self.fired = True
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError, psycopg.Error):
            return


# --------------------------------------------------------------------------- PostgreSQL


def _pg_check(name: str, url_or_ref: str) -> tuple[_Target | None, str | None]:
    """The target, or why this is not a usable PostgreSQL connection string."""
    target = _target(name, url_or_ref)
    if "://" in target.url and not target.url.startswith(_PG_SCHEMES):
        scheme = target.url.split("://", 1)[0]
        return None, (f"not a PostgreSQL connection string (scheme {scheme}://); expected "
                      "postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    return target, None


def _pg_connect_args(timeout_s: float) -> dict[str, Any]:
    return {"connect_timeout": max(_PG_MIN_CONNECT_S, math.floor(timeout_s)),
            "autocommit": True, "application_name": "netra-ops-probe"}


def _pg_version(info: psycopg.ConnectionInfo) -> str:
    number = info.server_version
    major, minor = divmod(number, 10000) if number >= 100000 else (number // 100, number % 100)
    return f"{major}.{minor}"


def _pg_failure(exc: BaseException, target: _Target) -> tuple[str, str]:
    """(failure kind, readable reason) of a psycopg error."""
    text = _scrubbed(str(exc), target.url, target.password)
    text = text.removeprefix("connection failed: ")
    lowered = text.lower()
    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return "timeout", "no answer from PostgreSQL while connecting (connect_timeout)"
    if "connection refused" in lowered:
        return "refused", f"connection refused: {text} (is PostgreSQL listening there?)"
    if "failed to resolve host" in lowered or "could not translate host" in lowered:
        return "unreachable", text
    if "password authentication failed" in lowered or (
            "role" in lowered and "does not exist" in lowered) or "no password" in lowered:
        return "credentials", f"bad credentials: {text}"
    if "database" in lowered and "does not exist" in lowered:
        return "database", f"unknown database: {text}"
    if isinstance(exc, psycopg.ProgrammingError):
        return "config", f"invalid connection string: {text}"
    if isinstance(exc, OSError):
        return "unreachable", text
    return "protocol", f"{type(exc).__name__}: {text}"


def postgres(url_or_ref: str, *, timeout_s: float = 5.0,
             budget_ms: float | None = DEFAULT_BUDGET_MS,
             name: str = "postgres") -> DependencyResult:
    """Connect to PostgreSQL, run `SELECT 1`, time it against `budget_ms` (None: no budget).

    `url_or_ref` is a connection string (`postgresql://...` or libpq `key=value`) or a
    secret reference to one; an unresolvable reference raises SecretError. Everything the
    server does (or does not do) ends in the result, within `timeout_s` (at least 2 s).
    """
    clock = _Clock()
    target, problem = _pg_check(name, url_or_ref)
    if target is None:
        return _failed(name, "(hidden)", clock, budget_ms, "config", problem or "")
    opened: list[psycopg.Connection[Any]] = []
    with _Watchdog(timeout_s, lambda: opened[0].pgconn.socket if opened else None) as dog:
        try:
            return _pg_session(target, clock, opened, timeout_s, budget_ms)
        except (psycopg.Error, OSError) as exc:
            if dog.fired:
                return _failed(name, target.shown, clock, budget_ms, "timeout",
                               _timeout_text("PostgreSQL", timeout_s, clock))
            return _failed(name, target.shown, clock, budget_ms, *_pg_failure(exc, target))
        finally:
            for connection in opened:
                connection.close()


def _pg_session(target: _Target, clock: _Clock, opened: list[psycopg.Connection[Any]],
                timeout_s: float, budget_ms: float | None) -> DependencyResult:
    opened.append(psycopg.connect(target.url, **_pg_connect_args(timeout_s)))
    clock.connect_ms = clock.lap()
    row = opened[0].execute("SELECT 1").fetchone()
    clock.query_ms = clock.lap()
    if row is None or row[0] != 1:
        return _failed(target.name, target.shown, clock, budget_ms, "protocol",
                       f"SELECT 1 returned {row!r}")
    return _answered(target, clock, _pg_version(opened[0].info), budget_ms, "SELECT 1")


async def postgres_async(url_or_ref: str, *, timeout_s: float = 5.0,
                         budget_ms: float | None = DEFAULT_BUDGET_MS,
                         name: str = "postgres") -> DependencyResult:
    """The asyncio twin of `postgres()` (psycopg's AsyncConnection), same result."""
    clock = _Clock()
    target, problem = _pg_check(name, url_or_ref)
    if target is None:
        return _failed(name, "(hidden)", clock, budget_ms, "config", problem or "")
    opened: list[psycopg.AsyncConnection[Any]] = []
    loop = asyncio.get_running_loop()
    try:
        with _Watchdog(timeout_s, lambda: opened[0].pgconn.socket if opened else None,
                       loop) as dog:
            try:
                return await _pg_session_async(target, clock, opened, timeout_s, budget_ms)
            except (psycopg.Error, OSError) as exc:
                if dog.fired:
                    return _failed(name, target.shown, clock, budget_ms, "timeout",
                                   _timeout_text("PostgreSQL", timeout_s, clock))
                return _failed(name, target.shown, clock, budget_ms, *_pg_failure(exc, target))
    finally:
        for connection in opened:
            await connection.close()


async def _pg_session_async(target: _Target, clock: _Clock,
                            opened: list[psycopg.AsyncConnection[Any]], timeout_s: float,
                            budget_ms: float | None) -> DependencyResult:
    opened.append(await psycopg.AsyncConnection.connect(target.url,
                                                        **_pg_connect_args(timeout_s)))
    clock.connect_ms = clock.lap()
    cursor = await opened[0].execute("SELECT 1")
    row = await cursor.fetchone()
    clock.query_ms = clock.lap()
    if row is None or row[0] != 1:
        return _failed(target.name, target.shown, clock, budget_ms, "protocol",
                       f"SELECT 1 returned {row!r}")
    return _answered(target, clock, _pg_version(opened[0].info), budget_ms, "SELECT 1")


# --------------------------------------------------------------------------- Redis


def _redis_check(name: str, url_or_ref: str) -> tuple[_Target | None, str | None]:
    target = _target(name, url_or_ref)
    if not target.url.startswith(_REDIS_SCHEMES):
        return None, ("not a Redis URL; expected redis://[USER:PASSWORD@]HOST:PORT/DB "
                      "(or rediss://, unix://)")
    return target, None


def _redis_options(timeout_s: float) -> dict[str, Any]:
    """One connection, no retries, every socket operation bounded."""
    return {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s,
            "single_connection_client": True, "retry": Retry(NoBackoff(), 0),
            "client_name": "netra-ops-probe"}


def _redis_failure(exc: BaseException, target: _Target) -> tuple[str, str]:
    text = _scrubbed(str(exc), target.url, target.password)
    lowered = text.lower()
    if isinstance(exc, redis_lib.AuthenticationError) or "wrongpass" in lowered \
            or "noauth" in lowered or "invalid password" in lowered:
        return "credentials", f"bad credentials: {text}"
    if "refused" in lowered or f"error {errno.ECONNREFUSED} " in lowered:
        return "refused", f"connection refused: {text} (is Redis listening there?)"
    if "db index" in lowered:
        return "database", f"unknown database: {text}"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unreachable", text
    if isinstance(exc, ValueError):
        return "config", f"invalid Redis URL: {text}"
    return "protocol", f"{type(exc).__name__}: {text}"


def _redis_version(info: Any) -> str | None:
    if isinstance(info, dict):
        version = info.get("redis_version") or info.get("valkey_version")
        return None if version is None else str(version)
    return None


def redis(url_or_ref: str, *, timeout_s: float = 5.0,
          budget_ms: float | None = DEFAULT_BUDGET_MS, name: str = "redis") -> DependencyResult:
    """Connect to Redis, send `PING`, time it against `budget_ms` (None: no budget).

    `url_or_ref` is a `redis://`, `rediss://` or `unix://` URL or a secret reference to
    one; an unresolvable reference raises SecretError. The server's version comes from
    `INFO server` when the server allows it. Bounded by `timeout_s`.
    """
    clock = _Clock()
    target, problem = _redis_check(name, url_or_ref)
    if target is None:
        return _failed(name, "(hidden)", clock, budget_ms, "config", problem or "")
    made: list[Any] = []
    clients: list[redis_lib.Redis] = []
    try:
        with _Watchdog(timeout_s, lambda: _socket_fd(made)) as dog:
            try:
                return _redis_session(target, clock, timeout_s, budget_ms, made, clients)
            except (redis_lib.RedisError, OSError, ValueError) as exc:
                if dog.fired or isinstance(exc, redis_lib.TimeoutError):
                    return _failed(name, target.shown, clock, budget_ms, "timeout",
                                   _timeout_text("Redis", timeout_s, clock))
                return _failed(name, target.shown, clock, budget_ms,
                               *_redis_failure(exc, target))
    finally:
        for client in clients:
            client.close()
        for connection in made:
            connection.disconnect()


def _tracking_class(url: str, made: list[Any]) -> type[Any]:
    """The URL's connection class, recording each connection it makes (for the watchdog)."""
    base: type[Any] = (
        redis_lib.SSLConnection if url.startswith("rediss://")
        else redis_lib.UnixDomainSocketConnection if url.startswith("unix://")
        else redis_lib.Connection)

    class Tracked(base):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            made.append(self)

    return Tracked


def _socket_fd(made: list[Any]) -> int | None:
    sock = getattr(made[0], "_sock", None) if made else None  # redis-py has no public handle
    return sock.fileno() if sock is not None else None


def _redis_session(target: _Target, clock: _Clock, timeout_s: float, budget_ms: float | None,
                   made: list[Any],
                   clients: list[redis_lib.Redis]) -> DependencyResult:
    clients.append(redis_lib.Redis.from_url(  # recent redis-py connects here
        target.url, connection_class=_tracking_class(target.url, made),
        **_redis_options(timeout_s)))
    client = clients[0]
    assert client.connection is not None
    client.connection.connect()  # older redis-py connects lazily
    clock.connect_ms = clock.lap()
    if client.ping() is not True:
        return _failed(target.name, target.shown, clock, budget_ms, "protocol",
                       "PING was not answered PONG")
    clock.query_ms = clock.lap()
    try:
        version = _redis_version(client.info("server"))
    except redis_lib.ResponseError:
        version = None  # INFO refused (ACL or a managed service): the PING still counts
    return _answered(target, clock, version, budget_ms, "PING")


async def redis_async(url_or_ref: str, *, timeout_s: float = 5.0,
                      budget_ms: float | None = DEFAULT_BUDGET_MS,
                      name: str = "redis") -> DependencyResult:
    """The asyncio twin of `redis()` (redis.asyncio), same result."""
    clock = _Clock()
    target, problem = _redis_check(name, url_or_ref)
    if target is None:
        return _failed(name, "(hidden)", clock, budget_ms, "config", problem or "")
    try:
        client = redis_async_lib.Redis.from_url(target.url, **_redis_options(timeout_s))
    except ValueError as exc:
        return _failed(name, target.shown, clock, budget_ms, *_redis_failure(exc, target))
    try:
        async with asyncio.timeout(timeout_s):
            return await _redis_session_async(client, target, clock, budget_ms)
    except (TimeoutError, redis_lib.TimeoutError):
        return _failed(name, target.shown, clock, budget_ms, "timeout",
                       _timeout_text("Redis", timeout_s, clock))
    except (redis_lib.RedisError, OSError, ValueError) as exc:
        return _failed(name, target.shown, clock, budget_ms, *_redis_failure(exc, target))
    finally:
        await client.aclose()


async def _redis_session_async(client: redis_async_lib.Redis, target: _Target, clock: _Clock,
                               budget_ms: float | None) -> DependencyResult:
    await client.initialize()  # the single connection, connected
    clock.connect_ms = clock.lap()
    if await client.ping() is not True:
        return _failed(target.name, target.shown, clock, budget_ms, "protocol",
                       "PING was not answered PONG")
    clock.query_ms = clock.lap()
    try:
        version = _redis_version(await client.info("server"))
    except redis_lib.ResponseError:
        version = None
    return _answered(target, clock, version, budget_ms, "PING")


# --------------------------------------------------------------------------- the environment


DEPENDENCY_COLUMNS = ["name", "kind", "target", "state", "ok", "latency_ms", "query_ms",
                      "budget_ms", "version", "error"]


@dataclass(frozen=True)
class DependencyChecks:
    """Seed 2.2 in one value: PostgreSQL, Redis, the auth service and the frontend.

    `ok` when every configured dependency answered (within budget) and both services are
    healthy; a dependency "not configured" (allowed when `[dependencies] required = false`)
    is reported in `not_configured`, and does not make `ok` false.
    """

    stores: tuple[DependencyResult, ...]
    services: dict[str, HealthResult]

    @property
    def ok(self) -> bool:
        """True when nothing configured failed."""
        return (all(r.ok or r.skipped for r in self.stores)
                and all(r.ok for r in self.services.values()))

    @property
    def not_configured(self) -> tuple[str, ...]:
        """Names of the dependencies that were reported but not checked."""
        return tuple(r.name for r in self.stores if r.skipped)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the dependencies and services that failed."""
        return (tuple(r.name for r in self.stores if r.state == "failed")
                + tuple(name for name, r in self.services.items() if not r.ok))

    def store(self, name: str) -> DependencyResult | None:
        """The PostgreSQL or Redis result by name (`postgres`, `redis`)."""
        return next((r for r in self.stores if r.name == name), None)

    def verdict_rows(self) -> list[dict[str, Any]]:
        """Rows for `netra_ops.record.verdict`: each dependency answers (seed 2.2); one that
        is not configured passes, its detail saying so."""
        rows: list[dict[str, Any]] = [_store_row(r) for r in self.stores]
        rows += [{"criterion": f"{role} health (seed 2.2)", "value": r.status_code,
                  "threshold": "2xx", "passed": r.ok, "detail": r.error or r.url}
                 for role, r in self.services.items()]
        return rows

    def to_frame(self) -> pd.DataFrame:
        """One row per dependency: name, kind (`store` or `http`), target, state, ok,
        latencies, version, error."""
        rows = [{"name": r.name, "kind": "store", "target": r.target, "state": r.state,
                 "ok": r.ok, "latency_ms": r.latency_ms, "query_ms": r.query_ms,
                 "budget_ms": r.budget_ms, "version": r.server_version, "error": r.error}
                for r in self.stores]
        rows += [{"name": role, "kind": "http", "target": r.url,
                  "state": "ok" if r.ok else "failed", "ok": r.ok, "latency_ms": r.latency_ms,
                  "query_ms": None, "budget_ms": None, "version": r.version, "error": r.error}
                 for role, r in self.services.items()]
        return pd.DataFrame(rows, columns=DEPENDENCY_COLUMNS)


def _store_row(result: DependencyResult) -> dict[str, Any]:
    """A verdict row: passes when the store answered within budget, or is not configured."""
    return {"criterion": f"{result.name} answers (seed 2.2)",
            "value": result.query_ms if result.query_ms is not None else result.state,
            "threshold": f"< {result.budget_ms:g} ms" if result.budget_ms else "answers",
            "passed": result.ok or result.skipped,
            "detail": (f"not configured: {result.error}" if result.skipped
                       else result.error or f"version {result.server_version}")}


def _budget(env: Environment) -> float:
    """The environment's `database_latency` criterion, or the seed's 100 ms."""
    criterion = next((c for c in env.success_criteria if c.name == "database_latency"), None)
    return criterion.threshold if criterion is not None else DEFAULT_BUDGET_MS


def _unusable(env: Environment, name: str) -> DependencyResult | None:
    """The result for a dependency without a usable reference, or None when it has one.

    "not configured" when the environment allows it, else a failure saying what is missing.
    """
    reference: str | None = getattr(env.dependencies, name)
    try:
        if reference is None:
            raise SecretError(f"no [dependencies] {name} in {env.source or env.name}")
        resolve_secret(reference)
    except SecretError as exc:
        if env.dependencies.required:
            return _failed(name, reference or "", _Clock(), None, "config",
                           f"not configured: {exc}")
        return _not_configured(name, reference or "", str(exc))
    return None


def _health_of(env: Environment, timeout_s: float) -> dict[str, HealthResult]:
    """The auth service's health and the frontend's page (seed 2.2's two curl lines)."""
    results = check_services(env, timeout_s=timeout_s).results
    return {role: results[role] for role in ("auth", "frontend")}


def check_dependencies(env: Environment, *, timeout_s: float = 5.0) -> DependencyChecks:
    """PostgreSQL and Redis as `[dependencies]` names them, auth health and the frontend.

    Query latency is judged against the environment's `database_latency` criterion (seed:
    100 ms). A dependency that is not configured, or whose reference does not resolve, is
    "not configured" unless `[dependencies] required = true`, where it fails.
    """
    budget = _budget(env)
    stores = [_unusable(env, name) or probe(getattr(env.dependencies, name),
                                            timeout_s=timeout_s, budget_ms=budget)
              for name, probe in (("postgres", postgres), ("redis", redis))]
    return DependencyChecks(tuple(stores), _health_of(env, timeout_s))


async def check_dependencies_async(env: Environment, *,
                                   timeout_s: float = 5.0) -> DependencyChecks:
    """The asyncio twin of `check_dependencies()`: the four checks run concurrently.

    The HTTP checks use the sync health probe on a private one-thread executor, shut down
    before returning, so no thread outlives the call.
    """
    budget = _budget(env)
    probes = {"postgres": postgres_async, "redis": redis_async}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="netra-ops-health") as pool:
        http = asyncio.get_running_loop().run_in_executor(pool, _health_of, env, timeout_s)
        stores = await asyncio.gather(*(_store_async(env, name, probes[name], budget,
                                                     timeout_s) for name in probes))
        services = await http
    return DependencyChecks(tuple(stores), services)


async def _store_async(env: Environment, name: str, probe: Any, budget: float,
                       timeout_s: float) -> DependencyResult:
    unusable = _unusable(env, name)
    if unusable is not None:
        return unusable
    result: DependencyResult = await probe(getattr(env.dependencies, name),
                                           timeout_s=timeout_s, budget_ms=budget)
    return result
