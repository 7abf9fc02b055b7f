"""Runbook 05's verdict on constructed runs (pure: no network): the seed's "< 2 s response
times" is the first agent event's p95, the whole answer has its own budget, and Cloud
Monitoring's late points are "no data yet", not a failure."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from netra_ops.checks import Check
from netra_ops.config import Environment, load_environment
from netra_ops.load import (
    NO_DATA_YET,
    TIMING_COLUMNS,
    MonitoringWait,
    PerformanceRun,
    after_settling,
    as_samples,
    await_monitoring,
    not_verified,
    performance_checks,
    samples_frame,
    timing_figures,
    timing_percentiles,
)
from netra_ops.load.samples import ClockAnchor, Sample
from netra_ops.metrics.frames import Reading, empty_frame, make_frame

ANCHOR = ClockAnchor(perf=0.0, wall_ns=1_767_225_600_000_000_000)  # 2026-01-01T00:00:00Z
START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(seconds=20)
SERVING = "netra-backend-staging-00002-abc"
NO_LEAKS = pd.DataFrame(columns=["revision", "verdict", "reason"])


@pytest.fixture(scope="module")
def env() -> Environment:
    return load_environment("sandbox")


def _turns(first_s: float, answer_s: float | None, count: int = 20, *,
           wait_s: float = 0.0, delivery_ms: float = 4.0) -> pd.DataFrame:
    """`count` turns sent `wait_s` after they were due, first event and answer that many
    seconds after the send (answer None: never completed)."""
    samples = []
    for n in range(count):
        due = n * 10.0
        sent = due + wait_s
        end = sent + (answer_s if answer_s is not None else 30.0)
        samples.append(Sample(n % 3, n, due, sent, end, answer_s is not None,
                              None if answer_s is not None else "timeout",
                              5 if answer_s is not None else 1, sent + first_s,
                              math.nan if answer_s is None else end, delivery_ms))
    return samples_frame(samples, ANCHOR)


def _checks(env: Environment, samples: pd.DataFrame, monitoring: pd.DataFrame | None = None,
            **options: object) -> tuple[Check, ...]:
    return performance_checks(env, samples, aborted=None,
                              monitoring=empty_frame() if monitoring is None else monitoring,
                              leaks=NO_LEAKS, revisions=[SERVING], start=START, end=END,
                              **options)  # type: ignore[arg-type]


def _row(checks: tuple[Check, ...], starts: str) -> Check:
    rows = [c for c in checks if c.name.startswith(starts)]
    assert len(rows) == 1, [c.name for c in checks]
    return rows[0]


# --- the frame's timing columns -------------------------------------------------------------


def test_timing_columns_run_from_when_the_turn_was_due() -> None:
    frame = _turns(0.004, 6.0, count=2, wait_s=0.5, delivery_ms=7.0)
    assert frame["first_event_ms"].tolist() == pytest.approx([504.0, 504.0])
    assert frame["answer_ms"].tolist() == pytest.approx([6500.0, 6500.0])
    assert frame["delivery_ms"].tolist() == [7.0, 7.0]
    never = _turns(0.004, None, count=1)
    assert math.isnan(never["answer_ms"].iloc[0]) and never["first_event_ms"].iloc[0] > 0


def test_a_frame_without_timing_columns_is_conformed_with_nan() -> None:
    old = _turns(0.004, 6.0, count=3).drop(columns=list(TIMING_COLUMNS))
    conformed = as_samples(old)
    assert conformed[list(TIMING_COLUMNS)].isna().all().all()
    assert timing_figures(conformed) == dict.fromkeys(
        ("first_event_p95_ms", "delivery_p95_ms", "answer_p95_ms"))


def test_timing_percentiles_leave_out_turns_that_never_got_there() -> None:
    frame = pd.concat([_turns(0.010, 6.0, count=4), _turns(0.010, None, count=2)],
                      ignore_index=True)
    table = timing_percentiles(frame).set_index("figure")
    assert table.loc["answer_ms", "samples"] == 4 and table.loc["first_event_ms", "samples"] == 6
    assert table.loc["answer_ms", "max"] == pytest.approx(6000.0)


# --- the verdict ----------------------------------------------------------------------------


def test_a_healthy_agent_that_thinks_for_seconds_passes(env: Environment) -> None:
    checks = _checks(env, _turns(0.005, 7.5))
    first = _row(checks, "first agent event p95 < 2000 ms")
    answer = _row(checks, "agent answer p95 <= 30 s")
    assert first.ok and first.value == pytest.approx(5.0)
    assert "delivery p95 4 ms" in first.detail
    assert answer.ok and answer.value == pytest.approx(7.5)
    assert not any("agent response" in c.name for c in checks)


def test_a_slow_first_response_fails_on_the_first_event(env: Environment) -> None:
    checks = _checks(env, _turns(2.5, 12.5))
    first = _row(checks, "first agent event p95")
    assert not first.ok and first.value == pytest.approx(2500.0)
    assert _row(checks, "agent answer p95").ok


def test_waiting_for_a_connection_counts_in_the_first_response(env: Environment) -> None:
    """Open model: a turn due but sent 1.9 s later gave its user nothing for 1.9 s."""
    first = _row(_checks(env, _turns(0.2, 6.0, wait_s=1.9)), "first agent event p95")
    assert not first.ok and first.value == pytest.approx(2100.0)


def test_an_answer_over_its_own_budget_fails(env: Environment) -> None:
    checks = _checks(env, _turns(0.005, 9.0), answer_budget_s=8.0)
    answer = _row(checks, "agent answer p95 <= 8 s")
    assert not answer.ok and answer.value == pytest.approx(9.0)
    assert _row(checks, "first agent event p95 < 2000 ms").ok


def test_no_answer_at_all_fails_and_says_so(env: Environment) -> None:
    answer = _row(_checks(env, _turns(0.005, None, count=5)), "agent answer p95")
    assert not answer.ok and answer.value is None
    assert "0 of 5 turns completed" in answer.detail


def test_monitoring_without_points_yet_is_not_verified_not_failed(env: Environment) -> None:
    checks = _checks(env, _turns(0.005, 6.0))
    lagging = [c for c in checks if c.value == NO_DATA_YET]
    assert {c.name for c in lagging} == {"memory_average", "memory_peak", "cpu_average",
                                         f"no memory leak: {SERVING}"}
    assert all(c.ok and c.detail.startswith("not verified") for c in lagging)
    assert not_verified(checks) == [c.name for c in lagging]
    assert all(c.ok for c in checks)


def test_monitoring_that_cannot_be_read_fails(env: Environment) -> None:
    checks = _checks(env, _turns(0.005, 6.0), monitoring_error="Monitoring unreachable")
    assert not_verified(checks) == []
    failed = {c.name for c in checks if not c.ok}
    assert {"memory_average", f"no memory leak: {SERVING}"} <= failed


def test_memory_of_the_window_is_judged_not_excused(env: Environment) -> None:
    """Points of the window, but none of the serving revision: a failure, not a lag."""
    other = make_frame([{"time": START + timedelta(seconds=s), "metric": "memory_bytes",
                         "value": 2e8, "source": "monitoring", "revision": "other-rev"}
                        for s in range(1, 15)])
    checks = _checks(env, _turns(0.005, 6.0), monitoring=other)
    assert not_verified(checks) == []
    assert not _row(checks, "no memory leak").ok


# --- waiting for Monitoring to publish --------------------------------------------------------


class _Monitoring:
    """A Monitoring that publishes the window's points `lag_s` late, on a fake clock."""

    def __init__(self, lag_s: float, error: str | None = None) -> None:
        self.now = 0.0
        self.lag_s = lag_s
        self.error = error
        self.reads = 0

    def read(self, env: Environment, start: datetime, end: datetime) -> Reading:
        self.reads += 1
        if self.error is not None:
            return Reading.failed("monitoring", start, end, self.error)
        published = END + timedelta(seconds=self.now - self.lag_s)
        rows = [{"time": START + timedelta(seconds=s), "metric": "memory_bytes", "value": 1e8,
                 "source": "monitoring", "revision": SERVING} for s in range(1, 21)
                if START + timedelta(seconds=s) <= published]
        return Reading("monitoring", start, end, make_frame(rows) if rows else empty_frame())

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _wait(env: Environment, monitoring: _Monitoring, wait_s: float) -> MonitoringWait:
    return await_monitoring(env, START, END, wait_s=wait_s, poll_s=5.0, read=monitoring.read,
                            sleep=monitoring.sleep, clock=lambda: monitoring.now)


