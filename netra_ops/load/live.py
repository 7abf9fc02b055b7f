"""The live record of a load run: every sample, what is pending, the recent window.

The engine tells it when a turn becomes due (`due`) and when it is over (`done`); between
the two the turn is pending (waiting for a connection or in flight). From that it keeps the
samples in arrival order, the first error text of each error class, and a window of recent
turns, from which it answers the thresholds (`window`, pending turns counted with their age
so far) and the progress display (`snapshot`). No I/O; one event loop uses it.
"""

from __future__ import annotations

import itertools
import time
from collections import deque

import numpy as np

from netra_ops.load.progress import ProgressSnapshot
from netra_ops.load.samples import ClockAnchor, Sample
from netra_ops.load.thresholds import WindowStats
from netra_ops.load.users import Attempt

__all__ = ["LiveRun"]

_RATE_WINDOW_S = 5.0  # turns/s and p95 in the progress display: the last 5 s


class LiveRun:
    """Samples and pending turns of a run that started at `start` (perf_counter)."""

    def __init__(self, duration_s: float, keep_s: float) -> None:
        self.duration_s = duration_s
        self.keep_s = max(keep_s, _RATE_WINDOW_S)
        self.anchor = ClockAnchor(time.perf_counter(), time.time_ns())
        self.start = self.anchor.perf
        self.samples: list[Sample] = []
        self.examples: dict[str, str] = {}
        self.failed = 0
        self.queued = 0
        self._pending: dict[int, float] = {}
        self._keys = itertools.count()
        self._recent: deque[tuple[float, float, bool]] = deque()

    def begin(self) -> None:
        """The measured period starts now."""
        self.anchor = ClockAnchor(time.perf_counter(), time.time_ns())
        self.start = self.anchor.perf

    def due(self, scheduled: float) -> int:
        """A turn due at `scheduled` is pending; its key for `done`."""
        key = next(self._keys)
        self._pending[key] = scheduled
        return key

    def done(self, key: int, attempt: Attempt) -> None:
        """A pending turn is over: keep its sample."""
        self._pending.pop(key, None)
        sample = attempt.sample
        self.samples.append(sample)
        self._recent.append((sample.ended, (sample.ended - sample.scheduled) * 1000.0,
                             sample.ok))
        if not sample.ok:
            self.failed += 1
            if sample.error_class is not None and attempt.error:
                self.examples.setdefault(sample.error_class, attempt.error)

    @property
    def pending(self) -> int:
        """Turns due and not over (waiting or in flight)."""
        return len(self._pending)

    def window(self, now: float, span_s: float) -> WindowStats:
        """Turns ended in the last `span_s` seconds, plus the ages of pending ones."""
        self._forget(now)
        cutoff = now - span_s
        recent = [(latency, ok) for ended, latency, ok in self._recent if ended > cutoff]
        ages = [(now - scheduled) * 1000.0 for scheduled in self._pending.values()
                if scheduled <= now]
        latencies = np.array([latency for latency, _ in recent] + ages, dtype=float)
        return WindowStats(len(recent), sum(not ok for _, ok in recent), latencies)

    def snapshot(self, now: float) -> ProgressSnapshot:
        """The figures the progress display shows."""
        window = self.window(now, _RATE_WINDOW_S)
        span = min(_RATE_WINDOW_S, max(now - self.start, 1e-3))
        p95 = float(np.quantile(window.latencies_ms, 0.95)) if len(window.latencies_ms) else None
        return ProgressSnapshot(now - self.start, self.duration_s, len(self.samples),
                                self.failed, self.pending - self.queued, self.queued,
                                window.turns / span, p95)

    def _forget(self, now: float) -> None:
        cutoff = now - self.keep_s
        while self._recent and self._recent[0][0] <= cutoff:
            self._recent.popleft()
