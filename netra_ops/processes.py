"""One process told from a later one that reuses its pid: by the start time recorded when
it was started (psutil's `create_time()`), within `START_TIME_TOLERANCE_S`.

psutil derives a start time from the boot time, and the boot time the kernel reports moves
when the wall clock is adjusted (a machine here slews visibly): the same process read twice
can differ by more than the 0.05 s once allowed, and a live sandbox platform was judged
gone. A pid reused within a second of the first process's start is not a concern (pids
grow to `pid_max` before they wrap).
"""

from __future__ import annotations

import psutil

__all__ = ["START_TIME_TOLERANCE_S", "same_start", "started_after"]

START_TIME_TOLERANCE_S = 1.0


def same_start(process: psutil.Process, create_time: float) -> bool:
    """Whether `process` started at the recorded `create_time` (so it is that process, not a
    later one with its pid). psutil.Error when the process is gone."""
    return abs(process.create_time() - create_time) <= START_TIME_TOLERANCE_S


def started_after(process: psutil.Process, moment: float) -> bool:
    """Whether `process` started after `moment` (a `create_time()`), beyond the tolerance:
    a pid that now names a process newer than the one it named. psutil.Error when gone."""
    return process.create_time() > moment + START_TIME_TOLERANCE_S
