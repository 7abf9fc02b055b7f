"""The validation schedule (seed "Validation Schedule"): validation runbooks at a cadence.

`Scheduler(Schedule(...)).run()` runs the validation runbooks (default: the Golden Path
validation, then monitoring) every 30 minutes for the first 4 hours, every 2 hours for the
next 20 hours, then daily (`cadence`), each run its own record of the incident. One scheduler
per incident (`lock`); no overlapping runs; missed due times reported and caught up with one
run (`scheduler`); everything in `schedule.json` (`state`); each failed run escalated to a
webhook (`escalation`, delivered by `netra_ops.notify`); the same schedule as cron lines
(`cron`). See docs/schedule.md.
"""

from netra_ops.notify import WEBHOOK_ENV, Delivery, Webhook, display_url, webhook_url
from netra_ops.schedule.cadence import (
    DEFAULT_CADENCE,
    Cadence,
    CadenceError,
    Phase,
    parse_cadence,
    parse_duration,
)
from netra_ops.schedule.clock import Clock, SystemClock
from netra_ops.schedule.cron import cron_lines
from netra_ops.schedule.escalation import FailedRun, escalation_payload
from netra_ops.schedule.lock import ScheduleLock, ScheduleLockedError
from netra_ops.schedule.scheduler import (
    Runner,
    Schedule,
    ScheduleOutcome,
    Scheduler,
    schedule_cron,
)
from netra_ops.schedule.state import ScheduleState, Slot
from netra_ops.schedule.validations import DEFAULT_RUNBOOKS, Validation, plan_validations

__all__ = [
    "DEFAULT_CADENCE",
    "DEFAULT_RUNBOOKS",
    "WEBHOOK_ENV",
    "Cadence",
    "CadenceError",
    "Clock",
    "Delivery",
    "FailedRun",
    "Phase",
    "Runner",
    "Schedule",
    "ScheduleLock",
    "ScheduleLockedError",
    "ScheduleOutcome",
    "ScheduleState",
    "Scheduler",
    "Slot",
    "SystemClock",
    "Validation",
    "Webhook",
    "cron_lines",
    "display_url",
    "escalation_payload",
    "parse_cadence",
    "parse_duration",
    "plan_validations",
    "schedule_cron",
    "webhook_url",
]
