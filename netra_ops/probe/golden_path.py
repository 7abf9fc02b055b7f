"""Golden-path probe (seed 3.1): login -> WebSocket -> user message -> the five agent events.

The probe logs in as the environment's test user, connects to the backend's WebSocket with
the `jwt.<token>` subprotocol, waits for `connection_established`, sends one `user_message`
and listens until `agent_completed`, an error, a close, a malformed frame or the deadline.
Each event's latency is measured from the moment the message was sent; the events are
judged by `netra_ops.probe.agent_events` (presence, order, fields, content, duplicates,
latency budget). `timeout_s` bounds the whole run, login to close. The token is used and
forgotten: it never enters the result.

`golden_path` is the sync probe (a Jupyter cell, papermill, a script), `golden_path_async`
its twin for an event loop; both run the same steps (`netra_ops.probe.drivers`).
`agent_turn` runs one turn on a WebSocket connection the caller already opened.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from netra_ops.config import Environment, load_environment
from netra_ops.probe.agent_events import (
    GOLDEN_PATH_EVENTS,
    AgentEventsReport,
    EventObservation,
    TurnCollector,
    final_response,
    out_of_order,
)
from netra_ops.probe.connections import (
    Opened,
    close_quietly,
    open_connection,
)
from netra_ops.probe.drivers import (
    Deadline,
    Exchange,
    Link,
    Steps,
    run_exchange,
    run_exchange_async,
    run_steps,
    run_steps_async,
)

__all__ = [
    "DEFAULT_MESSAGE",
    "GOLDEN_PATH_EVENTS",
    "ConnectResult",
    "EventObservation",
    "GoldenPathResult",
    "TurnResult",
    "agent_turn",
    "agent_turn_async",
    "close_reserve",
    "golden_path",
    "golden_path_async",
    "new_thread_id",
    "turn_message",
    "turn_result",
    "turn_steps",
    "websocket_connect",
    "websocket_connect_async",
]

_encode = json.JSONEncoder().encode
DEFAULT_MESSAGE = (
    "We spend about $12,000 a month on GPT-4o for 3 million tokens a day. "
    "How can we cut that cost without hurting answer quality?"
)


@dataclass(frozen=True)
class TurnResult:
    """One user message and the agent's answer to it, judged."""

    ok: bool
    error: str | None
    message: str
    thread_id: str
    total_ms: float
    report: AgentEventsReport

    @property
    def events(self) -> tuple[EventObservation, ...]:
        """The events received after the send (heartbeats and pongs not kept)."""
        return self.report.events

    @property
    def final_response(self) -> str | None:
        """The text of `agent_completed`, if it came."""
        return final_response(self.report.events)

    def to_frame(self) -> pd.DataFrame:
        """One row per check of the turn."""
        return self.report.to_frame()


@dataclass(frozen=True)
class GoldenPathResult:
    """Everything one golden-path run saw; `ok` only if the whole path worked.

    `failed_step` is `login`, `connect` (the handshake), `handshake` (no
    `connection_established`) or `agent` (the turn); `report` holds every check of the
    turn (None when no message was sent); `elapsed_ms` is the whole run.
    """

    ok: bool
    environment: str
    started_at: datetime
    thread_id: str
    message: str
    event_budget_ms: float
    login_ms: float | None = None
    connect_ms: float | None = None
    total_ms: float | None = None
    events: tuple[EventObservation, ...] = ()
    missing: tuple[str, ...] = ()
    out_of_order: tuple[str, ...] = ()
    final_response: str | None = None
    failed_step: str | None = None
    error: str | None = None
    http_status: int | None = None
    report: AgentEventsReport | None = None
    elapsed_ms: float | None = None

    @property
    def server_error(self) -> bool:
        """True when the platform answered a request of this run with a 5xx status."""
        return self.http_status is not None and self.http_status >= 500

    def latency_ms(self, event_type: str) -> float | None:
        """Milliseconds from the send to the first event of that type, or None."""
        return next((e.received_ms for e in self.events if e.type == event_type), None)

    @property
    def slow_events(self) -> tuple[str, ...]:
        """Golden-path events that arrived later than the budget."""
        return tuple(name for name in GOLDEN_PATH_EVENTS
                     if (ms := self.latency_ms(name)) is not None and ms > self.event_budget_ms)

    @property
    def last_event(self) -> str | None:
        """The type of the last message received after the send."""
        return self.events[-1].type if self.events else None

    def to_frame(self) -> pd.DataFrame:
        """One row per golden-path event (and per extra event seen, such as agent_error)."""
        extra = dict.fromkeys(e.type for e in self.events if e.type not in GOLDEN_PATH_EVENTS)
        names = [*GOLDEN_PATH_EVENTS, *extra]
        rows = [self._row(name, position) for position, name in enumerate(names, start=1)]
        return pd.DataFrame(rows)

    def checks_frame(self) -> pd.DataFrame:
        """One row per check of the turn (empty when the turn never ran)."""
        if self.report is None:
            return pd.DataFrame(columns=["check", "event", "ok", "value", "detail"])
        return self.report.to_frame()

    def _row(self, name: str, position: int) -> dict[str, Any]:
        latency = self.latency_ms(name)
        return {
            "started_at": self.started_at, "thread_id": self.thread_id, "position": position,
            "event": name, "expected": name in GOLDEN_PATH_EVENTS, "seen": latency is not None,
            "in_order": name not in self.out_of_order, "latency_ms": latency,
            "within_budget": latency is not None and latency <= self.event_budget_ms,
            "run_ok": self.ok,
        }


