"""The watch's own record on disk, under `<outputs>/<incident>/watch/`:

- `state.json`: settings, how far it has watched (`elapsed_s`, watch seconds), its sessions
  (each start, and for how long the watch was down before it), the periods written, the
  triggers handled and the rollbacks made, the current rule states; replaced atomically
  after every evaluation;
- `ticks.jsonl`: one line per evaluation, appended (the decision, each rule's state, the
  error rate, latency and memory points new since the evaluation before, new ERROR log
  entries); the period records and the rolling summary are drawn from it;
- the notifications are in the incident's sent-log (`netra_ops.watch.messages`).

Append-only lines survive a kill (a line cut short is skipped when read); the state is
never half-written. The incident's manifest is rewritten after each period, at each start
and at the end (`netra-ops records verify`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from netra_ops.errors import RecordError

__all__ = ["STATE_FILE", "TICKS_FILE", "WATCH_DIR", "WatchState", "append_tick", "read_lines",
           "read_ticks", "replace_file"]

WATCH_DIR = "watch"
STATE_FILE = "state.json"
TICKS_FILE = "ticks.jsonl"


@dataclass
class WatchState:
    """What `state.json` holds; see the module docstring."""

    folder: Path
    incident: str
    environment: str
    start: datetime
    hours: float
    time_scale: float
    period_h: float
    rollback_window_h: float
    interval_s: float
    elapsed_s: float = 0.0
    status: str = "running"
    ticks: int = 0
    periods_written: int = 0
    sessions: list[dict[str, Any]] = field(default_factory=list)
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, Any] = field(default_factory=dict)
    updated_at: str | None = None
    outcome: dict[str, Any] | None = None

    @property
    def path(self) -> Path:
        """The state file."""
        return self.folder / STATE_FILE

    @classmethod
    def load(cls, folder: Path) -> WatchState | None:
        """The state in `folder`, or None when there is none yet."""
        path = folder / STATE_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["start"] = datetime.fromisoformat(data["start"])
            return cls(folder=folder, **data)
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordError(f"{path} is not a watch state file ({exc}); move it away to "
                              "start the watch afresh") from None

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        data = asdict(self)
        del data["folder"]
        data["start"] = self.start.isoformat()
        return data

    def restarts(self, start_s: float, end_s: float) -> list[dict[str, Any]]:
        """The sessions that resumed the watch at a watch time in [start_s, end_s): every
        session after the first, however short the watch was down (`down_s` is 0 when it
        came back within the second of its last save, None when that save is unknown)."""
        return [s for s in self.sessions[1:] if start_s <= s["resumed_at_watch_s"] < end_s]

    def save(self, now: datetime) -> None:
        """Replace the state file atomically."""
        self.updated_at = now.isoformat()
        replace_file(self.path, json.dumps(self.to_json(), indent=2, default=str) + "\n")


def append_tick(folder: Path, line: dict[str, Any]) -> None:
    """Append one evaluation to `ticks.jsonl`."""
    with (folder / TICKS_FILE).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")
        out.flush()


def read_ticks(folder: Path) -> list[dict[str, Any]]:
    """Every evaluation recorded, oldest first."""
    return read_lines(folder / TICKS_FILE)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of an appended file, oldest first (a line cut short by a kill is
    skipped; no file: none)."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def replace_file(path: Path, text: str) -> None:
    """Write `path` atomically (a temporary file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-",
                                         suffix=".tmp")
    try:
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
