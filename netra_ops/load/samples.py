"""One load sample per golden-path turn attempted, and the class of its failure.

Both load engines (netra-ops' own and the Locust path) describe every turn they attempted
with the same fields (docs/load.md, the samples frame contract): who sent it, when it was
due, sent and over, whether it passed, and why not, and when its events came: the first
agent event and `agent_completed` (perf_counter times, NaN when none came) and the slowest
delivery latency of its events (ms, arrival minus the event's own timestamp corrected by the
user's clock offset; NaN when not measured), all from the probes' one timing judge
(`turn_timing`). The times of a `Sample` are `time.perf_counter()` seconds;
`netra_ops.load.frames.samples_frame` turns them into UTC timestamps with the run's
`ClockAnchor`.

The error classes (`ERROR_CLASSES`), from what the probe layer reports:

- `connect`: the backend's WebSocket (or the auth service) could not be reached or opened
- `auth`: the login was refused or failed, or the backend rejected the token (1008)
- `server_error`: a 5xx at the handshake, a 1011 close, or an `agent_error` in the turn
- `timeout`: no `agent_completed` in time, or the turn's timing failed (the first event or
  a delivery over the event budget, the answer over its own: the probes' one judge,
  `netra_ops.probe.event_timing.judge_timing`, as `AgentEventsReport.timing`)
- `missing_event`: the turn completed without a golden-path event, or out of order
- `closed`: the connection closed in the middle of the turn
- `other`: anything else (a frame that is not JSON, an event without its fields, an empty
  or apologetic answer)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from netra_ops.probe._transport.connections import Opened
from netra_ops.probe.agent_events import GOLDEN_PATH_EVENTS, AgentEventsReport
from netra_ops.probe.auth import AuthResult

__all__ = [
    "ERROR_CLASSES",
    "ClockAnchor",
    "Sample",
    "TurnTimes",
    "auth_error_class",
    "golden_events",
    "open_error_class",
    "turn_error_class",
    "turn_timing",
]

ERROR_CLASSES: tuple[str, ...] = (
    "connect", "auth", "timeout", "missing_event", "server_error", "closed", "other",
)
_GOLDEN = frozenset(GOLDEN_PATH_EVENTS)
_END_CLASSES = {"agent_error": "server_error", "closed": "closed", "timeout": "timeout",
                "protocol": "other"}
_OPEN_CLASSES = {"auth_rejected": "auth", "login": "auth", "server_error": "server_error"}


class Sample(NamedTuple):
    """One turn attempted (perf_counter seconds; a named tuple: one is made per turn).
    `first_event` and `answer` are when the first agent event and `agent_completed` came,
    `delivery_ms` the turn's slowest delivery latency (NaN: none, or not measured)."""

    user: int
    turn: int
    scheduled: float
    started: float
    ended: float
    ok: bool
    error_class: str | None
    events: int
    first_event: float = math.nan
    answer: float = math.nan
    delivery_ms: float = math.nan


class TurnTimes(NamedTuple):
    """A turn's timing fields of its `Sample` (see `turn_timing`)."""

    first_event: float
    answer: float
    delivery_ms: float


@dataclass(frozen=True)
class ClockAnchor:
    """A `time.perf_counter()` reading and the UTC wall clock (ns) at the same moment."""

    perf: float
    wall_ns: int

    def wall_ns_of(self, perf: float) -> int:
        """The UTC wall clock (ns since the epoch) of a perf_counter reading."""
        return self.wall_ns + round((perf - self.perf) * 1e9)


def golden_events(report: AgentEventsReport) -> int:
    """How many golden-path events a turn received (repeats counted)."""
    return sum(event.type in _GOLDEN for event in report.events)


def turn_timing(report: AgentEventsReport, sent: float) -> TurnTimes:
    """When a turn sent at `sent` (perf_counter) got its first event and its answer, and its
    slowest delivery, from the probes' judge (`report.timing`); NaN for what did not come."""
    timing = report.timing
    return TurnTimes(_after(sent, timing.first_event_ms), _after(sent, timing.answer_ms),
                     _or_nan(timing.max_delivery_ms))


def _after(sent: float, ms: float | None) -> float:
    return math.nan if ms is None else sent + ms / 1000.0


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def turn_error_class(report: AgentEventsReport) -> str | None:
    """The error class of a judged turn, or None when it passed."""
    if report.ok:
        return None
    if report.end != "completed":
        return _END_CLASSES.get(report.end, "other")
    seen = [event.type for event in report.events if event.type in _GOLDEN]
    if tuple(dict.fromkeys(seen)) != GOLDEN_PATH_EVENTS:
        return "missing_event"
    if not report.timing.ok:
        return "timeout"
    return "other"


def open_error_class(opened: Opened) -> str | None:
    """The error class of a connection that did not reach `connection_established`."""
    if opened.ok:
        return None
    failure = opened.failure or ""
    if failure == "http_error" and (opened.http_status or 0) >= 500:
        return "server_error"
    return _OPEN_CLASSES.get(failure, "connect")


def auth_error_class(result: AuthResult) -> str | None:
    """The error class of a login: `connect` when the auth service was unreachable."""
    if result.ok:
        return None
    return "connect" if result.outcome == "unreachable" else "auth"
