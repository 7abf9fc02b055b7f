"""The JupyterLab control panel: the system at a glance and guarded actions, in a notebook.

    from netra_ops.ui import control_panel
    panel = control_panel("sandbox", incident="INC-358")
    panel                                  # live widgets in JupyterLab; a snapshot headless

Live, it shows a tile per service (health, serving revision, image), the backend's
revisions and traffic, and error-rate and memory charts, refreshed in place; its buttons run
the golden-path probe, deploy an image or roll back (each only after an explicit Confirm
that says what will change), and start or stop a watch of the rollback rules. Every action
is recorded (`ui.golden_path`, `ui.deploy`, `ui.rollback`, `ui.watch`). Headless (papermill,
`NETRA_OPS_HEADLESS`) or outside a kernel it renders a static `Snapshot` and starts nothing.
See docs/ui.md.
"""

from netra_ops.ui.actions import (
    ActionOutcome,
    PendingChange,
    cancel_change,
    execute_change,
    golden_path_action,
    plan_deploy,
    plan_rollback,
)
from netra_ops.ui.charts import ChartImages, MetricsWindow, read_metrics, render_charts
from netra_ops.ui.journal import JOURNAL, journal_entries, journal_path, record_value
from netra_ops.ui.panel import Panel, control_panel
from netra_ops.ui.runtime import interactive
from netra_ops.ui.snapshot import Snapshot, take_snapshot
from netra_ops.ui.state import PanelState, ServiceTile, read_state
from netra_ops.ui.watcher import WatchRun

__all__ = [
    "JOURNAL",
    "ActionOutcome",
    "ChartImages",
    "MetricsWindow",
    "Panel",
    "PanelState",
    "PendingChange",
    "ServiceTile",
    "Snapshot",
    "WatchRun",
    "cancel_change",
    "control_panel",
    "execute_change",
    "golden_path_action",
    "interactive",
    "journal_entries",
    "journal_path",
    "plan_deploy",
    "plan_rollback",
    "read_metrics",
    "read_state",
    "record_value",
    "render_charts",
    "take_snapshot",
]
