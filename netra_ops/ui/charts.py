"""The panel's charts: error rate and memory of the recent past, as PNG images.

`read_metrics(env)` reads the last `minutes` from Cloud Monitoring and Cloud Logging
(`metrics.read_window`) with the deploy and rollback markers; `render_charts()` draws them
with the runbooks' own charts (`metrics.error_rate_chart`, `metrics.memory_chart`) into PNG
bytes. The live panel puts those bytes into `ipywidgets.Image` widgets, replaced in place at
each refresh; the headless snapshot shows them as `image/png` outputs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
from matplotlib.figure import Figure

from netra_ops.config import Environment
from netra_ops.errors import NetraOpsError
from netra_ops.metrics import (
    change_markers,
    combine_readings,
    error_rate_chart,
    memory_chart,
    read_window,
)

__all__ = ["CHARTS", "CHART_DPI", "ChartImages", "MetricsWindow", "figure_png", "read_metrics",
           "render_charts"]

CHARTS = ("error_rate", "memory")
CHART_DPI = 100
"""Pixels per inch of the panel's charts: a 9-inch chart is 900 px wide, its smallest
text (8 pt) 11 px high. The panel shows them one per row at up to that width."""


@dataclass(frozen=True)
class MetricsWindow:
    """The samples of a recent window, the change markers in it, and what could not be read."""

    start: datetime
    end: datetime
    frame: pd.DataFrame = field(repr=False)
    markers: pd.DataFrame = field(repr=False)
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartImages:
    """One PNG per chart name of `CHARTS`."""

    pngs: dict[str, bytes]
    drawn_at: datetime

    def png(self, name: str) -> bytes:
        """The PNG bytes of chart `name` (`error_rate` or `memory`)."""
        return self.pngs[name]


def read_metrics(env: Environment, *, minutes: float = 15.0) -> MetricsWindow:
    """The last `minutes` of request and memory metrics with deploy and rollback markers;
    a source that cannot be read is named in `unavailable` (never raises for it)."""
    end = datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    frame, unavailable = combine_readings(read_window(env, start, end))
    try:
        markers = change_markers(env, start, end)
    except NetraOpsError as exc:
        markers, unavailable = None, {**unavailable, "markers": str(exc)}
    return MetricsWindow(start, end, frame, markers if markers is not None else
                         pd.DataFrame(columns=["time", "kind", "label"]), unavailable)


def render_charts(window: MetricsWindow) -> ChartImages:
    """The error-rate and memory charts of a window, as PNG bytes."""
    figures = {"error_rate": error_rate_chart(window.frame, markers=window.markers),
               "memory": memory_chart(window.frame, markers=window.markers)}
    return ChartImages({name: figure_png(figure) for name, figure in figures.items()},
                       datetime.now(UTC))


def figure_png(figure: Figure, *, dpi: int = CHART_DPI) -> bytes:
    """A figure as PNG bytes (white background, as every netra-ops chart)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()
