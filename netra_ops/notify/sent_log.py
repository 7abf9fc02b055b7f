"""The sent-log: every notification sent or given up on, one JSON line each, in the record.

`<outputs>/<incident>/notifications.jsonl` sits beside the incident's runs, so it is part of
the record (the manifest lists it, the archive carries it). Each line is a `SentEntry`: the
notice (incident, phase, verdict, record, key, text), where it went (the webhook's
`display_url`, never the URL), in which format, whether it was delivered, after how many
attempts, and why not.

The log is what makes a notification idempotent: a key with a delivered entry is not sent
again, by this process or another (`locked()` holds an exclusive lock on the file while a
notice is checked, sent and logged). A notice given up on is tried again next time (it was
not delivered). A process killed in the instant between the receiver's answer and the log
line would send that one notice again on restart: at least once, never a gap.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from netra_ops.notify.message import Notice
from netra_ops.notify.webhook import Delivery

__all__ = ["SENT_LOG", "SentEntry", "SentLog"]

SENT_LOG = "notifications.jsonl"
"""The sent-log's file name in an incident folder."""


@dataclass(frozen=True)
class SentEntry:
    """One line of the sent-log: the notice, where it went and how delivery went."""

    key: str
    incident: str
    run_id: str
    event: str
    phase: str
    verdict: str
    severity: str
    title: str
    text: str
    record: str
    at: str
    destination: str
    format: str
    delivered: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, notice: Notice, delivery: Delivery, *, at: datetime, destination: str,
           fmt: str) -> SentEntry:
        """The entry for `notice` delivered (or not) as `delivery` says."""
        return cls(notice.key, notice.incident, notice.run_id, notice.event, notice.phase,
                   notice.verdict, notice.severity, notice.title, notice.text, notice.record,
                   at.isoformat(timespec="seconds"), destination, fmt, delivery.delivered,
                   delivery.attempts, delivery.status_code, delivery.error, dict(notice.fields))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


class SentLog:
    """The sent-log of one incident folder (created on the first entry)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / SENT_LOG

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (a torn last line, from a kill mid-write, skipped)."""
        if not self.path.is_file():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return found

    def to_frame(self) -> pd.DataFrame:
        """One row per entry: when, event, phase, verdict, severity, delivered, attempts,
        error, destination, text."""
        columns = ["at", "event", "phase", "verdict", "severity", "delivered", "attempts",
                   "error", "destination", "text"]
        return pd.DataFrame([{c: e.get(c) for c in columns} for e in self.entries()],
                            columns=columns)

    def delivered(self, key: str) -> bool:
        """True when a notice with this key was delivered."""
        return any(e.get("key") == key and e.get("delivered") for e in self.entries())

    def logged(self, key: str) -> bool:
        """True when a notice with this key has any entry (delivered or given up on)."""
        return any(e.get("key") == key for e in self.entries())

    def last(self, event: str, **fields: str) -> dict[str, Any] | None:
        """The newest entry of `event` whose `fields` include the given values."""
        for entry in reversed(self.entries()):
            named = entry.get("fields") or {}
            if entry.get("event") == event and all(named.get(k) == v for k, v in fields.items()):
                return entry
        return None

    def append(self, entry: SentEntry | Mapping[str, Any]) -> None:
        """Add one line, flushed to disk."""
        data = entry.to_dict() if isinstance(entry, SentEntry) else dict(entry)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(data, sort_keys=True, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    @contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock on the log (other processes wait), for check-send-log."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
