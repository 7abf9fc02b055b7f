"""A chat user who lives on one connection: a turn, an idle stretch with heartbeats, again.

`SessionUser` is a `VirtualUser` (its login, connection and turns are the load engine's, so
the probe layer's) that also stays idle between turns the way a browser tab does: it reads
what the server sends, answers each `{"type": "heartbeat"}` with `{"type": "pong"}` (unless
it is one of the run's silent users), and notices when the connection ends. Each connection
is a `SessionSpan`: when it opened, what the server said about its timing in
`connection_established`, and how it ended. A connection that ends before the run does is a
drop, by cause (`DROP_CAUSES`):

- `app_idle_close`: the server closed it with 1000 and a reason starting "idle timeout"
  (the app's `WEBSOCKET_CONNECTION_TIMEOUT`; the sandbox says
  "idle timeout (WEBSOCKET_CONNECTION_TIMEOUT=360s)");
- `cloud_run_timeout`: it ended without a close frame (1006): what Cloud Run's front end
  does at the service's request timeout. (A network that drops the connection looks the
  same: compare the session's age with the request timeout.);
- `missed_heartbeat`: the user heard nothing for `missed_heartbeats` heartbeat intervals
  while idle and gave the connection up;
- `server_close`: any other close frame from the server (1001 going away, 1011, 1012 ...),
  with its code and reason;
- `error`: a turn failed in a way that left the connection unusable (no answer in time, a
  frame that is not the protocol), or the socket failed.

After a drop the user reconnects at once (after `RECONNECT_BACKOFF_S`), as the chat page
does, and goes on thinking; a reconnect that fails is counted by error class and retried.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.frames import Close

from netra_ops.config import Environment
from netra_ops.load.engine import RECONNECT_BACKOFF_S
from netra_ops.load.session_config import SessionConfig
from netra_ops.load.users import Attempt, TurnPlan, VirtualUser
from netra_ops.probe._transport.failure_text import describe_exception
from netra_ops.probe._transport.strict_json import loads_strict

__all__ = [
    "DROP_CAUSES",
    "HELD",
    "IDLE_CLOSE_PREFIX",
    "SessionSpan",
    "SessionTiming",
    "SessionUser",
    "close_cause",
    "session_timing",
]

DROP_CAUSES: tuple[str, ...] = (
    "app_idle_close", "cloud_run_timeout", "missed_heartbeat", "server_close", "error",
)
HELD = "held"
"""How a session ends that was still open when the run ended."""
IDLE_CLOSE_PREFIX = "idle timeout"
"""How the reason of the app's idle close begins."""
_PONG = '{"type": "pong"}'
_NO_CLOSE_FRAME = 1006


class SessionTiming(NamedTuple):
    """A connection's clock: the rehearsal time scale (and who said so), and the app's
    heartbeat interval and idle timeout in seconds of this run (already scaled)."""

    time_scale: float
    scale_source: str
    heartbeat_interval_s: float
    connection_timeout_s: float


def session_timing(established: Mapping[str, Any], config: SessionConfig) -> SessionTiming:
    """The timing a connection's `connection_established` data states, else the config's:
    the scale from the server (`time_scale`), else `config.time_scale`, else 1; the
    heartbeat interval and idle timeout from the server, else the config's divided by it."""
    scale = _positive(established.get("time_scale"))
    if scale is not None:
        source = "connection_established"
    elif config.time_scale is not None:
        scale, source = float(config.time_scale), "parameter"
    else:
        scale, source = 1.0, "default"
    heartbeat = _positive(established.get("heartbeat_interval_s"))
    timeout = _positive(established.get("connection_timeout_s"))
    return SessionTiming(scale, source, heartbeat or config.heartbeat_interval_s / scale,
                         timeout or config.connection_timeout_s / scale)


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def close_cause(received: Close | None) -> tuple[str, int, str]:
    """(drop cause, close code, reason) of a connection the server ended: no close frame
    is 1006 (`cloud_run_timeout`), 1000 "idle timeout ..." is the app's idle close."""
    if received is None:
        return "cloud_run_timeout", _NO_CLOSE_FRAME, "no close frame (abnormal closure)"
    if received.code == 1000 and received.reason.startswith(IDLE_CLOSE_PREFIX):
        return "app_idle_close", received.code, received.reason
    return "server_close", received.code, received.reason


@dataclass
class SessionSpan:
    """One connection of a user, from `connection_established` to its end (perf_counter
    times; `ended` None while open). `end` is a drop cause or `HELD`; `during` says whether
    it ended while the user was `idle` or in a `turn`."""

    user: int
    opened: float
    timing: SessionTiming
    answers_heartbeats: bool
    revision: str | None = None
    ended: float | None = None
    end: str = HELD
    close_code: int | None = None
    close_reason: str = ""
    during: str = ""
    turns: int = 0
    heartbeats: int = 0
    connection: Any = field(default=None, repr=False)

    def finish(self, at: float, cause: tuple[str, int | None, str], during: str) -> None:
        """The connection ended at `at` for `cause` (drop cause, close code, reason)."""
        self.ended, self.during, self.connection = at, during, None
        self.end, self.close_code, self.close_reason = cause