@dataclass(frozen=True)
class ConnectResult:
    """Whether an authenticated WebSocket connection reached `connection_established`."""

    ok: bool
    url: str
    login_ms: float | None
    connect_ms: float | None
    failed_step: str | None
    error: str | None
    http_status: int | None

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([asdict(self)])


# --- public probes ---------------------------------------------------------------------


def golden_path(
    env: Environment | str = "sandbox",
    *,
    message: str = DEFAULT_MESSAGE,
    thread_id: str | None = None,
    timeout_s: float = 45.0,
    event_budget_ms: float = 500.0,
) -> GoldenPathResult:
    """Run the golden path once against `env` and report what happened, within `timeout_s`
    in total; never raises for a bad answer from the platform (a bad environment file or
    secret does raise)."""
    return run_steps(_golden_path_steps(_Plan.of(env, message, thread_id, timeout_s,
                                                 event_budget_ms)))


async def golden_path_async(
    env: Environment | str = "sandbox",
    *,
    message: str = DEFAULT_MESSAGE,
    thread_id: str | None = None,
    timeout_s: float = 45.0,
    event_budget_ms: float = 500.0,
) -> GoldenPathResult:
    """The async twin of `golden_path` (same steps, asyncio I/O; for a running loop)."""
    return await run_steps_async(_golden_path_steps(_Plan.of(env, message, thread_id,
                                                             timeout_s, event_budget_ms)))


def websocket_connect(env: Environment | str = "sandbox", *,
                      timeout_s: float = 20.0) -> ConnectResult:
    """Log in and open the backend's WebSocket up to `connection_established` (seed 1.3)."""
    environment = load_environment(env)
    return run_steps(_connect_steps(environment, timeout_s))


async def websocket_connect_async(env: Environment | str = "sandbox", *,
                                  timeout_s: float = 20.0) -> ConnectResult:
    """The async twin of `websocket_connect`."""
    environment = load_environment(env)
    return await run_steps_async(_connect_steps(environment, timeout_s))


def agent_turn(connection: Any, message: str = DEFAULT_MESSAGE, *, thread_id: str | None = None,
               timeout_s: float = 45.0, event_budget_ms: float = 500.0) -> TurnResult:
    """One turn on an open, established `websockets.sync` client connection the caller
    owns (it stays open): send `message`, collect and judge the events."""
    thread = thread_id or new_thread_id()
    collector = run_exchange(connection, turn_message(message, thread),
                             time.perf_counter() + timeout_s)
    return turn_result(collector, message, thread, event_budget_ms)


async def agent_turn_async(connection: Any, message: str = DEFAULT_MESSAGE, *,
                           thread_id: str | None = None, timeout_s: float = 45.0,
                           event_budget_ms: float = 500.0) -> TurnResult:
    """The async twin of `agent_turn`, for a `websockets.asyncio` client connection."""
    thread = thread_id or new_thread_id()
    collector = await run_exchange_async(connection, turn_message(message, thread),
                                         time.perf_counter() + timeout_s)
    return turn_result(collector, message, thread, event_budget_ms)


