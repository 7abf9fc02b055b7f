"""The post-deployment watch (seed "Post-Deployment Monitoring"): 24 hours that can still
roll back.

`run_watch(WatchPlan(...))` watches an incident's deployment for `hours` (default the seed's
24): the rollback rules every interval (health every 30 s), ERROR log entries followed,
automatic rollback to the last known good revision inside the rollback window when a
trigger fires (else escalation), the schedule's validations at the seed's times and depths,
one record per period plus a rolling summary with charts, the communication plan's updates
and "System stable" at the end. It resumes after a kill where it was, repeating no message.
A time scale rehearses the whole span in minutes. See docs/watch.md.
"""

from netra_ops.watch.clock import WatchClock, hours_text
from netra_ops.watch.messages import Messenger, watch_notices
from netra_ops.watch.monitor import CHART_METRICS, Monitor
from netra_ops.watch.periods import PERIOD_RUNBOOK, Records, chart_frames
from netra_ops.watch.plan import DEPTHS, WatchPlan, plan_depths, watch_cadence
from netra_ops.watch.run import EXIT_ROLLED_BACK, WatchOutcome, run_watch, watch_folder
from netra_ops.watch.state import WATCH_DIR, WatchState, read_ticks
from netra_ops.watch.status import WatchStatus, read_watch_status

__all__ = [
    "CHART_METRICS",
    "DEPTHS",
    "EXIT_ROLLED_BACK",
    "PERIOD_RUNBOOK",
    "WATCH_DIR",
    "Messenger",
    "Monitor",
    "Records",
    "WatchClock",
    "WatchOutcome",
    "WatchPlan",
    "WatchState",
    "WatchStatus",
    "chart_frames",
    "hours_text",
    "plan_depths",
    "read_ticks",
    "read_watch_status",
    "run_watch",
    "watch_cadence",
    "watch_folder",
    "watch_notices",
]
