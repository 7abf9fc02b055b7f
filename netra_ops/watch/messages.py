"""What the watch tells people, once each, through the incident's notifier (`netra_ops.notify`).

Every message is a `Notice` with an idempotency key: the communication plan's updates
(`stakeholder_notice`: the watch started, "2 Hours", "4 Hours", "24 Hours" / "System
stable"), escalations (a trigger and its rollback, a failed validation, a watch that ends
not stable). The `Notifier` posts it (Slack, Google Chat or JSON, retries with backoff) and
logs it in the incident's sent-log, `<incident>/notifications.jsonl`, beside the playbook's
own notifications: a key delivered before is never posted again, by this process or by a
watch started again after a kill. Without a webhook each notice is logged once as not
delivered. A notice that could not be delivered is tried again by the next watch process,
not at every evaluation of this one.

Each notice of the watch carries the watch time it was sent at (`watch_s`, `Watch time`), so
that the period records can list their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from netra_ops.notify import (
    SENT_LOG,
    Delivery,
    Notice,
    Notifier,
    SentLog,
    Webhook,
    notice_key,
)
from netra_ops.schedule import Poster
from netra_ops.watch.clock import hours_text

__all__ = ["Messenger", "watch_notices"]

logger = logging.getLogger("netra_ops.watch")


class Messenger:
    """Sends the watch's notices through one `Notifier` of the incident; see the module
    docstring. `run_id` names this watch in every key (stable across restarts)."""

    def __init__(self, folder: Path, incident: str, run_id: str, webhook: Webhook | None, *,
                 fmt: str = "auto", watch_s: Callable[[], float] | None = None) -> None:
        self.notifier = Notifier(webhook, folder, fmt=fmt)
        self.incident = incident
        self.run_id = run_id
        self._watch_s = watch_s or (lambda: 0.0)
        self._tried: set[str] = set()

    def key(self, event: str, *detail: str) -> str:
        """The idempotency key of a watch notice: incident, run id, `watch`, event, detail."""
        return notice_key(self.incident, self.run_id, "watch", event, *detail)

    def send(self, notice: Notice) -> bool:
        """Send `notice` (with the watch time) unless it was delivered before, or tried by
        this process already; True when it was delivered now."""
        if notice.key in self._tried:
            return False
        self._tried.add(notice.key)
        elapsed = self._watch_s()
        stamped = replace(notice, fields=(*notice.fields, ("Watch time", hours_text(elapsed)),
                                          ("watch_s", f"{elapsed:.1f}")))
        log = {"critical": logger.error, "warning": logger.warning}.get(notice.severity,
                                                                        logger.info)
        log("MESSAGE (%s): %s", notice.event, notice.text)
        entry = self.notifier.send(stamped)
        return bool(entry is not None and entry.delivered)

    def done(self, key: str) -> bool:
        """Whether the notice of `key` was delivered before (or, without a webhook, logged),
        or tried by this process."""
        log = self.notifier.log
        return key in self._tried or (log.delivered(key) if self.notifier.webhook
                                      else log.logged(key))

    def poster(self) -> Poster:
        """A schedule `Poster`: its escalations of failed validations become notices."""
        return _Escalations(self)


def watch_notices(folder: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    """The sent-log entries of the watches of an incident folder (of `run_id` only when
    given), oldest first."""
    return [e for e in SentLog(folder).entries() if e.get("phase") == "watch"
            and (run_id is None or e.get("run_id") == run_id)]


class _Escalations:
    """The schedule's escalation of a failed validation, as a watch notice."""

    def __init__(self, messenger: Messenger) -> None:
        self._messenger = messenger
        self.display = messenger.notifier.destination

    def post(self, payload: Mapping[str, Any]) -> Delivery:
        messenger = self._messenger
        triggers = list(payload.get("seed_escalation_triggers") or [])
        notice = Notice(
            messenger.incident, messenger.run_id, "escalation",
            messenger.key("validation_failed", str(payload.get("due_at")),
                          str(payload.get("runbook"))),
            f"{messenger.incident} · validation failed: {payload.get('runbook')}",
            str(payload.get("text", "")), phase="watch", verdict=str(payload.get("status")),
            record=str(payload.get("record") or ""),
            severity="critical" if payload.get("severity") == "critical" else "warning",
            fields=(("Trigger", "; ".join(triggers) or "validation failed"),
                    ("Due", str(payload.get("due_at"))),
                    ("Failing cell", json.dumps(payload.get("failing_cell")))))
        delivered = messenger.send(notice)
        return Delivery(delivered, 1 if delivered else 0, None,
                        None if delivered else f"not delivered: see the incident's {SENT_LOG}")