def new_thread_id() -> str:
    """A fresh conversation thread id for a probe."""
    return f"probe-{uuid.uuid4().hex[:12]}"


# --- steps -----------------------------------------------------------------------------


def turn_steps(link: Link, message: str, thread_id: str, deadline: float,
               event_budget_ms: float) -> Steps[TurnResult]:
    """Steps: send one `user_message` and judge the events until the turn ends or the
    `deadline` (a `time.perf_counter()` time) passes."""
    collector = yield Exchange(link, turn_message(message, thread_id), deadline)
    return turn_result(collector, message, thread_id, event_budget_ms)


def turn_message(message: str, thread_id: str) -> str:
    """The `user_message` frame of a turn (two strings encoded into a fixed frame: a third
    of the CPU of encoding a dict on every turn)."""
    return (f'{{"type": "user_message", "payload": {{"text": {_encode(message)}, '
            f'"thread_id": {_encode(thread_id)}}}}}')


def turn_result(collector: TurnCollector, message: str, thread_id: str,
                event_budget_ms: float) -> TurnResult:
    """The judged turn, from what the collector saw."""
    total_ms = (time.perf_counter() - collector.sent_at) * 1000
    report = collector.result(event_budget_ms)
    return TurnResult(report.ok, report.error, message, thread_id, total_ms, report)


@dataclass(frozen=True)
class _Plan:
    env: Environment
    message: str
    thread_id: str
    timeout_s: float
    budget_ms: float

    @classmethod
    def of(cls, env: Environment | str, message: str, thread_id: str | None,
           timeout_s: float, budget_ms: float) -> _Plan:
        return cls(load_environment(env), message, thread_id or new_thread_id(), timeout_s,
                   budget_ms)


def close_reserve(timeout_s: float) -> float:
    """The part of a probe's time bound kept for closing its connection."""
    return min(1.0, timeout_s * 0.1)


def _golden_path_steps(plan: _Plan) -> Steps[GoldenPathResult]:
    started_at, started = datetime.now(UTC), time.perf_counter()
    reserve = close_reserve(plan.timeout_s)
    work = Deadline(started + plan.timeout_s - reserve, plan.timeout_s)
    opened = yield from open_connection(plan.env, work, close_timeout_s=reserve)
    if opened.link is None:
        return _result(plan, started_at, started, opened, None)
    turn = yield from turn_steps(opened.link, plan.message, plan.thread_id, work.at,
                                 plan.budget_ms)
    yield from close_quietly(opened.link, reserve)
    return _result(plan, started_at, started, opened, turn)


def _result(plan: _Plan, started_at: datetime, started: float, opened: Opened,
            turn: TurnResult | None) -> GoldenPathResult:
    events = turn.events if turn else ()
    seen = {e.type for e in events}
    failed_step = opened.failed_step or (None if turn is None or turn.ok else "agent")
    return GoldenPathResult(
        ok=failed_step is None, environment=plan.env.name, started_at=started_at,
        thread_id=plan.thread_id, message=plan.message, event_budget_ms=plan.budget_ms,
        login_ms=opened.step_ms("login"), connect_ms=opened.step_ms("connect"),
        total_ms=turn.total_ms if turn else None, events=events,
        missing=tuple(n for n in GOLDEN_PATH_EVENTS if n not in seen),
        out_of_order=out_of_order([e.type for e in events]),
        final_response=turn.final_response if turn else None, failed_step=failed_step,
        error=opened.error or (turn.error if turn else None), http_status=opened.http_status,
        report=turn.report if turn else None, elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _connect_steps(env: Environment, timeout_s: float) -> Steps[ConnectResult]:
    reserve = close_reserve(timeout_s)
    work = Deadline.after(timeout_s - reserve)
    opened = yield from open_connection(env, work, close_timeout_s=reserve)
    if opened.link is not None:
        yield from close_quietly(opened.link, reserve)
    return ConnectResult(opened.ok, env.backend.websocket_url, opened.step_ms("login"),
                         opened.step_ms("connect"), opened.failed_step, opened.error,
                         opened.http_status)
