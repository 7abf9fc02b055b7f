"""Thresholds on a running load test, with abort (as k6's `abortOnFail`).

    Threshold("error_rate", ">", 0.05, for_s=30)      # > 5% of turns failing for 30 s
    Threshold("latency_p95", ">", 2000, for_s=10)     # p95 above 2 s for 10 s

A threshold states a condition that is bad. It is evaluated periodically during the run
over a sliding window (`window_s`, default 10 s) of the turns that ended in it; when the
condition has held at every evaluation for `for_s` seconds it fires, and (with `abort`, the
default) the run stops, its result naming the threshold, the measured value and since when
it held. A window with fewer than `min_samples` values breaks the streak (nothing to judge).

Metrics:
- `error_rate`: failed turns / turns ended in the window (0..1).
- `latency_pNN` (`latency_p50`, `latency_p95`, `latency_p99.9`, ...) and `latency_max`, in
  ms from when each turn was due. Turns still in flight (or waiting for a connection) count
  with their age so far, a lower bound of their latency: a stalled server raises the
  percentiles while it stalls, not only once (if ever) its turns come back.

`ThresholdWatch` is the evaluation (pure, no clock of its own); the engine feeds it live
windows and `replay_thresholds` feeds it a finished samples frame, the same way.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from netra_ops.errors import ConfigError

__all__ = [
    "OPERATORS",
    "Threshold",
    "ThresholdBreach",
    "ThresholdWatch",
    "WindowStats",
    "replay_thresholds",
]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
_LATENCY = re.compile(r"latency_(?:p(\d{1,2}(?:\.\d+)?)|max)")


@dataclass(frozen=True)
class Threshold:
    """A bad condition on a window of the run: `metric op value`, held for `for_s` seconds."""

    metric: str
    op: str
    value: float
    for_s: float = 0.0
    window_s: float = 10.0
    min_samples: int = 1
    abort: bool = True

    def __post_init__(self) -> None:
        _metric_quantile(self.metric)
        if self.op not in OPERATORS:
            raise ConfigError(f"threshold {self.metric}: operator {self.op!r} is not one of "
                              f"{', '.join(OPERATORS)}")
        if not math.isfinite(self.value):
            raise ConfigError(f"threshold {self.metric}: value must be a finite number")
        if self.for_s < 0 or self.window_s <= 0 or self.min_samples < 1:
            raise ConfigError(f"threshold {self.metric}: for_s must be >= 0, window_s > 0 "
                              f"and min_samples >= 1 (got {self.for_s}, {self.window_s}, "
                              f"{self.min_samples})")

    @property
    def quantile(self) -> float | None:
        """The latency quantile it watches (1.0 for latency_max), None for error_rate."""
        return _metric_quantile(self.metric)

    def holds(self, measured: float) -> bool:
        """Whether a measured value meets the (bad) condition."""
        return OPERATORS[self.op](measured, self.value)

    def describe(self) -> str:
        """`error_rate > 0.05 for 30 s` (the window and abort mode too when not default)."""
        text = f"{self.metric} {self.op} {self.value:g}"
        text += f" for {self.for_s:g} s" if self.for_s else ""
        text += f" over {self.window_s:g} s windows" if self.window_s != 10.0 else ""
        return text + ("" if self.abort else " (report only)")

    def to_dict(self) -> dict[str, Any]:
        """The threshold as plain JSON data."""
        return {"metric": self.metric, "op": self.op, "value": self.value,
                "for_s": self.for_s, "window_s": self.window_s,
                "min_samples": self.min_samples, "abort": self.abort}


def _metric_quantile(metric: str) -> float | None:
    if metric == "error_rate":
        return None
    match = _LATENCY.fullmatch(metric)
    if match is None:
        raise ConfigError(f"unknown threshold metric {metric!r}: use error_rate, latency_max "
                          "or latency_pNN (e.g. latency_p95, latency_p99.9)")
    return 1.0 if match.group(1) is None else round(float(match.group(1)) / 100, 10)


@dataclass(frozen=True)
class WindowStats:
    """What one window of the run showed: turns ended in it, how many failed, and the
    latencies (ms) of those turns plus the ages of turns not finished yet."""

    turns: int
    failed: int
    latencies_ms: np.ndarray = field(repr=False)

    def measure(self, threshold: Threshold) -> tuple[float | None, int]:
        """(the threshold's metric over this window or None when too few values, how many
        values it was measured on)."""
        quantile = threshold.quantile
        if quantile is None:
            count = self.turns
            value = self.failed / count if count else 0.0
        else:
            count = len(self.latencies_ms)
            value = float(np.quantile(self.latencies_ms, quantile)) if count else 0.0
        return (value if count >= threshold.min_samples else None), count


@dataclass(frozen=True)
class ThresholdBreach:
    """A threshold that fired: the value measured, since when it held, when it fired."""

    threshold: Threshold
    value: float
    held_since_s: float
    at_s: float
    samples: int

    @property
    def reason(self) -> str:
        """Why the run was stopped (or flagged), with the values."""
        held = self.at_s - self.held_since_s
        what = "stopped the run" if self.threshold.abort else "fired"
        return (f"threshold {self.threshold.describe()} {what}: {self.threshold.metric} was "
                f"{self.value:.4g} ({self.threshold.op} {self.threshold.value:g}) for "
                f"{held:.1f} s, from {self.held_since_s:.1f} s to {self.at_s:.1f} s into "
                f"the run (last {self.threshold.window_s:g} s window: {self.samples} values)")

    def to_dict(self) -> dict[str, Any]:
        """The breach as plain JSON data."""
        return {"threshold": self.threshold.to_dict(), "value": self.value,
                "held_since_s": self.held_since_s, "at_s": self.at_s,
                "samples": self.samples, "reason": self.reason}


class ThresholdWatch:
    """The state of a run's thresholds between evaluations (when each began to hold)."""

    def __init__(self, thresholds: Iterable[Threshold]) -> None:
        self.thresholds = tuple(thresholds)
        self._since: list[float | None] = [None] * len(self.thresholds)
        self._fired = [False] * len(self.thresholds)
        self.breaches: list[ThresholdBreach] = []

    @property
    def max_window_s(self) -> float:
        """The longest window any threshold looks at (0 without thresholds)."""
        return max((t.window_s for t in self.thresholds), default=0.0)

    def evaluate(self, at_s: float,
                 window: Callable[[float], WindowStats]) -> list[ThresholdBreach]:
        """Evaluate every threshold at `at_s` (seconds into the run) on `window(window_s)`;
        the breaches that fired now (each threshold fires once)."""
        fired = []
        for index, threshold in enumerate(self.thresholds):
            if self._fired[index]:
                continue
            value, count = window(threshold.window_s).measure(threshold)
            if value is None or not threshold.holds(value):
                self._since[index] = None
                continue
            since = self._since[index]
            since = at_s if since is None else since
            self._since[index] = since
            if at_s - since >= threshold.for_s:
                self._fired[index] = True
                fired.append(ThresholdBreach(threshold, value, since, at_s, count))
        self.breaches += fired
        return fired

    @property
    def abort(self) -> ThresholdBreach | None:
        """The first breach of an aborting threshold, if any."""
        return next((b for b in self.breaches if b.threshold.abort), None)


