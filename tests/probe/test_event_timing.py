"""Event timing: the first event and each delivery within 500 ms, the answer within its own
budget of seconds; the server's clock brought to ours with the offset estimated at login.

Pure checks of `netra_ops.probe.event_timing`, then the sync and async golden-path probes
against the hostile backend's timing modes: a slow but healthy agent and a server whose
clock runs 30 s ahead must pass, a slow delivery path must fail on delivery latency.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_ws import LATE_DELIVERY_S, SKEW_S, SLOW_AGENT_STEP_S, HostileServers, hostile_servers

from netra_ops.probe import GoldenPathResult, golden_path, golden_path_async, timing_table
from netra_ops.probe.event_timing import (
    ClockOffset,
    estimate_clock_offset,
    judge_timing,
    parse_timestamp,
)

SENT = 1_700_000_000.0
TIMEOUT_S = 15.0  # generous: the slow agent answers in ~2.4 s, a busy machine adds more


def _events(*arrivals: tuple[str, float, float]) -> list[tuple[str, float, dict[str, object]]]:
    """(type, ms from the send, ms the event was stamped after the send) per event."""
    return [(kind, ms, {"type": kind, "timestamp": SENT + stamped / 1000})
            for kind, ms, stamped in arrivals]


def test_the_offset_is_the_servers_time_minus_the_middle_of_the_round_trip() -> None:
    clock = estimate_clock_offset(SENT + 30.05, SENT, SENT + 0.1, "GET /health")
    assert clock.estimated and clock.rtt_ms == pytest.approx(100.0)
    assert clock.offset_ms == pytest.approx(30_000.0, abs=1e-3)
    assert clock.uncertainty_ms == pytest.approx(50.0)
    assert clock.describe() == "server clock +30000 ms (± 50 ms, GET /health)"


@pytest.mark.parametrize("stamp", [None, "", "yesterday", float("nan"), True, {"t": 1}])
def test_an_unusable_timestamp_gives_an_assumed_offset_that_says_why(stamp: object) -> None:
    clock = estimate_clock_offset(stamp, SENT, SENT + 0.01, "GET /health")
    assert not clock.estimated and clock.offset_ms == 0.0
    assert "GET /health gave no usable timestamp" in clock.describe()


@pytest.mark.parametrize(("value", "seconds"), [
    ("2023-11-14T22:13:20Z", SENT),
    ("2023-11-14T22:13:20.250000+00:00", SENT + 0.25),
    ("2023-11-14T23:13:20+01:00", SENT),
    ("2023-11-14T22:13:20", SENT),  # no zone: UTC
    (SENT, SENT),
    (SENT * 1000, SENT),  # epoch milliseconds
])
def test_timestamps_are_read_in_their_usual_shapes(value: object, seconds: float) -> None:
    assert parse_timestamp(value) == pytest.approx(seconds)


def test_a_healthy_agent_that_thinks_for_six_seconds_passes() -> None:
    timing = judge_timing(_events(("agent_started", 30, 25), ("agent_thinking", 2000, 1990),
                                  ("agent_completed", 6000, 5990)),
                          sent_wall=SENT, clock=ClockOffset(0.0, 1.0, "test"))
    assert timing.ok, timing.problems
    assert (timing.first_event_ms, timing.answer_ms) == (30, 6000)
    assert timing.max_delivery_ms == pytest.approx(10.0, abs=0.01)


def test_each_rule_fails_with_its_figure() -> None:
    timing = judge_timing(_events(("agent_started", 700, 690), ("agent_thinking", 2000, 1200),
                                  ("agent_completed", 31_000, 30_990)),
                          sent_wall=SENT, clock=ClockOffset(0.0, 1.0, "test"))
    assert timing.problems == (
        "events delivered later than 500 ms after their own timestamp: agent_thinking 800 ms "
        "(server clock +0 ms (± 0 ms, test))",
        "first event (agent_started) 700 ms after the send: over the 500 ms budget",
        "agent_completed 31.0 s after the send: over the 30 s answer budget",
    )


def test_a_skewed_server_clock_is_corrected_by_the_offset() -> None:
    events = _events(("agent_started", 20, 30_010), ("agent_completed", 3000, 32_990))
    skewed = judge_timing(events, sent_wall=SENT,
                          clock=ClockOffset(30_000.0, 2.0, "GET /health"))
    assert skewed.ok and skewed.max_delivery_ms == pytest.approx(10.0, abs=0.01)
    unknown = judge_timing(events, sent_wall=SENT, clock=ClockOffset.assumed("no health"))
    assert not unknown.ok
    assert unknown.problems[0].startswith("event timestamps later than their own arrival: "
                                          "agent_started 29990 ms")
    assert "the clocks disagree" in unknown.problems[0]


def test_an_event_without_a_timestamp_cannot_be_judged_on_delivery() -> None:
    events = [("agent_started", 20.0, {"type": "agent_started"})]
    timing = judge_timing(events, sent_wall=SENT, clock=ClockOffset(0.0, 1.0, "test"))
    assert timing.problems == ("events without a usable timestamp (delivery not measurable): "
                               "agent_started",)
    assert judge_timing(events, sent_wall=None, clock=ClockOffset(0.0, 1.0, "test")).ok


# --- the probes against the hostile backend's timing modes ----------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServers]:
    with hostile_servers(tmp_path_factory.mktemp("hostile")) as servers:
        yield servers


def _assert_slow_agent_passes(result: GoldenPathResult) -> None:
    assert result.ok, result.error
    assert result.timing_ok and result.answer_ms is not None
    assert result.answer_ms >= 4 * SLOW_AGENT_STEP_S * 1000  # it did think
    assert result.first_event_ms is not None and result.first_event_ms <= 500
    assert result.max_delivery_ms is not None and result.max_delivery_ms <= 500
    frame = result.timing_frame()
    assert list(frame["figure"]) == ["first event", "delivery (slowest event)",
                                     "answer (agent_completed)"]
    assert frame["ok"].all()


def _assert_slow_delivery_fails(result: GoldenPathResult) -> None:
    assert not result.ok and result.failed_step == "agent" and result.timing_ok is False
    assert result.error is not None and result.error.startswith(
        "events delivered later than 500 ms after their own timestamp: agent_thinking ")
    assert result.max_delivery_ms is not None
    assert result.max_delivery_ms >= LATE_DELIVERY_S * 1000 - 50  # the lag, measured
    failed = result.checks_frame().query("check == 'delivery' and not ok")
    assert list(failed["event"]) == ["agent_thinking", "tool_executing", "tool_completed",
                                     "agent_completed"]


def _assert_skew_corrected(result: GoldenPathResult) -> None:
    assert result.ok, result.error
    assert result.clock_offset_ms is not None
    assert abs(result.clock_offset_ms - SKEW_S * 1000) < 500
    assert result.max_delivery_ms is not None and abs(result.max_delivery_ms) < 500


def test_a_slow_but_healthy_agent_passes(hostile: HostileServers) -> None:
    _assert_slow_agent_passes(golden_path(hostile.env("slow-agent"), timeout_s=TIMEOUT_S))


@pytest.mark.anyio
async def test_a_slow_but_healthy_agent_passes_the_async_probe(hostile: HostileServers) -> None:
    _assert_slow_agent_passes(await golden_path_async(hostile.env("slow-agent"),
                                                      timeout_s=TIMEOUT_S))


def test_slow_delivery_fails_on_delivery_latency(hostile: HostileServers) -> None:
    _assert_slow_delivery_fails(golden_path(hostile.env("slow-delivery"), timeout_s=TIMEOUT_S))


@pytest.mark.anyio
async def test_slow_delivery_fails_the_async_probe(hostile: HostileServers) -> None:
    _assert_slow_delivery_fails(await golden_path_async(hostile.env("slow-delivery"),
                                                        timeout_s=TIMEOUT_S))


def test_a_server_clock_30_s_ahead_passes_thanks_to_the_offset(
        hostile: HostileServers) -> None:
    result = golden_path(hostile.env("skewed-clock"), timeout_s=TIMEOUT_S)
    _assert_skew_corrected(result)
    table = timing_table([result])
    # the table shows the offset measured (30 s within the margin above: +29999 ms on a busy
    # machine is as right as +30000 ms)
    assert result.clock_offset_ms is not None
    assert table.loc[0, "timing_ok"]
    assert f"server clock {result.clock_offset_ms:+.0f} ms" in table.loc[0, "clock"]


@pytest.mark.anyio
async def test_a_skewed_clock_passes_the_async_probe(hostile: HostileServers) -> None:
    _assert_skew_corrected(await golden_path_async(hostile.env("skewed-clock"),
                                                   timeout_s=TIMEOUT_S))


def test_a_skewed_clock_without_an_offset_fails_rather_than_passing_blind(
        hostile: HostileServers) -> None:
    result = golden_path(hostile.env("skewed-clock-no-health"), timeout_s=TIMEOUT_S)
    assert not result.ok and result.clock_offset_ms is None
    assert result.error is not None and result.error.startswith(
        "event timestamps later than their own arrival")
    assert "gave no usable timestamp" in result.error
