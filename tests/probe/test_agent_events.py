"""The judge of one agent turn (pure): presence, order, fields, content, duplicates, the
probe's own run/thread/user on every event, and timing (first event, delivery, answer)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from netra_ops.probe.agent_events import (
    GOLDEN_PATH_EVENTS,
    EventObservation,
    TurnCollector,
    answer_problem,
    check_agent_events,
    reasoning_problem,
)
from netra_ops.probe.event_timing import ClockOffset
from netra_ops.probe.turn_identity import TurnIdentity

ANSWER = ("Recommendation: route about 60% of requests to gpt-4o-mini and cache repeated "
          "prompts; spend drops from $12,000 to $4,705/month.")


def _messages() -> list[dict[str, Any]]:
    """The five events as the sandbox backend sends them."""
    common = {"run_id": "run_1", "thread_id": "t1", "user_id": "u1", "timestamp": "now"}
    return [
        {"type": "agent_started", **common, "data": {"user_id": "u1", "thread_id": "t1",
                                                      "timestamp": "now"}},
        {"type": "agent_thinking", **common,
         "data": {"reasoning": "Analyzing $12,000/month on gpt-4o; pricing a routing mix."}},
        {"type": "tool_executing", **common, "tool_name": "cost_analyzer",
         "data": {"tool_name": "cost_analyzer", "parameters": {"spend": 12000}}},
        {"type": "tool_completed", **common, "tool_name": "cost_analyzer",
         "data": {"tool_name": "cost_analyzer", "results": {"savings": 7295},
                  "execution_time_ms": 8.1}},
        {"type": "agent_completed", **common, "status": "completed",
         "data": {"status": "completed", "final_response": ANSWER}},
    ]


def _events(messages: list[dict[str, Any]] | None = None,
            latencies: list[float] | None = None) -> list[EventObservation]:
    messages = _messages() if messages is None else messages
    latencies = latencies or [10.0 * (i + 1) for i in range(len(messages))]
    return [EventObservation(m["type"], ms, m) for m, ms in zip(messages, latencies,
                                                                 strict=True)]


def _consistent(events: list[EventObservation], **kwargs: Any) -> Any:
    report = check_agent_events(events, **kwargs)
    assert report.ok == all(c.ok for c in report.checks), report.to_frame()
    assert report.ok == (report.error is None)
    return report


def test_a_good_turn_passes_every_check() -> None:
    report = _consistent(_events())
    assert report.ok and report.error is None
    frame = report.to_frame()
    assert list(frame.columns) == ["check", "event", "ok", "value", "detail"]
    assert frame["ok"].all() and len(frame) == 27
    assert set(frame["check"]) == {"outcome", "present", "order", "duplicates", "identity",
                                   "fields", "content", "first event", "delivery", "answer"}
    assert report.last_event == "agent_completed"
    delivery = frame.query("check == 'delivery'")
    assert set(delivery["detail"]) == {"not measured: no send time given"}


def _drop(name: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda ms: [m for m in ms if m["type"] != name]


def _swap(a: int, b: int) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ms[a], ms[b] = ms[b], ms[a]
        return ms
    return change


def _set(index: int, **data: Any) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ms[index]["data"].update(data)
        ms[index].update({k: v for k, v in data.items() if k in ms[index]})
        return ms
    return change


def _strip(index: int, *keys: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for key in keys:
            ms[index].pop(key, None)
            ms[index]["data"].pop(key, None)
        return ms
    return change


def _twice(index: int, same: bool) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        again = copy.deepcopy(ms[index])
        again["timestamp"] = "later"
        if not same:
            again["data"]["reasoning"] = "Second step: comparing the batch API discount too."
        return [*ms[: index + 1], again, *ms[index + 1:]]
    return change


FAILURES = [
    ("missing", _drop("tool_completed"), "missing events: tool_completed"),
    ("tool pairing", _swap(2, 3), "tool_completed arrived before its tool_executing"),
    ("started not first", _swap(0, 1), "first event was agent_thinking, not agent_started"),
    ("identical twice", _twice(2, same=True), "duplicated events: tool_executing x2"),
    ("started twice", _twice(0, same=False), "duplicated events: agent_started x2"),
    ("fields", _strip(0, "user_id", "thread_id"), "agent_started without user_id, thread_id"),
    ("duration", _strip(3, "execution_time_ms"), "tool_completed without duration"),
    ("parameters", _strip(2, "parameters"), "tool_executing without parameters"),
    ("short reasoning", _set(1, reasoning="Thinking"), "reasoning of 8 characters"),
    ("boilerplate reasoning", _set(1, reasoning="Processing your request..."),
     "boilerplate reasoning"),
    ("empty answer", _set(4, final_response=""), "agent_completed without final_response"),
    ("short answer", _set(4, final_response="Here is your answer."),
     "final response of 20 characters"),
    ("apology", _set(4, final_response="I'm sorry, I cannot help with that request today."),
     "apology or error text"),
    ("error text", _set(4, final_response="Error: upstream model timed out, retrying later"),
     "apology or error text"),
    ("placeholder", _set(4, final_response="Lorem ipsum dolor sit amet, consectetur."),
     "placeholder text"),
    ("template", _set(4, final_response="You could save {{savings}} every single month."),
     "placeholder text"),
    ("vague", _set(4, final_response="That is an interesting question about your costs."),
     "no number or recommendation"),
    ("status", _set(4, status="failed"), "status is 'failed', not 'completed'"),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in FAILURES],
                         ids=[c[0] for c in FAILURES])
def test_each_problem_fails_with_a_clear_reason(
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], expected: str) -> None:
    report = _consistent(_events(change(_messages())))
    assert not report.ok
    assert report.error is not None and expected in report.error
    assert report.failed, "a failed report names its failed checks"


def test_repeated_steps_with_new_content_are_not_duplicates() -> None:
    messages = _twice(1, same=False)(_messages())
    cycle = copy.deepcopy(messages[3:5])  # a second tool_executing / tool_completed pair
    cycle[0]["data"]["parameters"] = {"spend": 6000}
    cycle[1]["data"]["results"] = {"savings": 3600}
    report = _consistent(_events(messages[:5] + cycle + messages[5:]))
    assert report.ok, report.error


def test_fields_may_sit_at_the_top_level_or_under_aliases() -> None:
    messages = _messages()
    messages[3]["data"] = {"result": {"x": 1}, "duration_ms": 3}
    messages[3]["tool_name"] = "cost_analyzer"
    assert _consistent(_events(messages)).ok


def test_an_agent_that_thinks_for_seconds_passes() -> None:
    report = _consistent(_events(latencies=[40, 1500, 2600, 4800, 6200.5]), budget_ms=500)
    assert report.ok, report.error
    answer = report.to_frame().query("check == 'answer'").iloc[0]
    assert answer["value"] == "6.20 s" and "within the 30 s answer budget" in answer["detail"]


def test_a_late_first_event_fails_the_event_budget() -> None:
    report = _consistent(_events(latencies=[612.5, 700, 800, 900, 1000]), budget_ms=500)
    assert not report.ok
    assert report.error == ("first event (agent_started) 612 ms after the send: over the "
                            "500 ms budget")
    first = report.to_frame().query("check == 'first event'")
    assert list(first["ok"]) == [False]


def test_an_answer_over_its_budget_fails() -> None:
    report = _consistent(_events(latencies=[10, 20, 30, 40, 31_000]), budget_ms=500)
    assert not report.ok
    assert report.error == "agent_completed 31.0 s after the send: over the 30 s answer budget"
    assert _consistent(_events(latencies=[10, 20, 30, 40, 31_000]), answer_budget_s=45).ok


def test_a_missing_event_fails_its_fields_content_and_timing_rows_too() -> None:
    report = _consistent(_events(_drop("agent_completed")(_messages())))
    rows = report.to_frame().query("event == 'agent_completed'")
    assert not rows["ok"].any()
    assert set(rows["detail"]) <= {"never received", "event never received",
                                   "no agent_completed"}


def _other_run_from(index: int) -> list[dict[str, Any]]:
    messages = _messages()
    for message in messages[index:]:
        message["run_id"] = "run_2"
    return messages


@pytest.mark.parametrize(("messages", "identity", "expected"), [
    (_other_run_from(2), None, "run_id is not the probe's own 'run_1' (agent_started's): "
                               "'run_2' in tool_executing, tool_completed, agent_completed"),
    (_messages(), TurnIdentity(thread_id="t9"), "thread_id is not the probe's own 't9' (the "
                                                "thread the probe sent): 't1' in agent_started"),
    (_messages(), TurnIdentity(user_id="u7"), "user_id is not the probe's own 'u7' (the user "
                                              "the probe logged in as): 'u1' in agent_started"),
    (_strip(3, "run_id")(_messages()), None, "run_id is not the probe's own 'run_1' "
                                             "(agent_started's): none in tool_completed"),
    (_set(0, thread_id="t2")(_messages()), TurnIdentity("t1", "u1"),
     "thread_id is not the probe's own 't1' (the thread the probe sent): 't2' in "
     "agent_started"),
])
def test_every_event_must_belong_to_the_probes_own_turn(
        messages: list[dict[str, Any]], identity: TurnIdentity | None, expected: str) -> None:
    report = _consistent(_events(messages), identity=identity)
    assert not report.ok
    assert report.error is not None and report.error.startswith(expected), report.error
    assert [c.check for c in report.failed] == ["identity"]


def test_the_probes_own_turn_passes_with_its_thread_and_user() -> None:
    assert _consistent(_events(), identity=TurnIdentity("t1", "u1")).ok


def test_a_frame_with_nan_is_not_json() -> None:
    collector = _fed(json.dumps(_messages()[0]),
                     '{"type": "agent_thinking", "data": {"confidence": NaN}}')
    assert collector.end == "protocol"
    assert collector.end_detail is not None and "invalid JSON frame" in collector.end_detail


def test_delivery_is_judged_from_each_events_own_timestamp() -> None:
    sent = 1_700_000_000.0
    messages = _messages()
    for number, message in enumerate(messages):  # stamped 100 ms before each arrival
        message["timestamp"] = sent + (10.0 * (number + 1) - 100) / 1000
    messages[3]["timestamp"] = sent - 0.9  # tool_completed sat 930 ms on the way
    report = _consistent(_events(messages), sent_wall=sent,
                         clock=ClockOffset(0.0, 2.0, "test"))
    assert not report.ok
    assert report.error is not None and report.error.startswith(
        "events delivered later than 500 ms after their own timestamp: tool_completed 940 ms")
    delivery = report.to_frame().query("check == 'delivery'").set_index("event")
    assert delivery.loc["agent_started", "value"] == "100.0 ms"
    assert list(delivery["ok"]) == [True, True, True, False, True]


def test_how_the_turn_ended_comes_first_in_the_error() -> None:
    events = _events(_messages()[:1])
    report = _consistent(events, end="agent_error",
                         end_detail="agent_error: TypeError: session_id (last event: ...)")
    assert report.error is not None and report.error.startswith("agent_error: TypeError")
    assert "more problem" in report.error


@pytest.mark.parametrize(("text", "problem"), [
    (ANSWER, None),
    ("Route the simple half of your traffic to the mini model.", None),
    ("   ", "empty final response"),
    ("I am sorry, something went wrong on our side.", "apology or error text"),
    ("As an AI, I do not have access to your billing data.", "apology or error text"),
    ("Traceback (most recent call last): KeyError 'session_id'", "apology or error text"),
    ("placeholder final response for the golden path", "placeholder text"),
    ("completed", "final response of 9 characters"),
    ("This answer talks about things in a general way.", "no number or recommendation"),
])
def test_answer_problem(text: str, problem: str | None) -> None:
    found = answer_problem(text)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(("text", "bad"), [
    ("Analyzing $12,000/month on gpt-4o; pricing a routing mix.", False),
    ("Thinking...", True),
    ("analyzing the request", True),
    ("TODO: write the reasoning here", True),
    ("short", True),
])
def test_reasoning_problem(text: str, bad: bool) -> None:
    assert (reasoning_problem(text) is not None) == bad


def _fed(*frames: str | bytes) -> TurnCollector:
    collector = TurnCollector(sent_at=100.0)
    for number, frame in enumerate(frames, start=1):
        collector.feed(frame, at=100.0 + number / 100)
        if collector.done:
            break
    return collector


def test_the_collector_times_events_from_the_send_and_skips_heartbeats() -> None:
    frames = [json.dumps(m) for m in _messages()]
    collector = _fed(json.dumps({"type": "heartbeat"}), *frames)
    assert collector.done and collector.end == "completed" and collector.ignored == 1
    assert [e.type for e in collector.events] == list(GOLDEN_PATH_EVENTS)
    assert collector.events[0].received_ms == pytest.approx(20.0)
    assert collector.result(500).ok


@pytest.mark.parametrize(("frame", "expected"), [
    (b"\x00\x01", "binary frame of 2 bytes"),
    ("{not json", "invalid JSON frame"),
    ("[1, 2]", "message without a 'type'"),
    ('{"data": {}}', "message without a 'type'"),
    ('{"type": 7}', "message without a 'type'"),
])
def test_the_collector_stops_at_a_frame_that_is_not_an_event(frame: str | bytes,
                                                              expected: str) -> None:
    collector = _fed(json.dumps(_messages()[0]), frame, json.dumps(_messages()[1]))
    assert collector.end == "protocol"
    assert collector.end_detail is not None and expected in collector.end_detail
    assert "last event: agent_started" in collector.end_detail
    assert not collector.result(500).ok


def test_the_collector_reports_agent_error_with_the_event_before_it() -> None:
    error = {"type": "agent_error", "data": {"error": "TypeError: unexpected 'session_id'"}}
    collector = _fed(json.dumps(_messages()[0]), json.dumps(error))
    assert collector.end == "agent_error"
    assert collector.end_detail == ("agent_error: TypeError: unexpected 'session_id' "
                                    "(last event: agent_started at 10 ms)")
    assert [e.type for e in collector.events] == ["agent_started", "agent_error"]


def test_a_silent_agent_names_the_last_event_and_the_heartbeats() -> None:
    collector = _fed(json.dumps(_messages()[0]), json.dumps({"type": "heartbeat"}))
    collector.timed_out(45.0)
    report = collector.result(500)
    assert report.end == "timeout" and not report.ok
    assert report.error is not None and report.error.startswith(
        "no agent_completed within 45 s (last event: agent_started at 10 ms; "
        "1 heartbeats/pongs ignored)")
