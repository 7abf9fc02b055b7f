"""When the agent's events came: three figures, each against its own budget (pure, no I/O).

DESIGN ("Decisions an on-call engineer can trust"): a real agent thinks for seconds, so the
seed's "WebSocket events delivered < 500 ms" is about delivery, not about how long the agent
takes. A turn is judged on:

- **first event**: milliseconds from the send to the first event (`event_budget_ms`, 500);
- **delivery**: for every golden-path event, its arrival minus its own `timestamp`, the
  server's clock brought to ours with the offset estimated at login (`event_budget_ms`);
- **answer**: milliseconds from the send to `agent_completed` (`answer_budget_s`, 30 s).

The clock offset (server minus client) is estimated NTP-style from one request whose answer
carries the server's `timestamp`: `offset = server_ts - (t_send + rtt / 2)`, good to within
half the round trip. When it could not be estimated it is assumed 0 and says why; a
timestamp later than its own arrival by more than the budget (or the estimate's uncertainty)
is then a problem, not a fast delivery: the clocks disagree and delivery cannot be judged.

`judge_timing` is the one judge of a turn's timing: the probes' checks and the load
engine's error classes both read its `TurnTiming`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_ANSWER_BUDGET_S",
    "DEFAULT_EVENT_BUDGET_MS",
    "TIMED_EVENTS",
    "ClockOffset",
    "EventDelivery",
    "TurnTiming",
    "estimate_clock_offset",
    "event_timestamp",
    "judge_timing",
    "parse_timestamp",
]

DEFAULT_EVENT_BUDGET_MS = 500.0
DEFAULT_ANSWER_BUDGET_S = 30.0
TIMED_EVENTS = frozenset({"agent_started", "agent_thinking", "tool_executing",
                          "tool_completed", "agent_completed"})
_EPOCH_MS_ABOVE = 1e11  # a number above this is epoch milliseconds, not seconds


@dataclass(frozen=True)
class ClockOffset:
    """The server's clock minus ours, in ms (`offset_ms`), from one request of `rtt_ms`
    round trip; `estimated` False means it could not be measured and 0 is assumed (`source`
    says why)."""

    offset_ms: float
    rtt_ms: float | None
    source: str
    estimated: bool = True

    @classmethod
    def assumed(cls, why: str) -> ClockOffset:
        """No estimate: the clocks are taken to agree (`why` is kept as the source)."""
        return cls(0.0, None, f"not estimated ({why}): assumed 0 ms", estimated=False)

    @property
    def uncertainty_ms(self) -> float:
        """How far off the estimate can be: half the round trip (0 when assumed)."""
        return self.rtt_ms / 2 if self.rtt_ms is not None else 0.0

    def describe(self) -> str:
        """`server clock +30012 ms (± 2 ms, GET .../health)` or the assumption."""
        if not self.estimated:
            return f"clock offset {self.source}"
        return (f"server clock {self.offset_ms:+.0f} ms (± {self.uncertainty_ms:.0f} ms, "
                f"{self.source})")


def estimate_clock_offset(server_timestamp: Any, sent_wall: float, received_wall: float,
                          source: str) -> ClockOffset:
    """The offset from one request sent at `sent_wall` and answered at `received_wall`
    (`time.time()` seconds) whose answer says the server's time was `server_timestamp`."""
    server = parse_timestamp(server_timestamp)
    if server is None:
        return ClockOffset.assumed(f"{source} gave no usable timestamp: "
                                   f"{str(server_timestamp)[:40]!r}")
    rtt = max(0.0, received_wall - sent_wall)
    offset = server - (sent_wall + rtt / 2)
    return ClockOffset(offset * 1000, rtt * 1000, source)


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 / ISO 8601 text (no zone: UTC) or of a number (epoch
    seconds, or milliseconds when that large); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1000 if value > _EPOCH_MS_ABOVE else float(value)
        return seconds if math.isfinite(seconds) and seconds > 0 else None
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def event_timestamp(message: dict[str, Any]) -> float | None:
    """The epoch seconds an event says it was sent (top-level `timestamp`, else `data`'s)."""
    stamp = parse_timestamp(message.get("timestamp"))
    if stamp is None:
        data = message.get("data")
        if isinstance(data, dict):
            stamp = parse_timestamp(data.get("timestamp"))
    return stamp


class EventDelivery(NamedTuple):
    """One golden-path event: ms from the send, and its delivery latency (None when it
    carried no usable timestamp or the send's wall time is unknown)."""

    type: str
    received_ms: float
    delivery_ms: float | None


