"""Live progress of a load run: a bar in a notebook, log lines headless.

The engine hands a `ProgressSnapshot` to a `Progress` a few times a second. `BarProgress`
draws a `tqdm.auto` bar (seconds of the run, with turns, turns/s, p95 and errors);
`LogProgress` writes a line to the `netra_ops.load` logger every `interval_s` seconds (in
papermill a bar prints a line per update or nothing, so headless runs log). `progress=
"auto"` picks the bar in an interactive Jupyter kernel and log lines elsewhere, and log
lines in any kernel whose environment sets `NETRA_OPS_HEADLESS` (as a headless runner does).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from netra_ops.errors import ConfigError
from netra_ops.kernel import headless, in_jupyter_kernel

__all__ = [
    "BarProgress",
    "LogProgress",
    "NoProgress",
    "Progress",
    "ProgressArg",
    "ProgressSnapshot",
    "make_progress",
]

logger = logging.getLogger("netra_ops.load")


@dataclass(frozen=True)
class ProgressSnapshot:
    """Where a run is: time, turns, failures, in flight, recent throughput and p95."""

    elapsed_s: float
    duration_s: float
    turns: int
    failed: int
    in_flight: int
    queued: int
    turns_per_s: float
    p95_ms: float | None

    def line(self) -> str:
        """One line for a log or a bar's postfix."""
        p95 = f"{self.p95_ms:.0f} ms" if self.p95_ms is not None else "-"
        queued = f", {self.queued} waiting for a connection" if self.queued else ""
        return (f"{min(self.elapsed_s, self.duration_s):.0f}/{self.duration_s:g} s: "
                f"{self.turns} turns, {self.failed} failed, {self.turns_per_s:.1f} turns/s, "
                f"p95 {p95}, {self.in_flight} in flight{queued}")


class Progress(Protocol):
    """Receives a run's progress: `start`, `update` a few times a second, `close`."""

    def start(self, description: str, duration_s: float) -> None:
        """The run begins (after its connections are open)."""

    def update(self, snapshot: ProgressSnapshot) -> None:
        """The run's state now."""

    def close(self, summary: str) -> None:
        """The run is over; `summary` says how it went."""


class NoProgress:
    """Shows nothing."""

    def start(self, description: str, duration_s: float) -> None:
        """Nothing to show."""

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Nothing to show."""

    def close(self, summary: str) -> None:
        """Nothing to show."""


class LogProgress:
    """A line on the `netra_ops.load` logger at the start, every `interval_s`, at the end."""

    def __init__(self, interval_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self._next = 0.0

    def start(self, description: str, duration_s: float) -> None:
        """Log what runs."""
        self._next = time.monotonic() + self.interval_s
        logger.info("load test started: %s", description)

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Log the state, at most once per interval."""
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval_s
            logger.info("load test %s", snapshot.line())

    def close(self, summary: str) -> None:
        """Log how it ended."""
        logger.info("load test finished: %s", summary)


class BarProgress:
    """A `tqdm.auto` bar over the run's seconds, its postfix the latest figures."""

    def __init__(self) -> None:
        self._bar: Any = None

    def start(self, description: str, duration_s: float) -> None:
        """Open the bar."""
        from tqdm.auto import tqdm

        self._bar = tqdm(total=round(duration_s), desc=description, leave=True,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} s"
                                    "{postfix}")

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Move the bar to the elapsed seconds, show the figures."""
        if self._bar is None:
            return
        self._bar.n = min(round(snapshot.elapsed_s), self._bar.total)
        self._bar.set_postfix_str(snapshot.line().split(": ", 1)[1], refresh=True)

    def close(self, summary: str) -> None:
        """Close the bar with the summary as its postfix."""
        if self._bar is not None:
            self._bar.set_postfix_str(summary, refresh=True)
            self._bar.close()
            self._bar = None


ProgressArg = Literal["auto", "bar", "log", "none"] | Progress


def make_progress(progress: ProgressArg = "auto", *, interval_s: float = 5.0) -> Progress:
    """The progress display for `progress`: a `Progress` as is, or by name."""
    if not isinstance(progress, str):
        return progress
    choice = _auto() if progress == "auto" else progress
    if choice == "bar":
        return BarProgress()
    if choice == "log":
        return LogProgress(interval_s)
    if choice == "none":
        return NoProgress()
    raise ConfigError(f"progress must be auto, bar, log, none or a Progress, got {progress!r}")


def _auto() -> str:
    return "bar" if in_jupyter_kernel() and not headless() else "log"


