"""What the watch tells people, once each: messages with idempotency keys, and their ledger.

Each message has a key that names what it is about (`<incident>:watch:milestone:2h`,
`...:trigger:memory_high:<revision>`, `...:validation-failed:<due>:<runbook>`). Before a
message goes out its key is appended to the ledger `watch/messages.jsonl` as `pending`,
after it as `sent` or `given_up`; a key already `sent` or `given_up` is never sent again, so
a watch killed and started again repeats nothing. (A key left `pending` by a kill in the
very moment of sending is sent again, with the same key, for the receiver to drop.)

`Notify` is the edge: a callable that takes a `WatchMessage` and says whether it was
delivered. `webhook_notify(url)` posts it as JSON with the schedule's `Webhook` (retries,
backoff, the token kept out of logs); `Messenger.poster()` lets the schedule's own
escalations of failed validations go the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netra_ops.record.redact import scrub, scrub_json
from netra_ops.schedule import Delivery, Poster, Webhook
from netra_ops.watch.state import read_lines

__all__ = ["LEDGER", "Messenger", "Notify", "WatchMessage", "read_ledger", "webhook_notify"]

LEDGER = "messages.jsonl"
logger = logging.getLogger("netra_ops.watch")


@dataclass(frozen=True)
class WatchMessage:
    """One message: its idempotency key, kind, severity, one-line text and fields."""

    key: str
    kind: str
    severity: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The JSON a chat webhook shows (`text`) with the structured fields beside it."""
        return {"text": self.text, "event": f"netra_ops.watch.{self.kind}",
                "severity": self.severity, "idempotency_key": self.key, **self.fields}


Notify = Callable[[WatchMessage], bool]
"""Delivers a message; True when it was delivered."""


def webhook_notify(url: str, *, timeout_s: float = 5.0) -> Notify:
    """A Notify that POSTs each message's payload to `url` (see `schedule.Webhook`)."""
    hook = Webhook(url, timeout_s=timeout_s)

    def notify(message: WatchMessage) -> bool:
        return hook.post(message.payload()).delivered
    return notify


def read_ledger(folder: Path) -> list[dict[str, Any]]:
    """The ledger's entries, oldest first (a line cut short by a kill is skipped)."""
    return read_lines(folder / LEDGER)


class Messenger:
    """Sends each message once (see the module docstring); without `notify` a message is
    only logged, and the ledger says it was not sent."""

    def __init__(self, folder: Path, notify: Notify | None, secrets: list[str],
                 watch_s: Callable[[], float] | None = None) -> None:
        self.folder = folder
        self.notify = notify
        self._secrets = secrets
        self._watch_s = watch_s
        self._done = {e["key"]: e for e in read_ledger(folder)
                      if e.get("status") in ("sent", "given_up", "not_sent")}

    def send(self, message: WatchMessage) -> bool:
        """Send `message` unless its key was sent (or given up on) before; True if it went
        out now."""
        if message.key in self._done:
            logger.info("message %s already %s: not sent again", message.key,
                        self._done[message.key]["status"])
            return False
        clean = WatchMessage(message.key, message.kind, message.severity,
                             scrub(message.text, self._secrets),
                             scrub_json(dict(message.fields),
                                        lambda text: scrub(text, self._secrets)))
        self._append(clean, "pending")
        log = logger.error if clean.severity == "critical" else logger.warning \
            if clean.severity == "warning" else logger.info
        log("MESSAGE (%s): %s", clean.kind, clean.text)
        if self.notify is None:
            self._done[clean.key] = self._append(clean, "not_sent",
                                                 "no webhook configured (--webhook)")
            return False
        delivered = self.notify(clean)
        self._done[clean.key] = self._append(clean, "sent" if delivered else "given_up")
        return delivered

    def done(self, key: str) -> bool:
        """Whether the message of `key` was sent (or given up on) already."""
        return key in self._done

    def last(self) -> dict[str, Any] | None:
        """The newest ledger entry that is not `pending`."""
        done = [e for e in read_ledger(self.folder) if e.get("status") != "pending"]
        return done[-1] if done else None

    def poster(self, incident: str) -> Poster:
        """A schedule `Poster` whose escalations (failed validations) go through here."""
        return _Escalations(self, incident)

    def _append(self, message: WatchMessage, status: str,
                note: str | None = None) -> dict[str, Any]:
        entry = {"key": message.key, "kind": message.kind, "severity": message.severity,
                 "status": status, "at": datetime.now(UTC).isoformat(),
                 "watch_s": round(self._watch_s(), 1) if self._watch_s else None,
                 "text": message.text, **({"note": note} if note else {}),
                 **({"message": asdict(message)} if status == "pending" else {})}
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / LEDGER).open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
            out.flush()
        return entry


class _Escalations:
    """The schedule's escalation of a failed validation, as a watch message."""

    def __init__(self, messenger: Messenger, incident: str) -> None:
        self._messenger = messenger
        self._incident = incident
        self.display = "the watch's messages (watch/messages.jsonl)"

    def post(self, payload: Mapping[str, Any]) -> Delivery:
        key = (f"{self._incident}:watch:validation-failed:{payload.get('due_at')}:"
               f"{payload.get('runbook')}")
        sent = self._messenger.send(WatchMessage(key, "validation_failed",
                                                 str(payload.get("severity", "error")),
                                                 str(payload.get("text", "")), dict(payload)))
        return Delivery(sent, 1 if sent else 0, None,
                        None if sent else "not delivered (see watch/messages.jsonl)")
