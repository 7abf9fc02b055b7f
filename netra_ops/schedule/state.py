"""The schedule's own record: `<outputs>/<incident>/schedule.json`, one entry per due time.

Every due time the scheduler reaches gets a slot with its status:

- `running`     its runbooks are being run now (or the scheduler died during them);
- `passed`      every runbook passed;
- `failed`      at least one runbook failed (each failure was escalated);
- `missed`      the machine slept (or no scheduler ran) past it; a later one caught up;
- `skipped`     it fell due while the previous validation was still going;
- `interrupted` the scheduler was stopped during its runs.

A slot holds `due`, `started`, `finished`, `late_s` (how long after `due` it started),
`reason` (for missed and skipped slots), and its `runs`: runbook, status, exit code,
record folder and escalation delivery. The file is replaced atomically and the incident's
manifest rewritten after each change, so `netra-ops records verify` stays clean.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from netra_ops.errors import RecordError
from netra_ops.record.manifest import write_manifest

__all__ = ["SLOT_STATUSES", "STATE_FILE", "ScheduleState", "Slot"]

STATE_FILE = "schedule.json"
SLOT_STATUSES = ("running", "passed", "failed", "missed", "skipped", "interrupted")


@dataclass
class Slot:
    """One due time of the schedule and what became of it."""

    due: datetime
    phase: int
    schedule_start: datetime
    status: str
    started: datetime | None = None
    finished: datetime | None = None
    late_s: float | None = None
    reason: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 text."""
        return {k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Slot:
        """The slot a `to_json()` dict describes."""
        return cls(due=datetime.fromisoformat(data["due"]), phase=int(data["phase"]),
                   schedule_start=datetime.fromisoformat(data["schedule_start"]),
                   status=str(data["status"]), started=_time(data.get("started")),
                   finished=_time(data.get("finished")), late_s=data.get("late_s"),
                   reason=data.get("reason"), runs=list(data.get("runs") or []))


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class ScheduleState:
    """What `schedule.json` holds: the schedule's settings and its slots, oldest first."""

    folder: Path
    incident: str
    environment: str
    start: datetime
    cadence: str
    runbooks: list[str]
    webhook: str | None = None
    slots: list[Slot] = field(default_factory=list)

    @property
    def path(self) -> Path:
        """The state file."""
        return self.folder / STATE_FILE

    @classmethod
    def load(cls, folder: Path) -> ScheduleState | None:
        """The state recorded in `folder`, or None when there is none yet."""
        path = folder / STATE_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(folder=folder, incident=data["incident"],
                       environment=data["environment"],
                       start=datetime.fromisoformat(data["start"]), cadence=data["cadence"],
                       runbooks=list(data["runbooks"]), webhook=data.get("webhook"),
                       slots=[Slot.from_json(s) for s in data.get("slots", [])])
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordError(f"{path} is not a schedule state file ({exc}); move it away "
                              f"to start the schedule afresh") from None

    def last_due(self) -> datetime | None:
        """The latest due time handled for the current start (None: none yet)."""
        dues = [s.due for s in self.slots if s.schedule_start == self.start]
        return max(dues) if dues else None

    def counts(self) -> dict[str, int]:
        """How many slots of the current start have each status."""
        found = Counter(s.status for s in self.slots if s.schedule_start == self.start)
        return {status: found[status] for status in SLOT_STATUSES if found[status]}

    def to_json(self, now: datetime, next_due: datetime | None) -> dict[str, Any]:
        """The file's content (`now` and `next_due` are the scheduler's view)."""
        return {
            "incident": self.incident, "environment": self.environment,
            "start": self.start.isoformat(), "cadence": self.cadence,
            "runbooks": self.runbooks, "webhook": self.webhook,
            "updated_at": now.isoformat(),
            "next_due": next_due.isoformat() if next_due else None,
            "counts": self.counts(),
            "missed": [s.due.isoformat() for s in self.slots
                       if s.status == "missed" and s.schedule_start == self.start],
            "slots": [s.to_json() for s in self.slots],
        }

    def save(self, now: datetime, next_due: datetime | None) -> None:
        """Replace the state file atomically, then rewrite the incident's manifest."""
        text = json.dumps(self.to_json(now, next_due), indent=2) + "\n"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".schedule-",
                                             suffix=".tmp")
        try:
            os.fchmod(handle, 0o644)  # as readable as the records beside it
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        write_manifest(self.folder)
