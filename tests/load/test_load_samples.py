"""Error classes of a turn, from what the probe layer reports (pure: no network)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from netra_ops.load.samples import (
    ERROR_CLASSES,
    ClockAnchor,
    auth_error_class,
    golden_events,
    open_error_class,
    turn_error_class,
    turn_timing,
)
from netra_ops.probe._transport.connections import Opened
from netra_ops.probe._transport.drivers import Link
from netra_ops.probe.agent_events import AgentEventsReport, TurnCollector
from netra_ops.probe.event_timing import ClockOffset

ANSWER = ("Recommendation: route about 60% of requests to gpt-4o-mini; spend drops from "
          "$12,000 to $4,705/month.")
_COMMON = {"run_id": "run_1", "thread_id": "t1", "user_id": "u1", "timestamp": "now"}
FIVE: list[dict[str, Any]] = [
    {"type": "agent_started", **_COMMON},
    {"type": "agent_thinking", **_COMMON, "data": {"reasoning": "Pricing a routing mix now."}},
    {"type": "tool_executing", **_COMMON, "tool_name": "cost", "data": {"parameters": {}}},
    {"type": "tool_completed", **_COMMON, "tool_name": "cost",
     "data": {"results": {"savings": 7295}, "execution_time_ms": 8.1}},
    {"type": "agent_completed", **_COMMON, "status": "completed",
     "data": {"final_response": ANSWER}},
]


def _report(messages: list[dict[str, Any]], *, step_ms: float = 5.0,
            budget_ms: float = 2000.0, end: str | None = None) -> AgentEventsReport:
    collector = TurnCollector(0.0)
    for number, message in enumerate(messages, start=1):
        collector.feed(json.dumps(message), number * step_ms / 1000)
    if end == "closed":
        collector.closed("connection closed by the server: 1011 internal error")
    elif end == "timeout" or collector.end is None:
        collector.timed_out(1.0)
    return collector.result(budget_ms)


def test_a_complete_turn_in_budget_has_no_error_class() -> None:
    report = _report(FIVE)
    assert report.ok and turn_error_class(report) is None and golden_events(report) == 5


@pytest.mark.parametrize(("messages", "end", "expected"), [
    ([*FIVE[:1], {"type": "agent_error", **_COMMON, "data": {"error": "TypeError"}}], None,
     "server_error"),
    (FIVE[:3], "closed", "closed"),
    (FIVE[:3], "timeout", "timeout"),
    ([*FIVE[:3], *FIVE[4:]], None, "missing_event"),
    ([FIVE[1], FIVE[0], *FIVE[2:]], None, "missing_event"),
    ([*FIVE[:4], {**FIVE[4], "data": {"final_response": "ok"}}], None, "other"),
])
def test_failed_turns_are_classed_by_how_they_failed(messages: list[dict[str, Any]],
                                                     end: str | None, expected: str) -> None:
    report = _report(messages, end=end)
    assert not report.ok
    assert turn_error_class(report) == expected
    assert expected in ERROR_CLASSES


def test_a_turn_whose_first_event_is_over_the_event_budget_is_a_timeout() -> None:
    report = _report(FIVE, step_ms=1200.0, budget_ms=1000.0)
    assert not report.ok and turn_error_class(report) == "timeout"


def test_an_agent_that_thinks_past_the_event_budget_is_not_a_timeout() -> None:
    report = _report(FIVE, step_ms=900.0, budget_ms=1000.0)  # answer after 4.5 s
    assert report.ok and turn_error_class(report) is None


def test_a_garbage_frame_is_other() -> None:
    collector = TurnCollector(0.0)
    collector.feed(json.dumps(FIVE[0]), 0.01)
    collector.feed("not json", 0.02)
    assert turn_error_class(collector.result(2000.0)) == "other"


@pytest.mark.parametrize(("failure", "status", "expected"), [
    ("auth_rejected", 101, "auth"), ("login", 401, "auth"),
    ("http_error", 503, "server_error"), ("http_error", 404, "connect"),
    ("server_error", 101, "server_error"), ("refused", None, "connect"),
    ("timeout", None, "connect"), ("handshake", 101, "connect"),
])
def test_connection_failures_are_classed(failure: str, status: int | None,
                                         expected: str) -> None:
    opened = Opened(None, (), "connect", failure, "it failed", status)
    assert open_error_class(opened) == expected
    assert open_error_class(Opened(Link(object()), ())) is None


def test_an_unreachable_auth_service_is_connect_other_login_failures_auth() -> None:
    from datetime import UTC, datetime

    from netra_ops.probe.auth import AuthResult

    def login(outcome: str) -> AuthResult:
        return AuthResult("login", outcome == "ok", outcome, "http://a", None, 1.0, None,
                          datetime.now(UTC), 1.0)

    assert auth_error_class(login("unreachable")) == "connect"
    assert auth_error_class(login("bad_credentials")) == "auth"
    assert auth_error_class(login("service_error")) == "auth"
    assert auth_error_class(login("ok")) is None


def test_a_clock_anchor_places_perf_readings_in_wall_time() -> None:
    anchor = ClockAnchor(perf=100.0, wall_ns=1_700_000_000_000_000_000)
    assert anchor.wall_ns_of(101.5) == 1_700_000_001_500_000_000
    assert anchor.wall_ns_of(99.999) == 1_699_999_999_999_000_000


def test_a_turns_timing_comes_from_the_probes_judge_with_the_clock_offset() -> None:
    """First event and answer as perf_counter times after the send; the slowest delivery
    on the server's clock brought to ours (a server 30 s ahead is not a -30 s delivery)."""
    sent_wall, offset_ms = 1_767_225_600.0, 30_000.0
    collector = TurnCollector(0.0, sent_wall)
    for number, message in enumerate(FIVE, start=1):
        arrival = number * 0.5  # every 0.5 s, each stamped 20 ms before it arrived
        stamp = sent_wall + arrival - 0.020 + offset_ms / 1000
        collector.feed(json.dumps({**message, "timestamp": stamp}), arrival)
    report = collector.result(2000.0, clock=ClockOffset(offset_ms, 2.0, "test"))
    assert report.ok, report.error
    times = turn_timing(report, sent=100.0)
    assert times.first_event == pytest.approx(100.5) and times.answer == pytest.approx(102.5)
    assert times.delivery_ms == pytest.approx(20.0, abs=0.01)
    never = turn_timing(_report(FIVE[:1], end="closed"), sent=100.0)
    assert math.isnan(never.answer) and math.isnan(never.delivery_ms)  # "now" is no stamp
