"""The samples frame and its views, on constructed samples (pure: no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netra_ops.errors import NetraOpsError
from netra_ops.load.frames import (
    SAMPLE_COLUMNS,
    as_samples,
    empty_samples,
    errors_by_class,
    latency_percentiles,
    quantile_label,
    samples_frame,
    throughput,
)
from netra_ops.load.samples import ClockAnchor, Sample

WALL_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
ANCHOR = ClockAnchor(perf=1000.0, wall_ns=WALL_NS)
T0 = pd.Timestamp(WALL_NS, unit="ns", tz="UTC")


def _sample(user: int, turn: int, scheduled: float, started: float, ended: float,
            error_class: str | None = None, events: int = 5) -> Sample:
    return Sample(user, turn, 1000.0 + scheduled, 1000.0 + started, 1000.0 + ended,
                  error_class is None, error_class, events)


def test_the_empty_frame_has_the_contract_columns_and_dtypes() -> None:
    frame = empty_samples()
    assert tuple(frame.columns) == SAMPLE_COLUMNS and frame.empty
    assert str(frame["scheduled_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["ok"].dtype == bool and frame["user"].dtype == np.int64
    assert samples_frame([], ANCHOR).dtypes.equals(frame.dtypes)


def test_samples_become_rows_with_utc_times_latency_and_service() -> None:
    frame = samples_frame([
        _sample(1, 0, 0.500, 0.750, 1.000),
        _sample(0, 0, 0.250, 0.250, 0.270, "timeout", events=2),
    ], ANCHOR, model="open")
    assert tuple(frame.columns) == SAMPLE_COLUMNS
    assert frame.dtypes.equals(empty_samples().dtypes)
    first, second = frame.iloc[0], frame.iloc[1]  # sorted by scheduled_at
    assert (first["user"], first["engine"], first["model"]) == (0, "netra-ops", "open")
    assert first["scheduled_at"] == T0 + pd.Timedelta(milliseconds=250)
    assert second["started_at"] == T0 + pd.Timedelta(milliseconds=750)
    assert second["latency_ms"] == pytest.approx(500.0)
    assert second["service_ms"] == pytest.approx(250.0)
    assert (first["ok"], first["error_class"], first["events"]) == (False, "timeout", 2)
    assert (second["ok"], second["error_class"]) == (True, None)


def test_throughput_counts_turns_per_second_with_zero_rows_for_a_gap() -> None:
    samples = [_sample(0, n, t, t, t + 0.01) for n, t in enumerate((0.1, 0.2, 0.3))]
    samples += [_sample(0, 3, 3.2, 3.2, 3.3, "server_error"), _sample(0, 4, 3.4, 3.4, 3.5)]
    table = throughput(samples_frame(samples, ANCHOR))
    assert list(table.columns) == ["time", "engine", "turns", "ok", "errors"]
    assert list(table["time"]) == [T0 + pd.Timedelta(seconds=s) for s in range(4)]
    assert list(table["turns"]) == [3, 0, 0, 2]
    assert list(table["ok"]) == [3, 0, 0, 1] and list(table["errors"]) == [0, 0, 0, 1]
    assert table["turns"].sum() == len(samples)
    assert throughput(empty_samples()).empty


def test_throughput_keeps_engines_apart() -> None:
    ours = samples_frame([_sample(0, 0, 0.1, 0.1, 0.2)], ANCHOR)
    theirs = samples_frame([_sample(0, 0, 0.1, 0.1, 0.2)] * 2, ANCHOR, engine="locust")
    table = throughput(pd.concat([ours, theirs], ignore_index=True))
    assert dict(zip(table["engine"], table["turns"], strict=True)) == {"locust": 2,
                                                                       "netra-ops": 1}


def test_percentiles_are_exact_over_every_sample() -> None:
    latencies = np.arange(1.0, 101.0)  # 1..100 ms
    samples = [_sample(0, n, 0.0, 0.0, ms / 1000, None if n % 10 else "timeout")
               for n, ms in enumerate(latencies)]
    table = latency_percentiles(samples_frame(samples, ANCHOR), (0.5, 0.95, 0.99, 0.999))
    row = table.iloc[0]
    assert list(table.columns) == ["engine", "model", "samples", "p50", "p95", "p99",
                                   "p99.9", "max"]
    assert row["samples"] == 100
    assert row["p50"] == pytest.approx(50.5)
    assert row["p95"] == pytest.approx(95.05)
    assert row["p99"] == pytest.approx(99.01)
    assert row["p99.9"] == pytest.approx(99.901)
    assert row["max"] == pytest.approx(100.0)
    ok_only = latency_percentiles(samples_frame(samples, ANCHOR), (0.5,), ok_only=True)
    assert ok_only.iloc[0]["samples"] == 90


def test_percentiles_per_engine_and_model_and_of_the_service_time() -> None:
    open_model = samples_frame([_sample(0, 0, 0.0, 1.0, 1.01)], ANCHOR, model="open")
    closed = samples_frame([_sample(0, 0, 0.0, 0.0, 0.02)], ANCHOR)
    both = pd.concat([open_model, closed], ignore_index=True)
    latency = latency_percentiles(both, (0.5,)).set_index("model")["p50"]
    service = latency_percentiles(both, (0.5,), column="service_ms").set_index("model")["p50"]
    assert latency["open"] == pytest.approx(1010.0) and service["open"] == pytest.approx(10.0)
    assert latency["closed"] == pytest.approx(20.0) == service["closed"]


def test_errors_by_class_counts_and_shares_most_frequent_first() -> None:
    classes = [None] * 6 + ["timeout", "closed", "closed", "auth"]
    samples = [_sample(0, n, 0.0, 0.0, 0.01, c) for n, c in enumerate(classes)]
    table = errors_by_class(samples_frame(samples, ANCHOR))
    assert list(table["error_class"]) == ["closed", "auth", "timeout"]
    assert list(table["count"]) == [2, 1, 1]
    assert list(table["share"]) == pytest.approx([0.2, 0.1, 0.1])
    assert errors_by_class(empty_samples()).empty


def test_another_engines_frame_is_conformed_to_the_contract() -> None:
    ours = samples_frame([_sample(0, 0, 0.0, 0.0, 0.01, "closed")], ANCHOR)
    foreign = ours.assign(scheduled_at=ours["scheduled_at"].astype(str), user=1.0)
    conformed = as_samples(foreign[list(reversed(SAMPLE_COLUMNS))])
    assert tuple(conformed.columns) == SAMPLE_COLUMNS
    assert conformed.dtypes.equals(empty_samples().dtypes)
    assert conformed.iloc[0]["scheduled_at"] == ours.iloc[0]["scheduled_at"]


def test_a_frame_without_the_columns_is_refused_with_the_contract() -> None:
    with pytest.raises(NetraOpsError, match=r"no column ended_at.*docs/load\.md"):
        throughput(pd.DataFrame({"engine": [], "ok": []}))
    with pytest.raises(NetraOpsError, match="between 0 and 1"):
        latency_percentiles(empty_samples(), (95,))


def test_quantile_labels() -> None:
    assert [quantile_label(q) for q in (0.5, 0.95, 0.99, 0.999)] == ["p50", "p95", "p99",
                                                                     "p99.9"]
