"""Notifications: the seed's communication plan carried out over chat webhooks.

A `Notice` (`message`) names the incident, the phase, the verdict and the record, and has an
idempotency key; `payload_for` (`formats`) renders it for Slack, Google Chat or plain JSON;
`Webhook` (`webhook`) delivers it with retries and backoff, never logging the URL; the
`SentLog` (`sent_log`) in the incident's folder records every message sent or given up on
and keeps a resumed run from sending one twice; `Notifier` (`notifier`) ties them together.

Used by the playbook (`netra-ops run ... --webhook`), the schedule's escalations and the
watch. See docs/notifications.md.
"""

from netra_ops.notify.formats import FORMATS, payload_for, resolve_format
from netra_ops.notify.message import (
    COMMUNICATION_PLAN,
    SEED_ESCALATION_TRIGGERS,
    Notice,
    Severity,
    escalation_notice,
    new_run_id,
    notice_key,
    stakeholder_notice,
)
from netra_ops.notify.notifier import Notifier
from netra_ops.notify.sent_log import SENT_LOG, SentEntry, SentLog
from netra_ops.notify.webhook import WEBHOOK_ENV, Delivery, Webhook, display_url, webhook_url

__all__ = [
    "COMMUNICATION_PLAN",
    "FORMATS",
    "SEED_ESCALATION_TRIGGERS",
    "SENT_LOG",
    "WEBHOOK_ENV",
    "Delivery",
    "Notice",
    "Notifier",
    "SentEntry",
    "SentLog",
    "Severity",
    "Webhook",
    "display_url",
    "escalation_notice",
    "new_run_id",
    "notice_key",
    "payload_for",
    "resolve_format",
    "stakeholder_notice",
    "webhook_url",
]
