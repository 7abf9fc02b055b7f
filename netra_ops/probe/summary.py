"""Many golden-path runs as one table and the figures the seed's criteria ask for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from netra_ops.probe.golden_path import GOLDEN_PATH_EVENTS, GoldenPathResult

__all__ = ["checks_table", "failed_checks", "results_table", "runs_frame", "summarize_runs"]

_CHECK_COLUMNS = ["run", "check", "event", "ok", "value", "detail"]


def runs_frame(results: Sequence[GoldenPathResult]) -> pd.DataFrame:
    """Every run's event rows stacked, with the run number in a `run` column."""
    frames = [r.to_frame().assign(run=number) for number, r in enumerate(results, start=1)]
    if not frames:
        return pd.DataFrame(columns=["run", "event", "seen", "latency_ms"])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["run", *[c for c in frame.columns if c != "run"]]]


def summarize_runs(results: Sequence[GoldenPathResult]) -> dict[str, Any]:
    """Pass rate, events delivered, p50/p95/max event latency and the failures seen."""
    if not results:
        return {"runs": 0, "passed": 0, "pass_rate": None, "event_latency_p95_ms": None}
    latencies = pd.Series([e.received_ms for r in results for e in r.events
                           if e.type in GOLDEN_PATH_EVENTS], dtype=float)
    passed = sum(r.ok for r in results)
    return {
        "runs": len(results),
        "passed": passed,
        "pass_rate": passed / len(results),
        "events_expected": len(results) * len(GOLDEN_PATH_EVENTS),
        "events_delivered": int(latencies.size),
        "event_latency_p50_ms": _quantile(latencies, 0.50),
        "event_latency_p95_ms": _quantile(latencies, 0.95),
        "event_latency_max_ms": None if latencies.empty else float(latencies.max()),
        "missing_events": sorted({m for r in results for m in r.missing}),
        "errors": sorted({r.error for r in results if r.error}),
    }


def _quantile(values: pd.Series, q: float) -> float | None:
    return None if values.empty else float(values.quantile(q))


def results_table(results: Sequence[GoldenPathResult]) -> pd.DataFrame:
    """One row per run: outcome, where it failed, timings and the events delivered."""
    rows = [{
        "run": number, "ok": r.ok, "failed_step": r.failed_step, "error": r.error,
        "login_ms": r.login_ms, "connect_ms": r.connect_ms, "total_ms": r.total_ms,
        "events": f"{len(GOLDEN_PATH_EVENTS) - len(r.missing)}/{len(GOLDEN_PATH_EVENTS)}",
        "missing": ", ".join(r.missing), "last_event": r.last_event,
        "slow_events": ", ".join(r.slow_events),
    } for number, r in enumerate(results, start=1)]
    return pd.DataFrame(rows)


def checks_table(results: Sequence[GoldenPathResult]) -> pd.DataFrame:
    """Every check of every run (`GoldenPathResult.checks_frame()`), with the run number;
    a run that never sent its message has no rows."""
    frames = [r.checks_frame().assign(run=number) for number, r in enumerate(results, start=1)
              if r.report is not None]
    if not frames:
        return pd.DataFrame(columns=_CHECK_COLUMNS)
    return pd.concat(frames, ignore_index=True)[_CHECK_COLUMNS]


def failed_checks(results: Sequence[GoldenPathResult]) -> pd.DataFrame:
    """How often each check failed across the runs (check, event, failures), worst first."""
    table = checks_table(results)
    failed = table[~table["ok"].astype(bool)]
    counts = failed.groupby(["check", "event"], as_index=False).size()
    return counts.rename(columns={"size": "failures"}).sort_values(
        "failures", ascending=False, ignore_index=True)
