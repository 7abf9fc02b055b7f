"""How a probe's steps are performed: the I/O operations they yield and the two drivers.

Every WebSocket probe's steps are written once, as a generator that yields I/O operations
(`Http`, `Connect`, `Recv`, `Exchange`, `Close`) and returns a result. `run_steps` performs
those operations with blocking clients (h11, `websockets.sync`), for a Jupyter cell or a
script; `run_steps_async` with asyncio ones, for the async twins. Both close every
connection they opened, whatever happens, so no socket, thread or task is left behind, and
every operation is bounded by the probe's deadline. `run_exchange` / `run_exchange_async`
are a turn's hot path: send the user message and feed each frame to a `TurnCollector`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect as connect_sync
from websockets.typing import Subprotocol

from netra_ops.probe._transport.failure_text import describe_exception
from netra_ops.probe._transport.http import fetch, fetch_async
from netra_ops.probe._transport.turn_connection import TurnConnection
from netra_ops.probe.agent_events import TurnCollector

__all__ = [
    "MAX_MESSAGE_BYTES",
    "NETWORK_ERRORS",
    "USER_AGENT",
    "AsyncDriver",
    "BlockingDriver",
    "Close",
    "Connect",
    "Deadline",
    "Exchange",
    "Http",
    "Link",
    "Recv",
    "Steps",
    "describe_close",
    "drive_steps",
    "run_exchange",
    "run_exchange_async",
    "run_steps",
    "run_steps_async",
]

T = TypeVar("T")
Steps = Generator[Any, Any, T]

MAX_MESSAGE_BYTES = 4 * 2**20
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
    """Send an HTTP request within `timeout_s` in total (`http.fetch`); the answer is its
    `HttpAnswer`, a failure included (never an exception)."""

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
    collector = TurnCollector(clock(), time.time())
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
    collector = TurnCollector(clock(), time.time())
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

