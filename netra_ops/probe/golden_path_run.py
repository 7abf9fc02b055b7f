"""Golden-path probe (seed 3.1): login -> WebSocket -> user message -> the five agent events.

The probe logs in as the environment's test user, reads the server's clock offset from the
auth service's health answer, connects to the backend's WebSocket with the `jwt.<token>`
subprotocol, waits for `connection_established`, sends one `user_message` and listens until
`agent_completed`, an error, a close, a malformed frame or the deadline. The events are
judged by `netra_ops.probe.agent_events` (presence, order, fields, content, duplicates, the
probe's own run, thread and user on every event) and their timing by
`netra_ops.probe.event_timing`: the first event within `event_budget_ms` of the send, each
event delivered within `event_budget_ms` of its own timestamp, the answer within
`answer_budget_s`. `timeout_s` bounds the whole run, login to close. The token is used and
forgotten: it never enters the result.

`golden_path` is the sync probe (a Jupyter cell, papermill, a script), `golden_path_async`
its twin for an event loop; both run the same steps (`netra_ops.probe._transport.drivers`).
`agent_turn` runs one turn on a WebSocket connection the caller already opened. Each
sync/async pair takes its keyword defaults from one options object (`GoldenPathOptions`,
`WebSocketConnectOptions`, `AgentTurnOptions`), where they are written once (see
`netra_ops.probe._options`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

import pandas as pd

from netra_ops.config import Environment, load_environment
from netra_ops.probe._options import shows_options
from netra_ops.probe._transport.connections import (
    Opened,
    close_quietly,
    open_connection,
)
from netra_ops.probe._transport.drivers import (
    Deadline,
    Exchange,
    Link,
    Steps,
    run_exchange,
    run_exchange_async,
    run_steps,
    run_steps_async,
)
from netra_ops.probe.agent_events import (
    GOLDEN_PATH_EVENTS,
    AgentEventsReport,
    EventObservation,
    TurnCollector,
    final_response,
    out_of_order,
)
from netra_ops.probe.event_timing import (
    DEFAULT_ANSWER_BUDGET_S,
    DEFAULT_EVENT_BUDGET_MS,
    ClockOffset,
    TurnTiming,
)
from netra_ops.probe.turn_identity import TurnIdentity

__all__ = [
    "DEFAULT_MESSAGE",
    "GOLDEN_PATH_EVENTS",
    "AgentTurnOptions",
    "ConnectResult",
    "EventObservation",
    "GoldenPathOptions",
    "GoldenPathResult",
    "TurnJudging",
    "TurnResult",
    "WebSocketConnectOptions",
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

    @property
    def first_event_ms(self) -> float | None:
        """Milliseconds from the send to the first event."""
        return self.report.timing.first_event_ms

    @property
    def max_delivery_ms(self) -> float | None:
        """The slowest event's delivery latency (arrival minus its own timestamp)."""
        return self.report.timing.max_delivery_ms

    @property
    def answer_ms(self) -> float | None:
        """Milliseconds from the send to `agent_completed`."""
        return self.report.timing.answer_ms

    def to_frame(self) -> pd.DataFrame:
        """One row per check of the turn."""
        return self.report.to_frame()


