"""The look every netra-ops chart shares: a fixed light style and its drawing helpers.

Every chart draws on an explicit white background with dark text (the same in Jupyter's
light and dark themes and in the HTML export, never transparent); threshold lines carry a
`gid` of `threshold:<label>` so a reader (or a test) can find them among the artists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import Any, ParamSpec

import matplotlib as mpl
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator, PercentFormatter

__all__ = [
    "INK",
    "STATE_COLOURS",
    "by_revision",
    "byte_ticks",
    "draw_threshold",
    "legend",
    "new_figure",
    "no_data",
    "share_axis",
    "styled",
    "time_axis",
]

P = ParamSpec("P")
INK = "#1f2328"
STATE_COLOURS = {"ok": "#2da44e", "pending": "#d4a72c", "firing": "#cf222e",
                 "inconclusive": "#8c959f"}
_STYLE: dict[str, Any] = {
    "figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
    "savefig.transparent": False, "text.color": INK, "axes.labelcolor": INK,
    "axes.edgecolor": "#57606a", "xtick.color": INK, "ytick.color": INK,
    "legend.facecolor": "white", "legend.edgecolor": "#d0d7de", "legend.labelcolor": INK,
    "axes.titlecolor": INK, "grid.color": "#d0d7de",
}


def styled(function: Callable[P, Figure]) -> Callable[P, Figure]:
    """Build the chart under the fixed light style (whatever the session's rcParams)."""
    @wraps(function)
    def build(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with mpl.rc_context(_STYLE):  # type: ignore[arg-type]
            figure = function(*args, **kwargs)
        figure.set_facecolor("white")
        return figure
    return build


def new_figure(height: float = 4.0) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(9, height), layout="constrained", facecolor="white")
    axes = figure.subplots()
    axes.set_facecolor("white")
    axes.grid(alpha=0.5)
    return figure, axes


def draw_threshold(axes: Axes, value: float, label: str, colour: str, style: str = "--") -> None:
    axes.axhline(value, color=colour, linestyle=style, linewidth=1.4, label=label,
                 gid=f"threshold:{label}")


def no_data(axes: Axes, what: str) -> None:
    axes.text(0.5, 0.5, f"no data: {what}", transform=axes.transAxes, ha="center",
              va="center", color="#57606a", fontsize=11, gid="no-data")


def time_axis(axes: Axes) -> None:
    axes.set_xlabel("time (UTC)")
    axes.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    for label in axes.get_xticklabels():
        label.set_rotation(20)


def legend(axes: Axes) -> None:
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)


def byte_ticks(axes: Axes, top: float) -> None:
    """Ticks on binary multiples (256 MiB, 512 MiB, 1 GiB ...) on a linear axis."""
    step = float(2**20)
    while top / step > 8:
        step *= 2
    axes.yaxis.set_major_locator(MultipleLocator(step))


def by_revision(rows: pd.DataFrame) -> Iterable[tuple[str, pd.DataFrame]]:
    """A long frame's rows per `revision` label (none: "(no revision)"), each by time."""
    labels = rows["revision"].map(lambda r: r or "(no revision)")
    for name in sorted(set(labels)):
        yield name, rows[labels == name].sort_values("time")


def share_axis(axes: Axes, peak: float, thresholds: Sequence[float], *, ylabel: str,
               title: str) -> None:
    """A time chart of shares of requests: the threshold lines (amber, then red), the y axis
    in percent from 0 to above the highest line or value, labels, time axis and legend."""
    for value, colour in zip(thresholds, ("#bf8700", "#cf222e"), strict=False):
        draw_threshold(axes, value, f"{value:.0%}", colour)
    axes.set_ylim(0, max(peak, *thresholds) * 1.2)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    time_axis(axes)
    legend(axes)
