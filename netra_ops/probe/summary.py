"""Many golden-path runs as one table and the figures the seed's criteria ask for.

The event latency the criteria read (`event_latency_p95_ms`, seed "WebSocket events
delivered < 500 ms") is each event's delivery latency: its arrival minus its own timestamp,
clock offset corrected. How long the agent took is reported apart: the first event and the
whole answer from the send (`netra_ops.probe.event_timing`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from netra_ops.probe.golden_path_run import GOLDEN_PATH_EVENTS, GoldenPathResult

__all__ = ["checks_table", "failed_checks", "results_table", "runs_frame", "summarize_runs",
           "timing_table"]

_CHECK_COLUMNS = ["run", "check", "event", "ok", "value", "detail"]


def runs_frame(results: Sequence[GoldenPathResult]) -> pd.DataFrame:
    """Every run's event rows stacked, with the run number in a `run` column."""
    frames = [r.to_frame().assign(run=number) for number, r in enumerate(results, start=1)]
    if not frames:
        return pd.DataFrame(columns=["run", "event", "seen", "latency_ms", "delivery_ms"])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["run", *[c for c in frame.columns if c != "run"]]]


def summarize_runs(results: Sequence[GoldenPathResult]) -> dict[str, Any]:
    """Pass rate, events delivered, p50/p95/max delivery latency (`event_latency_*`), the
    first event and the answer from the send (p95 and max), the runs whose timing failed,
    and the failures seen."""
    if not results:
        return {"runs": 0, "passed": 0, "pass_rate": None, "event_latency_p95_ms": None}
    received = sum(e.type in GOLDEN_PATH_EVENTS for r in results for e in r.events)
    delivery = pd.Series([d.delivery_ms for r in results if r.report is not None
                          for d in r.report.timing.deliveries if d.delivery_ms is not None],
                         dtype=float)
    first = pd.Series([r.first_event_ms for r in results if r.first_event_ms is not None],
                      dtype=float)
    answer = pd.Series([r.answer_ms / 1000 for r in results if r.answer_ms is not None],
                       dtype=float)
    passed = sum(r.ok for r in results)
    return {
        "runs": len(results),
        "passed": passed,
        "pass_rate": passed / len(results),
        "events_expected": len(results) * len(GOLDEN_PATH_EVENTS),
        "events_delivered": int(received),
        "event_latency_p50_ms": _quantile(delivery, 0.50),
        "event_latency_p95_ms": _quantile(delivery, 0.95),
        "event_latency_max_ms": _quantile(delivery, 1.0),
        "first_event_p95_ms": _quantile(first, 0.95),
        "first_event_max_ms": _quantile(first, 1.0),
        "answer_p95_s": _quantile(answer, 0.95),
        "answer_max_s": _quantile(answer, 1.0),
        "timing_failures": sum(r.timing_ok is False for r in results),
        "missing_events": sorted({m for r in results for m in r.missing}),
        "errors": sorted({r.error for r in results if r.error}),
    }


def _quantile(values: pd.Series, q: float) -> float | None:
    return None if values.empty else float(values.quantile(q))


def timing_table(results: Sequence[GoldenPathResult]) -> pd.DataFrame:
    """One row per run: the three timing figures, their budgets and verdict, and the
    server clock offset the delivery latencies were corrected by."""
    rows = [{
        "run": number, "first_event_ms": r.first_event_ms, "max_delivery_ms": r.max_delivery_ms,
        "event_budget_ms": r.event_budget_ms,
        "answer_s": None if r.answer_ms is None else r.answer_ms / 1000,
        "answer_budget_s": r.answer_budget_s, "timing_ok": r.timing_ok,
        "clock_offset_ms": r.clock_offset_ms, "clock": r.clock_source,
        "timing_error": r.timing_error,
    } for number, r in enumerate(results, start=1)]
    return pd.DataFrame(rows, columns=_TIMING_COLUMNS)


_TIMING_COLUMNS = ["run", "first_event_ms", "max_delivery_ms", "event_budget_ms", "answer_s",
                   "answer_budget_s", "timing_ok", "clock_offset_ms", "clock", "timing_error"]


def results_table(results: Sequence[GoldenPathResult]) -> pd.DataFrame:
    """One row per run: outcome, where it failed, timings and the events delivered."""
    rows = [{
        "run": number, "ok": r.ok, "failed_step": r.failed_step, "error": r.error,
        "login_ms": r.login_ms, "connect_ms": r.connect_ms, "total_ms": r.total_ms,
        "first_event_ms": r.first_event_ms, "max_delivery_ms": r.max_delivery_ms,
        "answer_ms": r.answer_ms,
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
