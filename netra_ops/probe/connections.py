"""Authenticated WebSocket connections to the backend: open one, and how reliably they open.

`connection_rate(env, n=20)` logs in once, then opens `n` WebSocket connections one after
the other, each up to `connection_established`, and closes each. It reports the success
rate against the seed's criterion (> 95%) and rollback trigger (< 50%), connect and
reconnection latency percentiles (reconnection: from the start of closing one connection to
`connection_established` on the next, with the same token, as a browser reconnects), and the
failures by kind.

How every WebSocket probe is built: its steps are written once, as a generator that yields
I/O operations (`Http`, `Connect`, `Recv`, `Exchange`, `Close`) and returns a result.
`run_steps` performs those operations with blocking clients (httpx, `websockets.sync`), for
a Jupyter cell or a script; `run_steps_async` with asyncio ones, for the async twins. Both
close every connection they opened, whatever happens, so no socket, thread or task is left
behind, and every operation is bounded by the probe's deadline. A bad answer from the
target is a failed result; only bad configuration raises (NetraOpsError).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Generator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    NegotiationError,
    WebSocketException,
)
from websockets.sync.client import connect as connect_sync
from websockets.typing import Subprotocol

from netra_ops.config import Environment, load_environment
from netra_ops.errors import NetraOpsError
from netra_ops.probe._http import HttpAnswer, fetch, fetch_async
from netra_ops.probe._text import describe_exception
from netra_ops.probe.agent_events import TurnCollector, event_error
from netra_ops.probe.turn_connection import TurnConnection
from netra_ops.secrets import resolve_secret

__all__ = [
    "CONNECTION_CRITERION",
    "CONNECTION_TRIGGER",
    "MAX_MESSAGE_BYTES",
    "NETWORK_ERRORS",
    "STEP_TIMEOUT_S",
    "AsyncDriver",
    "BlockingDriver",
    "Close",
    "Connect",
    "ConnectAttempt",
    "ConnectionRateResult",
    "Deadline",
    "Exchange",
    "Http",
    "Link",
    "Opened",
    "Recv",
    "Step",
    "classify_failure",
    "close_quietly",
    "connection_rate",
    "connection_rate_async",
    "describe_close",
    "drive_steps",
    "hint",
    "json_body",
    "judge_first_message",
    "login",
    "open_connection",
    "run_exchange",
    "run_exchange_async",
    "run_steps",
    "run_steps_async",
]

T = TypeVar("T")
Steps = Generator[Any, Any, T]

CONNECTION_CRITERION = 0.95  # seed "Technical 3": > 95% WebSocket connection rate
CONNECTION_TRIGGER = 0.50  # seed 4.1: roll back when < 50% of connections succeed
MAX_MESSAGE_BYTES = 4 * 2**20
MAX_HTTP_BODY_BYTES = 64 * 2**10
STEP_TIMEOUT_S = 10.0  # one login, handshake or connection_established wait at most
USER_AGENT = "netra-ops-probe"
_CLOSE_MEANINGS = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1006: "abnormal closure",
    1007: "invalid frame payload (not UTF-8)",
    1008: "policy violation: the backend rejected the token",
    1009: "message too big",
    1011: "internal error: the backend or a service it needs (auth) failed",
    1012: "service restart",
    1013: "try again later",
}
NETWORK_ERRORS = (OSError, WebSocketException, EOFError)


# --- operations a probe's steps yield --------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """A point in `time.perf_counter()` time by which a probe must be done."""

    at: float
    total_s: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline `seconds` from now."""
        return cls(time.perf_counter() + seconds, seconds)

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - time.perf_counter())

    def cap(self, seconds: float) -> float:
        """`seconds`, or what is left if that is less."""
        return min(seconds, self.remaining())

    @property
    def expired(self) -> bool:
        """True once the deadline has passed."""
        return time.perf_counter() >= self.at


