"""A watch as others see it (the control panel, a script): read from its files, never
touching it.

`read_watch_status(incident)` gives a `WatchStatus`: whether a watch process holds the
incident's watch now, its state (running, stopped, finished), how far it has watched, the
latest decision and rule states, the next validation (when, in watch time, and its depth)
and the last message sent (or given up on). None when the incident has no watch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from netra_ops.errors import NetraOpsError
from netra_ops.notify import SentLog
from netra_ops.processes import same_start
from netra_ops.schedule import ScheduleState, parse_cadence
from netra_ops.schedule.lock import LOCK_FILE
from netra_ops.watch.clock import hours_text
from netra_ops.watch.plan import DEPTHS
from netra_ops.watch.state import WatchState

__all__ = ["WatchStatus", "read_watch_status"]


@dataclass(frozen=True)
class WatchStatus:
    """What a watch shows at a glance; see the module docstring."""

    incident: str
    running: bool
    status: str
    watched: str
    hours: float
    time_scale: float
    decision: str | None
    rules: dict[str, str]
    next_validation: str | None
    last_message: str | None
    rollbacks: int
    folder: Path

    def lines(self) -> list[str]:
        """The status in a few lines of words."""
        scale = "" if self.time_scale == 1 else f" (time scale {self.time_scale:g})"
        rules = ", ".join(f"{rule} {state}" for rule, state in self.rules.items())
        return [f"watch of {self.incident}: {'running' if self.running else self.status}, "
                f"{self.watched} of {self.hours:g} h watched{scale}",
                f"decision: {self.decision or 'none yet'}" + (f" · {rules}" if rules else ""),
                f"next validation: {self.next_validation or 'none (schedule complete)'}",
                f"last notification: {self.last_message or 'none yet'}",
                *([f"rollbacks: {self.rollbacks}"] if self.rollbacks else [])]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (for a record)."""
        return {"incident": self.incident, "running": self.running, "status": self.status,
                "watched": self.watched, "decision": self.decision, "rules": self.rules,
                "next_validation": self.next_validation, "last_message": self.last_message,
                "rollbacks": self.rollbacks, "time_scale": self.time_scale}


def read_watch_status(folder: Path) -> WatchStatus | None:
    """The status of the watch whose files are in `folder` (`<outputs>/<incident>/watch`,
    `watch_folder(incident)`), or None when there is no watch there."""
    try:
        state = WatchState.load(folder)
    except NetraOpsError:
        return None
    if state is None:
        return None
    current = state.current or {}
    return WatchStatus(
        incident=state.incident, running=_held(folder / LOCK_FILE), status=state.status,
        watched=hours_text(state.elapsed_s), hours=state.hours, time_scale=state.time_scale,
        decision=current.get("decision"), rules=dict(current.get("rules") or {}),
        next_validation=_next_validation(state), last_message=_last_message(folder),
        rollbacks=len(state.rollbacks), folder=folder)


def _held(lock: Path) -> bool:
    """Whether the process named in the lock file is alive (the lock file is removed when
    its holder ends; a killed holder leaves it, naming a dead pid)."""
    try:
        holder = json.loads(lock.read_text(encoding="utf-8"))
        process = psutil.Process(int(holder["pid"]))
        return same_start(process, float(holder.get("create_time") or 0))
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return False


def _next_validation(state: WatchState) -> str | None:
    schedule = ScheduleState.load(state.folder.parent)
    if schedule is None or schedule.start != state.start:
        return None
    cadence = parse_cadence(schedule.cadence)
    due = cadence.next_due(schedule.start, schedule.last_due())
    if due is None:
        return None
    depth = DEPTHS[min(cadence.phase_of(schedule.start, due), len(DEPTHS) - 1)][0]
    at = (due - state.start).total_seconds()
    left = max(timedelta(), due - (state.start + timedelta(seconds=state.elapsed_s)))
    return f"{depth} at {hours_text(at)} (in {hours_text(left.total_seconds())[1:]} of watch time)"


def _last_message(folder: Path) -> str | None:
    """The incident's newest notification (the watch's or the playbook's)."""
    entries = SentLog(folder.parent).entries()
    if not entries:
        return None
    last = entries[-1]
    when = datetime.fromisoformat(last["at"]).strftime("%H:%M:%S UTC")
    how = "delivered" if last.get("delivered") else "not delivered"
    return f"{last.get('event')} ({how} at {when}): {str(last.get('text'))[:160]}"
