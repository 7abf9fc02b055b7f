"""The scheduler's sense of time: wall-clock `now()` and `sleep()`, injectable for tests.

Due times are wall-clock times (the seed's "every 30 minutes"). `time.sleep` counts on a
monotonic clock that stops while the machine is suspended, so a long sleep would overshoot by
the length of the suspension; the scheduler therefore sleeps in short steps and looks at the
wall clock after each (see `Scheduler`). A test passes a fake clock whose `sleep` advances
its `now`, and can make it jump as a suspended machine's clock does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Wall-clock time (timezone-aware) and a way to wait."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait about `seconds` (never negative)."""
        ...


class SystemClock:
    """The real clock: `datetime.now(UTC)` and `time.sleep`."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` (negative counts as zero)."""
        time.sleep(max(0.0, seconds))