@dataclass(frozen=True)
class Link:
    """An open WebSocket connection (sync or asyncio `websockets` client connection)."""

    connection: Any = field(repr=False)
    subprotocol: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Http:
    """Send an HTTP request within `timeout_s` in total (`netra_ops.probe._http.fetch`);
    the answer is its `HttpAnswer`, a failure included (never an exception)."""

    method: str
    url: str
    timeout_s: float
    json: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Connect:
    """Open a WebSocket (`open_timeout` bounds TCP connect and handshake together)."""

    url: str
    subprotocols: tuple[str, ...] = field(repr=False)
    timeout_s: float
    close_timeout_s: float = 1.0


@dataclass(frozen=True)
class Recv:
    """Receive one frame (str or bytes) within `timeout_s`."""

    link: Link
    timeout_s: float


@dataclass(frozen=True)
class Exchange:
    """Send `text` and feed every frame to a `TurnCollector` until the turn ends or the
    `deadline` (perf_counter time) passes; the answer is the collector."""

    link: Link
    text: str = field(repr=False)
    deadline: float


@dataclass(frozen=True)
class Close:
    """Close a connection, waiting at most `timeout_s` for the close handshake."""

    link: Link
    timeout_s: float


# --- the two drivers -------------------------------------------------------------------


def drive_steps(steps: Steps[T], perform: Callable[[Any], Any]) -> T:
    """Feed each operation the steps yield to `perform` (blocking) and its answer back; a
    network error goes back into the steps as an exception. The result is the steps'."""
    answer: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = steps.throw(error) if error is not None else steps.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        answer, error = None, None
        try:
            answer = perform(op)
        except NETWORK_ERRORS as exc:
            error = exc


def run_steps(steps: Steps[T]) -> T:
    """Perform a probe's steps with blocking I/O and return its result."""
    driver = BlockingDriver()
    try:
        return driver.drive(steps)
    finally:
        steps.close()
        driver.close_all()


async def run_steps_async(steps: Steps[T]) -> T:
    """Perform a probe's steps with asyncio I/O and return its result."""
    driver = AsyncDriver()
    try:
        return await driver.drive(steps)
    finally:
        steps.close()
        await driver.close_all()


