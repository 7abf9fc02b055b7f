"""Memory-leak detection (seed 3.3): is a revision's memory floor rising fast enough to cross
the threshold (3.5 GiB, the `memory_high` rollback trigger) within the monitoring horizon?

    table = detect_leaks(frame, threshold_bytes=leak_threshold(env), horizon=timedelta(hours=24))
    table, frame = memory_leaks(env, start, end)       # read from Cloud Monitoring, then judge

**The floor, not the peaks.** A healthy process saw-tooths: the garbage collector or the
allocator lets memory rise and then gives it back. A leak is the *floor* rising: what is
left after every release. So each revision's series is first reduced to floor points:

- GC drops are falls between consecutive samples larger than both `min_drop_bytes` (1 MiB)
  and 6 robust standard deviations of the sample-to-sample changes (1.4826 x MAD).
- With drops (`floor` = `troughs`), the floor points are the troughs: after each drop, the
  lowest sample before memory rises again. Fewer than 4 troughs cannot show a trend:
  `inconclusive`, watch longer. (A revision that rose under load and dropped back once
  after it is therefore never a leak on that evidence.)
- Without drops (`samples`) every sample is a floor point, less its level shifts: rises
  between consecutive samples well beyond the usual change (the GC-drop rule, upwards). Fewer
  than 4 of them cannot show a trend: they are one-time steps (a fresh revision's warm-up,
  a cache or pool filled once), taken out before the fit by raising the samples before each
  step by its excess over the usual change (the floor as it is now). A healthy sandbox
  revision rose 1.5 MiB in one second at the start of a load, then stayed flat within
  4 KiB for 17 s of load and settling: fitted as a line that was 194 MiB/h, "clearly above
  zero", a leak within 24 h. Four or more such rises are growth and are fitted as they are.
- `floor_window_s` overrides this: 0 takes every sample; a width takes the minimum of each
  window of that width (`windows`, aligned on the last sample, the older partial window
  dropped, each minimum placed at its window's centre).

**The growth rate and its uncertainty.** An ordinary least-squares line through the floor
points gives the slope (bytes/s) and its standard error; `slope_low` and `slope_high` are
one-sided Student-t bounds at `confidence` each (df = floor points - 2; quantiles exact for
integer df), so each holds with probability `confidence` and together they form a
(2 x confidence - 1) two-sided interval. Least squares with t bounds is exact for a linear
floor with independent normal scatter and close to it otherwise (the slope is a weighted
sum of many deviations); taking troughs removes the saw-tooth, the strongest dependence
between samples. A series that wanders like a random walk, or grows and then levels off
inside the window, still gives bounds that are too narrow: fit over a stretch of steady
load (plus the time after it, to see whether memory is given back). Samples are weighted
equally (not by their `count`).

**The verdict** (projections are of the fitted floor from the last sample: when memory would
exceed the threshold "consistently", as the `memory_high` trigger asks):

- `inconclusive`: fewer than `min_samples` samples, too few floor points, or neither of
  the two below can be said (e.g. growth unclear, but a growth fast enough to cross cannot
  be ruled out yet);
- `leak`: growth clearly above zero (`slope_low > 0`) and, at the fitted rate, the floor
  reaches the threshold within the horizon (or already has);
- `no leak`: even at `slope_high` the floor stays below the threshold for the whole horizon
  (this includes clear but slow growth, and the reason says so).

When the model holds, `leak` for a floor that does not grow, and `no leak` for one that
would reach the threshold within the horizon, each happen with probability at most
1 - `confidence` (`leak` rests on the lower bound, `no leak` on the upper one); for growth
whose true crossing is close to the end of the horizon the fitted rate decides.
`min_drop_bytes` keeps an idle process's page-sized RSS jitter from counting as GC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from netra_ops.config import Environment
from netra_ops.display import GIB, MIB, format_bytes
from netra_ops.errors import ConfigError
from netra_ops.metrics.frames import select_series
from netra_ops.metrics.monitoring import monitoring_reading

__all__ = [
    "DEFAULT_HORIZON",
    "DEFAULT_THRESHOLD_BYTES",
    "LEAK_COLUMNS",
    "MIN_FLOOR_POINTS",
    "VERDICTS",
    "GrowthFit",
    "detect_leaks",
    "fit_memory_growth",
    "leak_threshold",
    "memory_leaks",
    "t_quantile",
]

DEFAULT_THRESHOLD_BYTES = 3.5 * GIB
"""Seed 4.1: "Memory usage exceeds 3.5Gi consistently"."""
DEFAULT_HORIZON = timedelta(hours=24)
"""Seed "Real-time Monitoring (First 24 Hours)"."""
VERDICTS = ("leak", "no leak", "inconclusive")
MIN_FLOOR_POINTS = 4
DROP_SIGMAS = 6.0
LEAK_COLUMNS = [
    "revision", "verdict", "reason", "samples", "span_s", "floor", "floor_points",
    "floor_window_s", "gc_drops", "level_shifts", "level_shift_bytes", "min_drop_bytes",
    "slope_bytes_per_s", "slope_low_bytes_per_s", "slope_high_bytes_per_s",
    "slope_bytes_per_h", "slope_low_bytes_per_h", "slope_high_bytes_per_h",
    "current_bytes", "floor_bytes", "threshold_bytes", "horizon_s", "confidence",
    "last_sample_at", "projected_cross_at",
]
_HOUR_S = 3600.0
_FAR_S = 10 * 365 * 86400.0  # a crossing further away than 10 years is shown as never


@dataclass(frozen=True)
class GrowthFit:
    """The fitted growth of one revision's memory floor (bytes and bytes per second).

    `slope`, `slope_low`, `slope_high` and `floor_bytes` (the fitted floor at the last
    sample) are None when no line could be fitted; `problem` then says why.
    """

    revision: str | None
    samples: int
    span_s: float
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    current_bytes: float | None
    floor_method: str
    floor_window_s: float | None
    gc_drops: int
    floor: tuple[tuple[pd.Timestamp, float], ...]
    confidence: float
    level_shifts: int = 0
    level_shift_bytes: float = 0.0
    slope: float | None = None
    slope_low: float | None = None
    slope_high: float | None = None
    floor_bytes: float | None = None
    problem: str | None = None

    def floor_at(self, when: datetime, slope: float | None = None) -> float:
        """The fitted floor at `when` (with another slope, e.g. a bound, if given); NaN
        without a fit."""
        if self.floor_bytes is None or self.end is None or self.slope is None:
            return math.nan
        rate = self.slope if slope is None else slope
        return self.floor_bytes + rate * (pd.Timestamp(when) - self.end).total_seconds()

    def seconds_to(self, threshold_bytes: float, slope: float | None = None) -> float:
        """Seconds from the last sample until the floor reaches the threshold at `slope`
        (default: the fitted one): negative if already above, inf if never."""
        rate = self.slope if slope is None else slope
        if self.floor_bytes is None or rate is None:
            return math.inf
        gap = threshold_bytes - self.floor_bytes
        if gap <= 0:
            return gap / rate if rate > 0 else -math.inf
        return gap / rate if rate > 0 else math.inf


# -- the fit ---------------------------------------------------------------------------------

def fit_memory_growth(data: pd.DataFrame | pd.Series, *, confidence: float = 0.99,
                      floor_window_s: float | None = None, min_drop_bytes: float = MIB,
                      metric: str = "memory_bytes") -> dict[str | None, GrowthFit]:
    """The floor's growth of each revision's `metric` series in a long frame, keyed by
    revision; or of one series of bytes indexed by time, keyed by its name. See the module
    docstring for the method."""
    _check_confidence(confidence)
    if floor_window_s is not None and floor_window_s < 0:
        raise ConfigError(f"floor_window_s must be >= 0 (0: every sample), got {floor_window_s}")
    if isinstance(data, pd.Series):
        named = data.name if isinstance(data.name, str) else None
        series = {named: _as_samples(data)}
    else:
        series = _revision_series(data, metric)
    return {revision: _fit_series(revision, samples, confidence=confidence,
                                  floor_window_s=floor_window_s, min_drop_bytes=min_drop_bytes)
            for revision, samples in series.items()}


def _as_samples(series: pd.Series) -> pd.Series:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ConfigError("a memory series must be indexed by time (a DatetimeIndex); for a "
                          "long frame pass the frame itself")
    index = series.index if series.index.tz else series.index.tz_localize("UTC")
    values = pd.to_numeric(pd.Series(series.to_numpy(), index=index.tz_convert("UTC")),
                           errors="coerce").astype(float)
    return values.dropna().sort_index(kind="mergesort")


def _revision_series(frame: pd.DataFrame, metric: str) -> dict[str | None, pd.Series]:
    rows = select_series(frame, metric) if not frame.empty else frame
    out: dict[str | None, pd.Series] = {}
    if rows.empty:
        return out
    labels = rows["revision"].map(lambda r: None if r is None or pd.isna(r) else str(r))
    for revision in sorted(set(labels), key=lambda r: r or ""):
        mine = rows[labels.isna() if revision is None else labels == revision]
        out[revision] = _as_samples(pd.Series(mine["value"].to_numpy(),
                                              index=pd.DatetimeIndex(mine["time"])))
    return out


def _fit_series(revision: str | None, samples: pd.Series, *, confidence: float,
                floor_window_s: float | None, min_drop_bytes: float) -> GrowthFit:
    times = samples.index
    t = (times - times[0]).total_seconds().to_numpy() if len(times) else np.array([])
    v = samples.to_numpy(dtype=float)
    base: dict[str, Any] = {
        "revision": revision, "samples": len(v), "confidence": confidence,
        "span_s": float(t[-1]) if len(t) else 0.0,
        "start": times[0] if len(t) else None, "end": times[-1] if len(t) else None,
        "current_bytes": float(v[-1]) if len(v) else None,
        "floor_window_s": floor_window_s or None,
    }
    troughs = _troughs(v, min_drop_bytes) if len(v) > 1 else []
    method, ft, fv = _floor_points(t, v, troughs, floor_window_s)
    if method == "samples":
        fv, shifts = _without_level_shifts(fv, min_drop_bytes)
        base.update(level_shifts=len(shifts), level_shift_bytes=float(sum(shifts)))
    floor = tuple((times[0] + pd.Timedelta(seconds=float(s)), float(x))
                  for s, x in zip(ft, fv, strict=True))
    base.update(floor_method=method, gc_drops=len(troughs), floor=floor)
    if len(fv) < MIN_FLOOR_POINTS or np.ptp(ft) == 0:
        return GrowthFit(**base, problem=_too_few(method, len(v), len(fv), base["span_s"]))
    slope, sigma, floor_end = _line(ft, fv, float(t[-1]))
    margin = t_quantile(confidence, len(fv) - 2) * sigma
    return GrowthFit(**base, slope=slope, slope_low=slope - margin, slope_high=slope + margin,
                     floor_bytes=floor_end)


def _troughs(v: np.ndarray, min_drop_bytes: float) -> list[int]:
    """Indices of the troughs: after each GC drop (a fall well beyond the usual change),
    the lowest sample before memory rises again."""
    changes = np.diff(v)
    centre = float(np.median(changes))
    scale = 1.4826 * float(np.median(np.abs(changes - centre)))
    limit = max(float(min_drop_bytes), DROP_SIGMAS * scale)
    found: list[int] = []
    for i in np.flatnonzero((changes < 0) & (-changes >= limit)):
        j = int(i) + 1
        while j + 1 < len(v) and v[j + 1] <= v[j]:
            j += 1
        if not found or found[-1] != j:
            found.append(j)
    return found


def _level_shifts(v: np.ndarray, min_drop_bytes: float) -> list[tuple[int, float]]:
    """(index of the sample after, excess over the usual change) of each rise between
    consecutive samples well beyond the usual change (the GC-drop rule, upwards)."""
    if len(v) < 2:
        return []
    changes = np.diff(v)
    centre = float(np.median(changes))
    scale = 1.4826 * float(np.median(np.abs(changes - centre)))
    limit = max(float(min_drop_bytes), DROP_SIGMAS * scale)
    return [(int(i) + 1, float(changes[i] - centre))
            for i in np.flatnonzero(changes - centre >= limit)]


def _without_level_shifts(v: np.ndarray, min_drop_bytes: float
                          ) -> tuple[np.ndarray, list[float]]:
    """The samples with fewer than `MIN_FLOOR_POINTS` level shifts taken out (each raises
    the samples before it by its excess), and the excesses taken out; 4 or more are growth
    and stay."""
    shifts = _level_shifts(v, min_drop_bytes)
    if not shifts or len(shifts) >= MIN_FLOOR_POINTS:
        return v, []
    level = v.astype(float)
    for index, excess in shifts:
        level[:index] += excess
    return level, [excess for _, excess in shifts]


def _floor_points(t: np.ndarray, v: np.ndarray, troughs: list[int],
                  floor_window_s: float | None) -> tuple[str, np.ndarray, np.ndarray]:
    """(method, times, values) of the floor points."""
    if floor_window_s:
        return ("windows", *_window_minima(t, v, floor_window_s))
    if troughs and floor_window_s is None:
        return "troughs", t[troughs], v[troughs]
    return "samples", t, v


def _window_minima(t: np.ndarray, v: np.ndarray, window: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(centre, minimum) of each full window, the windows aligned on the last sample."""
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    end = t[-1] + step / 2 if len(t) else 0.0
    count = math.floor((t[-1] - t[0] + step) / window + 1e-9) if len(t) else 0
    slot = np.floor((end - t) / window).astype(int)
    keep = slot < count
    ks = sorted(set(slot[keep].tolist()), reverse=True)
    centres = [end - (k + 0.5) * window for k in ks]
    minima = [float(v[keep & (slot == k)].min()) for k in ks]
    return np.array(centres, dtype=float), np.array(minima, dtype=float)


