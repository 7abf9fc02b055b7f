"""A watch of the rollback rules that a person starts and stops from the panel.

`WatchRun` drives `netra_ops.metrics.watch()` one tick at a time: `next_tick()` blocks
(it probes, reads the sources, evaluates the rules; the panel calls it in a worker thread)
and returns the tick, or None once the watch is over or a stop was asked for. A stop takes
effect between ticks, so the watch ends within one interval. `outcome()` sums the watch up
for the record (`ui.watch`): ticks, the decision (the first rollback asked for, else the
last tick's) and its reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd

from netra_ops.config import Environment
from netra_ops.metrics import Decision, WatchTick, first_rollback, rules_view, watch
from netra_ops.ui.actions import ActionOutcome
from netra_ops.ui.marks import BAD, OK, WARN

__all__ = ["DEFAULT_WATCH_S", "WatchRun", "decision_text", "rules_table"]

DEFAULT_WATCH_S = 8 * 3600.0
_MARKS = {"continue": OK, "hold": WARN, "rollback": BAD}
_STATE_MARKS = {"ok": OK, "pending": WARN, "firing": BAD, "inconclusive": "?"}


class WatchRun:
    """One watch of `env`'s rollback triggers, every `interval_s`, until stopped."""

    def __init__(self, env: Environment, *, interval_s: float = 5.0,
                 duration_s: float = DEFAULT_WATCH_S) -> None:
        self.env = env
        self.interval_s = interval_s
        self.started_at = datetime.now(UTC)
        self.ticks: list[WatchTick] = []
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._ticks: Iterator[WatchTick] = watch(env, duration_s=duration_s,
                                                 interval_s=interval_s)

    @property
    def stop_requested(self) -> bool:
        """True once `stop()` was called."""
        return self._stop.is_set()

    def stop(self) -> None:
        """End the watch after the tick in progress."""
        self._stop.set()

    def next_tick(self) -> WatchTick | None:
        """Run the next tick (blocking), or None when the watch is over or stopped."""
        if self._stop.is_set():
            return None
        tick = next(self._ticks, None)
        if tick is not None:
            self.ticks.append(tick)
        return tick

    def close(self) -> None:
        """Release the watch (call when no `next_tick()` is running)."""
        self._stop.set()
        close = getattr(self._ticks, "close", None)
        if close is not None:
            close()

    def decision(self) -> Decision | None:
        """The first rollback any tick asked for, else the last tick's decision."""
        if not self.ticks:
            return None
        return first_rollback(t.decision for t in self.ticks) or self.ticks[-1].decision

    def outcome(self, error: str | None = None) -> ActionOutcome:
        """The watch summed up for the record (`ui.watch`); `error` when it broke off."""
        decision = self.decision()
        action = decision.action if decision else "none"
        how = "error" if error else "stopped" if self.stop_requested else "finished"
        said = f"{BAD} {error}" if error else decision_text(decision)
        summary = f"{_MARKS.get(action, '○')} watch {how} after {len(self.ticks)} ticks: {said}"
        return ActionOutcome("watch", action != "rollback" and not error, how, summary,
                             self.started_at, time.monotonic() - self._started, {
                                 "environment": self.env.name, "ticks": len(self.ticks),
                                 "interval_s": self.interval_s, "decision": action,
                                 "reason": decision.reason if decision else None,
                                 "error": error})


def decision_text(decision: Decision | None) -> str:
    """`✔ continue: ...`, `⚠ hold: ...` or `✖ rollback: ...` (or that none was made)."""
    if decision is None:
        return "no evaluation yet"
    return f"{_MARKS.get(decision.action, '?')} {decision.action}: {decision.reason}"


def rules_table(tick: WatchTick) -> pd.DataFrame:
    """The tick's rules as people read them, each state with its mark (`✖ firing`)."""
    view = rules_view(tick.table)
    view["state"] = [f"{_STATE_MARKS.get(str(s), '?')} {s}" for s in view["state"]]
    return view
