"""The Redis probe (seed 2.2): connect, send `PING`, time it, report the version.

`redis(url_or_ref)` and its asyncio twin `redis_async` answer with a `DependencyResult`; the
PING's round trip is judged against the budget (seed: < 100 ms). One connection, no
retries, every socket operation bounded by `timeout_s`. Named `redis_store` so that it does
not shadow the `redis` library.
"""

from __future__ import annotations

import asyncio
import errno
from typing import TYPE_CHECKING, Any, Unpack

from netra_ops.probe._dependency_common import (
    DependencyResult,
    RedisOptions,
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

# redis-py is imported where a probe runs, not with `netra_ops.probe`: every runbook kernel
# imports the probes and few ask Redis (0.3 s of CPU a kernel).
if TYPE_CHECKING:
    import redis as redis_lib
    import redis.asyncio as redis_async_lib

__all__ = [
    "RedisOptions",
    "redis",
    "redis_async",
]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")



def _redis_check(name: str, url_or_ref: str) -> tuple[_Target | None, str | None]:
    target = _target(name, url_or_ref)
    if not target.url.startswith(_REDIS_SCHEMES):
        return None, ("not a Redis URL; expected redis://[USER:PASSWORD@]HOST:PORT/DB "
                      "(or rediss://, unix://)")
    return target, None


def _redis_options(timeout_s: float, *, asyncio_client: bool = False) -> dict[str, Any]:
    """One connection, no retries, every socket operation bounded.

    The asyncio client takes redis' asyncio `Retry` (redis 8.2 warns, and the suite errors,
    when it is handed the synchronous one); both classes exist in redis 5 through 8.
    """
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    retry = AsyncRetry(NoBackoff(), 0) if asyncio_client else Retry(NoBackoff(), 0)
    return {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s,
            "single_connection_client": True, "retry": retry,
            "client_name": "netra-ops-probe"}


def _redis_failure(exc: BaseException, target: _Target) -> tuple[str, str]:
    import redis as redis_lib

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


@shows_options(RedisOptions)
def redis(url_or_ref: str, **keywords: Unpack[_StoreKeywords]) -> DependencyResult:
    """Connect to Redis, send `PING`, time it against `budget_ms` (None: no budget).

    `url_or_ref` is a `redis://`, `rediss://` or `unix://` URL or a secret reference to
    one; an unresolvable reference raises SecretError. The server's version comes from
    `INFO server` when the server allows it. Bounded by `timeout_s`.
    """
    import redis as redis_lib

    options = RedisOptions(**keywords)
    clock = _Clock()
    target, problem = _redis_check(options.name, url_or_ref)
    if target is None:
        return _failed(options.name, "(hidden)", clock, options.budget_ms, "config",
                       problem or "")
    made: list[Any] = []
    clients: list[redis_lib.Redis] = []
    try:
        with _Watchdog(options.timeout_s, lambda: _socket_fd(made)) as dog:
            try:
                return _redis_session(target, clock, options, made, clients)
            except (redis_lib.RedisError, OSError, ValueError) as exc:
                if dog.fired or isinstance(exc, redis_lib.TimeoutError):
                    return _failed(target.name, target.shown, clock, options.budget_ms,
                                   "timeout", _timeout_text("Redis", options.timeout_s, clock))
                return _failed(target.name, target.shown, clock, options.budget_ms,
                               *_redis_failure(exc, target))
    finally:
        for client in clients:
            client.close()
        for connection in made:
            connection.disconnect()


def _tracking_class(url: str, made: list[Any]) -> type[Any]:
    """The URL's connection class, recording each connection it makes (for the watchdog)."""
    import redis as redis_lib

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


def _redis_session(target: _Target, clock: _Clock, options: RedisOptions, made: list[Any],
                   clients: list[redis_lib.Redis]) -> DependencyResult:
    import redis as redis_lib

    budget_ms = options.budget_ms
    clients.append(redis_lib.Redis.from_url(  # recent redis-py connects here
        target.url, connection_class=_tracking_class(target.url, made),
        **_redis_options(options.timeout_s)))
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


@shows_options(RedisOptions)
async def redis_async(url_or_ref: str,
                      **keywords: Unpack[_StoreKeywords]) -> DependencyResult:
    """The asyncio twin of `redis()` (redis.asyncio), same result."""
    import redis as redis_lib
    import redis.asyncio as redis_async_lib

    options = RedisOptions(**keywords)
    clock = _Clock()
    target, problem = _redis_check(options.name, url_or_ref)
    if target is None:
        return _failed(options.name, "(hidden)", clock, options.budget_ms, "config",
                       problem or "")
    try:
        client = redis_async_lib.Redis.from_url(
            target.url, **_redis_options(options.timeout_s, asyncio_client=True))
    except ValueError as exc:
        return _failed(target.name, target.shown, clock, options.budget_ms,
                       *_redis_failure(exc, target))
    try:
        async with asyncio.timeout(options.timeout_s):
            return await _redis_session_async(client, target, clock, options.budget_ms)
    except (TimeoutError, redis_lib.TimeoutError):
        return _failed(target.name, target.shown, clock, options.budget_ms, "timeout",
                       _timeout_text("Redis", options.timeout_s, clock))
    except (redis_lib.RedisError, OSError, ValueError) as exc:
        return _failed(target.name, target.shown, clock, options.budget_ms,
                       *_redis_failure(exc, target))
    finally:
        await client.aclose()


async def _redis_session_async(client: redis_async_lib.Redis, target: _Target, clock: _Clock,
                               budget_ms: float | None) -> DependencyResult:
    import redis as redis_lib

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