class SessionUser(VirtualUser):
    """A `VirtualUser` who idles between turns on the same connection (module docstring)."""

    def __init__(self, env: Environment, index: int, plan: TurnPlan, thread_id: str,
                 config: SessionConfig) -> None:
        super().__init__(env, index, plan, thread_id)
        self.config = config
        self.answers_heartbeats = config.answers_heartbeats(index)
        self.spans: list[SessionSpan] = []
        self.idles: list[tuple[int, float]] = []
        self.reconnect_failures: Counter[str] = Counter()
        self.idling = False
        self._draws = config.draws(index)
        self._last_frame = 0.0  # when the server was last heard on this connection
        self._last_active = 0.0  # the connection's start or its last turn's end

    @property
    def span(self) -> SessionSpan | None:
        """The open connection's span (None when not connected)."""
        last = self.spans[-1] if self.spans else None
        return last if last is not None and last.ended is None else None

    @property
    def reconnects(self) -> int:
        """Connections opened after the first."""
        return max(0, len(self.spans) - 1)

    def think_s(self) -> float:
        """The next think time, in this run's seconds (drawn, divided by the time scale)."""
        span = self.span
        scale = span.timing.time_scale if span else (self.config.time_scale or 1.0)
        return self.config.think.draw(self._draws) / scale

    async def connect(self) -> tuple[str | None, str | None]:
        again = bool(self.spans)
        error_class, error = await super().connect()
        if error_class is not None:
            if again:
                self.reconnect_failures[error_class] += 1
            return error_class, error
        now = time.perf_counter()
        revision = self.established.get("revision")
        self.spans.append(SessionSpan(
            self.index, now, session_timing(self.established, self.config),
            self.answers_heartbeats, revision if isinstance(revision, str) else None,
            connection=self.connection))
        self._last_frame = self._last_active = now
        return None, None

    async def turn(self, scheduled: float | None = None) -> Attempt:
        started = time.perf_counter()
        idle = started - self._last_active if self.connected else math.nan
        self.idles.append((self.turns, idle))
        attempt = await super().turn(scheduled)
        self._last_frame = self._last_active = time.perf_counter()
        span = self.spans[-1] if self.spans else None
        if span is not None and span.ended is None:
            span.turns += 1
            if not self.connected:  # the turn lost the connection
                span.finish(self._last_active, _turn_cause(attempt, span.connection), "turn")
        return attempt

    async def idle_until(self, until: float) -> None:
        """Stay idle until `until` (perf_counter): answer heartbeats, and after a drop
        reconnect (after the backoff) and stay idle."""
        self.idling = True
        try:
            while (now := time.perf_counter()) < until:
                if self.connected:
                    await self._listen(until)
                    continue
                await asyncio.sleep(min(RECONNECT_BACKOFF_S, until - now))
                if time.perf_counter() < until:
                    await self.connect()
        finally:
            self.idling = False

    async def _listen(self, until: float) -> None:
        """Read the open connection until `until`, or until it ends (its span says how)."""
        span, connection = self.span, self.connection
        assert span is not None and connection is not None
        watched = self.config.missed_heartbeats * span.timing.heartbeat_interval_s
        while (now := time.perf_counter()) < until:
            silent_until = self._last_frame + watched if watched else math.inf
            try:  # frames queued while nobody read (a long setup) count as heard
                async with asyncio.timeout(max(0.0, min(until, silent_until) - now)):
                    frame = await connection.recv()
                self._last_frame = time.perf_counter()
                if _is_heartbeat(frame):
                    span.heartbeats += 1
                    if self.answers_heartbeats:
                        await connection.send(_PONG)
            except TimeoutError:
                if time.perf_counter() >= silent_until:
                    await self._lost(span, ("missed_heartbeat", None, _missed(self.config, span)))
                    return
            except ConnectionClosed as exc:
                await self._lost(span, close_cause(exc.rcvd))
                return
            except (OSError, WebSocketException) as exc:
                await self._lost(span, ("error", None, describe_exception(exc)))
                return

    async def _lost(self, span: SessionSpan, cause: tuple[str, int | None, str]) -> None:
        span.finish(time.perf_counter(), cause, "idle")
        await self.drop()


def _turn_cause(attempt: Attempt, connection: Any) -> tuple[str, int | None, str]:
    """Why a turn left its connection unusable: the server's close, or the turn's error."""
    if attempt.sample.error_class == "closed":
        protocol = getattr(connection, "protocol", None)
        return close_cause(getattr(protocol, "close_rcvd", None))
    return "error", None, f"{attempt.sample.error_class}: {attempt.error or ''}".strip()


def _missed(config: SessionConfig, span: SessionSpan) -> str:
    interval = span.timing.heartbeat_interval_s
    return (f"no heartbeat for {config.missed_heartbeats} intervals of {interval:.3g} s "
            f"({config.missed_heartbeats * interval:.3g} s) while idle")


def _is_heartbeat(frame: str | bytes) -> bool:
    try:
        message = loads_strict(frame)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "heartbeat"
