"""Watch time: the clock a watch (and the schedule it drives) runs on, scalable, resumable.

Watch time starts at the watch's start and advances:

- `scale` times as fast as the wall clock while the watch watches (a rehearsal with scale
  1440 runs a 24 h watch in a minute of watching);
- at the wall clock's pace during a validation or a rollback (`real_time()`): a rehearsal
  cannot make a runbook faster, and counting its minutes 1440 times would skip the
  validations after it;
- not at all while no watch process runs: killed and started again, the watch resumes at
  the watch time it had reached (`elapsed_s` in its state), so its record has no gap; the
  wall time it was down is recorded beside it.

At scale 1 watch time is wall time, less the time the watch was down. `sleep(s)` hands the
wait to `on_wait` (the monitor, which evaluates the rules meanwhile) when one is set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

__all__ = ["WatchClock", "hours_text"]


class WatchClock:
    """Watch time from `start`, `elapsed_s` already watched; see the module docstring.
    It has the schedule's clock interface (`now()`, `sleep()`)."""

    def __init__(self, start: datetime, scale: float, elapsed_s: float = 0.0, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.start = start
        self.scale = scale
        self._monotonic = monotonic
        self._elapsed = elapsed_s
        self._mark = monotonic()
        self._rate = scale
        self.on_wait: Callable[[float], None] | None = None

    def elapsed_s(self) -> float:
        """Watch seconds since the start."""
        return self._elapsed + self._rate * (self._monotonic() - self._mark)

    def now(self) -> datetime:
        """The current watch time."""
        return self.start + timedelta(seconds=self.elapsed_s())

    def wall_s(self, watch_s: float) -> float:
        """Wall seconds that `watch_s` of watching take."""
        return max(0.0, watch_s) / self.scale

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of watch time pass (the monitor watches meanwhile, if set)."""
        if self.on_wait is not None:
            self.on_wait(seconds)
        else:
            time.sleep(self.wall_s(seconds))

    @contextmanager
    def real_time(self) -> Iterator[None]:
        """Inside: watch time runs at the wall clock's pace (a validation, a rollback)."""
        self._fold(1.0)
        try:
            yield
        finally:
            self._fold(self.scale)

    def _fold(self, rate: float) -> None:
        now = self._monotonic()
        self._elapsed += self._rate * (now - self._mark)
        self._mark, self._rate = now, rate


def hours_text(seconds: float) -> str:
    """Watch seconds as `+5h30m`."""
    minutes = max(0, round(seconds / 60))
    return f"+{minutes // 60}h{minutes % 60:02d}m"
