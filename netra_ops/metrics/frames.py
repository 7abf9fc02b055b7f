"""Time series as long frames, the one shape every source returns and every rule reads.

A frame has one row per point: `time` (UTC), `metric`, `value`, `count` (how many
observations the value summarizes: requests in a step, memory samples in a step, 1 for a
probe result), `source` (`monitoring`, `logging`, `probe`) and label columns (`service`,
`revision`, and where they apply `response_code_class`, `event`). Rows are sorted by time,
then metric and labels, so the same data always gives the same frame.

A source that cannot be read returns a `Reading` with an empty frame and the reason, so a
rule that depends on it is `inconclusive` with that reason, never silently `ok`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BASE_COLUMNS",
    "LABEL_COLUMNS",
    "METRIC_SOURCES",
    "REVISION_SOURCES",
    "SOURCES",
    "Reading",
    "bucket_ends",
    "combine_readings",
    "empty_frame",
    "label_columns",
    "make_frame",
    "normalize_frame",
    "select_series",
    "step_count",
]

BASE_COLUMNS = ("time", "metric", "value", "count", "source")
LABEL_COLUMNS = ("service", "revision")
SOURCES = ("monitoring", "logging", "probe")
"""Sources in order of preference: a metric several sources give is taken from the first."""

METRIC_SOURCES: dict[str, tuple[str, ...]] = {
    "http_error_rate": ("monitoring", "logging"),
    "http_5xx_rate": ("monitoring", "logging"),
    "http_5xx_count": ("monitoring", "logging"),
    "latency_p50_ms": ("monitoring",),
    "latency_p95_ms": ("monitoring",),
    "latency_p99_ms": ("monitoring",),
    "memory_utilization": ("monitoring",),
    "memory_bytes": ("monitoring",),
    "cpu_utilization": ("monitoring",),
    "health_5xx_rate": ("logging", "probe"),
    "auth_failure_rate": ("logging", "probe"),
    "error_log_entries": ("logging",),
    "health_ok_rate": ("probe",),
    "health_latency_ms": ("probe",),
    "websocket_connection_success_rate": ("probe",),
    "golden_path_pass_rate": ("probe",),
    "event_latency_ms": ("probe",),
}
"""Which sources produce each metric (what an unavailable source leaves without data)."""

REVISION_SOURCES: dict[str, tuple[str, ...]] = {
    **{metric: ("monitoring", "logging")
       for metric in ("http_error_rate", "http_5xx_rate", "http_5xx_count")},
    **{metric: ("monitoring",)
       for metric in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                      "memory_utilization", "memory_bytes", "cpu_utilization")},
    "health_5xx_rate": ("logging",),
}
"""The sources whose rows of a metric name the revision that answered every request, a
failed one included: Cloud Run labels its metrics and request logs with the revision. A
probe's health row names the revision only when the answer's body says it (a 500 does not),
so its rows of one revision would count only that revision's good answers."""


@dataclass(frozen=True)
class Reading:
    """What one source gave for a window: a frame, or an empty frame and why."""

    source: str
    start: datetime
    end: datetime
    frame: pd.DataFrame
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the source could be read (its frame may still be empty: no traffic)."""
        return self.error is None

    @classmethod
    def failed(cls, source: str, start: datetime, end: datetime, error: str) -> Reading:
        """A reading of a source that could not be read."""
        return cls(source, start, end, empty_frame(), error)


def empty_frame() -> pd.DataFrame:
    """A frame with the base and label columns and no rows."""
    return normalize_frame(pd.DataFrame(columns=[*BASE_COLUMNS, *LABEL_COLUMNS]))


def make_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A normalized frame from row dicts (missing `count` is 1, missing labels None)."""
    return normalize_frame(pd.DataFrame(list(rows)))


def normalize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every column present and typed, UTC times, rows in canonical order."""
    out = frame.copy()
    for column in (*BASE_COLUMNS, *LABEL_COLUMNS):
        if column not in out.columns:
            out[column] = 1.0 if column == "count" else None
    out["time"] = pd.to_datetime(out["time"], utc=True, format="mixed").dt.as_unit("ns")
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    out["count"] = pd.to_numeric(out["count"], errors="coerce").fillna(1.0).astype(float)
    labels = ["source", *label_columns(out)]
    for column in ["metric", *labels]:
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    order = ["time", "metric", *labels]
    keys = {c: out[c].map(_sort_key) if c != "time" else out[c] for c in order}
    ranked = pd.DataFrame(keys).sort_values(order, kind="mergesort").index
    columns = [*BASE_COLUMNS, *LABEL_COLUMNS,
               *sorted(c for c in out.columns if c not in (*BASE_COLUMNS, *LABEL_COLUMNS))]
    return out.loc[ranked, columns].reset_index(drop=True)


def _sort_key(value: Any) -> str:
    return "" if value is None else str(value)


def label_columns(frame: pd.DataFrame) -> list[str]:
    """The frame's label columns (everything but time, metric, value, count and source)."""
    return [c for c in frame.columns if c not in BASE_COLUMNS]


def combine_readings(readings: Iterable[Reading]) -> tuple[pd.DataFrame, dict[str, str]]:
    """All readings' rows as one frame, and `{source: reason}` of those that failed."""
    chosen = list(readings)
    frames = [r.frame for r in chosen if not r.frame.empty]
    problems = {r.source: r.error for r in chosen if r.error is not None}
    if not frames:
        return empty_frame(), problems
    return normalize_frame(pd.concat(frames, ignore_index=True)), problems


def select_series(frame: pd.DataFrame, metric: str, where: Mapping[str, str] | None = None,
                  source: str | None = None) -> pd.DataFrame:
    """Rows of one metric matching the labels in `where`, from one source.

    With `source` unset, rows of the most preferred source (`SOURCES` order) that has any are
    kept, so a metric two sources give is never counted twice.
    """
    rows = frame[frame["metric"] == metric]
    for label, wanted in (where or {}).items():
        if label not in rows.columns:
            return rows.iloc[0:0]
        rows = rows[rows[label].astype(str) == str(wanted)]
    if source is not None:
        return rows[rows["source"] == source]
    present = set(rows["source"].dropna())
    preferred = next((s for s in SOURCES if s in present), None)
    return rows if preferred is None or len(present) == 1 else rows[rows["source"] == preferred]


def bucket_ends(times: Sequence[datetime] | pd.Series, end: datetime,
                step_s: float) -> pd.Series:
    """The end of the step each time falls in: steps are (end - (k+1)·step, end - k·step].

    The same layout as Cloud Monitoring's aligned points, so a window read twice is
    bucketed the same way.
    """
    stamps = pd.to_datetime(pd.Series(times), utc=True)
    age_s = (pd.Timestamp(end) - stamps).dt.total_seconds().to_numpy()
    k = np.maximum(np.ceil(age_s / step_s) - 1, 0)
    return pd.Series(pd.Timestamp(end) - pd.to_timedelta(k * step_s, unit="s"),
                     index=stamps.index)


def step_count(start: datetime, end: datetime, step_s: float) -> int:
    """How many steps of `step_s` cover (start, end]."""
    return max(1, math.ceil((end - start) / timedelta(seconds=step_s) - 1e-9))
