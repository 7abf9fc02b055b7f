"""What a load run found: its samples, the views over them, and how it ended.

`LoadResult.samples` is the samples frame (docs/load.md); `throughput()`, `percentiles()`,
`timing()` (first event, delivery and answer side by side) and `errors()` are the frames of
`netra_ops.load.frames` over it. `aborted` is the threshold breach that stopped the run (None
when it ran its course); `to_record()` is the run as plain JSON data for
`netra_ops.record.record` (figures, not the samples: no token, no password).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from netra_ops.load.config import LoadConfig
from netra_ops.load.frames import (
    TIMING_COLUMNS,
    errors_by_class,
    latency_percentiles,
    quantile_label,
    throughput,
    timing_percentiles,
)
from netra_ops.load.thresholds import ThresholdBreach

__all__ = ["LoadResult"]

_RECORD_QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class LoadResult:
    """One load run against `environment` (see the module docstring).

    `interrupted` counts turns that were due but never finished (cut off by an abort, or
    still running `graceful_stop_s` after the end): they are not samples. `setup_errors`
    counts users whose first connection failed before the run (by error class); they
    try again on their first turn. `max_queued` is the most open-model turns that waited
    for a connection at once.
    """

    environment: str
    config: LoadConfig
    samples: pd.DataFrame = field(repr=False)
    started_at: datetime
    ended_at: datetime
    aborted: ThresholdBreach | None = None
    breaches: tuple[ThresholdBreach, ...] = ()
    interrupted: int = 0
    setup_errors: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, str] = field(default_factory=dict)
    max_queued: int = 0

    @property
    def turns(self) -> int:
        """Turns attempted (samples)."""
        return len(self.samples)

    @property
    def ok(self) -> bool:
        """True when the run was not aborted, had turns, and every turn passed."""
        return self.aborted is None and self.turns > 0 and bool(self.samples["ok"].all())

    @property
    def duration_s(self) -> float:
        """Seconds from the start of the measured period to the end of the run."""
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def error_rate(self) -> float | None:
        """Failed turns / turns attempted (None without turns)."""
        return float((~self.samples["ok"]).mean()) if self.turns else None

    @property
    def turns_per_s(self) -> float:
        """Turns ended per second over the run."""
        return self.turns / self.duration_s if self.duration_s > 0 else 0.0

    def throughput(self, freq: str = "1s") -> pd.DataFrame:
        """Turns, ok and errors per `freq` bin (`netra_ops.load.frames.throughput`)."""
        return throughput(self.samples, freq)

    def percentiles(self, quantiles: Iterable[float] = _RECORD_QUANTILES, *,
                    column: str = "latency_ms", ok_only: bool = False) -> pd.DataFrame:
        """Exact latency percentiles (`netra_ops.load.frames.latency_percentiles`)."""
        return latency_percentiles(self.samples, quantiles, column=column, ok_only=ok_only)

    def timing(self, quantiles: Iterable[float] = _RECORD_QUANTILES) -> pd.DataFrame:
        """First event, delivery and answer percentiles (`timing_percentiles`)."""
        return timing_percentiles(self.samples, quantiles)

    def percentile(self, quantile: float, column: str = "latency_ms") -> float | None:
        """One exact percentile of `column` over every sample that has a value (None
        without one)."""
        value = float(self.samples[column].quantile(quantile)) if self.turns else math.nan
        return None if math.isnan(value) else value

    def errors(self) -> pd.DataFrame:
        """Failed turns by error class (`netra_ops.load.frames.errors_by_class`)."""
        return errors_by_class(self.samples)

    def summary(self) -> str:
        """One line: turns, rate, p50/p95/p99, first event p95, errors, and how the run
        ended."""
        rate = self.error_rate or 0.0
        quantiles = ", ".join(f"{quantile_label(q)} {self.percentile(q) or 0:.0f} ms"
                              for q in _RECORD_QUANTILES)
        first = self.percentile(0.95, "first_event_ms")
        shown = "none" if first is None else f"{first:.0f} ms"
        ending = f"; aborted: {self.aborted.reason}" if self.aborted else ""
        return (f"{self.turns} turns in {self.duration_s:.1f} s ({self.turns_per_s:.1f}/s), "
                f"{quantiles}, first event p95 {shown}, {rate:.1%} failed{ending}")

    def to_record(self) -> dict[str, Any]:
        """The run as plain JSON data (figures and verdicts, not the samples)."""
        return {
            "environment": self.environment, "engine": "netra-ops",
            "config": self.config.to_dict(),
            "started_at": self.started_at.isoformat(), "ended_at": self.ended_at.isoformat(),
            "duration_s": self.duration_s, "turns": self.turns,
            "ok_turns": int(self.samples["ok"].sum()), "error_rate": self.error_rate,
            "turns_per_s": self.turns_per_s,
            "latency_ms": self._quantiles("latency_ms"),
            "service_ms": self._quantiles("service_ms"),
            **{name: self._quantiles(name) for name in TIMING_COLUMNS},
            "errors": {row.error_class: int(row.count) for row in self.errors().itertuples()},
            "error_examples": dict(self.error_examples),
            "aborted": self.aborted.to_dict() if self.aborted else None,
            "breaches": [b.to_dict() for b in self.breaches],
            "interrupted": self.interrupted, "setup_errors": dict(self.setup_errors),
            "max_queued": self.max_queued,
        }

    def _quantiles(self, column: str) -> dict[str, float | None]:
        values = {quantile_label(q): self.percentile(q, column) for q in _RECORD_QUANTILES}
        values["max"] = self.percentile(1.0, column)
        return values
