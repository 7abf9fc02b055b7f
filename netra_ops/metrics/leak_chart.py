"""The leak chart: each revision's memory, its floor and fitted growth, and where that growth
leads over the monitoring horizon against the threshold.

    table = detect_leaks(frame, threshold, horizon)
    leak_chart(frame, table)

Top panel: memory as observed, the floor points the fit used (troughs, windows' minima or
every sample) and the fitted floor line. Bottom panel: the fitted floor projected from the
last sample to the end of the horizon, with the band between the one-sided bounds, the
threshold line and, where the projection reaches it within the horizon, a marker. Styled as
`netra_ops.metrics.charts` (opaque white, `threshold:<label>` gids); other artists carry
`memory:`, `floor:`, `fit:`, `projection:`, `band:` and `cross:` gids with the revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from netra_ops.display import format_bytes
from netra_ops.metrics.chart_style import (
    STATE_COLOURS,
    byte_axis,
    draw_threshold,
    legend,
    no_data,
    styled,
    time_axis,
)
from netra_ops.metrics.frames import select_series
from netra_ops.metrics.leak import GrowthFit, fit_memory_growth

__all__ = ["VERDICT_COLOURS", "leak_chart"]

VERDICT_COLOURS = {"leak": STATE_COLOURS["firing"], "no leak": STATE_COLOURS["ok"],
                   "inconclusive": STATE_COLOURS["inconclusive"]}
_THRESHOLD_COLOUR = "#cf222e"


@styled
def leak_chart(frame: pd.DataFrame, leaks: pd.DataFrame, *,
               metric: str = "memory_bytes") -> Figure:
    """Memory per revision with its floor and fitted growth (top) and the growth projected
    over the horizon against the threshold (bottom). `leaks` is `detect_leaks()`'s table
    for `frame`; each revision is named in the legend with its verdict."""
    figure = Figure(figsize=(9, 7), layout="constrained", facecolor="white")
    observed, projected = figure.subplots(2, 1)
    for axes in (observed, projected):
        axes.set_facecolor("white")
        axes.grid(alpha=0.5)
    rows = [r for r in leaks.to_dict(orient="records") if r.get("samples")]
    colours = [f"C{i % 10}" for i in range(len(rows))]
    for row, colour in zip(rows, colours, strict=True):
        fit = _refit(frame, row, metric)
        label = f"{row['revision'] or '(no revision)'}: {row['verdict']}"
        _draw_observed(observed, frame, row, fit, colour, label, metric)
        _draw_projection(projected, row, fit, colour, label)
    _finish(observed, projected, leaks, bool(rows))
    return figure


def _refit(frame: pd.DataFrame, row: Mapping[str, Any], metric: str) -> GrowthFit | None:
    """The fit behind a row of the table (same floor method and parameters)."""
    floor_window_s = {"windows": row.get("floor_window_s"), "samples": 0.0}.get(
        str(row.get("floor")))
    fits = fit_memory_growth(_rows_of(frame, row["revision"], metric), metric=metric,
                             confidence=float(row["confidence"]),
                             floor_window_s=floor_window_s,
                             min_drop_bytes=float(row["min_drop_bytes"]))
    return fits.get(row["revision"])


def _rows_of(frame: pd.DataFrame, revision: str | None, metric: str) -> pd.DataFrame:
    rows = select_series(frame, metric) if not frame.empty else frame
    if rows.empty:
        return rows
    mine = rows["revision"].isna() if revision is None else rows["revision"] == revision
    return rows[mine]


def _draw_observed(axes: Axes, frame: pd.DataFrame, row: Mapping[str, Any],
                   fit: GrowthFit | None, colour: str, label: str, metric: str) -> None:
    series = _rows_of(frame, row["revision"], metric).sort_values("time")
    name = row["revision"]
    axes.plot(series["time"], series["value"], color=colour, linewidth=1.2, label=label,
              gid=f"memory:{name}")
    if fit is None or not fit.floor:
        return
    times, values = zip(*fit.floor, strict=True)
    axes.scatter(times, values, color=colour, marker="v", s=18, zorder=3,
                 gid=f"floor:{name}")
    if fit.slope is not None and fit.start is not None and fit.end is not None:
        axes.plot([fit.start, fit.end], [fit.floor_at(fit.start), fit.floor_at(fit.end)],
                  color=colour, linestyle="--", linewidth=1.4, gid=f"fit:{name}")


def _draw_projection(axes: Axes, row: Mapping[str, Any], fit: GrowthFit | None,
                     colour: str, label: str) -> None:
    if fit is None or fit.slope is None or fit.end is None:
        return
    name = row["revision"]
    until = fit.end + pd.Timedelta(seconds=float(row["horizon_s"]))
    now = fit.floor_at(fit.end)
    axes.plot([fit.end, until], [now, fit.floor_at(until)], color=colour, linewidth=1.5,
              label=label, gid=f"projection:{name}")
    axes.fill_between([fit.end, until], [now, fit.floor_at(until, fit.slope_low)],
                      [now, fit.floor_at(until, fit.slope_high)], color=colour, alpha=0.15,
                      linewidth=0, gid=f"band:{name}")
    crossing = row.get("projected_cross_at")
    if crossing is not None and not pd.isna(crossing) and crossing <= until:
        axes.scatter([crossing], [row["threshold_bytes"]], color=VERDICT_COLOURS["leak"],
                     marker="X", s=70, zorder=4, gid=f"cross:{name}")


def _finish(observed: Axes, projected: Axes, leaks: pd.DataFrame, drawn: bool) -> None:
    threshold = float(leaks["threshold_bytes"].max()) if not leaks.empty else 0.0
    if not drawn:
        no_data(observed, "no memory samples in the window")
    observed.set_title("Memory per revision: samples, floor points (v) and fitted floor (--)")
    observed.set_ylabel("memory (resident)")
    byte_axis(observed)
    time_axis(observed)
    _legend_if_labelled(observed)
    if not projected.lines:
        no_data(projected, "no fitted growth to project")
    if threshold > 0:
        top = max(threshold, projected.get_ylim()[1]) if projected.lines else threshold
        draw_threshold(projected, threshold, format_bytes(threshold), _THRESHOLD_COLOUR)
        projected.set_ylim(0, min(top, threshold * 1.5) * 1.05)
    hours = float(leaks["horizon_s"].max()) / 3600 if not leaks.empty else 0.0
    projected.set_title(f"Fitted floor over the {hours:g} h horizon (band: one-sided bounds)")
    projected.set_ylabel("memory (resident)")
    byte_axis(projected)
    projected.set_xlabel("time (UTC)")
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    projected.xaxis.set_major_locator(locator)
    projected.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    _legend_if_labelled(projected)


def _legend_if_labelled(axes: Axes) -> None:
    if axes.get_legend_handles_labels()[0]:
        legend(axes)