def replay_thresholds(samples: pd.DataFrame, thresholds: Sequence[Threshold], *,
                      interval_s: float = 1.0,
                      start: pd.Timestamp | None = None) -> list[ThresholdBreach]:
    """Evaluate `thresholds` over a finished samples frame as the engine does live (every
    `interval_s` from `start`, default the first turn's scheduled time); every breach."""
    watch = ThresholdWatch(thresholds)
    if samples.empty or not thresholds:
        return []
    origin = start if start is not None else samples["scheduled_at"].min()
    scheduled = (samples["scheduled_at"] - origin).dt.total_seconds().to_numpy()
    ended = (samples["ended_at"] - origin).dt.total_seconds().to_numpy()
    latency, ok = samples["latency_ms"].to_numpy(float), samples["ok"].to_numpy(bool)
    steps = math.ceil(ended.max() / interval_s) + 1
    for step in range(1, steps + 1):
        now = step * interval_s

        def window(span: float, now: float = now) -> WindowStats:
            done = (ended > now - span) & (ended <= now)
            running = (scheduled <= now) & (ended > now)
            ages = (now - scheduled[running]) * 1000.0
            return WindowStats(int(done.sum()), int((done & ~ok).sum()),
                               np.concatenate([latency[done], ages]))

        watch.evaluate(now, window)
    return watch.breaches