def test_the_wait_ends_when_monitoring_covers_the_window(env: Environment) -> None:
    monitoring = _Monitoring(lag_s=12.0)
    waited = _wait(env, monitoring, wait_s=180.0)
    assert waited.caught_up and waited.waited_s == 10.0 and monitoring.reads == 3
    assert "covers the window" in waited.describe()


def test_no_wait_reads_once_and_says_no_data_yet(env: Environment) -> None:
    monitoring = _Monitoring(lag_s=60.0)
    waited = _wait(env, monitoring, wait_s=0.0)
    assert monitoring.reads == 1 and not waited.caught_up
    assert waited.newest is None and waited.describe().startswith("no data yet")


def test_the_wait_is_bounded_and_an_error_ends_it(env: Environment) -> None:
    slow = _Monitoring(lag_s=600.0)
    waited = _wait(env, slow, wait_s=30.0)
    assert not waited.caught_up and slow.now <= 30.0
    broken = _Monitoring(lag_s=0.0, error="UNAVAILABLE")
    failed = _wait(env, broken, wait_s=180.0)
    assert broken.reads == 1 and "could not be read" in failed.describe()


# --- the leak rows ----------------------------------------------------------------------------

def _leak_checks(env: Environment, verdict: str) -> tuple[Check, ...]:
    memory = make_frame([{"time": START + timedelta(seconds=s), "metric": "memory_bytes",
                          "value": 2e8, "source": "monitoring", "revision": SERVING}
                         for s in range(1, 15)])
    leaks = pd.DataFrame([{"revision": SERVING, "verdict": verdict, "reason": "the fit says"}])
    return performance_checks(env, _turns(0.005, 6.0), aborted=None, monitoring=memory,
                              leaks=leaks, revisions=[SERVING], start=START, end=END)


