"""The samples frame of a load run (one row per turn attempted) and the views over it.

The columns (`SAMPLE_COLUMNS`, in this order) are the contract both engines write:

    engine, model, user, turn, scheduled_at, started_at, ended_at,
    latency_ms, service_ms, ok, error_class, events,
    first_event_ms, delivery_ms, answer_ms

`latency_ms` runs from `scheduled_at` (when the turn was due) and `service_ms` from
`started_at` (when its message was sent) to `ended_at`: in the open model a turn that had to
wait for a free connection carries the wait in its latency, so a stalled server shows
(no coordinated omission). In the closed model `scheduled_at` is when the user began the
turn: `started_at`, unless the user first had to reconnect.

The timing columns (`TIMING_COLUMNS`) are the probes' three figures: `first_event_ms` and
`answer_ms` run from `scheduled_at` (like `latency_ms`) to the first agent event and to
`agent_completed` (what the user waits for: the first response, the whole answer);
`delivery_ms` is the turn's slowest event delivery (arrival minus the event's own timestamp,
clock offset corrected). NaN when the turn never got there (or delivery was not measured).
Frames written before these columns existed are conformed with them as NaN (`as_samples`).

Percentiles are exact: computed over every sample, with numpy's linear interpolation
between the closest ranks (as `pandas.Series.quantile`), never from a histogram or sketch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from netra_ops.errors import NetraOpsError
from netra_ops.load.samples import ERROR_CLASSES, ClockAnchor, Sample

__all__ = [
    "SAMPLE_COLUMNS",
    "TIMING_COLUMNS",
    "as_samples",
    "empty_samples",
    "errors_by_class",
    "latency_percentiles",
    "quantile_label",
    "samples_frame",
    "throughput",
    "timing_percentiles",
]

SAMPLE_COLUMNS: tuple[str, ...] = (
    "engine", "model", "user", "turn", "scheduled_at", "started_at", "ended_at",
    "latency_ms", "service_ms", "ok", "error_class", "events",
    "first_event_ms", "delivery_ms", "answer_ms",
)
TIMING_COLUMNS: tuple[str, ...] = ("first_event_ms", "delivery_ms", "answer_ms")
_TIME = "datetime64[ns, UTC]"
_DTYPES: dict[str, str] = {
    "engine": "str", "model": "str", "user": "int64", "turn": "int64",
    "scheduled_at": _TIME, "started_at": _TIME, "ended_at": _TIME, "latency_ms": "float64",
    "service_ms": "float64", "ok": "bool", "error_class": "object", "events": "int64",
    **dict.fromkeys(TIMING_COLUMNS, "float64"),
}
THROUGHPUT_COLUMNS = ("time", "engine", "turns", "ok", "errors")
ERROR_COLUMNS = ("error_class", "count", "share")


def empty_samples() -> pd.DataFrame:
    """A samples frame without rows, with the contract's columns and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=_DTYPES[name]) for name in SAMPLE_COLUMNS})


