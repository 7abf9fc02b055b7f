"""What the PostgreSQL and Redis probes share: the result value, redaction, timing, the watchdog.

`DependencyResult` is the value every store probe returns; `redact_url` hides the password of
a connection string. The private helpers resolve a target (`_Target`), time the phases
(`_Clock`), build results (`_answered`, `_failed`, `_not_configured`) and bound a blocked sync
or async driver (`_Watchdog`). `PostgresOptions` and `RedisOptions` hold each store probe's
keyword defaults, written once for its sync and async forms. The public names are
re-exported by `netra_ops.probe.dependencies` and `netra_ops.probe`.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal, TypedDict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from netra_ops.secrets import SECRET_SCHEMES, resolve_secret

__all__ = [
    "DEFAULT_BUDGET_MS",
    "DependencyResult",
    "PostgresOptions",
    "RedisOptions",
    "StoreOptions",
    "redact_url",
]

DEFAULT_BUDGET_MS = 100.0
"""Seed "Technical Health Metrics" 4: database connectivity < 100 ms query response times."""

State = Literal["ok", "failed", "not configured"]
_SECRET_QUERY_KEYS = re.compile(r"pass|secret|token|key|auth", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


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


@dataclass(frozen=True)
class StoreOptions:
    """The keyword options every store probe takes: its total bound and its query budget
    (None: no budget)."""

    timeout_s: float = 5.0
    budget_ms: float | None = DEFAULT_BUDGET_MS


class _StoreKeywords(TypedDict, total=False):
    """The keywords of the store probes, as `PostgresOptions` and `RedisOptions` type them."""

    timeout_s: float
    budget_ms: float | None
    name: str


@dataclass(frozen=True)
class PostgresOptions(StoreOptions):
    """The keyword options of `postgres` and `postgres_async`, with their one set of
    defaults; `name` names the result."""

    name: str = "postgres"


@dataclass(frozen=True)
class RedisOptions(StoreOptions):
    """The keyword options of `redis` and `redis_async`, with their one set of defaults;
    `name` names the result."""

    name: str = "redis"


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
    if "://" in url:
        try:
            return urlsplit(url).password
        except ValueError:
            return None
    import psycopg  # a libpq "key=value" string; psycopg is imported when asked for
    from psycopg.conninfo import conninfo_to_dict

    try:
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
        except (OSError, AttributeError):
            return
