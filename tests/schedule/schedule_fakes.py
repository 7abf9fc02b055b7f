"""Fakes for the schedule's edges: a fake clock, a scripted runbook runner, a webhook receiver.

- `FakeClock` is the scheduler's clock edge: `sleep` advances `now` at once; `suspend_at`
  makes the wall clock jump as a suspended laptop's does.
- `ScriptedRunner` is the runner edge (executing a notebook): it takes the given time on the
  fake clock, writes a record folder with the real `create_record_dir`, and returns a
  RunResult with the scripted status. The real papermill path is in test_cli_schedule.py.
- `Receiver` (tests/webhook_receiver.py) is a real HTTP server on loopback that answers each
  POST with the next scripted answer (a status code, or "hang") and keeps what it received.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from webhook_receiver import Received, Receiver

from netra_ops.errors import RunStopped
from netra_ops.record.archive import create_record_dir
from netra_ops.record.runner import EXIT_CODES, STOPPED, RunResult
from netra_ops.schedule import Validation

__all__ = ["FakeClock", "Received", "Receiver", "ScriptedRunner"]

START = datetime(2025, 1, 11, 14, 10, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "tests" / "record" / "notebooks"
SANDBOX_TOML = ROOT / "environments" / "sandbox.toml"


class FakeClock:
    """Wall-clock time that moves only when slept on, advanced, or made to jump."""

    def __init__(self, start: datetime = START) -> None:
        self.time = start
        self.sleeps: list[float] = []
        self._jumps: list[tuple[datetime, timedelta]] = []

    def now(self) -> datetime:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(timedelta(seconds=max(0.0, seconds)))

    def advance(self, delta: timedelta) -> None:
        self.time += delta
        for at, length in [j for j in self._jumps if j[0] <= self.time]:
            self._jumps.remove((at, length))
            self.time += length

    def suspend_at(self, at: datetime, length: timedelta) -> None:
        """When the clock passes `at`, it jumps `length` further (the machine slept)."""
        self._jumps.append((at, length))


@dataclass
class ScriptedRunner:
    """Runs nothing: takes `duration` of fake time and answers the scripted status."""

    clock: FakeClock
    outputs: Path
    incident: str
    duration: timedelta = timedelta(minutes=2)
    statuses: dict[str, list[str]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, datetime]] = field(default_factory=list)
    on_call: Callable[[int], None] | None = None

    def __call__(self, validation: Validation) -> RunResult:
        self.calls.append((validation.runbook, self.clock.now()))
        if self.on_call:
            self.on_call(len(self.calls))
        record_dir = create_record_dir(self.outputs, self.incident, validation.runbook,
                                       self.clock.now())
        self.clock.advance(self.duration)
        script = self.statuses.get(validation.runbook) or ["passed"]
        status = script.pop(0) if len(script) > 1 else script[0]
        failing = None if status == "passed" else {
            "index": 4, "execution_count": 3, "source": "verdict(checks)",
            "ename": "VerdictFailed", "evalue": "agent_events: value 0.0 vs threshold 1.0"}
        summary = {"status": status, "failing_cell": failing,
                   "records": self.records.get(validation.runbook, {})}
        (record_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        result = RunResult(status=status, exit_code=EXIT_CODES[status], record_dir=record_dir,
                           notebook_path=record_dir / f"{validation.runbook}.ipynb",
                           html_path=record_dir / f"{validation.runbook}.html", summary=summary)
        if status in STOPPED:  # as run_notebook: recorded, then raised
            raise RunStopped(f"runbook {validation.runbook} was {status}", status,
                             result.exit_code, result)
        return result