@dataclass(frozen=True)
class TurnTiming:
    """The three timing figures of a turn and the verdict on them (`problems` empty: ok);
    `delivery_measured` is False when the send's wall time was unknown."""

    first_event_ms: float | None
    answer_ms: float | None
    deliveries: tuple[EventDelivery, ...]
    clock: ClockOffset
    event_budget_ms: float
    answer_budget_s: float
    problems: tuple[str, ...]
    delivery_measured: bool = True

    @property
    def ok(self) -> bool:
        """True when every figure that was measured is within its budget."""
        return not self.problems

    @property
    def max_delivery_ms(self) -> float | None:
        """The slowest delivery latency measured, or None."""
        measured = [d.delivery_ms for d in self.deliveries if d.delivery_ms is not None]
        return max(measured) if measured else None

    def delivery_ms(self, event_type: str) -> float | None:
        """The delivery latency of the first event of that type, or None."""
        return next((d.delivery_ms for d in self.deliveries if d.type == event_type), None)

    @property
    def first_event_ok(self) -> bool:
        """The first event came within the event budget (True when none came: the turn's
        other checks say what is missing)."""
        return self.first_event_ms is None or self.first_event_ms <= self.event_budget_ms

    @property
    def answer_ok(self) -> bool:
        """`agent_completed` came within the answer budget (True when it never came)."""
        return self.answer_ms is None or self.answer_ms <= self.answer_budget_s * 1000

    def delivery_ok(self, delivery_ms: float | None) -> bool:
        """Whether one delivery latency passes: measured, within the budget, and not
        impossibly early (a timestamp after its own arrival beyond the clock's slack)."""
        return delivery_ms is not None and -self.slack_ms <= delivery_ms <= (
            self.event_budget_ms)

    @property
    def slack_ms(self) -> float:
        """How far a timestamp may lie after its own arrival before the clocks are said to
        disagree: the event budget, or the offset's uncertainty if larger."""
        return max(self.event_budget_ms, self.clock.uncertainty_ms)


def judge_timing(events: Iterable[tuple[str, float, dict[str, Any]]], *,
                 sent_wall: float | None, clock: ClockOffset,
                 event_budget_ms: float = DEFAULT_EVENT_BUDGET_MS,
                 answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S) -> TurnTiming:
    """Judge the timing of a turn's events (type, ms from the send, message), sent at
    `sent_wall` (`time.time()` seconds; None: delivery cannot be measured)."""
    observed = list(events)
    first = observed[0][1] if observed else None
    answer = next((ms for kind, ms, _ in observed if kind == "agent_completed"), None)
    deliveries = tuple(EventDelivery(kind, ms, _delivery_ms(message, ms, sent_wall, clock))
                       for kind, ms, message in observed if kind in TIMED_EVENTS)
    measured = sent_wall is not None
    timing = TurnTiming(first, answer, deliveries, clock, event_budget_ms, answer_budget_s, (),
                        measured)
    problems = _problems(timing, observed[0][0] if observed else "")
    return TurnTiming(first, answer, deliveries, clock, event_budget_ms, answer_budget_s,
                      problems, measured)


def _delivery_ms(message: dict[str, Any], received_ms: float, sent_wall: float | None,
                 clock: ClockOffset) -> float | None:
    stamp = event_timestamp(message)
    if stamp is None or sent_wall is None:
        return None
    arrival = sent_wall + received_ms / 1000
    return (arrival - stamp) * 1000 + clock.offset_ms


def _problems(timing: TurnTiming, first_type: str) -> tuple[str, ...]:
    """Delivery first: a late first event may be a slow agent or a slow path, a late
    delivery says which."""
    budget = timing.event_budget_ms
    problems = []
    late = [f"{d.type} {d.delivery_ms:.0f} ms" for d in timing.deliveries
            if d.delivery_ms is not None and d.delivery_ms > budget]
    if late:
        problems.append(f"events delivered later than {budget:g} ms after their own "
                        f"timestamp: {', '.join(late)} ({timing.clock.describe()})")
    early = [f"{d.type} {-d.delivery_ms:.0f} ms" for d in timing.deliveries
             if d.delivery_ms is not None and d.delivery_ms < -timing.slack_ms]
    if early:
        problems.append(f"event timestamps later than their own arrival: {', '.join(early)} "
                        f"({timing.clock.describe()}): the clocks disagree, delivery cannot "
                        "be judged")
    if not timing.first_event_ok:
        problems.append(f"first event ({first_type}) {timing.first_event_ms:.0f} ms after "
                        f"the send: over the {budget:g} ms budget")
    unstamped = [d.type for d in timing.deliveries if d.delivery_ms is None]
    if unstamped and timing.delivery_measured:
        problems.append("events without a usable timestamp (delivery not measurable): "
                        + ", ".join(dict.fromkeys(unstamped)))
    if timing.answer_ms is not None and not timing.answer_ok:
        problems.append(f"agent_completed {timing.answer_ms / 1000:.1f} s after the send: "
                        f"over the {timing.answer_budget_s:g} s answer budget")
    return tuple(problems)