def test_an_inconclusive_leak_fit_is_not_verified_and_named() -> None:
    env = load_environment("sandbox")
    checks = _leak_checks(env, "inconclusive")
    row = _row(checks, "no memory leak")
    assert row.ok and row.value == "inconclusive"
    assert row.detail.startswith("not verified: the fit says")
    assert not_verified(checks) == [f"no memory leak: {SERVING}"]


@pytest.mark.parametrize(("verdict", "passed"), [("leak", False), ("no leak", True)])
def test_a_decided_leak_fit_is_judged(verdict: str, passed: bool) -> None:
    checks = _leak_checks(load_environment("sandbox"), verdict)
    assert _row(checks, "no memory leak").ok is passed
    assert not_verified(checks) == []


# --- runbook 05's run, either engine ----------------------------------------------------------

def test_a_runs_record_and_description() -> None:
    samples = _turns(0.005, 6.0, count=4)
    run = PerformanceRun("locust", samples, START, START + timedelta(seconds=12.5))
    figures = run.figures()
    assert list(figures) == ["load.turns", "load.aborted", "load.timing"]  # Locust: no "load"
    assert figures["load.turns"] == 4 and figures["load.timing"] == timing_figures(samples)
    assert run.describe() == "**4 turns** in 12.5 s" and run.error_counts() == {}
    stopped = PerformanceRun("netra-ops", _turns(0.005, None, count=2), START, END,
                             "error_rate > 0.05 for 30 s", {"engine": "netra-ops"})
    assert next(iter(stopped.figures())) == "load" and stopped.error_counts() == {"timeout": 2}
    assert stopped.describe().endswith("; **stopped early:** error_rate > 0.05 for 30 s")
    assert after_settling(0.0) >= START


def test_no_serving_revision_is_left_out_of_the_leak_rows(env: Environment) -> None:
    checks = performance_checks(env, _turns(0.005, 6.0), aborted=None, monitoring=empty_frame(),
                                leaks=NO_LEAKS, revisions=[None], start=START, end=END)
    assert not [c for c in checks if c.name.startswith("no memory leak")]
