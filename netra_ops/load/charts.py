"""Charts of a load run (seed 3.3), from the samples frame: throughput, latency, errors.

Each function takes the samples frame of either engine (`netra_ops.load.frames`) and returns
a matplotlib Figure in the look every netra-ops chart shares (`metrics.chart_style`): white,
opaque, thresholds findable by their `gid`, "no data" said rather than drawn as nothing (no
failed turn: a line of text, not empty axes).
Time bins are `freq` wide (1 s by default); latency is binned by when turns were due
(`scheduled_at`), so a stall shows where it happened, not when it ended.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from netra_ops.load.frames import throughput
from netra_ops.load.samples import ERROR_CLASSES
from netra_ops.load.session_user import DROP_CAUSES
from netra_ops.metrics.chart_style import (
    STATE_COLOURS,
    draw_threshold,
    legend,
    new_figure,
    no_data,
    note_figure,
    styled,
    time_axis,
)

__all__ = ["load_errors_chart", "load_latency_chart", "sessions_chart", "throughput_chart"]

_QUANTILE_COLOURS = {0.5: "#0969da", 0.95: "#8250df", 0.99: "#bc4c00"}
_ERROR_COLOURS = dict(zip(ERROR_CLASSES, ("#cf222e", "#bc4c00", "#d4a72c", "#8250df",
                                          "#57606a", "#0969da", "#1f883d"), strict=False))
_DROP_COLOURS = dict(zip(DROP_CAUSES, ("#d4a72c", "#cf222e", "#8250df", "#bc4c00", "#57606a"),
                         strict=True))


@styled
def throughput_chart(samples: pd.DataFrame, *, freq: str = "1s") -> Figure:
    """Turns per second over the run, ok and failed stacked (one pair of bars per engine)."""
    figure, axes = new_figure()
    rates = throughput(samples, freq)
    seconds = pd.Timedelta(freq).total_seconds()
    width = pd.Timedelta(freq) * 0.9 / max(1, rates["engine"].nunique())
    for index, (engine, rows) in enumerate(rates.groupby("engine", sort=True)):
        left = rows["time"] + width * index
        axes.bar(left, rows["ok"] / seconds, width=width, align="edge",
                 color=STATE_COLOURS["ok"], label=f"{engine}: ok", gid=f"ok:{engine}")
        axes.bar(left, rows["errors"] / seconds, width=width, align="edge",
                 bottom=rows["ok"] / seconds, color=STATE_COLOURS["firing"],
                 label=f"{engine}: failed", gid=f"failed:{engine}", hatch="//")
    if rates.empty:
        no_data(axes, "no turns")
    axes.set_ylabel("turns per second")
    axes.set_title("Throughput (golden-path turns)")
    time_axis(axes)
    legend(axes)
    return figure


_DUE = "from scheduled start (ms)"
_LATENCY_TITLES = {"latency_ms": ("Turn latency percentiles", f"latency {_DUE}"),
                   "first_event_ms": ("First agent event percentiles", f"first event {_DUE}"),
                   "answer_ms": ("Answer percentiles (agent_completed)", f"answer {_DUE}"),
                   "delivery_ms": ("Slowest delivery per turn, percentiles",
                                   "arrival minus the event's timestamp (ms)"),
                   "service_ms": ("Turn service time percentiles", "from the send (ms)")}


@styled
def load_latency_chart(samples: pd.DataFrame, *, freq: str = "1s",
                       budget_ms: float = 2000.0, column: str = "latency_ms") -> Figure:
    """p50 / p95 / p99 of `column` (`latency_ms`, `first_event_ms`, `answer_ms`, ...) per
    time bin (by when turns were due), against its budget (seed: the first response < 2 s).
    Turns without a value (no first event, no answer) are left out. Log scale when far
    below the budget."""
    figure, axes = new_figure()
    peak = 0.0
    measured = samples[samples[column].notna()] if not samples.empty else samples
    if not measured.empty:
        bins = measured.groupby(measured["scheduled_at"].dt.floor(freq))[column]
        for quantile, colour in _QUANTILE_COLOURS.items():
            series = bins.quantile(quantile)
            axes.plot(series.index, series.to_numpy(), color=colour, marker=".",
                      linewidth=1.3, label=f"p{quantile * 100:g}", gid=f"p{quantile * 100:g}")
            peak = max(peak, float(series.max()))
    else:
        no_data(axes, "no turns" if samples.empty else f"no turn measured {column}")
    draw_threshold(axes, budget_ms, f"{budget_ms:g} ms budget", STATE_COLOURS["firing"])
    if 0 < peak < budget_ms / 10:
        axes.set_yscale("log")
    else:
        axes.set_ylim(0, max(peak, budget_ms) * 1.1)
    title, label = _LATENCY_TITLES.get(column, (column, f"{column} (ms)"))
    axes.set_ylabel(label)
    axes.set_title(title)
    time_axis(axes)
    legend(axes)
    return figure


@styled
def load_errors_chart(samples: pd.DataFrame, *, freq: str = "1s") -> Figure:
    """Failed turns per time bin, stacked by error class. When no turn failed, a line
    saying so instead of empty axes."""
    failed = samples[~samples["ok"]] if not samples.empty else samples
    if failed.empty:
        return note_figure(f"No errors: all {len(samples)} turns ok." if len(samples)
                           else "No turns: nothing to count.", title="Errors by class")
    figure, axes = new_figure(height=3.2)
    counts = (failed.assign(error_class=failed["error_class"].fillna("other"),
                            time=failed["ended_at"].dt.floor(freq))
              .groupby(["time", "error_class"]).size().unstack(fill_value=0))
    bottom = np.zeros(len(counts))
    width = pd.Timedelta(freq) * 0.9
    for name in counts.columns:
        axes.bar(counts.index, counts[name], width=width, align="edge", bottom=bottom,
                 color=_ERROR_COLOURS.get(str(name), "#57606a"), label=str(name),
                 gid=f"errors:{name}", hatch="..")
        bottom += counts[name].to_numpy()
    legend(axes)
    axes.set_ylabel(f"failed turns per {freq}")
    axes.set_title("Errors by class")
    time_axis(axes)
    return figure


@styled
def sessions_chart(live: pd.DataFrame, *, title: str = "Live chat sessions and drops") -> Figure:
    """Sessions open over a longevity run (a step line) and the drops per bin stacked by
    cause (bars), from `SessionResult.live(freq)`; says so when nothing dropped."""
    figure, axes = new_figure()
    if live.empty:
        no_data(axes, "no sessions")
    else:
        axes.step(live["time"], live["live"], where="post", color=STATE_COLOURS["ok"],
                  linewidth=1.6, label="live sessions", gid="live")
        width = (live["time"].iloc[1] - live["time"].iloc[0]) * 0.9 if len(live) > 1 \
            else pd.Timedelta("1s") * 0.9
        bottom = np.zeros(len(live))
        for cause in DROP_CAUSES:
            counts = live[cause].to_numpy()
            if counts.any():
                axes.bar(live["time"], counts, width=width, align="edge", bottom=bottom,
                         color=_DROP_COLOURS[cause], label=f"dropped: {cause}",
                         gid=f"drops:{cause}", hatch="..")
                bottom += counts
        if not bottom.any():
            title = f"{title} (no session dropped)"
        axes.set_ylim(0, max(int(live["live"].max()), int(bottom.max()), 1) * 1.15)
    axes.set_ylabel("sessions")
    axes.set_title(title)
    time_axis(axes)
    legend(axes)
    return figure
