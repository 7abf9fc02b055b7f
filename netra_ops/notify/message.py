"""What a notification says: one `Notice`, the same whatever chat receives it.

A Notice names the incident, the phase (a runbook, or empty for the whole run), the verdict,
the record (a path or a link) and carries a `key`: the idempotency key (`notice_key`) that
the sent-log checks, so a resumed playbook or a restarted watch never sends the same update
twice. The key is incident + run id + phase + event (+ a detail, e.g. the decision), so the
same update of the same run is sent once, and a different outcome of a re-run phase is news.

The seed's communication plan lives here too: its stakeholder updates (`COMMUNICATION_PLAN`,
`stakeholder_notice`) and escalation triggers (`SEED_ESCALATION_TRIGGERS`,
`escalation_notice`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from netra_ops.errors import ParameterError

__all__ = [
    "COMMUNICATION_PLAN",
    "SEED_ESCALATION_TRIGGERS",
    "Notice",
    "Severity",
    "escalation_notice",
    "new_run_id",
    "notice_key",
    "stakeholder_notice",
]

Severity = Literal["info", "warning", "critical"]

SEED_ESCALATION_TRIGGERS = (
    "Deployment fails or times out",
    "Rollback required due to critical issues",
    ">4 hours to restore Golden Path functionality",
    "Any security or data integrity concerns",
)
"""The seed's escalation triggers (Communication Plan)."""

COMMUNICATION_PLAN = (
    (timedelta(0), "Immediate (start of deployment)",
     "Emergency deployment in progress to fix critical Golden Path failure"),
    (timedelta(hours=2), "2 Hours", "Deployment complete, running validation tests"),
    (timedelta(hours=4), "4 Hours", "Golden Path restored, monitoring performance"),
    (timedelta(hours=24), "24 Hours", "System stable, all metrics within targets"),
)
"""The seed's stakeholder updates: (time since deployment, milestone, planned update)."""

_KEY_PART = re.compile(r"[^A-Za-z0-9._@+=-]+")


@dataclass(frozen=True)
class Notice:
    """One notification: who it is about, what happened, where the record is, its key.

    `title` is one short line (a chat header), `text` the whole sentence; `phase`,
    `verdict` and `record` are empty when they do not apply (shown as "-"); `fields` are
    further named facts (environment, reason, trigger) in order.
    """

    incident: str
    run_id: str
    event: str
    key: str
    title: str
    text: str
    phase: str = ""
    verdict: str = ""
    record: str = ""
    severity: Severity = "info"
    fields: tuple[tuple[str, str], ...] = ()

    def named_fields(self) -> list[tuple[str, str]]:
        """Incident, phase, verdict and record (always, "-" when empty), then `fields`."""
        named = [("Incident", self.incident), ("Phase", self.phase),
                 ("Verdict", self.verdict), ("Record", self.record), *self.fields]
        return [(label, value or "-") for label, value in named]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, `fields` as an object."""
        return {"incident": self.incident, "run_id": self.run_id, "event": self.event,
                "key": self.key, "title": self.title, "text": self.text, "phase": self.phase,
                "verdict": self.verdict, "record": self.record, "severity": self.severity,
                "fields": dict(self.fields)}


def notice_key(incident: str, run_id: str, phase: str, event: str, *detail: str) -> str:
    """`incident:run_id:phase:event[:detail...]`, each part reduced to key-safe characters
    (an empty phase reads `-`)."""
    parts = [incident, run_id, phase or "-", event, *detail]
    return ":".join(_KEY_PART.sub("_", part.strip()) or "-" for part in parts)


def new_run_id(now: datetime | None = None) -> str:
    """A run id for a fresh playbook run or watch: its UTC start, `20250111T141000Z`."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def stakeholder_notice(incident: str, run_id: str, milestone: str, *, update: str = "",
                       detail: str = "", record: str = "", verdict: str = "",
                       severity: Severity = "info") -> Notice:
    """The communication plan's update at `milestone`, once per run.

    `milestone` is one of the plan's (`"24 Hours"`, ...; its planned `update` is the text
    unless one is given) or any other name with an `update` (the watch's "30 minutes"
    status). `detail` adds figures after the planned words. ParameterError for an unknown
    milestone without an update.
    """
    planned = {name: words for _, name, words in COMMUNICATION_PLAN}
    words = update or planned.get(milestone, "")
    if not words:
        raise ParameterError(f"no planned update for milestone {milestone!r}: pass update= or "
                             f"use one of {', '.join(planned)}")
    text = f"[{incident}] {words}" + (f": {detail}" if detail else "")
    return Notice(incident, run_id, "stakeholder_update",
                  notice_key(incident, run_id, "", "stakeholder_update", milestone),
                  f"{incident} · {milestone}: {words}", text, verdict=verdict, record=record,
                  severity=severity, fields=(("Milestone", milestone),))


def escalation_notice(incident: str, run_id: str, trigger: str, *, phase: str = "",
                      verdict: str = "", record: str = "", detail: str = "") -> Notice:
    """An escalation: `trigger` (one of the seed's, or what else calls for a person) met at
    `phase`, critical, once per run, phase and trigger."""
    text = f"[{incident}] ESCALATION: {trigger}" + (f" at {phase}" if phase else "") + (
        f": {detail}" if detail else "")
    return Notice(incident, run_id, "escalation",
                  notice_key(incident, run_id, phase, "escalation", trigger),
                  f"{incident} · escalation: {trigger}", text, phase=phase, verdict=verdict,
                  record=record, severity="critical", fields=(("Trigger", trigger),))