@dataclass(frozen=True)
class GoldenPathResult:
    """Everything one golden-path run saw; `ok` only if the whole path worked.

    `failed_step` is `login`, `connect` (the handshake), `handshake` (no
    `connection_established`) or `agent` (the turn); `report` holds every check of the
    turn (None when no message was sent); `elapsed_ms` is the whole run.

    Timing: `first_event_ms` (send to the first event, within `event_budget_ms`),
    `max_delivery_ms` (the slowest event's arrival minus its own timestamp, corrected by
    `clock_offset_ms`, the server clock minus ours estimated at login; within
    `event_budget_ms`) and `answer_ms` (send to `agent_completed`, within
    `answer_budget_s`); `timing_ok` is the verdict on the three. `user_id` is the user the
    probe logged in as, whose run and thread every event must carry.
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
    answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S
    first_event_ms: float | None = None
    max_delivery_ms: float | None = None
    answer_ms: float | None = None
    timing_ok: bool | None = None
    timing_error: str | None = None
    clock_offset_ms: float | None = None
    clock_offset_rtt_ms: float | None = None
    clock_source: str | None = None
    user_id: str | None = None

    @property
    def server_error(self) -> bool:
        """True when the platform answered a request of this run with a 5xx status."""
        return self.http_status is not None and self.http_status >= 500

    def latency_ms(self, event_type: str) -> float | None:
        """Milliseconds from the send to the first event of that type, or None."""
        return next((e.received_ms for e in self.events if e.type == event_type), None)

    def delivery_ms(self, event_type: str) -> float | None:
        """Delivery latency of the first event of that type (arrival minus its own
        timestamp, clock offset corrected), or None."""
        return self.report.timing.delivery_ms(event_type) if self.report else None

    @property
    def slow_events(self) -> tuple[str, ...]:
        """Golden-path events that broke a timing rule: delivered late (or not measurably),
        the first event late, or the answer over its budget."""
        if self.report is None:
            return ()
        timing = self.report.timing
        return tuple(name for name in GOLDEN_PATH_EVENTS if (
            self.latency_ms(name) is not None and not self._on_time(name, timing)))

    def timing_frame(self) -> pd.DataFrame:
        """The three timing figures of the run: figure, value_ms, budget_ms, ok, detail."""
        offset = (f"server clock {self.clock_offset_ms:+.0f} ms" if self.clock_offset_ms
                  is not None else "server clock offset not estimated")
        rows = [
            ("first event", self.first_event_ms, self.event_budget_ms, "from the send"),
            ("delivery (slowest event)", self.max_delivery_ms, self.event_budget_ms,
             f"arrival minus the event's own timestamp; {offset} ({self.clock_source})"),
            ("answer (agent_completed)", self.answer_ms, self.answer_budget_s * 1000,
             "from the send"),
        ]
        return pd.DataFrame([{"figure": name, "value_ms": value, "budget_ms": budget,
                              "ok": value is not None and value <= budget, "detail": detail}
                             for name, value, budget, detail in rows])

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
        timing = self.report.timing if self.report else None
        return {
            "started_at": self.started_at, "thread_id": self.thread_id, "position": position,
            "event": name, "expected": name in GOLDEN_PATH_EVENTS, "seen": latency is not None,
            "in_order": name not in self.out_of_order, "latency_ms": latency,
            "delivery_ms": self.delivery_ms(name),
            "within_budget": latency is not None and timing is not None and self._on_time(
                name, timing),
            "run_ok": self.ok,
        }

    def _on_time(self, name: str, timing: TurnTiming) -> bool:
        """The timing rules that concern this event hold: its delivery; for the first
        event, the time to it; for agent_completed, the answer budget."""
        if not timing.delivery_measured:
            delivered = True
        else:
            delivered = timing.delivery_ok(timing.delivery_ms(name))
        first = self.events[0].type == name if self.events else False
        return delivered and (not first or timing.first_event_ok) and (
            name != "agent_completed" or timing.answer_ok)


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


# --- options: each pair's keyword defaults, written once ---------------------------------


@dataclass(frozen=True)
class GoldenPathOptions:
    """The keyword options of `golden_path` and `golden_path_async`. `timeout_s` bounds the
    whole run, login to close; `thread_id` None: a fresh one."""

    message: str = DEFAULT_MESSAGE
    thread_id: str | None = None
    timeout_s: float = 45.0
    event_budget_ms: float = DEFAULT_EVENT_BUDGET_MS
    answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S


@dataclass(frozen=True)
class WebSocketConnectOptions:
    """The keyword options of `websocket_connect` and `websocket_connect_async`."""

    timeout_s: float = 20.0


@dataclass(frozen=True)
class TurnJudging:
    """How a turn is judged: its budgets, the user it must belong to (None: agent_started's)
    and the server clock's offset (None: assumed 0)."""

    event_budget_ms: float = DEFAULT_EVENT_BUDGET_MS
    answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S
    user_id: str | None = None
    clock: ClockOffset | None = None


@dataclass(frozen=True)
class AgentTurnOptions:
    """The options of `agent_turn` and `agent_turn_async` (`message` may be passed by
    position). `timeout_s` bounds the turn; the rest is how it is judged (`judging`)."""

    message: str = DEFAULT_MESSAGE
    thread_id: str | None = None
    timeout_s: float = 45.0
    event_budget_ms: float = TurnJudging.event_budget_ms
    answer_budget_s: float = TurnJudging.answer_budget_s
    user_id: str | None = TurnJudging.user_id
    clock: ClockOffset | None = TurnJudging.clock

    @property
    def judging(self) -> TurnJudging:
        """The turn's budgets, user and clock."""
        return TurnJudging(self.event_budget_ms, self.answer_budget_s, self.user_id,
                           self.clock)


class _GoldenPathKeywords(TypedDict, total=False):
    message: str
    thread_id: str | None
    timeout_s: float
    event_budget_ms: float
    answer_budget_s: float


class _ConnectKeywords(TypedDict, total=False):
    timeout_s: float


class _TurnKeywords(TypedDict, total=False):
    thread_id: str | None
    timeout_s: float
    event_budget_ms: float
    answer_budget_s: float
    user_id: str | None
    clock: ClockOffset | None


# --- public probes ---------------------------------------------------------------------


@shows_options(GoldenPathOptions)
def golden_path(env: Environment | str = "sandbox",
                **keywords: Unpack[_GoldenPathKeywords]) -> GoldenPathResult:
    """Run the golden path once against `env` and report what happened, within `timeout_s`
    in total; never raises for a bad answer from the platform (a bad environment file or
    secret does raise). `event_budget_ms` bounds the first event (from the send) and each
    event's delivery; `answer_budget_s` the whole answer."""
    plan = _Plan.of(env, GoldenPathOptions(**keywords))
    return run_steps(_golden_path_steps(plan))


@shows_options(GoldenPathOptions)
async def golden_path_async(env: Environment | str = "sandbox",
                            **keywords: Unpack[_GoldenPathKeywords]) -> GoldenPathResult:
    """The async twin of `golden_path` (same steps, asyncio I/O; for a running loop)."""
    plan = _Plan.of(env, GoldenPathOptions(**keywords))
    return await run_steps_async(_golden_path_steps(plan))


@shows_options(WebSocketConnectOptions)
def websocket_connect(env: Environment | str = "sandbox",
                      **keywords: Unpack[_ConnectKeywords]) -> ConnectResult:
    """Log in and open the backend's WebSocket up to `connection_established` (seed 1.3)."""
    options = WebSocketConnectOptions(**keywords)
    return run_steps(_connect_steps(load_environment(env), options))


@shows_options(WebSocketConnectOptions)
async def websocket_connect_async(env: Environment | str = "sandbox",
                                  **keywords: Unpack[_ConnectKeywords]) -> ConnectResult:
    """The async twin of `websocket_connect`."""
    options = WebSocketConnectOptions(**keywords)
    return await run_steps_async(_connect_steps(load_environment(env), options))


@shows_options(AgentTurnOptions)
def agent_turn(connection: Any, message: str = AgentTurnOptions.message,
               **keywords: Unpack[_TurnKeywords]) -> TurnResult:
    """One turn on an open, established `websockets.sync` client connection the caller
    owns (it stays open): send `message`, collect and judge the events. `user_id` is the
    user the connection logged in as (None: agent_started's is the reference), `clock` the
    server clock's offset (None: assumed 0)."""
    options = AgentTurnOptions(message=message, **keywords)
    thread = options.thread_id or new_thread_id()
    collector = run_exchange(connection, turn_message(message, thread),
                             time.perf_counter() + options.timeout_s)
    return turn_result(collector, message, thread, options.judging)


@shows_options(AgentTurnOptions)
async def agent_turn_async(connection: Any, message: str = AgentTurnOptions.message,
                           **keywords: Unpack[_TurnKeywords]) -> TurnResult:
    """The async twin of `agent_turn`, for a `websockets.asyncio` client connection."""
    options = AgentTurnOptions(message=message, **keywords)
    thread = options.thread_id or new_thread_id()
    collector = await run_exchange_async(connection, turn_message(message, thread),
                                         time.perf_counter() + options.timeout_s)
    return turn_result(collector, message, thread, options.judging)


def new_thread_id() -> str:
    """A fresh conversation thread id for a probe."""
    return f"probe-{uuid.uuid4().hex[:12]}"


# --- steps -----------------------------------------------------------------------------


def turn_steps(link: Link, message: str, thread_id: str, deadline: float,
               event_budget_ms: float = TurnJudging.event_budget_ms, *,
               answer_budget_s: float = TurnJudging.answer_budget_s,
               user_id: str | None = TurnJudging.user_id,
               clock: ClockOffset | None = TurnJudging.clock) -> Steps[TurnResult]:
    """Steps: send one `user_message` and judge the events until the turn ends or the
    `deadline` (a `time.perf_counter()` time) passes (the budgets, user and clock as in
    `agent_turn`)."""
    collector = yield Exchange(link, turn_message(message, thread_id), deadline)
    return turn_result(collector, message, thread_id,
                       TurnJudging(event_budget_ms, answer_budget_s, user_id, clock))


def turn_message(message: str, thread_id: str) -> str:
    """The `user_message` frame of a turn (two strings encoded into a fixed frame: a third
    of the CPU of encoding a dict on every turn)."""
    return (f'{{"type": "user_message", "payload": {{"text": {_encode(message)}, '
            f'"thread_id": {_encode(thread_id)}}}}}')


def turn_result(collector: TurnCollector, message: str, thread_id: str,
                judging: TurnJudging) -> TurnResult:
    """The judged turn, from what the collector saw."""
    total_ms = (time.perf_counter() - collector.sent_at) * 1000
    report = collector.result(judging.event_budget_ms, answer_budget_s=judging.answer_budget_s,
                              clock=judging.clock,
                              identity=TurnIdentity(thread_id, judging.user_id))
    return TurnResult(report.ok, report.error, message, thread_id, total_ms, report)


@dataclass(frozen=True)
class _Plan:
    """One golden-path run: the environment, the options and the thread (never None)."""

    env: Environment
    options: GoldenPathOptions
    thread_id: str

    @classmethod
    def of(cls, env: Environment | str, options: GoldenPathOptions) -> _Plan:
        return cls(load_environment(env), options, options.thread_id or new_thread_id())


def close_reserve(timeout_s: float) -> float:
    """The part of a probe's time bound kept for closing its connection."""
    return min(1.0, timeout_s * 0.1)


def _golden_path_steps(plan: _Plan) -> Steps[GoldenPathResult]:
    started_at, started = datetime.now(UTC), time.perf_counter()
    options = plan.options
    reserve = close_reserve(options.timeout_s)
    work = Deadline(started + options.timeout_s - reserve, options.timeout_s)
    opened = yield from open_connection(plan.env, work, close_timeout_s=reserve,
                                        estimate_clock=True)
    if opened.link is None:
        return _result(plan, started_at, started, opened, None)
    turn = yield from turn_steps(opened.link, options.message, plan.thread_id, work.at,
                                 options.event_budget_ms,
                                 answer_budget_s=options.answer_budget_s,
                                 user_id=opened.user_id, clock=opened.clock)
    yield from close_quietly(opened.link, reserve)
    return _result(plan, started_at, started, opened, turn)


def _result(plan: _Plan, started_at: datetime, started: float, opened: Opened,
            turn: TurnResult | None) -> GoldenPathResult:
    events = turn.events if turn else ()
    seen = {e.type for e in events}
    failed_step = opened.failed_step or (None if turn is None or turn.ok else "agent")
    timing = turn.report.timing if turn else None
    clock = opened.clock
    return GoldenPathResult(
        ok=failed_step is None, environment=plan.env.name, started_at=started_at,
        thread_id=plan.thread_id, message=plan.options.message,
        event_budget_ms=plan.options.event_budget_ms,
        login_ms=opened.step_ms("login"), connect_ms=opened.step_ms("connect"),
        total_ms=turn.total_ms if turn else None, events=events,
        missing=tuple(n for n in GOLDEN_PATH_EVENTS if n not in seen),
        out_of_order=out_of_order([e.type for e in events]),
        final_response=turn.final_response if turn else None, failed_step=failed_step,
        error=opened.error or (turn.error if turn else None), http_status=opened.http_status,
        report=turn.report if turn else None, elapsed_ms=(time.perf_counter() - started) * 1000,
        answer_budget_s=plan.options.answer_budget_s,
        first_event_ms=timing.first_event_ms if timing else None,
        max_delivery_ms=timing.max_delivery_ms if timing else None,
        answer_ms=timing.answer_ms if timing else None,
        timing_ok=timing.ok if timing else None,
        timing_error="; ".join(timing.problems) or None if timing else None,
        clock_offset_ms=clock.offset_ms if clock and clock.estimated else None,
        clock_offset_rtt_ms=clock.rtt_ms if clock else None,
        clock_source=clock.describe() if clock else None, user_id=opened.user_id,
    )


def _connect_steps(env: Environment, options: WebSocketConnectOptions) -> Steps[ConnectResult]:
    reserve = close_reserve(options.timeout_s)
    work = Deadline.after(options.timeout_s - reserve)
    opened = yield from open_connection(env, work, close_timeout_s=reserve)
    if opened.link is not None:
        yield from close_quietly(opened.link, reserve)
    return ConnectResult(opened.ok, env.backend.websocket_url, opened.step_ms("login"),
                         opened.step_ms("connect"), opened.failed_step, opened.error,
                         opened.http_status)
