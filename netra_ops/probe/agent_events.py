"""The five agent events of one turn, judged (seed "5/5 WebSocket agent events", 3.1).

Pure logic, no I/O: the sync and the async probes feed the frames they receive into a
`TurnCollector` and judge what it saw with `check_agent_events`. What is checked follows
the Netra protocol (DESIGN.md): the five events present and in order (`agent_started`
first, `tool_executing` before `tool_completed`), the fields each must carry, the run,
thread and user of the probe's own turn on every event (`netra_ops.probe.turn_identity`),
the timing (`netra_ops.probe.event_timing`: first event and each event's delivery within
500 ms, the whole answer within its own budget of seconds), substantive content (reasoning
over 10 characters, a final response over 20 that is an answer, not an apology or a
placeholder), no duplicated event, and a turn that ended with `agent_completed` rather than
an `agent_error`, a close, garbage on the wire or silence.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any, NamedTuple

import pandas as pd

from netra_ops.probe._transport.strict_json import loads_strict
from netra_ops.probe.event_timing import (
    DEFAULT_ANSWER_BUDGET_S,
    DEFAULT_EVENT_BUDGET_MS,
    ClockOffset,
    TurnTiming,
    judge_timing,
)
from netra_ops.probe.turn_identity import IDENTITY_FIELDS, TurnIdentity, identity_mismatches

__all__ = [
    "GOLDEN_PATH_EVENTS",
    "REQUIRED_FIELDS",
    "AgentEventsReport",
    "EventCheck",
    "EventObservation",
    "TurnCollector",
    "answer_problem",
    "check_agent_events",
    "event_error",
    "field_value",
    "final_response",
    "out_of_order",
    "reasoning_problem",
]

GOLDEN_PATH_EVENTS: tuple[str, ...] = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "agent_started": ("user_id", "thread_id", "timestamp"),
    "agent_thinking": ("reasoning",),
    "tool_executing": ("tool_name", "parameters"),
    "tool_completed": ("tool_name", "results", "duration"),
    "agent_completed": ("status", "final_response"),
}
# Other names under which a server may carry a required field.
_ALIASES: dict[str, tuple[str, ...]] = {
    "duration": ("duration", "execution_time_ms", "duration_ms"),
    "results": ("results", "result"),
    "final_response": ("final_response", "response"),
}
# Per event type: (required field, the keys it may be sent under).
_FIELD_KEYS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    kind: tuple((name, _ALIASES.get(name, (name,))) for name in names)
    for kind, names in REQUIRED_FIELDS.items()
}
_type_of = itemgetter(0)  # EventObservation.type, at C speed
_observation = tuple.__new__  # EventObservation(...) without its Python-level __new__
_TEXT_FIELDS = frozenset({"reasoning", "final_response", "status"})
_NO_DATA: dict[str, Any] = {}
MIN_REASONING_CHARS = 10
MIN_FINAL_RESPONSE_CHARS = 20
COMPLETED_STATUSES = frozenset({"completed", "complete", "success", "succeeded", "done", "ok"})
IGNORED_TYPES = frozenset({"heartbeat", "pong", "ping", "connection_established"})
ERROR_TYPES = frozenset({"agent_error", "error"})
_TERMINAL_TYPES = ERROR_TYPES | {"agent_completed"}
_GOLDEN = frozenset(GOLDEN_PATH_EVENTS)
_loads = loads_strict  # NaN and Infinity are not JSON: a frame with them is garbage

# Content checks run on every turn, so they are substring tests on the lower-cased text
# (a case-insensitive regex alternation costs ~100 us per answer; these cost a few). Error
# texts and placeholders say so at the start: only the first 200 characters are searched,
# and only when one of the anchors is there; template braces are looked for everywhere.
_REFUSALS = (
    "i'm sorry", "i am sorry", "apologize", "apologise", "an error occurred",
    "an error has occurred", "something went wrong", "internal server error",
    "internal error", "traceback (most recent", "exception:", "unable to process",
    "unable to complete", "unable to answer", "unable to help", "cannot help", "can't help",
    "cannot answer", "can't answer", "cannot process", "can't process", "try again later",
    "as an ai",
)
_PLACEHOLDERS = ("lorem ipsum", "placeholder", "<insert", "todo:", "fixme", "tbd:")
# Every phrase above contains one of these: the quick first test.
_ANCHORS = ("sorry", "apolog", "error", "wrong", "traceback", "exception", "unable",
            "cannot", "can't", "again", "as an ai", "lorem", "placeholder", "<insert",
            "todo:", "fixme", "tbd:")
_BOILERPLATE = frozenset({
    "none", "null", "undefined", "n/a", "na", "ok", "done", "complete", "completed",
    "response", "final response", "answer", "result", "test", "thinking", "processing",
    "working", "loading", "please wait", "analyzing", "analysing", "thinking about it",
    "processing your request", "processing the request", "working on it",
    "analyzing your request", "analyzing the request",
})
_RECOMMENDATIONS = (
    "recommend", "suggest", "should", "consider", "route", "switch", "reduce", "cut ",
    "save", "lower", "instead", "next step", "plan", "because", "option",
)
_TRIM = " \t\r\n.!?…:;-*_\"'`()[]"
_DIGIT = re.compile(r"\d")
_LONGEST_BOILERPLATE = 40
_HEAD_CHARS = 200


class EventObservation(NamedTuple):
    """One message received after the user message was sent (a named tuple: one is made
    per frame, at a third of a frozen dataclass's cost)."""

    type: str
    received_ms: float
    message: dict[str, Any]

    def __repr__(self) -> str:
        return f"EventObservation(type={self.type!r}, received_ms={self.received_ms:.1f})"


@dataclass(frozen=True)
class EventCheck:
    """One check of a turn: what was checked, whether it passed, and the evidence."""

    check: str
    event: str
    ok: bool
    value: str
    detail: str


@dataclass(frozen=True)
class AgentEventsReport:
    """The verdict on one agent turn: `ok` only if every check passed.

    `end` is how the turn stopped: `completed` (agent_completed), `agent_error`, `protocol`
    (a frame that is not a JSON event), `closed` (the connection ended) or `timeout`.
    `error` is a short text naming the first problem (and how many more there are).
    `budget_ms` is the event budget (first event, each delivery); `timing` the turn's three
    timing figures; `identity` the thread and user the probe expected.
    """

    events: tuple[EventObservation, ...]
    budget_ms: float
    end: str
    end_detail: str | None
    ignored: int
    ok: bool
    error: str | None
    timing: TurnTiming
    identity: TurnIdentity

    @cached_property
    def checks(self) -> tuple[EventCheck, ...]:
        """Every check, in the order of `to_frame()`."""
        return tuple(_all_checks(self))

    @property
    def last_event(self) -> str | None:
        """The type of the last event received (heartbeats and pongs not counted)."""
        return self.events[-1].type if self.events else None

    @property
    def failed(self) -> tuple[EventCheck, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.ok)

    def to_frame(self) -> pd.DataFrame:
        """One row per check: check, event, ok, value, detail."""
        return pd.DataFrame([asdict(c) for c in self.checks],
                            columns=["check", "event", "ok", "value", "detail"])


def check_agent_events(
    events: tuple[EventObservation, ...] | list[EventObservation],
    *,
    budget_ms: float = DEFAULT_EVENT_BUDGET_MS,
    end: str = "completed",
    end_detail: str | None = None,
    ignored: int = 0,
    answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S,
    sent_wall: float | None = None,
    clock: ClockOffset | None = None,
    identity: TurnIdentity | None = None,
) -> AgentEventsReport:
    """Judge the events of one turn (see the module docstring for what is checked).

    `sent_wall` is the `time.time()` of the send (None: delivery latency is not measured),
    `clock` the server clock's offset (None: assumed 0), `identity` the thread and user
    the probe expects (None: agent_started's are the reference)."""
    observed = tuple(events)
    timing = judge_timing(observed, sent_wall=sent_wall,
                          clock=clock or ClockOffset.assumed("no estimate given"),
                          event_budget_ms=budget_ms, answer_budget_s=answer_budget_s)
    expected = identity or TurnIdentity()
    problems = _problems(observed, end, end_detail, timing, expected)
    error = None
    if problems:
        more = len(problems) - 1
        error = problems[0] + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")
    return AgentEventsReport(observed, budget_ms, end, end_detail, ignored, not problems, error,
                             timing, expected)


def _problems(events: tuple[EventObservation, ...], end: str, end_detail: str | None,
              timing: TurnTiming, identity: TurnIdentity) -> list[str]:
    """The failure details of every failing check, most telling first (the fast path of
    `_all_checks`: same checks, no row objects; it runs on every turn)."""
    problems = [] if end == "completed" else [end_detail or f"turn ended: {end}"]
    if tuple(map(_type_of, events)) == GOLDEN_PATH_EVENTS:
        first: Collection[str] = GOLDEN_PATH_EVENTS  # the usual turn: all five, in order, once
        scan = _scan(events)
    else:
        by_type = _first_of_each(events)
        first = by_type
        missing = [name for name in GOLDEN_PATH_EVENTS if name not in by_type]
        if missing:
            problems.append(f"missing events: {', '.join(missing)}")
        problems += [p for p in _order_problems(events) if p]
        problems += [p for p in (_duplicate_problem(events),) if p]
        scan = _scan(by_type.values())
    for name, absent in scan.missing.items():
        problems.append(f"{name} without {', '.join(absent)}")
    problems += [p for p in _content_problems(first, scan.values) if p]
    problems += [p for p in identity_mismatches(events, identity, _GOLDEN).values() if p]
    problems += timing.problems
    return problems


def _all_checks(report: AgentEventsReport) -> list[EventCheck]:
    events, end, end_detail, ignored = report.events, report.end, report.end_detail, (
        report.ignored)
    first = _first_of_each(events)
    rows = [EventCheck("outcome", "", end == "completed", end,
                       end_detail or f"{len(events)} events, {ignored} heartbeats/pongs "
                       "ignored")]
    for name in GOLDEN_PATH_EVENTS:
        event = first.get(name)
        rows.append(EventCheck("present", name, event is not None,
                               "yes" if event else "no", "" if event else "never received"))
    started_first, paired, canonical = _order_problems(events)
    rows += [EventCheck("order", "agent_started first", started_first is None,
                        events[0].type if events else "", started_first or ""),
             EventCheck("order", "tool_executing before tool_completed", paired is None,
                        "", paired or ""),
             EventCheck("order", "five events in order", canonical is None, "",
                        canonical or "")]
    duplicate = _duplicate_problem(events)
    rows.append(EventCheck("duplicates", "", duplicate is None, "", duplicate or ""))
    scan = _scan(first.values())
    mismatches = identity_mismatches(events, report.identity, _GOLDEN)
    for field_name in IDENTITY_FIELDS:
        rows.append(_identity_row(field_name, report.identity, mismatches[field_name]))
    for name in GOLDEN_PATH_EVENTS:
        rows.append(_fields_row(name, name in first, scan.missing.get(name, ())))
    reasoning, answer = _content_problems(first, scan.values)
    rows.append(_content_row("agent_thinking", first, reasoning, "substantive reasoning",
                             _as_text(scan.values.get("reasoning"))))
    rows.append(_content_row("agent_completed", first, answer, "substantive answer",
                             _as_text(scan.values.get("final_response"))))
    rows.append(_first_event_row(report.timing))
    for name in GOLDEN_PATH_EVENTS:
        rows.append(_delivery_row(name, first.get(name), report.timing))
    rows.append(_answer_row(report.timing))
    return rows


def _fields_row(name: str, received: bool, absent: tuple[str, ...]) -> EventCheck:
    wanted = ", ".join(REQUIRED_FIELDS[name])
    if not received:
        return EventCheck("fields", name, False, wanted, "event never received")
    detail = f"missing {', '.join(absent)}" if absent else "all required fields present"
    return EventCheck("fields", name, not absent, wanted, detail)


def _content_row(name: str, first: dict[str, EventObservation], problem: str | None,
                 passed: str, text: str | None) -> EventCheck:
    if name not in first:
        return EventCheck("content", name, False, "", "event never received")
    return EventCheck("content", name, problem is None, _preview(text), problem or passed)


def _identity_row(name: str, identity: TurnIdentity, problem: str | None) -> EventCheck:
    expected, origin = identity.expected(name)
    value = expected if expected is not None else origin
    return EventCheck("identity", name, problem is None, value,
                      problem or f"every event carries the probe's own {name}")


def _first_event_row(timing: TurnTiming) -> EventCheck:
    budget = timing.event_budget_ms
    ms = timing.first_event_ms
    if ms is None:
        return EventCheck("first event", "", False, "", "no event received")
    verdict = "within" if timing.first_event_ok else "over"
    return EventCheck("first event", "", timing.first_event_ok, f"{ms:.1f} ms",
                      f"{verdict} the {budget:g} ms budget from the send")


def _delivery_row(name: str, event: EventObservation | None, timing: TurnTiming) -> EventCheck:
    if event is None:
        return EventCheck("delivery", name, False, "", "event never received")
    ms = timing.delivery_ms(name)
    if ms is None:
        if timing.delivery_measured:
            return EventCheck("delivery", name, False, "", "no usable timestamp")
        return EventCheck("delivery", name, True, "", "not measured: no send time given")
    budget = f"the {timing.event_budget_ms:g} ms budget after its own timestamp"
    if ms < -timing.slack_ms:
        detail = "timestamp after its own arrival: the clocks disagree"
    else:
        detail = f"{'within' if ms <= timing.event_budget_ms else 'over'} {budget}"
    return EventCheck("delivery", name, timing.delivery_ok(ms), f"{ms:.1f} ms",
                      f"{detail} ({timing.clock.describe()})")


def _answer_row(timing: TurnTiming) -> EventCheck:
    budget = timing.answer_budget_s
    if timing.answer_ms is None:
        return EventCheck("answer", "agent_completed", False, "", "no agent_completed")
    verdict = "within" if timing.answer_ok else "over"
    return EventCheck("answer", "agent_completed", timing.answer_ok,
                      f"{timing.answer_ms / 1000:.2f} s", f"{verdict} the {budget:g} s answer "
                      "budget from the send")


def _first_of_each(events: tuple[EventObservation, ...]) -> dict[str, EventObservation]:
    """The first event of each golden-path type, in arrival order."""
    first: dict[str, EventObservation] = {}
    for event in events:
        if event.type in REQUIRED_FIELDS and event.type not in first:
            first[event.type] = event
    return first


def out_of_order(seen: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Golden-path events that arrived after an event that should have come later
    (first occurrences only, so repeated thinking/tool steps are allowed)."""
    highest = -1
    late: list[str] = []
    done: set[str] = set()
    for name in seen:
        if name not in REQUIRED_FIELDS or name in done:
            continue
        done.add(name)
        index = GOLDEN_PATH_EVENTS.index(name)
        if index < highest:
            late.append(name)
        highest = max(highest, index)
    return tuple(late)


def _order_problems(events: tuple[EventObservation, ...]
                    ) -> tuple[str | None, str | None, str | None]:
    """(agent_started not first, a tool_completed without its tool_executing, late events)."""
    types = [e.type for e in events if e.type in REQUIRED_FIELDS]
    started = None
    if types and types[0] != "agent_started":
        started = f"first event was {types[0]}, not agent_started"
    open_tools, unpaired = 0, None
    for name in types:
        open_tools += (name == "tool_executing") - (name == "tool_completed")
        if open_tools < 0:
            unpaired = "tool_completed arrived before its tool_executing"
            break
    late = out_of_order(types)
    canonical = f"events out of order: {', '.join(late)} arrived late" if late else None
    return started, unpaired, canonical


def _duplicate_problem(events: tuple[EventObservation, ...]) -> str | None:
    """The same event received twice (timestamps aside), or a run started or completed
    twice. Repeated thinking or tool steps with other content are not duplicates."""
    counts = Counter(e.type for e in events)
    if all(n == 1 for n in counts.values()):
        return None
    twice = [name for name in ("agent_started", "agent_completed") if counts[name] > 1]
    seen: set[str] = set()
    for event in events:
        if counts[event.type] > 1:
            key = json.dumps(_without_timestamps(event.message), sort_keys=True, default=str)
            if key in seen and event.type not in twice:
                twice.append(event.type)
            seen.add(key)
    if not twice:
        return None
    return "duplicated events: " + ", ".join(f"{n} x{counts[n]}" for n in twice)


def _without_timestamps(message: dict[str, Any]) -> dict[str, Any]:
    data = message.get("data")
    stripped = {k: v for k, v in message.items() if k != "timestamp"}
    if isinstance(data, dict):
        stripped["data"] = {k: v for k, v in data.items() if k != "timestamp"}
    return stripped


def field_value(message: dict[str, Any], name: str) -> Any:
    """A field of an event, at the top level or under `data` (None when absent or empty)."""
    data = message.get("data")
    for key in _ALIASES.get(name, (name,)):
        value = message.get(key)
        if (value is None or value == "") and isinstance(data, dict):
            value = data.get(key)
        if value is not None and value != "":
            return value
    return None


class _Scan(NamedTuple):
    """One pass over the first event of each type: what the checks need."""

    missing: dict[str, tuple[str, ...]]  # event type -> the required fields it lacks
    values: dict[str, Any]  # reasoning, final_response and status, where sent


def _scan(first: Iterable[EventObservation]) -> _Scan:
    """Fields and texts of the first event of each type (`first` holds one event per
    golden-path type)."""
    missing: dict[str, tuple[str, ...]] = {}
    values: dict[str, Any] = {}
    for event in first:
        name, _, message = event
        data = message.get("data")
        nested = data if isinstance(data, dict) else _NO_DATA
        absent: tuple[str, ...] = ()
        for field_name, keys in _FIELD_KEYS[name]:
            for key in keys:
                value = message.get(key)
                if value is None or value == "":
                    value = nested.get(key)
                if value is not None and value != "":
                    if field_name in _TEXT_FIELDS:
                        values[field_name] = value
                    break
            else:
                absent += (field_name,)
        if absent:
            missing[name] = absent
    return _Scan(missing, values)


def _as_text(value: Any) -> str | None:
    return value if isinstance(value, str) or value is None else str(value)


def final_response(events: tuple[EventObservation, ...] | list[EventObservation]) -> str | None:
    """The final response of the first `agent_completed`, or None."""
    for event in events:
        if event.type == "agent_completed":
            return _as_text(field_value(event.message, "final_response"))
    return None


def _content_problems(first: Collection[str], values: dict[str, Any]
                      ) -> tuple[str | None, str | None]:
    """(reasoning problem, answer problem), given the event types received."""
    reasoning = answer = None
    if "agent_thinking" in first:
        problem = reasoning_problem(_as_text(values.get("reasoning")))
        reasoning = f"agent_thinking: {problem}" if problem else None
    if "agent_completed" in first:
        problem = answer_problem(_as_text(values.get("final_response")))
        status = values.get("status")
        if problem is None and status is not None and str(status).lower() not in (
                COMPLETED_STATUSES):
            problem = f"status is {status!r}, not 'completed'"
        answer = f"agent_completed: {problem}" if problem else None
    return reasoning, answer


def reasoning_problem(text: str | None) -> str | None:
    """Why an `agent_thinking` reasoning is not substantive, or None if it is."""
    stripped = (text or "").strip()
    if len(stripped) <= MIN_REASONING_CHARS:
        return f"reasoning of {len(stripped)} characters (needs more than {MIN_REASONING_CHARS})"
    if _text_kind(stripped):
        return f"boilerplate reasoning {_preview(stripped)!r}"
    return None


def answer_problem(text: str | None) -> str | None:
    """Why a final response is not a substantive answer, or None if it is: longer than 20
    characters, not an apology, an error text or a placeholder (looked for in its first
    200 characters, where such texts say it), and with a number or a recommendation."""
    stripped = (text or "").strip()
    if not stripped:
        return "empty final response"
    if len(stripped) <= MIN_FINAL_RESPONSE_CHARS:
        return (f"final response of {len(stripped)} characters (needs more than "
                f"{MIN_FINAL_RESPONSE_CHARS}): {_preview(stripped)!r}")
    kind = _text_kind(stripped)
    if kind:
        return f"final response is {kind}: {_preview(stripped)!r}"
    if not _DIGIT.search(stripped) and not any(map(stripped.lower().__contains__,
                                                   _RECOMMENDATIONS)):
        return f"final response has no number or recommendation: {_preview(stripped)!r}"
    return None


def _text_kind(text: str) -> str | None:
    """`an apology or error text`, `placeholder text`, or None for a stripped text."""
    head = text[:_HEAD_CHARS].lower()
    if "{{" in text or (len(text) <= _LONGEST_BOILERPLATE
                        and head.strip(_TRIM) in _BOILERPLATE):
        return "placeholder text"
    if not any(map(head.__contains__, _ANCHORS)):  # the usual answer stops here
        return None
    if head.startswith("error") or any(map(head.__contains__, _REFUSALS)):
        return "an apology or error text"
    if any(map(head.__contains__, _PLACEHOLDERS)):
        return "placeholder text"
    return None


def _preview(text: str | None, limit: int = 60) -> str:
    if text is None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class TurnCollector:
    """Classifies the frames of one turn as they arrive (sans I/O: the caller receives).

    `feed()` every frame with the `time.perf_counter()` of its arrival; stop receiving when
    `done`. `sent_at` is the send's `time.perf_counter()`, `sent_wall` its `time.time()`
    (what delivery latency is measured against; None: not measured). Heartbeats and pongs
    are counted, not kept. The turn ends at `agent_completed`, at `agent_error` / `error`,
    or at the first frame that is not a JSON object with a `type` (binary, invalid JSON,
    wrong shape); `closed()` and `timed_out()` end it from outside.
    """

    __slots__ = ("end", "end_detail", "events", "ignored", "sent_at", "sent_wall")

    def __init__(self, sent_at: float, sent_wall: float | None = None) -> None:
        self.sent_at = sent_at
        self.sent_wall = sent_wall
        self.events: list[EventObservation] = []
        self.ignored = 0
        self.end: str | None = None
        self.end_detail: str | None = None

    @property
    def done(self) -> bool:
        """True once the turn has ended, one way or another."""
        return self.end is not None

    def feed(self, frame: str | bytes, at: float) -> None:
        """Take one received frame."""
        if frame.__class__ is not str:
            self._stop("protocol", f"binary frame of {len(frame)} bytes where a JSON text "
                       "frame was expected")
            return
        try:
            message = _loads(frame)
            kind = message["type"]
        except ValueError:
            self._stop("protocol", f"invalid JSON frame: {_preview(str(frame), 40)!r}")
            return
        except (TypeError, KeyError, IndexError):
            kind = None
        if kind.__class__ is not str:
            self._stop("protocol", f"message without a 'type': {_preview(str(frame), 40)!r}")
            return
        if kind in IGNORED_TYPES:
            self.ignored += 1
            return
        if kind in _TERMINAL_TYPES:
            if kind == "agent_completed":
                self.end = "completed"
            else:
                self._stop("agent_error", f"{kind}: {event_error(message)}")
        self.events.append(_observation(EventObservation, (kind, (at - self.sent_at) * 1000.0,
                                                           message)))

    def closed(self, description: str) -> None:
        """The connection ended before the turn did."""
        self._stop("closed", description)

    def timed_out(self, waited_s: float) -> None:
        """The deadline passed before the turn ended (a silent agent)."""
        ignored = f"; {self.ignored} heartbeats/pongs ignored" if self.ignored else ""
        self.end = "timeout"
        self.end_detail = (f"no agent_completed within {waited_s:.3g} s "
                           f"(last event: {self._last()}{ignored})")

    def result(self, budget_ms: float, *, answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S,
               clock: ClockOffset | None = None,
               identity: TurnIdentity | None = None) -> AgentEventsReport:
        """The verdict on what was collected (see `check_agent_events`)."""
        return check_agent_events(self.events, budget_ms=budget_ms, end=self.end or "timeout",
                                  end_detail=self.end_detail, ignored=self.ignored,
                                  answer_budget_s=answer_budget_s, sent_wall=self.sent_wall,
                                  clock=clock, identity=identity)

    def _stop(self, end: str, detail: str) -> None:
        self.end = end
        self.end_detail = f"{detail} (last event: {self._last()})"

    def _last(self) -> str:
        last = self.events[-1] if self.events else None
        return f"{last.type} at {last.received_ms:.0f} ms" if last else "none"


def event_error(message: dict[str, Any]) -> str:
    """The error text an `agent_error` or `error` message carries."""
    raw = message.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = message.get("error_code") or data.get("error_code")
    for value in (data.get("error"), message.get("error"), message.get("message"),
                  data.get("message")):
        if value:
            return f"{code}: {value}" if code and str(code) not in str(value) else str(value)
    return str(code) if code else _preview(json.dumps(message, default=str), 200)
