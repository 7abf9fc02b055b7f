"""Rollback triggers (seed 4.1) evaluated on frames: `ok`, `pending`, `firing`, `inconclusive`.

At an evaluation time t a rule takes its samples in the window (t - window_s, t] (NaN values
are not samples), and if they hold at least `min_samples` observations reduces them with its
aggregation and compares the value with the threshold:

- `inconclusive`: no samples, or too few: never silently `ok`;
- `ok`: the condition is false;
- `pending`: the condition is true, but has not held for `for_s` yet;
- `firing`: the condition has held for at least `for_s` (at once when `for_s` is 0).

The condition holds *since* the evaluation at which it became true, with one refinement: a
rule that asks every sample to cross the threshold (`min` with `>`/`>=`, `max` with
`<`/`<=`) holds since the first sample of the run of crossing samples, as the data shows it.
An evaluation that is not true (false or inconclusive) ends the run. A value exactly at the
threshold does not cross it for `>` or `<`.

Late data (Cloud Monitoring shows a point one to three minutes after it happened, Logging a
few seconds after): with `max_lateness_s`, a rule's window ends at its newest sample when that
is at most `max_lateness_s` old, (newest - window_s, newest], and `for_s` is counted in the
data's time, so a window shorter than the lateness still sees data and a condition is not
held longer than the data shows. A newest sample older than that is no longer late but
missing: the window ends at t again (and the rule is inconclusive if nothing is left in it).
With 0 (the default) every window ends at t.

A rule with `group_by` is evaluated per group (e.g. per revision) and reports its worst
group, in the order firing > pending > inconclusive > ok; the others are named in the
detail. `expect` names a group that must be judged (e.g. `{"revision": the serving one}`):
while a rule grouped by those labels has no sample of it (a new revision Monitoring does not
show yet), the rule is `inconclusive` for it, not `ok` on the other groups alone. A group
that went quiet (too few samples, the last one more than half a window older than the other
groups' newest: a revision scaled to zero or stopped) is named, not judged.

`RuleEvaluator` keeps that state between evaluations (the live watch); `replay()` evaluates
a frame of history at a series of times; `evaluate_rules()` gives the table at one time,
replaying the run-up so that `for_s` is honoured.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from netra_ops.config import TriggerRule
from netra_ops.errors import ConfigError
from netra_ops.metrics.frames import (
    BASE_COLUMNS,
    METRIC_SOURCES,
    normalize_frame,
    select_series,
)

__all__ = [
    "AGGREGATIONS",
    "RULE_COLUMNS",
    "STATES",
    "RuleEvaluator",
    "RuleResult",
    "aggregate",
    "evaluate_rules",
    "evaluation_times",
    "replay",
    "rules_frame",
]

STATES = ("ok", "pending", "firing", "inconclusive")
SEVERITY = {"ok": 0, "inconclusive": 1, "pending": 2, "firing": 3}
RULE_COLUMNS = [
    "rule", "state", "value", "comparison", "threshold", "unit", "aggregation", "metric",
    "samples", "min_samples", "window_start", "window_end", "since", "held_s", "for_s",
    "group", "source", "dry_run", "evaluated_at", "detail", "description",
]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _quantile(q: float) -> Callable[[np.ndarray, np.ndarray], float]:
    return lambda values, counts: float(np.quantile(values, q))


AGGREGATIONS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "mean": lambda v, c: float(np.average(v, weights=c)) if c.sum() > 0 else float(v.mean()),
    "min": lambda v, c: float(v.min()),
    "max": lambda v, c: float(v.max()),
    "last": lambda v, c: float(v[-1]),
    "sum": lambda v, c: float(v.sum()),
    "count": lambda v, c: float(c.sum()),
    "p50": _quantile(0.50),
    "p90": _quantile(0.90),
    "p95": _quantile(0.95),
    "p99": _quantile(0.99),
}
"""Reductions of a window's values (time-ordered) and observation counts to one number.
`mean` is weighted by counts (a rate's mean is then errors over requests); percentiles are
over the samples' values."""


def aggregate(name: str, values: Sequence[float] | np.ndarray,
              counts: Sequence[float] | np.ndarray | None = None) -> float:
    """One number from time-ordered values (and their observation counts)."""
    if name not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {name!r}; use one of {', '.join(AGGREGATIONS)}")
    array = np.asarray(values, dtype=float)
    weights = np.ones_like(array) if counts is None else np.asarray(counts, dtype=float)
    return AGGREGATIONS[name](array, weights)


@dataclass(frozen=True)
class RuleResult:
    """One rule at one evaluation time: its state and the evidence behind it."""

    rule: TriggerRule
    evaluated_at: datetime
    state: str
    value: float | None
    samples: float
    window_start: datetime
    window_end: datetime
    since: datetime | None = None
    group: str = ""
    source: str | None = None
    detail: str = ""

    @property
    def held_s(self) -> float | None:
        """Seconds the condition has held up to the window's end, the newest data (None
        unless pending or firing)."""
        if self.since is None:
            return None
        return (self.window_end - self.since).total_seconds()

    def to_row(self) -> dict[str, Any]:
        """The row of `rules_frame()`."""
        rule = self.rule
        return {
            "rule": rule.name, "state": self.state, "value": self.value,
            "comparison": rule.comparison, "threshold": rule.threshold, "unit": rule.unit,
            "aggregation": rule.aggregation, "metric": rule.metric,
            "samples": int(self.samples), "min_samples": rule.min_samples,
            "window_start": self.window_start, "window_end": self.window_end,
            "since": self.since, "held_s": self.held_s, "for_s": rule.for_s,
            "group": self.group, "source": self.source, "dry_run": rule.dry_run,
            "evaluated_at": self.evaluated_at, "detail": self.detail,
            "description": rule.description,
        }


def rules_frame(results: Iterable[RuleResult]) -> pd.DataFrame:
    """One row per result with value, threshold, state and the evidence window."""
    frame = pd.DataFrame([r.to_row() for r in results], columns=RULE_COLUMNS)
    for column in ("window_start", "window_end", "since", "evaluated_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


@dataclass
class _Series:
    """A rule's samples, as arrays (ns since the epoch), grouped and time-ordered."""

    groups: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    source: str | None
    nan_values: int


class RuleEvaluator:
    """Evaluates rules at successive times, keeping since when each condition holds;
    `max_lateness_s`: how late data may be; `expect`: labels of a group that must be judged
    (see the module docstring)."""

    def __init__(self, rules: Sequence[TriggerRule], *, max_lateness_s: float = 0.0,
                 expect: Mapping[str, str] | None = None) -> None:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"rule names must be unique, got {', '.join(names)}")
        if not max_lateness_s >= 0:
            raise ConfigError(f"max_lateness_s must be 0 or more seconds, got {max_lateness_s!r}")
        self.rules = list(rules)
        self.max_lateness_s = max_lateness_s
        self.expect = dict(expect or {})
        self._since: dict[tuple[str, str], datetime] = {}
        self._cache: tuple[pd.DataFrame, dict[str, _Series]] | None = None

    def evaluate(self, frame: pd.DataFrame, at: datetime,
                 unavailable: Mapping[str, str] | None = None) -> list[RuleResult]:
        """Every rule at time `at` on `frame`; one result per rule (its worst group)."""
        at = _utc(at)
        series = self._series(frame)
        return [self._evaluate(rule, series[rule.name], at, unavailable or {})
                for rule in self.rules]

    def reset(self) -> None:
        """Forget every condition's run (as if evaluating for the first time)."""
        self._since.clear()

    # -- one rule ------------------------------------------------------------------------
    def _evaluate(self, rule: TriggerRule, series: _Series, at: datetime,
                  unavailable: Mapping[str, str]) -> RuleResult:
        end = _window_end(series, at, self.max_lateness_s)
        start = end - timedelta(seconds=rule.window_s)
        evaluated = [self._evaluate_group(rule, series, key, (at, end), start)
                     for key in series.groups]
        results, quiet = _without_quiet_groups(rule, series, end,
                                               [r for r in evaluated if r is not None])
        self._forget_absent(rule, {r.group for r in results})
        results += self._missing_expected(rule, series, {r.group for r in results}, at,
                                          (start, end))
        if not results:
            return RuleResult(rule, at, "inconclusive", None, 0, start, end,
                              source=series.source,
                              detail=_no_data_text(rule, series, start, end, unavailable))
        worst = max(results, key=lambda r: (SEVERITY[r.state], r.value is not None))
        if len(results) > 1:
            others = ", ".join(f"{r.group} {r.state}" for r in results if r is not worst)
            worst = _with_detail(worst, f"{worst.detail}; others: {others}".lstrip("; "))
        if quiet:
            worst = _with_detail(worst, f"{worst.detail}; not judged, stopped reporting: "
                                        f"{', '.join(quiet)}".lstrip("; "))
        return worst

    def _evaluate_group(self, rule: TriggerRule, series: _Series, key: str,
                        moments: tuple[datetime, datetime],
                        start: datetime) -> RuleResult | None:
        at, end = moments  # evaluated at `at`, on the data up to `end`
        times, values, counts = series.groups[key]
        lo, hi = np.searchsorted(times, [_ns(start), _ns(end)], side="right")
        if lo == hi:
            return None
        window_values, window_counts = values[lo:hi], counts[lo:hi]
        samples = float(window_counts.sum())
        if samples < rule.min_samples:
            self._since.pop((rule.name, key), None)
            return RuleResult(rule, at, "inconclusive", None, samples, start, end, group=key,
                              source=series.source,
                              detail=f"{samples:g} of {rule.min_samples} samples needed")
        value = aggregate(rule.aggregation, window_values, window_counts)
        if not COMPARE[rule.comparison](value, rule.threshold):
            self._since.pop((rule.name, key), None)
            return RuleResult(rule, at, "ok", value, samples, start, end, group=key,
                              source=series.source)
        since = self._since.setdefault((rule.name, key), _onset(rule, times[:hi], values[:hi],
                                                                end))
        held = (end - since).total_seconds()
        state = "firing" if held >= rule.for_s else "pending"
        detail = f"held {held:g} s of {rule.for_s:g} s" if rule.for_s else ""
        if end < at:
            detail = "; ".join(filter(None, [detail, f"data up to {end:%H:%M:%S} "
                                                     f"({(at - end).total_seconds():.0f} s late)"]))
        return RuleResult(rule, at, state, value, samples, start, end, since, key,
                          series.source, detail)

    def _missing_expected(self, rule: TriggerRule, series: _Series, present: set[str],
                          at: datetime, window: tuple[datetime, datetime]) -> list[RuleResult]:
        """An inconclusive result for the expected group when the rule has no result for it
        (and other groups have: with none, the rule is inconclusive anyway)."""
        if not present or not rule.group_by or not set(rule.group_by) <= set(self.expect):
            return []
        key = ", ".join(f"{column}={self.expect[column]}" for column in rule.group_by)
        if key in present:
            return []
        start, end = window
        return [RuleResult(rule, at, "inconclusive", None, 0, start, end, group=key,
                           source=series.source,
                           detail=f"no samples of {key} in ({start:%H:%M:%S}, {end:%H:%M:%S}] "
                                  "yet")]

    def _forget_absent(self, rule: TriggerRule, present: set[str]) -> None:
        for key in [k for k in self._since if k[0] == rule.name and k[1] not in present]:
            del self._since[key]

    # -- the frame, prepared once per frame --------------------------------------------------
    def _series(self, frame: pd.DataFrame) -> dict[str, _Series]:
        if self._cache is not None and self._cache[0] is frame:
            return self._cache[1]
        ready = frame if set(BASE_COLUMNS) <= set(frame.columns) else normalize_frame(frame)
        prepared = {rule.name: _prepare(rule, ready) for rule in self.rules}
        self._cache = (frame, prepared)
        return prepared


def _without_quiet_groups(rule: TriggerRule, series: _Series, at: datetime,
                          results: list[RuleResult]) -> tuple[list[RuleResult], list[str]]:
    """The results without the groups that went quiet, and those groups' names.

    A group (e.g. a revision) is quiet when it is inconclusive for want of samples and its
    last sample is more than half a window older than the newest sample of the other groups:
    a revision scaled to zero or stopped, not one that cannot be judged yet. Its few old
    samples would otherwise hold the whole rule inconclusive until they leave the window.
    """
    if len(results) < 2:
        return results, []
    last = {r.group: _last_before(series.groups[r.group][0], _ns(at)) for r in results}
    newest = max(last.values())
    gap_ns = rule.window_s / 2 * 1e9
    quiet = [r.group for r in results if r.state == "inconclusive" and r.value is None
             and newest - last[r.group] > gap_ns]
    kept = [r for r in results if r.group not in quiet]
    return (kept, quiet) if kept else (results, [])


def _window_end(series: _Series, at: datetime, max_lateness_s: float) -> datetime:
    """Where a rule's window ends: its newest sample up to `at`, when that is at most
    `max_lateness_s` old (late data); otherwise `at`."""
    if max_lateness_s <= 0:
        return at
    cutoff = _ns(at)
    newest = [_last_before(times, cutoff) for times, _, _ in series.groups.values()
              if len(times) and times[0] <= cutoff]
    if not newest:
        return at
    end = _from_ns(max(newest))
    return end if (at - end).total_seconds() <= max_lateness_s else at


def _last_before(times: np.ndarray, cutoff_ns: int) -> int:
    """The newest of the sorted sample times that is not after `cutoff_ns`."""
    return int(times[np.searchsorted(times, cutoff_ns, side="right") - 1])


def _prepare(rule: TriggerRule, frame: pd.DataFrame) -> _Series:
    rows = select_series(frame, rule.metric, rule.where, rule.source)
    nan_values = int(rows["value"].isna().sum())
    rows = rows[rows["value"].notna()]
    rows = rows.sort_values("time", kind="mergesort")
    sources = sorted(set(rows["source"].dropna()))
    groups: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for key, group in _grouped(rows, rule.group_by):
        groups[key] = (_ns_array(group["time"]), group["value"].to_numpy(dtype=float),
                       group["count"].to_numpy(dtype=float))
    return _Series(groups, ", ".join(sources) or None, nan_values)


def _grouped(rows: pd.DataFrame, by: Sequence[str]) -> Iterable[tuple[str, pd.DataFrame]]:
    if not by:
        yield "", rows
        return
    keys = rows.apply(lambda r: ", ".join(f"{c}={r.get(c)}" for c in by), axis=1) \
        if not rows.empty else pd.Series(dtype=object)
    for key in sorted(set(keys)):
        yield str(key), rows[keys == key]


def _onset(rule: TriggerRule, times: np.ndarray, values: np.ndarray, at: datetime) -> datetime:
    """Since when the condition holds: for every-sample rules the first crossing sample of
    the current run; otherwise now."""
    every = (rule.aggregation == "min" and rule.comparison in (">", ">=")) or \
        (rule.aggregation == "max" and rule.comparison in ("<", "<="))
    if not every or len(values) == 0:
        return at
    crossing = np.array([COMPARE[rule.comparison](v, rule.threshold) for v in values])
    misses = np.flatnonzero(~crossing)
    first = misses[-1] + 1 if misses.size else 0
    if first >= len(times):
        return at
    return min(at, _from_ns(int(times[first])))


def _no_data_text(rule: TriggerRule, series: _Series, start: datetime, at: datetime,
                  unavailable: Mapping[str, str]) -> str:
    text = f"no samples of {rule.metric} in ({start:%H:%M:%S}, {at:%H:%M:%S}]"
    if series.nan_values:
        text += f" ({series.nan_values} NaN values ignored)"
    causes = [f"{source} unavailable: {unavailable[source]}"
              for source in METRIC_SOURCES.get(rule.metric, tuple(unavailable))
              if source in unavailable]
    return "; ".join([text, *causes])


def _with_detail(result: RuleResult, detail: str) -> RuleResult:
    return RuleResult(result.rule, result.evaluated_at, result.state, result.value,
                      result.samples, result.window_start, result.window_end, result.since,
                      result.group, result.source, detail)


# -- history ---------------------------------------------------------------------------------

def evaluation_times(start: datetime, end: datetime, interval_s: float) -> list[datetime]:
    """start, start + interval, ... up to end (inclusive)."""
    if interval_s <= 0:
        raise ConfigError(f"interval_s must be positive, got {interval_s}")
    start, end = _utc(start), _utc(end)
    count = int((end - start).total_seconds() // interval_s)
    return [start + timedelta(seconds=k * interval_s) for k in range(count + 1)]


def replay(rules: Sequence[TriggerRule], frame: pd.DataFrame, *, interval_s: float,
           start: datetime | None = None, end: datetime | None = None,
           times: Sequence[datetime] | None = None,
           unavailable: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Each rule's state at each evaluation time over a frame of history.

    Times are `times` if given, else every `interval_s` from `start` (default: the first
    sample) to `end` (default: the last sample). One row per (time, rule), `RULE_COLUMNS`.
    """
    if times is None:
        if frame.empty and (start is None or end is None):
            return rules_frame([])
        first = start or frame["time"].min().to_pydatetime()
        last = end or frame["time"].max().to_pydatetime()
        times = evaluation_times(first, last, interval_s)
    evaluator = RuleEvaluator(rules)
    results = [r for at in sorted(_utc(t) for t in times)
               for r in evaluator.evaluate(frame, at, unavailable)]
    return rules_frame(results)


def evaluate_rules(rules: Sequence[TriggerRule], frame: pd.DataFrame,
                   at: datetime | None = None, *, interval_s: float = 5.0,
                   unavailable: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The rule table at `at` (default: now), one row per rule.

    The run-up (the longest `for_s` before `at`) is replayed every `interval_s` first, so a
    condition that has held long enough is `firing`, not `pending`.
    """
    moment = _utc(at or datetime.now(UTC))
    longest = max((r.for_s for r in rules), default=0.0)
    times = evaluation_times(moment - timedelta(seconds=longest), moment, interval_s)
    if times[-1] != moment:
        times.append(moment)
    evaluator = RuleEvaluator(rules)
    results: list[RuleResult] = []
    for when in times:
        results = evaluator.evaluate(frame, when, unavailable)
    return rules_frame(results)


# -- time ------------------------------------------------------------------------------------

def _utc(moment: datetime | pd.Timestamp) -> datetime:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def _ns(moment: datetime) -> int:
    return int(pd.Timestamp(moment).as_unit("ns").value)


def _ns_array(times: pd.Series) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns").asi8)


def _from_ns(value: int) -> datetime:
    return pd.Timestamp(value, unit="ns", tz=UTC).to_pydatetime()