def _line(t: np.ndarray, v: np.ndarray, at: float) -> tuple[float, float, float]:
    """OLS (slope, standard error of the slope, fitted value at `at`)."""
    centred = t - t.mean()
    sxx = float(centred @ centred)
    slope = float(centred @ (v - v.mean())) / sxx
    residuals = v - v.mean() - slope * centred
    sigma = math.sqrt(float(residuals @ residuals) / (len(v) - 2) / sxx)
    return slope, sigma, float(v.mean() + slope * (at - t.mean()))


def _too_few(method: str, samples: int, points: int, span_s: float) -> str:
    if method == "troughs":
        every = span_s / points if points else span_s
        return (f"memory drops back (GC) {points} time(s) in {_duration(span_s)}: "
                f"{points} trough(s) cannot show a trend of the floor; watch for at least "
                f"{MIN_FLOOR_POINTS} drops (about {_duration(every * (MIN_FLOOR_POINTS + 1))})")
    return (f"{samples} memory sample(s) give {points} floor point(s) ({method}); a trend "
            f"needs at least {MIN_FLOOR_POINTS}: watch longer")


# -- Student's t -----------------------------------------------------------------------------

def t_quantile(level: float, df: int) -> float:
    """The `level` quantile (0.5 < level < 1) of Student's t with `df` >= 1 degrees of
    freedom: exact for df <= 200 (A&S 26.7.3-4, solved by bisection), Cornish-Fisher above."""
    if not 0.5 < level < 1 or df < 1:
        raise ConfigError(f"t_quantile needs 0.5 < level < 1 and df >= 1, got {level}, {df}")
    if df > 200:
        return _cornish_fisher(level, df)
    target, low, high = 2 * level - 1, 0.0, 1.0
    while _t_central(high, df) < target:
        low, high = high, high * 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if _t_central(middle, df) < target else (low, middle)
    return (low + high) / 2


