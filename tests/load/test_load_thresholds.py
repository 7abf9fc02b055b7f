"""Threshold logic on constructed windows and frames (pure: no network, no clock)."""

from __future__ import annotations

import numpy as np
import pytest

from netra_ops.errors import ConfigError
from netra_ops.load.frames import samples_frame
from netra_ops.load.samples import ClockAnchor, Sample
from netra_ops.load.thresholds import (
    Threshold,
    ThresholdWatch,
    WindowStats,
    replay_thresholds,
)

ANCHOR = ClockAnchor(perf=0.0, wall_ns=1_767_225_600_000_000_000)


def _window(turns: int = 0, failed: int = 0, latencies: list[float] | None = None
            ) -> WindowStats:
    return WindowStats(turns, failed, np.array(latencies or [], dtype=float))


@pytest.mark.parametrize(("metric", "quantile"), [
    ("error_rate", None), ("latency_p95", 0.95), ("latency_p50", 0.5),
    ("latency_p99.9", 0.999), ("latency_max", 1.0),
])
def test_metrics_name_what_they_measure(metric: str, quantile: float | None) -> None:
    assert Threshold(metric, ">", 1).quantile == quantile


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"metric": "p95"}, "unknown threshold metric 'p95'.*latency_p95"),
    ({"op": "=>"}, "operator '=>' is not one of"),
    ({"value": float("nan")}, "finite"),
    ({"for_s": -1}, "for_s must be >= 0"),
    ({"window_s": 0}, "window_s > 0"),
    ({"min_samples": 0}, "min_samples >= 1"),
])
def test_bad_thresholds_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"metric": "error_rate", "op": ">", "value": 0.05, **kwargs}
    with pytest.raises(ConfigError, match=message):
        Threshold(**arguments)  # type: ignore[arg-type]


def test_a_window_measures_error_rate_and_exact_latency_quantiles() -> None:
    window = _window(turns=10, failed=3, latencies=list(range(1, 101)))
    assert window.measure(Threshold("error_rate", ">", 0.05)) == (0.3, 10)
    assert window.measure(Threshold("latency_p95", ">", 1)) == (pytest.approx(95.05), 100)
    assert window.measure(Threshold("latency_max", ">", 1)) == (100.0, 100)
    assert window.measure(Threshold("error_rate", ">", 0.05, min_samples=11)) == (None, 10)
    assert _window().measure(Threshold("latency_p95", ">", 1)) == (None, 0)


def test_a_threshold_fires_once_it_has_held_for_its_duration() -> None:
    watch = ThresholdWatch([Threshold("error_rate", ">", 0.05, for_s=2)])
    bad, good = _window(100, 50), _window(100, 1)
    assert watch.evaluate(1.0, lambda span: bad) == []
    assert watch.evaluate(2.0, lambda span: good) == []  # the streak is broken
    assert watch.evaluate(3.0, lambda span: bad) == []
    assert watch.evaluate(4.0, lambda span: bad) == []
    fired = watch.evaluate(5.0, lambda span: bad)
    assert len(fired) == 1 and watch.abort is fired[0]
    breach = fired[0]
    assert (breach.value, breach.held_since_s, breach.at_s, breach.samples) == (0.5, 3.0, 5.0,
                                                                                100)
    assert breach.reason == (
        "threshold error_rate > 0.05 for 2 s stopped the run: error_rate was 0.5 (> 0.05) for "
        "2.0 s, from 3.0 s to 5.0 s into the run (last 10 s window: 100 values)")
    assert watch.evaluate(6.0, lambda span: bad) == []  # fires once


def test_an_empty_window_breaks_the_streak() -> None:
    watch = ThresholdWatch([Threshold("error_rate", ">", 0.05, for_s=1)])
    watch.evaluate(1.0, lambda span: _window(10, 10))
    watch.evaluate(2.0, lambda span: _window())
    assert watch.evaluate(3.0, lambda span: _window(10, 10)) == []
    assert len(watch.evaluate(4.0, lambda span: _window(10, 10))) == 1


def test_each_threshold_gets_its_own_window_and_report_only_ones_do_not_abort() -> None:
    spans: list[float] = []

    def window(span: float) -> WindowStats:
        spans.append(span)
        return _window(10, 5, [900.0] * 10)

    watch = ThresholdWatch([Threshold("latency_p95", ">", 500, window_s=3, abort=False),
                            Threshold("error_rate", "<", 0.01, window_s=30)])
    fired = watch.evaluate(1.0, window)
    assert spans == [3, 30] and [b.threshold.metric for b in fired] == ["latency_p95"]
    assert watch.abort is None and "fired" in fired[0].reason and watch.max_window_s == 30


def test_replay_fires_an_error_rate_burst_when_it_lasted_long_enough() -> None:
    samples = [Sample(0, n, n / 10, n / 10, n / 10 + 0.02, not 30 <= n < 60,
                      None if not 30 <= n < 60 else "server_error", 5) for n in range(100)]
    frame = samples_frame(samples, ANCHOR)
    short = replay_thresholds(frame, [Threshold("error_rate", ">", 0.5, for_s=3,
                                                window_s=1)])
    assert short == []  # the 1 s windows fail at t = 4, 5 and 6: held 2 s, not 3
    fired = replay_thresholds(frame, [Threshold("error_rate", ">", 0.5, for_s=2,
                                                window_s=1)])
    assert len(fired) == 1
    assert (fired[0].held_since_s, fired[0].at_s) == (4.0, 6.0)


def test_replay_sees_a_stall_while_it_lasts_through_turns_in_flight() -> None:
    """Open model, 10 turns/s; the server stalls 2 s from t=3: turns due then end at t=5.
    The turns in flight count with their age, so p95 rises during the stall."""
    samples = []
    for n in range(80):
        due = n / 10
        ended = max(due, 5.0) + 0.01 if 3.0 <= due < 5.0 else due + 0.01
        samples.append(Sample(n % 8, n // 8, due, due, ended, True, None, 5))
    frame = samples_frame(samples, ANCHOR)
    fired = replay_thresholds(frame, [Threshold("latency_p95", ">", 500, window_s=2)])
    assert len(fired) == 1 and fired[0].at_s == 4.0  # 1 s into the stall, before any returned
    assert fired[0].value > 500
    assert replay_thresholds(frame, [Threshold("latency_p95", ">", 5000)]) == []
