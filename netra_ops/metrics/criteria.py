"""Success criteria (seed "Critical Success Metrics") evaluated against measured values.

Two ways in, one table out (one row per criterion: value, threshold, `pass` / `fail` /
`no data`, and the seed section it comes from):

- `evaluate_criteria(env, values)`: values a runbook measured itself (`{metric: value}`);
- `criteria_table(env, frame)`: values summarized from a long frame of samples, each
  criterion's metric through its `Summary` (the frame series and the aggregation; a
  criterion in the environment may name its own `series` and `aggregation`). Summaries
  grouped by revision report the worst revision (the highest value for `<` criteria, the
  lowest for `>`).

A criterion without a value is `no data` and does not pass: never silently ok.
`criteria_checks(table)` turns the table into verdict rows (`netra_ops.checks.Check`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from netra_ops.checks import Check
from netra_ops.config import Criterion, Environment
from netra_ops.display import format_condition
from netra_ops.metrics.frames import METRIC_SOURCES, select_series
from netra_ops.metrics.rules import COMPARE, aggregate

__all__ = ["COLUMNS", "SUMMARIES", "Summary", "criteria_checks", "criteria_figures",
           "criteria_table", "criteria_values", "evaluate_criteria"]

COLUMNS = ["criterion", "description", "section", "metric", "value", "comparison",
           "threshold", "unit", "state", "passed", "detail"]


@dataclass(frozen=True)
class Summary:
    """How a criterion's value comes from a frame: a series, reduced by an aggregation."""

    series: str
    aggregation: str
    where: Mapping[str, str] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()


SUMMARIES: dict[str, Summary] = {
    "health_ok_rate": Summary("health_ok_rate", "mean"),
    "golden_path_pass_rate": Summary("golden_path_pass_rate", "mean"),
    "http_5xx_count": Summary("http_5xx_count", "sum"),
    "http_error_rate": Summary("http_error_rate", "mean"),
    "event_latency_p95_ms": Summary("event_latency_ms", "p95"),
    "memory_mean_bytes": Summary("memory_bytes", "mean", group_by=("revision",)),
    "memory_max_bytes": Summary("memory_bytes", "max", group_by=("revision",)),
    "cpu_mean_utilization": Summary("cpu_utilization", "mean", group_by=("revision",)),
    "websocket_connection_success_rate": Summary("websocket_connection_success_rate", "mean"),
    "response_time_p95_ms": Summary("latency_p95_ms", "max",
                                    where={"response_code_class": "2xx"}),
    "auth_failure_rate": Summary("auth_failure_rate", "mean"),
}
"""The built-in summaries, by criterion metric. `database_query_ms` has none: no source
measures database query times yet, so that criterion reads `no data`."""


