"""The panel as a static snapshot: what a headless run (papermill) shows instead of widgets.

`take_snapshot(env)` reads the state (`ui.state.read_state`) and the recent metrics
(`ui.charts.read_metrics`) once and draws the charts. Displayed in a notebook, a `Snapshot`
is an HTML output (the service tiles, the revisions and traffic table, what could not be
read) followed by one `image/png` output per chart, so the executed notebook and its HTML
export keep it. Nothing waits for a click and nothing runs in the background.
`checks()` gives the verdict rows for the runbook's last cell.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from typing import Any

from netra_ops.checks import Check
from netra_ops.config import Environment
from netra_ops.ui.charts import CHARTS, ChartImages, MetricsWindow, read_metrics, render_charts
from netra_ops.ui.marks import WARN
from netra_ops.ui.state import PanelState, read_state
from netra_ops.ui.tiles import STYLE, errors_html, revisions_html, tiles_html
from netra_ops.ui.watch_run import watch_html

__all__ = ["Snapshot", "take_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """The state, the metrics window and the charts, read at one moment."""

    state: PanelState
    window: MetricsWindow
    charts: ChartImages

    def checks(self) -> tuple[Check, ...]:
        """Verdict rows: every service healthy, backend traffic on Ready revisions."""
        return self.state.checks()

    def record_value(self) -> dict[str, Any]:
        """What `ui.snapshot` records: the state's summary and unreadable metric sources."""
        return {**self.state.summary(), "metrics_unavailable": dict(self.window.unavailable)}

    def html(self, *, images: bool = False) -> str:
        """The snapshot as one HTML fragment (charts inlined as data URIs with `images`)."""
        parts = [f"<h3>netra-ops control panel · {html.escape(self.state.environment)} "
                 "(snapshot)</h3>", STYLE, tiles_html(self.state), "<h4>Revisions and traffic</h4>",
                 revisions_html(self.state), errors_html(self.state), self._unavailable(),
                 watch_html(self.state.watch)]
        if images:
            parts += [_img(self.charts.png(name), name) for name in CHARTS]
        return "".join(parts)

    def _unavailable(self) -> str:
        if not self.window.unavailable:
            return ""
        items = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>"
                        for k, v in self.window.unavailable.items())
        return f"<p>{WARN} metric sources not read:</p><ul>{items}</ul>"

    def _repr_html_(self) -> str:
        return self.html(images=True)

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, Image, display

        display(HTML(self.html()))
        for name in CHARTS:
            display(Image(data=self.charts.png(name), format="png",
                          metadata={"alt": f"{name} chart"}))


def _img(png: bytes, name: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<img alt="{name} chart" style="display:block; max-width:100%" '
            f'src="data:image/png;base64,{data}">')


def take_snapshot(env: Environment, *, minutes: float = 15.0,
                  incident: str | None = None) -> Snapshot:
    """Read the state (with `incident`'s watch) and the last `minutes` of metrics once, and
    draw the charts."""
    window = read_metrics(env, minutes=minutes)
    return Snapshot(read_state(env, incident=incident), window, render_charts(window))
