"""The validation schedule (seed "Validation Schedule"): validation runbooks at a cadence.

`Scheduler(Schedule(...)).run()` runs the validation runbooks (default: the Golden Path
validation, then monitoring) every 30 minutes for the first 4 hours, every 2 hours for the
next 20 hours, then daily (`cadence`), each run its own record of the incident. One scheduler
per incident (`lock`); no overlapping runs; missed due times reported and caught up with one
run (`scheduler`); everything in `schedule.json` (`state`); each failed run escalated to a
webhook (`escalation`, delivered by `netra_ops.notify`); the same schedule as cron lines
(`cron`), or as a Cloud Run job triggered by Cloud Scheduler jobs (`job_spec`,
`cloud_jobs`). See docs/schedule.md.
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
from netra_ops.schedule.cloud_jobs import JobsChange, deploy_jobs, list_jobs, remove_jobs
from netra_ops.schedule.cron import cron_lines
from netra_ops.schedule.escalation import FailedRun, escalation_payload
from netra_ops.schedule.job_spec import (
    RECORDS_ENV,
    JobsPlan,
    WebhookSecret,
    default_image,
    default_service_account,
    job_id_for,
    plan_jobs,
    webhook_secret,
)
from netra_ops.schedule.lock import ScheduleLock, ScheduleLockedError
from netra_ops.schedule.scheduler import (
    Poster,
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
    "RECORDS_ENV",
    "WEBHOOK_ENV",
    "Cadence",
    "CadenceError",
    "Clock",
    "Delivery",
    "FailedRun",
    "JobsChange",
    "JobsPlan",
    "Phase",
    "Poster",
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
    "WebhookSecret",
    "cron_lines",
    "default_image",
    "default_service_account",
    "deploy_jobs",
    "display_url",
    "escalation_payload",
    "job_id_for",
    "list_jobs",
    "parse_cadence",
    "parse_duration",
    "plan_jobs",
    "plan_validations",
    "remove_jobs",
    "schedule_cron",
    "webhook_secret",
    "webhook_url",
]