def _t_central(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer df (Abramowitz & Stegun 26.7.3, 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    c2, term = math.cos(theta) ** 2, 1.0
    if df % 2 == 0:
        total = 1.0
        for k in range(2, df, 2):
            term *= c2 * (k - 1) / k
            total += term
        return math.sin(theta) * total
    if df == 1:
        return 2 * theta / math.pi
    term = total = math.cos(theta)
    for k in range(3, df - 1, 2):
        term *= c2 * (k - 1) / k
        total += term
    return 2 / math.pi * (theta + math.sin(theta) * total)


def _cornish_fisher(level: float, df: int) -> float:
    from statistics import NormalDist

    z = NormalDist().inv_cdf(level)
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


# -- the verdict -----------------------------------------------------------------------------

def detect_leaks(frame: pd.DataFrame | pd.Series,
                 threshold_bytes: float = DEFAULT_THRESHOLD_BYTES,
                 horizon: timedelta | float = DEFAULT_HORIZON, *, confidence: float = 0.99,
                 min_samples: int = 10, floor_window_s: float | None = None,
                 min_drop_bytes: float = MIB, metric: str = "memory_bytes") -> pd.DataFrame:
    """One row per revision (`LEAK_COLUMNS`): the floor's growth with its bounds, when it
    would reach `threshold_bytes`, and the verdict (`leak` / `no leak` / `inconclusive`)
    with its reason. `horizon` is a timedelta or seconds from the last sample. A frame
    without memory samples gives one `inconclusive` row."""
    horizon_s = horizon.total_seconds() if isinstance(horizon, timedelta) else float(horizon)
    if horizon_s <= 0 or threshold_bytes <= 0 or min_samples < 1:
        raise ConfigError(f"detect_leaks needs horizon > 0, threshold_bytes > 0 and "
                          f"min_samples >= 1, got {horizon_s} s, {threshold_bytes}, "
                          f"{min_samples}")
    fits = list(fit_memory_growth(frame, confidence=confidence, floor_window_s=floor_window_s,
                                  min_drop_bytes=min_drop_bytes, metric=metric).values())
    common = {"threshold_bytes": float(threshold_bytes), "horizon_s": horizon_s,
              "confidence": confidence, "min_drop_bytes": float(min_drop_bytes)}
    if not fits:
        rows = [{**common, "revision": None, "verdict": "inconclusive", "samples": 0,
                 "reason": f"no {metric} samples in the window: is Monitoring readable?"}]
    else:
        rows = [_row(fit, float(threshold_bytes), horizon_s, min_samples) | common
                for fit in fits]
    table = pd.DataFrame(rows, columns=LEAK_COLUMNS)
    for column in ("last_sample_at", "projected_cross_at"):
        table[column] = pd.to_datetime(table[column], utc=True)
    return table


def _row(fit: GrowthFit, threshold: float, horizon_s: float,
         min_samples: int) -> dict[str, Any]:
    verdict, reason = _verdict(fit, threshold, horizon_s, min_samples)
    per_h = {f"{name}_bytes_per_h": None if value is None else value * _HOUR_S
             for name, value in (("slope", fit.slope), ("slope_low", fit.slope_low),
                                 ("slope_high", fit.slope_high))}
    return {
        "revision": fit.revision, "verdict": verdict, "reason": reason,
        "samples": fit.samples, "span_s": fit.span_s, "floor": fit.floor_method,
        "floor_points": len(fit.floor), "floor_window_s": fit.floor_window_s,
        "gc_drops": fit.gc_drops, "level_shifts": fit.level_shifts,
        "level_shift_bytes": fit.level_shift_bytes,
        "slope_bytes_per_s": fit.slope, "slope_low_bytes_per_s": fit.slope_low,
        "slope_high_bytes_per_s": fit.slope_high, **per_h,
        "current_bytes": fit.current_bytes, "floor_bytes": fit.floor_bytes,
        "last_sample_at": fit.end,
        "projected_cross_at": _crossing(fit, threshold),
    }


def _crossing(fit: GrowthFit, threshold: float) -> pd.Timestamp | None:
    """When the fitted floor reaches the threshold (not before the first sample); None if
    it does not rise, or only in more than 10 years."""
    seconds = fit.seconds_to(threshold)
    if fit.end is None or fit.start is None or not abs(seconds) < _FAR_S:
        return None
    return max(fit.end + pd.Timedelta(seconds=seconds), fit.start)


def _verdict(fit: GrowthFit, threshold: float, horizon_s: float,
             min_samples: int) -> tuple[str, str]:
    if fit.samples < min_samples:
        return "inconclusive", (f"only {fit.samples} memory sample(s); at least {min_samples} "
                                "are needed: watch longer")
    if fit.slope is None or fit.slope_low is None or fit.slope_high is None:
        return "inconclusive", fit.problem or "no trend could be fitted"
    moves = "grows" if fit.slope >= 0 else "shrinks"
    growth = (f"{_shifted(fit)}the floor {moves} {_rate(abs(fit.slope))} "
              f"({fit.confidence:.0%} bounds {_rate(fit.slope_low)} .. "
              f"{_rate(fit.slope_high)})")
    line = f"{format_bytes(threshold)} threshold"
    if fit.floor_bytes is not None and fit.floor_bytes >= threshold:
        return _above(fit, growth, line)
    return _below(fit, growth, line, threshold, horizon_s)


def _above(fit: GrowthFit, growth: str, line: str) -> tuple[str, str]:
    """The verdict when the fitted floor is already at or above the threshold."""
    assert fit.slope_low is not None and fit.slope_high is not None
    if fit.slope_low > 0:
        return "leak", f"{growth}, clearly above zero, and is already above the {line}"
    if fit.slope_high <= 0:
        return "no leak", (f"{growth}: not rising, though above the {line} already (the "
                           "memory_high trigger judges the level)")
    return "inconclusive", (f"{growth}: above the {line} already, and growth is neither "
                            "clear nor ruled out: watch longer")


def _below(fit: GrowthFit, growth: str, line: str, threshold: float,
           horizon_s: float) -> tuple[str, str]:
    """The verdict when the fitted floor is still below the threshold."""
    assert fit.slope_low is not None and fit.slope_high is not None
    at_rate = fit.seconds_to(threshold)
    at_high = fit.seconds_to(threshold, fit.slope_high)
    horizon = f"the {_duration(horizon_s)} horizon"
    if fit.slope_low > 0 and at_rate <= horizon_s:
        return "leak", (f"{growth}, clearly above zero; at this rate it reaches the {line} "
                        f"in {_duration(at_rate)}, within {horizon}")
    if at_high > horizon_s and fit.slope_low > 0:
        return "no leak", (f"{growth}, clearly above zero but too slowly: even at the upper "
                           f"bound it reaches the {line} only in {_duration(at_high)}, "
                           f"beyond {horizon}")
    if at_high > horizon_s:
        return "no leak", (f"no growth that matters: {growth}; even at the upper bound it "
                           f"stays below the {line} for {horizon}")
    if fit.slope_low > 0:
        return "inconclusive", (f"{growth}, clearly above zero; at this rate it reaches the "
                                f"{line} after {horizon}, at the upper bound in "
                                f"{_duration(at_high)}: watch longer")
    return "inconclusive", (f"no clear growth: {growth}, but growth fast enough to reach "
                            f"the {line} within {horizon} cannot be ruled out yet: watch "
                            "longer")


def _shifted(fit: GrowthFit) -> str:
    """What the reason says first about the level shifts taken out (nothing without)."""
    if not fit.level_shifts:
        return ""
    return (f"{fit.level_shifts} one-time rise(s) of {format_bytes(fit.level_shift_bytes)} "
            f"in all (a level shift such as warm-up, not a trend: fewer than "
            f"{MIN_FLOOR_POINTS}) taken out; ")


def _rate(bytes_per_s: float) -> str:
    return f"{format_bytes(bytes_per_s * _HOUR_S)}/h"


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    for limit, unit, size in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if seconds < limit:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds / 86400:.3g} days"


def _check_confidence(confidence: float) -> None:
    if not 0.5 < confidence < 1:
        raise ConfigError(f"confidence must be between 0.5 and 1 (e.g. 0.99), got {confidence}")


# -- the environment -------------------------------------------------------------------------

def leak_threshold(env: Environment) -> float:
    """The leak threshold in bytes: the environment's `memory_high` rollback trigger's (or
    the first `>` trigger on memory_bytes), else 3.5 GiB (seed 4.1)."""
    rules = [r for r in env.rollback_triggers if r.metric == "memory_bytes"
             and r.comparison in (">", ">=")]
    rules.sort(key=lambda r: r.name != "memory_high")
    return float(rules[0].threshold) if rules else DEFAULT_THRESHOLD_BYTES


def memory_leaks(env: Environment, start: datetime, end: datetime, *,
                 threshold_bytes: float | None = None,
                 horizon: timedelta | float = DEFAULT_HORIZON, confidence: float = 0.99,
                 min_samples: int = 10, step_s: float | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leak table, memory frame) of the backend's revisions in (start, end], read from Cloud
    Monitoring. A Monitoring API that cannot be read gives one `inconclusive` row saying why."""
    reading = monitoring_reading(env, start, end, step_s=step_s)
    frame = reading.frame[reading.frame["metric"] == "memory_bytes"].reset_index(drop=True)
    threshold = leak_threshold(env) if threshold_bytes is None else threshold_bytes
    table = detect_leaks(frame, threshold, horizon, confidence=confidence,
                         min_samples=min_samples)
    if reading.error is not None:
        table["reason"] = reading.error
    return table, frame
