"""The PostgreSQL probe (seed 2.2): connect, run `SELECT 1`, time it, report the version.

`postgres(url_or_ref)` and its asyncio twin `postgres_async` answer with a
`DependencyResult`; the query's round trip is judged against the budget (seed: < 100 ms).
The connect waits at least 2 s (libpq's minimum); a server that never answers is cut off by
the watchdog at `timeout_s`. Connection strings are only ever shown redacted.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any, Unpack

from netra_ops.probe._dependency_common import (
    DependencyResult,
    PostgresOptions,
    _answered,
    _Clock,
    _failed,
    _scrubbed,
    _StoreKeywords,
    _Target,
    _target,
    _timeout_text,
    _Watchdog,
)
from netra_ops.probe._options import shows_options

# psycopg is imported where a probe runs, not with `netra_ops.probe`: every runbook kernel
# imports the probes and few ask PostgreSQL.
if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PostgresOptions",
    "postgres",
    "postgres_async",
]

_PG_SCHEMES = ("postgresql://", "postgres://")
_PG_MIN_CONNECT_S = 2



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
    import psycopg

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


@shows_options(PostgresOptions)
def postgres(url_or_ref: str, **keywords: Unpack[_StoreKeywords]) -> DependencyResult:
    """Connect to PostgreSQL, run `SELECT 1`, time it against `budget_ms` (None: no budget).

    `url_or_ref` is a connection string (`postgresql://...` or libpq `key=value`) or a
    secret reference to one; an unresolvable reference raises SecretError. Everything the
    server does (or does not do) ends in the result, within `timeout_s` (at least 2 s).
    """
    import psycopg

    options = PostgresOptions(**keywords)
    clock = _Clock()
    target, problem = _pg_check(options.name, url_or_ref)
    if target is None:
        return _failed(options.name, "(hidden)", clock, options.budget_ms, "config",
                       problem or "")
    opened: list[psycopg.Connection[Any]] = []
    with _Watchdog(options.timeout_s, lambda: _pg_socket(opened)) as dog:
        try:
            return _pg_session(target, clock, opened, options)
        except (psycopg.Error, OSError) as exc:
            if dog.fired:
                return _failed(target.name, target.shown, clock, options.budget_ms, "timeout",
                               _timeout_text("PostgreSQL", options.timeout_s, clock))
            return _failed(target.name, target.shown, clock, options.budget_ms,
                           *_pg_failure(exc, target))
        finally:
            for connection in opened:
                connection.close()


def _pg_socket(opened: list[Any]) -> int | None:
    """The socket of the probe's connection, once it has one (for the watchdog)."""
    import psycopg

    try:
        return opened[0].pgconn.socket if opened else None  # type: ignore[no-any-return]
    except psycopg.Error:  # closed meanwhile: nothing to shut down
        return None


def _pg_session(target: _Target, clock: _Clock, opened: list[psycopg.Connection[Any]],
                options: PostgresOptions) -> DependencyResult:
    import psycopg

    budget_ms = options.budget_ms
    opened.append(psycopg.connect(target.url, **_pg_connect_args(options.timeout_s)))
    clock.connect_ms = clock.lap()
    row = opened[0].execute("SELECT 1").fetchone()
    clock.query_ms = clock.lap()
    if row is None or row[0] != 1:
        return _failed(target.name, target.shown, clock, budget_ms, "protocol",
                       f"SELECT 1 returned {row!r}")
    return _answered(target, clock, _pg_version(opened[0].info), budget_ms, "SELECT 1")


@shows_options(PostgresOptions)
async def postgres_async(url_or_ref: str,
                         **keywords: Unpack[_StoreKeywords]) -> DependencyResult:
    """The asyncio twin of `postgres()` (psycopg's AsyncConnection), same result."""
    import psycopg

    options = PostgresOptions(**keywords)
    clock = _Clock()
    target, problem = _pg_check(options.name, url_or_ref)
    if target is None:
        return _failed(options.name, "(hidden)", clock, options.budget_ms, "config",
                       problem or "")
    opened: list[psycopg.AsyncConnection[Any]] = []
    loop = asyncio.get_running_loop()
    try:
        with _Watchdog(options.timeout_s, lambda: _pg_socket(opened), loop) as dog:
            try:
                return await _pg_session_async(target, clock, opened, options)
            except (psycopg.Error, OSError) as exc:
                if dog.fired:
                    return _failed(target.name, target.shown, clock, options.budget_ms,
                                   "timeout",
                                   _timeout_text("PostgreSQL", options.timeout_s, clock))
                return _failed(target.name, target.shown, clock, options.budget_ms,
                               *_pg_failure(exc, target))
    finally:
        for connection in opened:
            await connection.close()


async def _pg_session_async(target: _Target, clock: _Clock,
                            opened: list[psycopg.AsyncConnection[Any]],
                            options: PostgresOptions) -> DependencyResult:
    import psycopg

    budget_ms = options.budget_ms
    opened.append(await psycopg.AsyncConnection.connect(
        target.url, **_pg_connect_args(options.timeout_s)))
    clock.connect_ms = clock.lap()
    cursor = await opened[0].execute("SELECT 1")
    row = await cursor.fetchone()
    clock.query_ms = clock.lap()
    if row is None or row[0] != 1:
        return _failed(target.name, target.shown, clock, budget_ms, "protocol",
                       f"SELECT 1 returned {row!r}")
    return _answered(target, clock, _pg_version(opened[0].info), budget_ms, "SELECT 1")
