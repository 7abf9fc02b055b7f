"""The panel's charts as images: wide enough, and text big enough, to read at a glance."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib.image as mpimg
import pandas as pd
from matplotlib.text import Text

from netra_ops.metrics import error_rate_chart, make_frame, memory_chart
from netra_ops.ui.charts import CHART_DPI, CHARTS, MetricsWindow, render_charts
from netra_ops.ui.view import PanelView

T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
MARKERS = pd.DataFrame({"time": [T0 + timedelta(seconds=s) for s in (30, 31)],
                        "kind": ["deploy", "rollback"],
                        "label": ["netra-backend-staging-00002-def",
                                  "netra-backend-staging-00001-abc"]})


def window() -> MetricsWindow:
    rows = [{"time": T0 + timedelta(seconds=s), "source": "monitoring", "revision": "r1",
             "metric": metric, "value": value}
            for s in range(0, 900, 15)
            for metric, value in (("memory_bytes", 60e6), ("http_error_rate", 0.002))]
    return MetricsWindow(T0, T0 + timedelta(minutes=15), make_frame(rows), MARKERS)


def test_panel_charts_are_full_width_images_with_readable_text() -> None:
    images = render_charts(window())
    for name in CHARTS:
        height, width = mpimg.imread(io.BytesIO(images.png(name)), format="png").shape[:2]
        assert width >= 900 and height >= 400, (name, width, height)
    for figure in (error_rate_chart(window().frame, markers=MARKERS),
                   memory_chart(window().frame, markers=MARKERS)):
        sizes = [t.get_fontsize() for t in figure.findobj(Text)
                 if t.get_text() and t.get_visible()]
        assert min(sizes) * CHART_DPI / 72 >= 11  # the smallest text, in pixels


def test_the_panel_shows_one_chart_per_row() -> None:
    view = PanelView([("sandbox", "sandbox")], "sandbox", "")
    rows = [box for box in view.root.children if set(view.charts.values()) <= set(
        getattr(box, "children", ()))]
    assert len(rows) == 1 and type(rows[0]).__name__ == "VBox"
    assert all(chart.layout.width == "100%" for chart in view.charts.values())
