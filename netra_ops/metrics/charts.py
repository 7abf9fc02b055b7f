"""Charts for runbooks: one function per chart, each returning a matplotlib Figure.

No pyplot state: each function builds its own Figure, so nothing leaks between cells. Every
chart draws on an explicit white background with dark text (the same in Jupyter's light and
dark themes and in the HTML export, never transparent), and its threshold lines carry a
`gid` of `threshold:<label>` so a reader (or a test) can find them among the artists.
A chart without data still shows its thresholds and says "no data".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from netra_ops.display import GIB, format_bytes, format_number
from netra_ops.metrics.chart_style import (
    STATE_COLOURS,
    by_revision,
    byte_axis,
    draw_threshold,
    legend,
    marker_label,
    new_figure,
    no_data,
    share_axis,
    styled,
    time_axis,
)
from netra_ops.metrics.frames import select_series
from netra_ops.probe.golden_path_run import GOLDEN_PATH_EVENTS

__all__ = [
    "STATE_COLOURS",
    "error_rate_chart",
    "event_latency_chart",
    "latency_chart",
    "memory_chart",
    "rule_states_chart",
]

_MARKER_STYLE = {"deploy": ("#0969da", ":"), "rollback": ("#8250df", "-.")}


def _markers(axes: Axes, markers: pd.DataFrame | None) -> None:
    if markers is None or markers.empty:
        return
    for row in markers.to_dict(orient="records"):
        colour, style = _MARKER_STYLE.get(str(row["kind"]), ("#57606a", "-."))
        axes.axvline(pd.Timestamp(row["time"]), color=colour, linestyle=style, linewidth=1.2,
                     gid=f"marker:{row['kind']}")
        marker_label(axes, pd.Timestamp(row["time"]),
                     f"{row['kind']} {row.get('label') or ''}".strip(), colour)
    for kind in sorted(set(markers["kind"])):
        colour, style = _MARKER_STYLE.get(str(kind), ("#57606a", "-."))
        axes.plot([], [], color=colour, linestyle=style, label=str(kind))


def _maybe_log(axes: Axes, peak: float, lowest_line: float, base: float = 10) -> None:
    """Log scale when the data sits far below the thresholds (else it hugs the axis)."""
    if 0 < peak < lowest_line / 10:
        axes.set_yscale("log", base=base)



@styled
def error_rate_chart(frame: pd.DataFrame, *, thresholds: Sequence[float] = (0.01, 0.05),
                     markers: pd.DataFrame | None = None) -> Figure:
    """4xx+5xx share of requests over time, per revision, against the 1 % and 5 % lines
    (seed: <1 % sustained, <5 % 4xx/5xx); 5xx share dashed."""
    figure, axes = new_figure()
    errors = select_series(frame, "http_error_rate")
    server = select_series(frame, "http_5xx_rate")
    for name, rows in by_revision(errors):
        line = axes.plot(rows["time"], rows["value"], marker=".", markersize=3,
                         linewidth=1.2, label=f"4xx+5xx {name}")[0]
        five = server[server["revision"].map(lambda r: r or "(no revision)") == name]
        axes.plot(five["time"], five["value"], linestyle="--", linewidth=1,
                  color=line.get_color(), label=f"5xx {name}")
    if errors.empty:
        no_data(axes, "no request counts in the window")
    _markers(axes, markers)
    share_axis(axes, float(errors["value"].max()) if not errors.empty else 0.0, thresholds,
               ylabel="share of requests", title="Error rate (4xx + 5xx) per revision")
    return figure


@styled
def memory_chart(frame: pd.DataFrame, *, thresholds: Sequence[float] = (3 * GIB, 3.5 * GIB),
                 markers: pd.DataFrame | None = None) -> Figure:
    """Memory per revision (utilization x limit) against the 3 GiB average and 3.5 GiB peak
    lines, with deploys and rollbacks marked. Log scale when far below the lines."""
    figure, axes = new_figure()
    rows = select_series(frame, "memory_bytes")
    for name, series in by_revision(rows):
        axes.plot(series["time"], series["value"], linewidth=1.5, label=name)
    labels = ("3 GiB average", "3.5 GiB peak")
    for value, label, colour in zip(thresholds, labels, ("#bf8700", "#cf222e"), strict=False):
        draw_threshold(axes, value, label if value in (3 * GIB, 3.5 * GIB) else
                   format_bytes(value), colour)
    if rows.empty:
        no_data(axes, "no memory samples in the window")
    _markers(axes, markers)
    peak = float(rows["value"].max()) if not rows.empty else 0.0
    _maybe_log(axes, peak, min(thresholds), base=2)
    if axes.get_yscale() == "linear":
        axes.set_ylim(0, max(peak, *thresholds) * 1.1)
    byte_axis(axes)
    axes.set_ylabel("memory (resident)")
    axes.set_title("Memory per revision")
    time_axis(axes)
    legend(axes)
    return figure


@styled
def latency_chart(frame: pd.DataFrame, *, thresholds: Sequence[float] = (500.0, 2000.0),
                  response_code_class: str = "2xx",
                  markers: pd.DataFrame | None = None) -> Figure:
    """Request latency p50 / p95 / p99 over time (the slowest revision at each step)
    against the 500 ms and 2 s lines. Log scale when far below the lines."""
    figure, axes = new_figure()
    peak = 0.0
    for metric, colour in (("latency_p50_ms", "#0969da"), ("latency_p95_ms", "#8250df"),
                           ("latency_p99_ms", "#bc4c00")):
        rows = select_series(frame, metric, {"response_code_class": response_code_class})
        if rows.empty:
            continue
        worst = rows.groupby("time")["value"].max()
        axes.plot(worst.index, worst.to_numpy(), color=colour, linewidth=1.3, marker=".",
                  label=metric.removeprefix("latency_").removesuffix("_ms"))
        peak = max(peak, float(worst.max()))
    for value, colour in zip(thresholds, ("#bf8700", "#cf222e"), strict=False):
        draw_threshold(axes, value, f"{value:g} ms" if value < 1000 else f"{value / 1000:g} s",
                   colour)
    if peak == 0.0:
        no_data(axes, f"no {response_code_class} latencies in the window")
    _markers(axes, markers)
    _maybe_log(axes, peak, min(thresholds))
    if axes.get_yscale() == "linear":
        axes.set_ylim(0, max(peak, *thresholds) * 1.1)
    axes.set_ylabel("ms")
    axes.set_title(f"Request latency ({response_code_class} responses)")
    time_axis(axes)
    legend(axes)
    return figure


@styled
def rule_states_chart(states: pd.DataFrame) -> Figure:
    """Each rule's state over time as coloured bands (one row per rule).

    `states` has one row per (evaluation, rule): `WatchResult.states` or `replay()`.
    """
    rules = list(dict.fromkeys(states["rule"])) if not states.empty else []
    figure, axes = new_figure(height=max(2.0, 0.6 * len(rules) + 1.4))
    axes.grid(False)
    if not rules:
        no_data(axes, "no evaluations")
    times = pd.to_datetime(states["evaluated_at"], utc=True) if rules else pd.Series()
    step = _typical_step(times)
    for y, rule in enumerate(rules):
        rows = states[states["rule"] == rule].assign(t=times).sort_values("t")
        starts = list(rows["t"])
        ends = [*starts[1:], starts[-1] + step]
        for start, end, state in zip(starts, ends, rows["state"], strict=True):
            left = mdates.date2num(start.to_pydatetime())
            axes.barh(y, (end - start) / pd.Timedelta(days=1), left=left, height=0.6,
                      color=STATE_COLOURS.get(str(state), "#ffffff"), edgecolor="none",
                      gid=f"state:{rule}:{state}")
    axes.set_yticks(range(len(rules)), rules)
    axes.invert_yaxis()
    axes.xaxis_date()
    axes.legend(handles=[Patch(color=c, label=s) for s, c in STATE_COLOURS.items()],
                loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes.set_title("Rollback triggers over time")
    time_axis(axes)
    return figure


def _typical_step(times: pd.Series) -> pd.Timedelta:
    unique = np.sort(pd.Series(times).dropna().unique())
    if len(unique) < 2:
        return pd.Timedelta(seconds=1)
    return pd.Timedelta(np.median(np.diff(unique)))


@styled
def event_latency_chart(events: pd.DataFrame, budget_ms: float = 500.0,
                        column: str = "latency_ms") -> Figure:
    """Per-event latency, one dot per run, against the budget line.

    `events` is `netra_ops.probe.runs_frame(results)`: columns run, event, latency_ms (from
    the send) and delivery_ms (arrival minus the event's own timestamp); `column` picks
    which is drawn. Events never received are drawn as a red cross on the axis and named in
    the legend.
    """
    fig, ax = new_figure()
    order = list(GOLDEN_PATH_EVENTS)
    positions = {name: i for i, name in enumerate(order)}
    received = events["latency_ms"].notna() & events["event"].isin(order)
    seen = events[received & events[column].notna()]
    ax.scatter(seen["event"].map(positions), seen[column], alpha=0.7, label="event received")
    missing = events[events["latency_ms"].isna() & events["event"].isin(order)]
    if not missing.empty:
        ax.scatter(missing["event"].map(positions), [0] * len(missing), marker="x",
                   color="tab:red", s=80, label="never received")
    draw_threshold(ax, budget_ms, f"budget {budget_ms:g} ms", "tab:orange")
    ax.set_xticks(range(len(order)), order, rotation=20)
    delivery = column == "delivery_ms"
    scale = _latency_axis(ax, seen[column].astype(float), budget_ms, zeros=not missing.empty)
    ax.set_ylabel(("ms, event's timestamp to arrival" if delivery
                   else "ms after the message was sent") + scale)
    ax.set_title("Golden-path event delivery latency per run" if delivery
                 else "Golden-path event latency per run")
    legend(ax)
    ax.grid(axis="x", visible=False)
    return fig


def _latency_axis(axes: Axes, values: pd.Series, budget_ms: float, *, zeros: bool) -> str:
    """Linear from 0 when the values reach a tenth of the budget. Below that, a log axis up
    to the budget (symmetric log, linear within 1 ms of 0, when a value is 0 or below: a
    delivery latency can be, by the clock offset), so that points far below the budget are
    spread out rather than drawn on the axis. Returns the words to add to the y label."""
    if values.empty or values.max() >= budget_ms / 10:
        bottom = min(0.0, values.min()) if not values.empty else 0.0
        top = max(budget_ms, values.max()) if not values.empty else budget_ms
        axes.set_ylim(bottom * 1.15, top * 1.15)
        return ""
    if values.min() > 0 and not zeros:
        axes.set_yscale("log")
        axes.set_ylim(values.min() / 2, budget_ms * 1.5)
    else:
        axes.set_yscale("symlog", linthresh=1.0)
        lowest = float(values.min())
        axes.set_ylim(-3 * max(1.0, -lowest) if lowest < 0 else 0.0, budget_ms * 1.5)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v, 3)))
    return " (log scale)"

