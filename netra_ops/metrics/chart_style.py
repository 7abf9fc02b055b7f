"""The look every netra-ops chart shares: a fixed light style and its drawing helpers.

Every chart draws on an explicit white background with dark text (the same in Jupyter's
light and dark themes and in the HTML export, never transparent); threshold lines carry a
`gid` of `threshold:<label>` so a reader (or a test) can find them among the artists.

Labels of vertical markers (deploys, rollbacks) carry a `gid` of `label:<text>`: once a
chart is built, `styled` lays it out and moves each such label down a line, or to the left
of its marker, until it overlaps no other and stays inside the axes. Byte axes
(`byte_axis`) always show ticks on binary steps within the visible range, labelled with
as many digits as the step needs. A chart with nothing to draw is a note (`note_figure`),
not empty axes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import Any, ParamSpec

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.ticker import Formatter, Locator, PercentFormatter

from netra_ops.display import GIB, MIB, format_bytes

__all__ = [
    "INK",
    "LABEL_GID",
    "STATE_COLOURS",
    "by_revision",
    "byte_axis",
    "draw_threshold",
    "legend",
    "marker_label",
    "new_figure",
    "no_data",
    "note_figure",
    "share_axis",
    "spread_labels",
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
LABEL_GID = "label:"
"""The gid prefix of marker labels that `spread_labels` keeps apart."""
_LABEL_SIZE = 8.5
_LINE_PT = _LABEL_SIZE * 1.7


def styled(function: Callable[P, Figure]) -> Callable[P, Figure]:
    """Build the chart under the fixed light style (whatever the session's rcParams)."""
    @wraps(function)
    def build(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with mpl.rc_context(_STYLE):  # type: ignore[arg-type]
            figure = function(*args, **kwargs)
            figure.set_facecolor("white")
            spread_labels(figure)
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


def note_figure(text: str, *, title: str = "") -> Figure:
    """A chart with nothing to draw, as what it is: a line of text (and its title), no
    axes, no made-up scale. The text carries the gid `no-data`."""
    figure = Figure(figsize=(9, 0.9 if not title else 1.2), layout="constrained",
                    facecolor="white")
    axes = figure.subplots()
    axes.set_axis_off()
    if title:
        axes.set_title(title, loc="left")
    axes.text(0.0, 0.5, text, transform=axes.transAxes, ha="left", va="center",
              color="#57606a", fontsize=11, gid="no-data")
    return figure


def marker_label(axes: Axes, x: Any, text: str, colour: str) -> Annotation:
    """The label of a vertical marker at `x`, at the top of the axes on a white ground
    (readable over lines); `spread_labels` keeps it clear of the others."""
    note = axes.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                         textcoords="offset points", ha="left", va="top",
                         fontsize=_LABEL_SIZE, color=colour, gid=f"{LABEL_GID}{text}",
                         bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                               "edgecolor": "none", "alpha": 0.85})
    note.set_in_layout(False)
    return note


def spread_labels(figure: Figure) -> None:
    """Lay the figure out and move each marker label (gid `label:...`), in the order of
    its marker, down a line at a time, on the right of its marker or else on its left,
    until it overlaps no label placed before it and stays inside its axes."""
    groups = [(axes, [t for t in axes.texts if isinstance(t, Annotation)
                      and str(t.get_gid()).startswith(LABEL_GID)]) for axes in figure.axes]
    if not any(labels for _, labels in groups):
        return
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw_without_rendering()
    for axes, labels in groups:  # all still right of their markers: sorted by marker
        _stack(axes, sorted(labels, key=lambda t: t.get_window_extent(renderer).x0),
               renderer)


def _stack(axes: Axes, labels: list[Annotation], renderer: RendererBase) -> None:
    frame = axes.get_window_extent(renderer)
    placed: list[Any] = []
    for label in labels:
        for level in range(len(labels)):
            if _fits(label, level, frame, placed, renderer):
                break
        placed.append(label.get_window_extent(renderer).expanded(1.0, 1.15))


def _fits(label: Annotation, level: int, frame: Any, placed: list[Any],
          renderer: RendererBase) -> bool:
    """Try the label on the right, then the left, of its marker at line `level`."""
    for side in (1, -1):
        label.xyann = (3.0 * side, -3.0 - level * _LINE_PT)
        label.set_horizontalalignment("left" if side > 0 else "right")
        box = label.get_window_extent(renderer)
        inside = box.x0 >= frame.x0 and box.x1 <= frame.x1
        if inside and not any(box.overlaps(other) for other in placed):
            return True
    label.xyann = (3.0, -3.0 - level * _LINE_PT)
    label.set_horizontalalignment("left")
    return False


def time_axis(axes: Axes) -> None:
    axes.set_xlabel("time (UTC)")
    axes.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    for label in axes.get_xticklabels():
        label.set_rotation(20)


def legend(axes: Axes) -> None:
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)


class _BinaryLocator(Locator):
    """Ticks every 2**k bytes, k chosen for 4 to 8 ticks in whatever range is shown."""

    def __call__(self) -> Sequence[float]:
        if self.axis is None:
            return []
        low, high = self.axis.get_view_interval()
        return self.tick_values(low, high)

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        low, high = sorted((float(vmin), float(vmax)))
        if not high > low:
            return [low]
        step = 2.0 ** math.ceil(math.log2((high - low) / 8))
        first = math.ceil(low / step) * step
        return list(np.arange(first, high + step * 1e-9, step))


class _ByteFormatter(Formatter):
    """Tick labels in one unit (GiB, MiB, KiB or B), the largest in which at most three
    decimals tell every tick apart; on a log axis each tick in its own unit."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return "0" if x == 0 else format_bytes(x)

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        locs = [float(v) for v in values]
        linear = not isinstance(self.axis, Axis) or self.axis.get_scale() == "linear"
        if len(locs) < 2 or not linear:
            return [self(v) for v in locs]
        top = max(abs(v) for v in locs)
        for factor, name in ((GIB, "GiB"), (MIB, "MiB"), (2**10, "KiB"), (1, "B")):
            if top < factor and factor > 1:
                continue
            for decimals in range(4):
                texts = [_trimmed(f"{v / factor:,.{decimals}f}") for v in locs]
                if len(set(texts)) == len(texts):
                    return ["0" if v == 0 else f"{t} {name}" for v, t in zip(locs, texts,
                                                                              strict=True)]
        return [self(v) for v in locs]


def _trimmed(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def byte_axis(axes: Axes, *, min_span: float = 4 * MIB) -> None:
    """The y axis in bytes: binary steps with readable labels (log axes keep their own
    ticks, labelled in bytes). A linear range narrower than `min_span` (a flat line) is
    widened around its middle, so that ticks show."""
    if axes.get_yscale() == "linear":
        low, high = axes.get_ylim()
        if high - low < min_span:
            middle = (low + high) / 2
            axes.set_ylim(max(0.0, middle - min_span / 2), max(0.0, middle - min_span / 2)
                          + min_span)
        axes.yaxis.set_major_locator(_BinaryLocator())
    axes.yaxis.set_major_formatter(_ByteFormatter())


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