def as_samples(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` in the contract's column order and dtypes (times made UTC); raises
    NetraOpsError naming the missing columns. For frames another engine wrote; timing
    columns it lacks are NaN (not measured)."""
    frame = frame.assign(**{name: np.nan for name in TIMING_COLUMNS
                            if name not in frame.columns})
    _check_columns(frame, SAMPLE_COLUMNS)
    conformed = frame.loc[:, list(SAMPLE_COLUMNS)].copy()
    for name in ("scheduled_at", "started_at", "ended_at"):
        conformed[name] = pd.to_datetime(conformed[name], utc=True).astype(_TIME)
    conformed["error_class"] = conformed["error_class"].astype(object).where(
        conformed["error_class"].notna(), None)
    return conformed.astype({k: v for k, v in _DTYPES.items() if k != "error_class"})


def samples_frame(samples: Sequence[Sample], anchor: ClockAnchor, *, engine: str = "netra-ops",
                  model: str = "closed") -> pd.DataFrame:
    """The samples frame of `samples` (perf_counter times, placed in UTC by `anchor`)."""
    if not samples:
        return empty_samples()
    (user, turn, scheduled, started, ended, ok, error_class, events, first_event, answer,
     delivery) = zip(*samples, strict=True)
    perf = {"scheduled_at": np.array(scheduled), "started_at": np.array(started),
            "ended_at": np.array(ended)}
    due = perf["scheduled_at"]
    times = {name: _utc(values, anchor) for name, values in perf.items()}
    count = len(samples)
    frame = pd.DataFrame({
        "engine": [engine] * count, "model": [model] * count,
        "user": np.array(user, dtype="int64"), "turn": np.array(turn, dtype="int64"),
        **times,
        "latency_ms": (perf["ended_at"] - perf["scheduled_at"]) * 1000.0,
        "service_ms": (perf["ended_at"] - perf["started_at"]) * 1000.0,
        "ok": np.array(ok, dtype=bool), "error_class": pd.Series(error_class, dtype=object),
        "events": np.array(events, dtype="int64"),
        "first_event_ms": (np.array(first_event, dtype=float) - due) * 1000.0,
        "delivery_ms": np.array(delivery, dtype=float),
        "answer_ms": (np.array(answer, dtype=float) - due) * 1000.0,
    })
    frame = frame.astype({"engine": _DTYPES["engine"], "model": _DTYPES["model"]})
    return frame.sort_values("scheduled_at", kind="stable", ignore_index=True)


def _utc(perf: np.ndarray, anchor: ClockAnchor) -> pd.DatetimeIndex:
    nanoseconds = anchor.wall_ns + np.round((perf - anchor.perf) * 1e9).astype("int64")
    return pd.to_datetime(nanoseconds, unit="ns", utc=True)


def throughput(samples: pd.DataFrame, freq: str = "1s") -> pd.DataFrame:
    """Turns ended per `freq` bin, per engine: time (bin start, UTC), engine, turns, ok,
    errors. Bins without a turn between an engine's first and last are rows of zeros (a
    stall shows as a gap, not as a missing row)."""
    _check_columns(samples, ("engine", "ended_at", "ok"))
    if samples.empty:
        return pd.DataFrame({"time": pd.Series(dtype=_TIME), "engine": pd.Series(dtype=object),
                             **{c: pd.Series(dtype="int64") for c in ("turns", "ok", "errors")}})
    parts = [_engine_throughput(engine, group, freq)
             for engine, group in samples.groupby("engine", sort=True)]
    return pd.concat(parts, ignore_index=True)[list(THROUGHPUT_COLUMNS)]


def _engine_throughput(engine: str, group: pd.DataFrame, freq: str) -> pd.DataFrame:
    bins = group["ended_at"].dt.floor(freq)
    ok = group["ok"].astype("int64")
    counts = pd.DataFrame({"turns": ok.groupby(bins).size(), "ok": ok.groupby(bins).sum()})
    full = pd.date_range(bins.min(), bins.max(), freq=freq, name="time")
    counts = counts.reindex(full, fill_value=0).astype("int64")
    counts["errors"] = counts["turns"] - counts["ok"]
    return counts.reset_index().assign(engine=engine)


def quantile_label(quantile: float) -> str:
    """The column name of a quantile: 0.95 -> `p95`, 0.999 -> `p99.9`."""
    return f"p{round(quantile * 100, 6):g}"


def latency_percentiles(samples: pd.DataFrame,
                        quantiles: Iterable[float] = (0.5, 0.95, 0.99), *,
                        column: str = "latency_ms", ok_only: bool = False) -> pd.DataFrame:
    """Exact percentiles of `column` per engine and model: engine, model, samples, one
    column per quantile (`p50`, `p95`, `p99`), max. Every sample counts, failed ones too
    (their time until the failure was known), unless `ok_only`; a NaN (a timing figure
    not measured: no first event, no answer) is no sample."""
    qs = _checked_quantiles(quantiles)
    _check_columns(samples, ("engine", "model", "ok", column))
    chosen = samples[samples["ok"]] if ok_only else samples
    chosen = chosen[chosen[column].notna()]
    labels = [quantile_label(q) for q in qs]
    rows = []
    for (engine, model), group in chosen.groupby(["engine", "model"], sort=True):
        values = group[column].to_numpy(dtype=float)
        rows.append({"engine": engine, "model": model, "samples": len(values),
                     **dict(zip(labels, np.quantile(values, qs).tolist(), strict=True)),
                     "max": float(values.max())})
    return pd.DataFrame(rows, columns=["engine", "model", "samples", *labels, "max"])


def timing_percentiles(samples: pd.DataFrame,
                       quantiles: Iterable[float] = (0.5, 0.95, 0.99)) -> pd.DataFrame:
    """The three timing figures side by side: one row per figure (`first_event_ms`,
    `delivery_ms`, `answer_ms`), engine and model, with `latency_percentiles`' columns."""
    parts = [latency_percentiles(samples, quantiles, column=name).assign(figure=name)
             for name in TIMING_COLUMNS]
    table = pd.concat(parts, ignore_index=True)
    return table[["figure", *[c for c in table.columns if c != "figure"]]]


def _checked_quantiles(quantiles: Iterable[float]) -> list[float]:
    qs = [float(q) for q in quantiles]
    if not qs or not all(0.0 <= q <= 1.0 for q in qs):
        raise NetraOpsError(f"quantiles must be fractions between 0 and 1 (0.95 for p95), "
                            f"got {qs}")
    return qs


def errors_by_class(samples: pd.DataFrame) -> pd.DataFrame:
    """Failed turns per error class: error_class, count, share (of all turns attempted),
    most frequent first; no rows when every turn passed."""
    _check_columns(samples, ("ok", "error_class"))
    failed = samples.loc[~samples["ok"], "error_class"].fillna("other")
    counts = failed.value_counts()
    order = sorted(counts.index, key=lambda name: (-counts[name], _class_rank(name)))
    total = len(samples)
    rows = [{"error_class": name, "count": int(counts[name]),
             "share": counts[name] / total} for name in order]
    return pd.DataFrame(rows, columns=list(ERROR_COLUMNS)).astype(
        {"error_class": object, "count": "int64", "share": "float64"})


def _class_rank(name: str) -> int:
    return ERROR_CLASSES.index(name) if name in ERROR_CLASSES else len(ERROR_CLASSES)


def _check_columns(samples: pd.DataFrame, needed: Sequence[str]) -> None:
    missing = [name for name in needed if name not in samples.columns]
    if missing:
        raise NetraOpsError(f"not a load samples frame: no column {', '.join(missing)} (the "
                            f"columns are {', '.join(SAMPLE_COLUMNS)}; see docs/load.md)")