class BlockingDriver:
    """Blocking I/O: `fetch` (h11) and websockets.sync.client. A subclass may open its
    WebSockets another way by overriding `connect` (the Locust workers' gevent driver)."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.stack = ExitStack()  # websockets >= 17.1 wants its connections in a `with`

    def drive(self, steps: Steps[T]) -> T:
        return drive_steps(steps, self.perform)

    def perform(self, op: Any) -> Any:
        if isinstance(op, Exchange):
            return run_exchange(op.link.connection, op.text, op.deadline)
        if isinstance(op, Recv):
            return op.link.connection.recv(timeout=op.timeout_s)
        if isinstance(op, Http):
            return fetch(op.method, op.url, json_body=op.json, timeout_s=op.timeout_s)
        if isinstance(op, Connect):
            connection = self.connect(op)
            link = Link(connection, connection.subprotocol)
            self.links.append(link)
            return link
        if isinstance(op, Close):
            self.links = [link for link in self.links if link is not op.link]
            op.link.connection.close_timeout = max(op.timeout_s, 0.01)
            op.link.connection.close()
            return None
        raise TypeError(f"not a probe operation: {op!r}")

    def connect(self, op: Connect) -> Any:
        """Open the WebSocket `op` asks for; the connection must have `subprotocol`."""
        return self.stack.enter_context(connect_sync(op.url, **_connect_options(op)))

    def close_all(self) -> None:
        for link in self.links:  # only after an error or an interrupt: do not wait long
            link.connection.close_timeout = 0.2
        self.links = []
        self.stack.close()


class AsyncDriver:
    """asyncio I/O: httpx.AsyncClient and websockets.asyncio.client."""

    def __init__(self) -> None:
        self.links: list[Link] = []

    async def drive(self, steps: Steps[T]) -> T:
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                op = steps.throw(error) if error is not None else steps.send(answer)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            answer, error = None, None
            try:
                answer = await self.perform(op)
            except NETWORK_ERRORS as exc:
                error = exc

    async def perform(self, op: Any) -> Any:
        if isinstance(op, Exchange):
            return await run_exchange_async(op.link.connection, op.text, op.deadline)
        if isinstance(op, Recv):
            async with asyncio.timeout(op.timeout_s):
                return await op.link.connection.recv()
        if isinstance(op, Http):
            return await fetch_async(op.method, op.url, json_body=op.json,
                                     timeout_s=op.timeout_s)
        if isinstance(op, Connect):
            connection = await connect_async(op.url, create_connection=TurnConnection,
                                             **_connect_options(op))
            link = Link(connection, connection.subprotocol)
            self.links.append(link)
            return link
        if isinstance(op, Close):
            self.links = [link for link in self.links if link is not op.link]
            op.link.connection.close_timeout = max(op.timeout_s, 0.01)
            await op.link.connection.close()
            return None
        raise TypeError(f"not a probe operation: {op!r}")

    async def close_all(self) -> None:
        links, self.links = self.links, []
        for link in links:  # only after an error or a cancellation: do not wait
            link.connection.transport.abort()


def _connect_options(op: Connect) -> dict[str, Any]:
    return {
        "subprotocols": [Subprotocol(p) for p in op.subprotocols],
        "open_timeout": max(op.timeout_s, 0.001),
        "close_timeout": op.close_timeout_s,
        "compression": None,
        "max_size": MAX_MESSAGE_BYTES,
        "ping_interval": None,
        "user_agent_header": USER_AGENT,
    }


def run_exchange(ws: Any, text: str, deadline: float) -> TurnCollector:
    """Send `text` on a `websockets.sync` connection and feed every frame to a collector
    until the turn ends or `deadline` (perf_counter time) passes: the hot path of a turn."""
    clock = time.perf_counter
    collector = TurnCollector(clock())
    try:
        ws.send(text)
        while collector.end is None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise TimeoutError
            collector.feed(ws.recv(timeout=remaining), clock())
    except TimeoutError:
        collector.timed_out(deadline - collector.sent_at)
    except ConnectionClosed as exc:
        collector.closed(describe_close(exc))
    except (OSError, WebSocketException) as exc:
        collector.closed(describe_exception(exc))
    return collector


async def run_exchange_async(ws: Any, text: str, deadline: float) -> TurnCollector:
    """`run_exchange` on a `websockets.asyncio` connection (a `TurnConnection`, as the async
    drivers open, feeds the collector without a `recv()` per frame)."""
    clock = time.perf_counter
    collector = TurnCollector(clock())
    try:
        async with asyncio.timeout(deadline - clock()):
            if isinstance(ws, TurnConnection):
                await ws.send_and_collect(text, collector)
            else:
                await ws.send(text)
            while collector.end is None:
                collector.feed(await ws.recv(), clock())
    except TimeoutError:
        collector.timed_out(deadline - collector.sent_at)
    except ConnectionClosed as exc:
        collector.closed(describe_close(exc))
    except (OSError, WebSocketException) as exc:
        collector.closed(describe_exception(exc))
    return collector


# --- steps shared by the WebSocket probes ----------------------------------------------


@dataclass(frozen=True)
class Step:
    """One timed step of a probe: login, chat page, connect, a turn, close."""

    name: str
    ok: bool
    ms: float | None
    detail: str
    http_status: int | None = None


@dataclass(frozen=True)
class Opened:
    """The outcome of login -> handshake -> `connection_established`.

    `failure` classifies a failure: `login`, `refused`, `timeout`, `http_error`,
    `handshake`, `auth_rejected`, `server_error`, `closed`, `protocol` or `network`.
    """

    link: Link | None
    steps: tuple[Step, ...]
    failed_step: str | None = None
    failure: str | None = None
    error: str | None = None
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        """True when the connection is open and established."""
        return self.link is not None

    def step_ms(self, name: str) -> float | None:
        """Milliseconds of the named step, if it ran."""
        return next((s.ms for s in self.steps if s.name == name), None)


def login(env: Environment, deadline: Deadline) -> Steps[tuple[str | None, Step]]:
    """Steps: log in as the environment's test user; (token or None, the login step).

    The token is only handed back to the caller's steps: it never enters a result."""
    url = env.auth.url + "/auth/login"
    if deadline.expired:
        return None, Step("login", False, None, f"probe deadline of {deadline.total_s:g} s "
                                                 "reached before login")
    password = resolve_secret(env.credentials.password)
    request = Http("POST", url, deadline.cap(STEP_TIMEOUT_S),
                   {"email": env.credentials.email, "password": password})
    del password
    answer: HttpAnswer = yield request
    if answer.failure:
        return None, Step("login", False, answer.elapsed_ms,
                          hint(env, f"{url}: {answer.error}"))
    return _judge_login(url, answer)


