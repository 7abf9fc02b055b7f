"""Sending notices once each: a webhook, a payload format and the incident's sent-log.

`Notifier(webhook, folder).send(notice)` checks the sent-log for the notice's key, posts the
payload (scrubbed of secret-looking values) when no delivery is logged, logs the entry and
re-seals the incident's manifest (the sent-log is part of the record, and `records verify`
must still pass). It returns the entry, or None when the notice was already delivered.

Without a webhook (`webhook=None`) nothing is posted: each notice is logged once as not
delivered ("no webhook configured"), so the record still says what would have been said.

A webhook that does not answer at all (no connection, a timeout) costs each later notice of
this Notifier one attempt only, until one is delivered again: a dead receiver slows a
playbook by seconds, not minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from netra_ops.notify.formats import payload_for, resolve_format
from netra_ops.notify.message import Notice
from netra_ops.notify.sent_log import SentEntry, SentLog
from netra_ops.notify.webhook import Delivery, Webhook
from netra_ops.record.manifest import write_manifest
from netra_ops.record.redact import scrub, scrub_json

__all__ = ["Notifier"]

logger = logging.getLogger("netra_ops.notify")

_NO_WEBHOOK = "no webhook configured (--webhook or NETRA_OPS_WEBHOOK_URL)"


class Notifier:
    """Sends notices to one webhook (or only logs them), each key once; see the module
    docstring. `fmt` is one of `FORMATS` (`auto` decides by the webhook's host); `now` is
    the clock of the entries' times; `seal=False` leaves the manifest alone."""

    def __init__(self, webhook: Webhook | None, folder: Path, *, fmt: str = "auto",
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 seal: bool = True) -> None:
        self.webhook = webhook
        self.log = SentLog(folder)
        self.format = resolve_format(fmt, webhook.url_host if webhook else "")
        self._now = now
        self._seal = seal
        self._unanswered = False

    @property
    def destination(self) -> str:
        """Where notices go, as records show it (scheme, host and port only)."""
        return self.webhook.display if self.webhook else "none"

    def send(self, notice: Notice) -> SentEntry | None:
        """Post `notice` unless its key was delivered before; the logged entry, or None."""
        with self.log.locked():
            done = self.log.delivered if self.webhook else self.log.logged
            if done(notice.key):
                logger.info("notification %s already sent; not repeated", notice.key)
                return None
            entry = SentEntry.of(self._scrubbed(notice), self._post(notice), at=self._now(),
                                 destination=self.destination, fmt=self.format)
            self.log.append(entry)
        if self._seal:
            write_manifest(self.log.folder)
        return entry

    def _post(self, notice: Notice) -> Delivery:
        if self.webhook is None:
            return Delivery(False, 0, None, _NO_WEBHOOK)
        payload = scrub_json(payload_for(notice, self.format), scrub)
        delivery = self.webhook.post(payload, attempts=1 if self._unanswered else None)
        self._unanswered = not delivery.delivered and delivery.status_code is None
        return delivery

    @staticmethod
    def _scrubbed(notice: Notice) -> Notice:
        data = scrub_json(notice.to_dict(), scrub)
        return Notice(**{**data, "fields": tuple(data["fields"].items())})
