"""Escalating a failed scheduled validation: a JSON POST to a webhook, bounded in time.

The payload says what failed (incident, environment, runbook, status, exit code, failing
cell, record folder: in a records bucket its `gs://` place), when (due, started, finished,
time since the deployment), which of the seed's escalation triggers it meets, and where the
seed's communication plan stands:

- ">4 hours to restore Golden Path functionality": a validation fails 4 hours or more after
  the schedule's start (the deployment);
- "Rollback required due to critical issues": the run recorded `decision = "rollback"` (the
  monitoring runbook does when a rollback trigger fires);
- the other seed triggers (a failed deploy, security concerns) are not a validation's to see.

A `text` field makes the payload readable as-is by chat webhooks (Slack, Mattermost).

Delivery is `netra_ops.notify.Webhook` (retries, backoff, a deadline, the URL never logged);
the seed's communication plan and triggers are `netra_ops.notify`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from netra_ops.notify import COMMUNICATION_PLAN, SEED_ESCALATION_TRIGGERS
from netra_ops.record.redact import scrub, scrub_json
from netra_ops.record.staging import stored_location

__all__ = ["FailedRun", "escalation_payload"]

_RESTORE_WINDOW = timedelta(hours=4)


@dataclass(frozen=True)
class FailedRun:
    """The facts of one failed scheduled run that an escalation reports."""

    incident: str
    environment: str
    runbook: str
    status: str
    exit_code: int
    record_dir: Path | None
    due: datetime
    started: datetime
    finished: datetime
    schedule_start: datetime
    phase: str
    state_file: Path
    failing_cell: Mapping[str, Any] | None = None
    records: Mapping[str, Any] | None = None
    error: str | None = None


def escalation_payload(run: FailedRun) -> dict[str, Any]:
    """The JSON body of the escalation for `run` (see the module docstring)."""
    since = run.started - run.schedule_start
    triggers = _seed_triggers(run, since)
    milestone, planned = _milestone(since)
    record = stored_location(run.record_dir) if run.record_dir else None  # gs:// in a bucket
    failing = dict(run.failing_cell or {})
    cell = {k: failing.get(k) for k in ("index", "ename", "evalue")} if failing else None
    what = run.error or (f"{cell['ename']}: {cell['evalue']}" if cell else run.status)
    payload = {
        "event": "netra_ops.validation_failed",
        "severity": "critical" if triggers else "error",
        "text": (f"[{run.incident}] scheduled validation {run.runbook} {run.status} "
                 f"(exit {run.exit_code}) on {run.environment}, "
                 f"{_hours(since)} after deployment: {what}. Record: "
                 f"{record or 'none (the run could not start)'}"),
        "incident": run.incident,
        "environment": run.environment,
        "runbook": run.runbook,
        "status": run.status,
        "exit_code": run.exit_code,
        "record": record,
        "failing_cell": cell,
        "error": run.error,
        "due_at": run.due.isoformat(),
        "started_at": run.started.isoformat(),
        "finished_at": run.finished.isoformat(),
        "since_deployment_s": round(since.total_seconds()),
        "phase": run.phase,
        "seed_escalation_triggers": triggers,
        "communication_plan": {"milestone": milestone, "planned_update": planned},
        "schedule_state": stored_location(run.state_file),
    }
    return dict(scrub_json(payload, scrub))


def _seed_triggers(run: FailedRun, since: timedelta) -> list[str]:
    found = []
    if (run.records or {}).get("decision") == "rollback":
        found.append(SEED_ESCALATION_TRIGGERS[1])
    if since >= _RESTORE_WINDOW:
        found.append(SEED_ESCALATION_TRIGGERS[2])
    return found


def _milestone(since: timedelta) -> tuple[str, str]:
    """The communication plan's latest milestone at `since`: what should be true by now."""
    reached = [(name, text) for at, name, text in COMMUNICATION_PLAN if since >= at]
    return reached[-1] if reached else COMMUNICATION_PLAN[0][1:]


def _hours(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"