def _judge_login(url: str, answer: HttpAnswer) -> tuple[str | None, Step]:
    body = json_body(answer)
    status = answer.status_code
    if status != 200:
        detail = body.get("error") or body.get("detail") or body.get("message")
        text = str(detail) if detail else answer.body[:120].decode("utf-8", "replace")
        return None, Step("login", False, answer.elapsed_ms,
                          f"{url}: HTTP {status} {text}".strip(), status)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        return None, Step("login", False, answer.elapsed_ms, f"{url}: HTTP 200 without an "
                          "access_token", status)
    return token, Step("login", True, answer.elapsed_ms, "HTTP 200, access token received",
                       200)


def json_body(answer: HttpAnswer) -> dict[str, Any]:
    """An answer's body as a JSON object ({} when it is not one)."""
    try:
        value = json.loads(answer.body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def open_connection(env: Environment, deadline: Deadline, token: str | None = None,
                    close_timeout_s: float = 1.0) -> Steps[Opened]:
    """Steps: log in (unless a token is given), open the WebSocket with the `jwt.<token>`
    subprotocol, and wait for `connection_established`."""
    steps: list[Step] = []
    if token is None:
        token, step = yield from login(env, deadline)
        steps.append(step)
        if token is None:
            return Opened(None, tuple(steps), "login", "login", step.detail, step.http_status)
    url = env.backend.websocket_url
    link, step, failure = yield from _handshake(env, url, token, deadline, close_timeout_s)
    steps.append(step)
    if link is None:
        return Opened(None, tuple(steps), "connect", failure, step.detail, step.http_status)
    step, failure = yield from _established(link, deadline)
    steps.append(step)
    if failure is not None:
        yield from close_quietly(link, deadline.cap(0.2))
        return Opened(None, tuple(steps), "handshake", failure, step.detail, 101)
    return Opened(link, tuple(steps), http_status=101)


def _handshake(env: Environment, url: str, token: str, deadline: Deadline,
               close_timeout_s: float) -> Steps[tuple[Link | None, Step, str | None]]:
    if deadline.expired:
        return None, Step("connect", False, None, f"probe deadline of {deadline.total_s:g} s "
                          "reached before connecting"), "timeout"
    offered = f"jwt.{token}"
    op = Connect(url, (offered,), deadline.cap(STEP_TIMEOUT_S), close_timeout_s)
    started = time.perf_counter()
    try:
        link: Link = yield op
    except NETWORK_ERRORS as exc:
        failure, text, status = classify_failure(exc, op.timeout_s)
        text = hint(env, f"{url}: {text}").replace(token, "<token>")
        return None, Step("connect", False, _ms_since(started), text, status), failure
    ms = _ms_since(started)
    if link.subprotocol is None:
        yield from close_quietly(link, deadline.cap(0.2))
        return None, Step("connect", False, ms, "the server accepted the WebSocket without "
                          "echoing the offered subprotocol (jwt.<token>): browsers refuse "
                          "such a connection", 101), "handshake"
    return link, Step("connect", True, ms, "HTTP 101, subprotocol echoed", 101), None


def _established(link: Link, deadline: Deadline) -> Steps[tuple[Step, str | None]]:
    """Wait for `connection_established` (heartbeats before it are skipped)."""
    started = time.perf_counter()
    wait = deadline.cap(STEP_TIMEOUT_S)
    until = started + wait
    skipped = 0
    while True:
        try:
            frame = yield Recv(link, max(0.0, until - time.perf_counter()))
        except TimeoutError:
            extra = f" ({skipped} heartbeats)" if skipped else ""
            return Step("established", False, _ms_since(started), "no connection_established "
                        f"message within {wait:.3g} s{extra}"), "timeout"
        except ConnectionClosed as exc:
            failure = {1008: "auth_rejected", 1011: "server_error"}.get(_close_code(exc),
                                                                         "closed")
            return Step("established", False, _ms_since(started),
                        f"before connection_established: {describe_close(exc)}"), failure
        except NETWORK_ERRORS as exc:
            return Step("established", False, _ms_since(started),
                        f"before connection_established: {describe_exception(exc)}"), "network"
        kind, problem = judge_first_message(frame)
        if kind == "skip":
            skipped += 1
            continue
        ms = _ms_since(started)
        if kind == "ok":
            return Step("established", True, ms, "connection_established received"), None
        return Step("established", False, ms, problem or kind), kind


def close_quietly(link: Link, timeout_s: float) -> Steps[Step]:
    """Steps: close a connection; a failure to close cleanly is reported, never raised."""
    started = time.perf_counter()
    try:
        yield Close(link, timeout_s)
    except NETWORK_ERRORS as exc:
        return Step("close", False, _ms_since(started), describe_exception(exc))
    return Step("close", True, _ms_since(started), "closed")


def judge_first_message(frame: str | bytes) -> tuple[str, str | None]:
    """What the first message of a connection says: (`ok` | `skip` | a failure kind,
    the problem). Pure: shared by the sync and async probes."""
    if isinstance(frame, bytes):
        return "protocol", f"binary frame of {len(frame)} bytes instead of connection_established"
    try:
        message = json.loads(frame)
    except ValueError:
        return "protocol", f"invalid JSON instead of connection_established: {frame[:40]!r}"
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "connection_established":
        return "ok", None
    if kind in ("heartbeat", "pong", "ping"):
        return "skip", None
    if kind == "error":
        code = str(message.get("error_code") or "")
        failure = ("auth_rejected" if code.startswith("AUTH_FAILED")
                   else "server_error" if "UNAVAILABLE" in code else "protocol")
        return failure, f"error instead of connection_established: {event_error(message)}"
    return "protocol", f"expected connection_established, got {str(kind or frame)[:40]!r}"


def classify_failure(exc: BaseException, timeout_s: float) -> tuple[str, str, int | None]:
    """(kind, readable text, HTTP status) for an exception raised while connecting."""
    if isinstance(exc, InvalidStatus):
        response = exc.response
        body = response.body.decode("utf-8", "replace")[:120].strip() if response.body else ""
        text = f"handshake answered HTTP {response.status_code} {response.reason_phrase}"
        return "http_error", f"{text}: {body}" if body else text, response.status_code
    if isinstance(exc, NegotiationError):
        return "handshake", f"handshake refused by the probe: {exc}", 101
    if isinstance(exc, InvalidHandshake):
        return "handshake", f"invalid handshake answer: {describe_exception(exc)}", None
    if isinstance(exc, ConnectionClosed):
        return "closed", describe_close(exc), None
    if isinstance(exc, TimeoutError):
        return "timeout", f"no handshake answer within {timeout_s:.3g} s", None
    if isinstance(exc, ConnectionRefusedError):
        return "refused", describe_exception(exc), None
    return "network", describe_exception(exc), None


def describe_close(exc: ConnectionClosed) -> str:
    """Who closed the connection, with which code, and what that code means."""
    received, sent = exc.rcvd, exc.sent
    if received is None and sent is None:
        return "connection dropped without a close frame"
    if received is None and sent is not None:
        meaning = _CLOSE_MEANINGS.get(sent.code, "")
        if sent.code == 1009:
            meaning = f"a message exceeded the {MAX_MESSAGE_BYTES // 2**20} MiB limit"
        return f"the probe closed the connection: {sent.code} {meaning}".strip()
    assert received is not None
    meaning = _CLOSE_MEANINGS.get(received.code, "")
    shown = received.reason and received.reason not in meaning
    reason = f" ({received.reason})" if shown else ""
    return f"connection closed by the server: {received.code} {meaning}{reason}".strip()


def _close_code(exc: ConnectionClosed) -> int:
    return exc.rcvd.code if exc.rcvd is not None else 1006


def hint(env: Environment, text: str) -> str:
    """`text`, with how to start the sandbox when a sandbox port refused."""
    if env.kind != "sandbox" or "refused" not in text.lower():
        return text
    flag = "" if env.name == "sandbox" else f" --env {env.source}"
    return f"{text} (is the sandbox running? start it with: netra-ops sandbox up{flag})"


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# --- connection success rate and reconnection time -------------------------------------


@dataclass(frozen=True)
class ConnectAttempt:
    """One connection attempt: connect-to-established time, reconnection time, failure."""

    number: int
    ok: bool
    connect_ms: float | None
    reconnect_ms: float | None
    failure: str | None
    error: str | None


@dataclass(frozen=True)
class ConnectionRateResult:
    """WebSocket connection success over `n` attempts (seed: criterion > 95%, rollback
    trigger < 50%). `rate` is over the attempts made; `ok` needs all `n` made and the rate
    above the criterion. `state` is `ok`, `below_criterion`, `trigger` or `inconclusive`.
    """

    ok: bool
    environment: str
    started_at: datetime
    n: int
    attempts: tuple[ConnectAttempt, ...]
    rate: float | None
    criterion: float
    trigger: float
    state: str
    login_ms: float | None
    connect_p50_ms: float | None
    connect_p95_ms: float | None
    reconnect_p50_ms: float | None
    reconnect_p95_ms: float | None
    failures: dict[str, int]
    elapsed_ms: float
    error: str | None

    @property
    def succeeded(self) -> int:
        """How many attempts reached `connection_established`."""
        return sum(a.ok for a in self.attempts)

    def to_frame(self) -> pd.DataFrame:
        """One row per attempt."""
        return pd.DataFrame([asdict(a) for a in self.attempts],
                            columns=["number", "ok", "connect_ms", "reconnect_ms", "failure",
                                     "error"])

    def summary(self) -> dict[str, Any]:
        """The figures of the run as one flat dict (for `record()` and tables)."""
        return {key: value for key, value in asdict(self).items() if key != "attempts"}


def connection_rate(
    env: Environment | str = "sandbox",
    n: int = 20,
    *,
    timeout_s: float = 60.0,
    connect_timeout_s: float = STEP_TIMEOUT_S,
    criterion: float = CONNECTION_CRITERION,
    trigger: float = CONNECTION_TRIGGER,
) -> ConnectionRateResult:
    """Open `n` authenticated WebSocket connections in turn and report how many reached
    `connection_established`, within `timeout_s` in total."""
    plan = _RatePlan(load_environment(env), _checked_n(n), timeout_s, connect_timeout_s,
                     criterion, trigger)
    return run_steps(_rate_steps(plan))


async def connection_rate_async(
    env: Environment | str = "sandbox",
    n: int = 20,
    *,
    timeout_s: float = 60.0,
    connect_timeout_s: float = STEP_TIMEOUT_S,
    criterion: float = CONNECTION_CRITERION,
    trigger: float = CONNECTION_TRIGGER,
) -> ConnectionRateResult:
    """The async twin of `connection_rate` (same steps, asyncio I/O)."""
    plan = _RatePlan(load_environment(env), _checked_n(n), timeout_s, connect_timeout_s,
                     criterion, trigger)
    return await run_steps_async(_rate_steps(plan))


def _checked_n(n: int) -> int:
    if n < 1:
        raise NetraOpsError(f"connection_rate needs n >= 1 attempts, got {n}")
    return n


@dataclass(frozen=True)
class _RatePlan:
    env: Environment
    n: int
    timeout_s: float
    connect_timeout_s: float
    criterion: float
    trigger: float


def _rate_steps(plan: _RatePlan) -> Steps[ConnectionRateResult]:
    started_at, started = datetime.now(UTC), time.perf_counter()
    deadline = Deadline.after(plan.timeout_s)
    token, login_step = yield from login(plan.env, deadline)
    if token is None:
        return _rate_result(plan, started_at, started, [], login_step, login_step.detail)
    attempts: list[ConnectAttempt] = []
    closing_started: float | None = None
    for number in range(1, plan.n + 1):
        if deadline.remaining() <= 0.05:
            break
        attempt_deadline = Deadline.after(deadline.cap(plan.connect_timeout_s))
        opened = yield from open_connection(plan.env, attempt_deadline, token,
                                            close_timeout_s=1.0)
        established = time.perf_counter()
        connect_ms = sum(s.ms or 0.0 for s in opened.steps) if opened.ok else None
        reconnect_ms = ((established - closing_started) * 1000
                        if opened.ok and closing_started is not None else None)
        attempts.append(ConnectAttempt(number, opened.ok, connect_ms, reconnect_ms,
                                       opened.failure, opened.error))
        closing_started = None
        if opened.link is not None:
            closing_started = time.perf_counter()
            yield from close_quietly(opened.link, deadline.cap(1.0))
    return _rate_result(plan, started_at, started, attempts, login_step, None)


def _rate_result(plan: _RatePlan, started_at: datetime, started: float,
                 attempts: list[ConnectAttempt], login_step: Step,
                 login_error: str | None) -> ConnectionRateResult:
    made = len(attempts)
    succeeded = sum(a.ok for a in attempts)
    rate = succeeded / made if made else None
    state = ("inconclusive" if rate is None else "trigger" if rate < plan.trigger
             else "below_criterion" if rate <= plan.criterion else "ok")
    failures = dict(Counter(a.failure for a in attempts if a.failure))
    connect = [a.connect_ms for a in attempts if a.connect_ms is not None]
    reconnect = [a.reconnect_ms for a in attempts if a.reconnect_ms is not None]
    ok = state == "ok" and made == plan.n
    error = login_error and f"login failed: {login_error}"
    if error is None and not ok:
        error = _rate_error(plan, made, succeeded, rate, failures)
    return ConnectionRateResult(
        ok=ok, environment=plan.env.name, started_at=started_at, n=plan.n,
        attempts=tuple(attempts), rate=rate, criterion=plan.criterion, trigger=plan.trigger,
        state=state, login_ms=login_step.ms, connect_p50_ms=_percentile(connect, 50),
        connect_p95_ms=_percentile(connect, 95), reconnect_p50_ms=_percentile(reconnect, 50),
        reconnect_p95_ms=_percentile(reconnect, 95), failures=failures,
        elapsed_ms=_ms_since(started), error=error)


def _rate_error(plan: _RatePlan, made: int, succeeded: int, rate: float | None,
                failures: dict[str, int]) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in
                      sorted(failures.items(), key=lambda kv: -kv[1]))
    text = (f"{succeeded}/{made} connections established ({(rate or 0):.0%}; criterion "
            f"> {plan.criterion:.0%}, rollback trigger < {plan.trigger:.0%})")
    if made < plan.n:
        text += f"; deadline of {plan.timeout_s:g} s reached after {made}/{plan.n} attempts"
    return f"{text}; failures: {kinds}" if kinds else text


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None