def evaluate_criteria(
    env: Environment,
    values: Mapping[str, float | int | None],
    names: Iterable[str] | None = None,
    details: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per criterion: value, threshold, state `pass` / `fail` / `no data`.

    `values` maps metric names (as the environment's criteria name them) to what was
    measured. `names` picks criteria; by default every criterion whose metric was measured.
    A criterion without a value is `no data`, and `passed` is False: never silently ok.
    `details` adds evidence text per criterion name (what was missing, the error seen).
    """
    chosen = ([env.criterion(n) for n in names] if names is not None
              else [c for c in env.success_criteria if c.metric in values])
    notes = details or {}
    rows = [_row(c, values.get(c.metric), notes.get(c.name, "")) for c in chosen]
    return pd.DataFrame(rows, columns=COLUMNS)


def criteria_values(frame: pd.DataFrame, criteria: Iterable[Criterion],
                    unavailable: Mapping[str, str] | None = None, *,
                    start: datetime | None = None, end: datetime | None = None
                    ) -> dict[str, tuple[float | None, str]]:
    """`{criterion name: (value or None, how it was computed or why there is none)}`,
    from the samples with start < time <= end (default: all)."""
    window = frame
    if start is not None:
        window = window[window["time"] > pd.Timestamp(start)]
    if end is not None:
        window = window[window["time"] <= pd.Timestamp(end)]
    return {c.name: _summarize(window, c, unavailable or {}) for c in criteria}


def criteria_table(env: Environment, frame: pd.DataFrame, names: Iterable[str] | None = None,
                   unavailable: Mapping[str, str] | None = None, *,
                   start: datetime | None = None, end: datetime | None = None
                   ) -> pd.DataFrame:
    """Every criterion (or those named) judged on the frame's samples in (start, end], one
    row each."""
    chosen = [env.criterion(n) for n in names] if names is not None else env.success_criteria
    computed = criteria_values(frame, chosen, unavailable, start=start, end=end)
    rows = [_row(c, *computed[c.name]) for c in chosen]
    return pd.DataFrame(rows, columns=COLUMNS)


def summary_of(criterion: Criterion) -> Summary | None:
    """The criterion's own series/aggregation, else the built-in summary of its metric."""
    builtin = SUMMARIES.get(criterion.metric)
    if criterion.series is None and criterion.aggregation is None:
        return builtin
    series = criterion.series or (builtin.series if builtin else criterion.metric)
    aggregation = criterion.aggregation or (builtin.aggregation if builtin else "mean")
    return Summary(series, aggregation, builtin.where if builtin else {},
                   builtin.group_by if builtin else ())


def _summarize(frame: pd.DataFrame, criterion: Criterion,
               unavailable: Mapping[str, str]) -> tuple[float | None, str]:
    summary = summary_of(criterion)
    if summary is None:
        return None, f"no source measures {criterion.metric}"
    rows = select_series(frame, summary.series, summary.where)
    rows = rows[rows["value"].notna()].sort_values("time", kind="mergesort")
    if rows.empty:
        causes = [f"{s} unavailable: {unavailable[s]}"
                  for s in METRIC_SOURCES.get(summary.series, tuple(unavailable))
                  if s in unavailable]
        return None, "; ".join([f"no samples of {summary.series}", *causes])
    groups = _groups(rows, summary.group_by)
    values = {key: aggregate(summary.aggregation, g["value"], g["count"])
              for key, g in groups.items()}
    worst = (max if criterion.comparison in ("<", "<=") else min)(values, key=values.__getitem__)
    source = ", ".join(sorted(set(rows["source"].dropna())))
    samples = groups[worst]["count"].sum()
    detail = f"{summary.aggregation} of {summary.series} over {samples:g} samples ({source})"
    if worst:
        detail += f", worst {worst}"
    return values[worst], detail


def _groups(rows: pd.DataFrame, by: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    if not by:
        return {"": rows}
    keys = rows.apply(lambda r: ", ".join(f"{c}={r.get(c)}" for c in by), axis=1)
    return {str(key): rows[keys == key] for key in sorted(set(keys))}


def _row(criterion: Criterion, value: float | int | None, detail: str) -> dict[str, Any]:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    passed = (not missing and value is not None
              and COMPARE[criterion.comparison](float(value), criterion.threshold))
    return {
        "criterion": criterion.name, "description": criterion.description,
        "section": criterion.section, "metric": criterion.metric,
        "value": None if missing else value, "comparison": criterion.comparison,
        "threshold": criterion.threshold, "unit": criterion.unit,
        "state": "no data" if missing else ("pass" if passed else "fail"), "passed": passed,
        "detail": detail,
    }


def criteria_figures(criteria: pd.DataFrame) -> dict[str, Any]:
    """What a record keeps of a criteria table: each metric's value (the first row of each
    metric), then `criteria_no_data`, the criteria nothing measured."""
    values = {row["metric"]: row["value"] for row in
              criteria.drop_duplicates("metric").to_dict(orient="records")}
    no_data = list(criteria.loc[criteria["state"] == "no data", "criterion"])
    return {**values, "criteria_no_data": no_data}


def criteria_checks(criteria: pd.DataFrame, *, with_no_data: bool = True) -> tuple[Check, ...]:
    """A criteria table as check rows: the value against `comparison threshold`.
    `with_no_data=False` leaves out the criteria nothing measured."""
    chosen = criteria if with_no_data else criteria[criteria["state"] != "no data"]
    return tuple(Check(row["criterion"], bool(row["passed"]), row["detail"], value=row["value"],
                       threshold=format_condition(row["comparison"], row["threshold"],
                                                  row["unit"]),
                       unit=row["unit"] or "")
                 for row in chosen.to_dict(orient="records"))
