"""The rollout chart: the new revision's share of traffic step by step, each step's verdict,
and the 5xx share of requests per revision over the same time.

    rollout_chart(rollout.to_frame(), rollout.frame(), new_revision=rollout.new_revision)

Top panel: the new revision's percent of traffic during each step (a band from the step's
start to its end, coloured by its verdict: continue green, rollback red, hold grey, fail
dark red), labelled with the percent, the verdict and the firing rule; after a rollback the
share drops to 0. Bottom panel: `http_5xx_rate` per revision (Cloud Run's request counts or
request logs, which name the revision of every answer) with the 1 % and 5 % lines. Styled as
`netra_ops.metrics.charts` (opaque white, `threshold:<label>` gids); the step bands carry
`step:<percent>:<decision>` gids.
"""

from __future__ import annotations

import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from netra_ops.metrics.chart_style import (
    STATE_COLOURS,
    by_revision,
    no_data,
    share_axis,
    styled,
)
from netra_ops.metrics.frames import select_series

__all__ = ["STEP_COLOURS", "rollout_chart"]

STEP_COLOURS = {"continue": STATE_COLOURS["ok"], "rollback": STATE_COLOURS["firing"],
                "hold": STATE_COLOURS["inconclusive"], "fail": "#82071e"}
"""A step's band colour by its decision."""


@styled
def rollout_chart(steps: pd.DataFrame, frame: pd.DataFrame | None = None, *,
                  new_revision: str = "", thresholds: tuple[float, ...] = (0.01, 0.05)
                  ) -> Figure:
    """Traffic to the new revision per step with its verdict (top) and the 5xx share of
    requests per revision (bottom). `steps` is `Rollout.to_frame()` (columns percent,
    started_at, ended_at, decision, firing_rule); `frame` the samples the steps' watches
    read (`Rollout.frame()`)."""
    figure = Figure(figsize=(9, 6), layout="constrained", facecolor="white")
    traffic, errors = figure.subplots(2, 1, sharex=True)
    for axes in (traffic, errors):
        axes.set_facecolor("white")
        axes.grid(alpha=0.5)
    _draw_steps(traffic, steps, new_revision)
    _draw_errors(errors, frame if frame is not None else pd.DataFrame(), thresholds)
    return figure


def _draw_steps(axes: Axes, steps: pd.DataFrame, new_revision: str) -> None:
    rows = steps.to_dict(orient="records")
    for row in rows:
        start = pd.Timestamp(row["started_at"])
        end = pd.Timestamp(row["ended_at"])
        decision = str(row["decision"])
        left = mdates.date2num(start.to_pydatetime())
        width = mdates.date2num(end.to_pydatetime()) - left
        axes.bar(left, row["percent"], width=width, align="edge", alpha=0.75,
                 color=STEP_COLOURS.get(decision, "#57606a"), edgecolor="#57606a",
                 gid=f"step:{row['percent']}:{decision}")
        fired = f" ({row['firing_rule']})" if row.get("firing_rule") else ""
        axes.annotate(f"{row['percent']}%: {decision}{fired}", (left, row["percent"]),
                      xytext=(2, 3), textcoords="offset points", fontsize=8)
        if decision == "rollback":
            axes.plot([end, end], [row["percent"], 0], color=STEP_COLOURS["rollback"],
                      linewidth=2, gid="traffic-back")
    if not rows:
        no_data(axes, "no step was made")
    axes.set_ylim(0, 112)
    axes.yaxis.set_major_formatter(PercentFormatter(100))
    axes.set_ylabel("traffic to the new revision")
    axes.set_title(f"Gradual rollout of {new_revision or 'the new revision'}: "
                   "traffic and verdict per step")
    axes.xaxis_date()
    axes.legend(handles=[Patch(color=c, label=d) for d, c in STEP_COLOURS.items()],
                loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)


def _draw_errors(axes: Axes, frame: pd.DataFrame, thresholds: tuple[float, ...]) -> None:
    rows = select_series(frame, "http_5xx_rate") if not frame.empty else frame
    for name, series in by_revision(rows) if not rows.empty else ():
        axes.plot(series["time"], series["value"], marker=".", markersize=3,
                  linewidth=1.2, label=f"5xx {name}")
    if rows.empty:
        no_data(axes, "no request counts in the rollout's windows")
    share_axis(axes, float(rows["value"].max()) if not rows.empty else 0.0, thresholds,
               ylabel="5xx share of requests", title="5xx share of requests per revision")
