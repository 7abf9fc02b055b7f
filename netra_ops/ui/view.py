"""The live panel's widgets and how they show things; what the buttons do is `ui.panel`'s.

From top to bottom: title, environment picker and refresh line; a tile per service; the
backend's revisions and traffic; the action buttons (golden-path probe, an image to deploy,
roll back, start/stop a watch of the rollback rules); the progress of the running action;
the confirmation box; the last action's result; the watch's decision and rule table; the
error-rate and memory charts, one per row at their full width; the log of what was
recorded. Each part carries a CSS class (`netra-ops-...`) that a browser test can find it
by.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from netra_ops.metrics import WatchTick
from netra_ops.ui.actions import ActionOutcome
from netra_ops.ui.charts import CHART_DPI, CHARTS, ChartImages
from netra_ops.ui.confirm import ConfirmBox
from netra_ops.ui.marks import BAD, IDLE
from netra_ops.ui.progress import ActionProgress
from netra_ops.ui.state import PanelState
from netra_ops.ui.tiles import STYLE, errors_html, revisions_html, table_html, tiles_html
from netra_ops.ui.watch_run import watch_html
from netra_ops.ui.watcher import decision_text, rules_table

__all__ = ["CHART_WIDTH", "PanelView"]

CHART_WIDTH = f"{9 * CHART_DPI}px"
"""A chart's widest: its PNG's own width (9-inch figures at `CHART_DPI`), never scaled up."""


def _classed(widget: widgets.DOMWidget, name: str) -> widgets.DOMWidget:
    widget.add_class(f"netra-ops-{name}")
    return widget


class PanelView:
    """Every widget of one panel, and the ways to show state, charts and outcomes."""

    def __init__(self, environments: list[tuple[str, str]], environment: str,
                 image: str) -> None:
        self.environment = _classed(widgets.Dropdown(
            options=environments, value=environment, description="environment",
            style={"description_width": "initial"}), "env")
        self.status = _classed(widgets.HTML(""), "status")
        self.tiles = _classed(widgets.HTML(""), "tiles")
        self.revisions = _classed(widgets.HTML(""), "revisions")
        self.watch_run = _classed(widgets.HTML(""), "incident-watch")
        self.golden_path = _classed(widgets.Button(
            description="Run golden-path probe", icon="play", button_style="primary",
            layout=widgets.Layout(width="auto")), "golden-path")
        self.image = _classed(widgets.Text(value=image, description="image",
                                           layout=widgets.Layout(width="40em")), "image")
        self.deploy = _classed(widgets.Button(description="Deploy image…", icon="upload",
                                              button_style="warning"), "deploy")
        self.rollback = _classed(widgets.Button(description="Roll back…", icon="undo",
                                                button_style="warning"), "rollback")
        self.watch = _classed(widgets.Button(description="Start watch", icon="eye",
                                             layout=widgets.Layout(width="auto")), "watch")
        self.progress = ActionProgress()
        self.confirm = ConfirmBox()
        self.result = _classed(widgets.HTML(f"{IDLE} no action yet"), "result")
        self.actions_shown = 0
        self.watch_status = _classed(widgets.HTML(f"{IDLE} no watch running"), "watch-status")
        self.rules = _classed(widgets.HTML(""), "rules")
        self.charts = {name: _classed(widgets.Image(format="png", layout=widgets.Layout(
            width="100%", max_width=CHART_WIDTH, height="auto")), "chart") for name in CHARTS}
        self.log = _classed(widgets.Output(layout=widgets.Layout(
            max_height="12em", overflow="auto", border="1px solid #d0d7de")), "log")
        self.root = _classed(self._layout(), "panel")

    def _layout(self) -> widgets.VBox:
        heading = widgets.HTML("<h3 style='margin:0'>netra-ops control panel</h3>")
        actions = widgets.HBox([self.golden_path, self.rollback, self.watch],
                               layout=widgets.Layout(flex_flow="row wrap"))
        deploying = widgets.HBox([self.image, self.deploy],
                                 layout=widgets.Layout(flex_flow="row wrap"))
        charts = widgets.VBox(list(self.charts.values()))
        return widgets.VBox([
            heading, widgets.HBox([self.environment, self.status]), self.tiles,
            widgets.HTML("<b>Revisions and traffic</b>"), self.revisions, self.watch_run,
            actions, deploying,
            self.progress.box, self.confirm.box, self.result, self.watch_status, self.rules,
            charts, widgets.HTML("<b>Recorded</b>"), self.log])

    @property
    def action_buttons(self) -> tuple[widgets.Button, ...]:
        """The buttons that start an action (disabled while one runs)."""
        return (self.golden_path, self.deploy, self.rollback)

    def set_busy(self, busy: bool) -> None:
        """Disable the action buttons while an action or a confirmation is open."""
        for button in self.action_buttons:
            button.disabled = busy

    def show_state(self, state: PanelState, refresh_s: float) -> None:
        """Tiles, revisions and the refresh line from a fresh state."""
        self.tiles.value = STYLE + tiles_html(state)
        self.revisions.value = STYLE + revisions_html(state) + errors_html(state)
        self.watch_run.value = watch_html(state.watch)
        self.status.value = (f"refreshed {state.read_at:%H:%M:%S} UTC · every "
                             f"{refresh_s:g} s")

    def show_problem(self, what: str, error: BaseException) -> None:
        """A refresh or an action failed unexpectedly: say so where the refresh line is."""
        self.status.value = f"{BAD} {html.escape(what)}: {html.escape(_error_text(error))}"

    def show_charts(self, images: ChartImages) -> None:
        """Replace the chart images in place."""
        for name, widget in self.charts.items():
            widget.value = images.png(name)

    def show_result(self, outcome: ActionOutcome) -> None:
        """The last action's line: its number in this panel, its mark and words, its time
        (numbered, so that the same outcome twice is still seen to be new)."""
        self.actions_shown += 1
        self.result.value = html.escape(f"#{self.actions_shown} {outcome.summary} · "
                                        f"{outcome.started_at:%H:%M:%S} UTC")

    def show_tick(self, tick: WatchTick, watching: bool) -> None:
        """A watch tick: its decision and the rules in words."""
        state = "watching" if watching else "watch ended"
        self.watch_status.value = html.escape(
            f"{state}: tick {tick.number} at {tick.at:%H:%M:%S} UTC · "
            f"{decision_text(tick.decision)}")
        self.rules.value = STYLE + table_html(rules_table(tick), "netra-ops-rules-table")

    def show_watching(self, running: bool, text: str) -> None:
        """The watch button's label and the watch line."""
        self.watch.description = "Stop watch" if running else "Start watch"
        self.watch.icon = "stop" if running else "eye"
        self.watch_status.value = html.escape(text)


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
