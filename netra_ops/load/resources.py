"""Waiting for Cloud Monitoring to cover a load run before its memory is judged.

Cloud Monitoring publishes Cloud Run's container metrics late (Google: sampled every 60 s,
then not visible for up to 180 s; the sandbox's `realistic` scenario: 60 s). Read right
after a short load, the window has no memory point at all, and a leak or memory verdict on
it would judge nothing. `await_monitoring` polls until the memory series reaches the end
of the window (within two sampling steps), the wait runs out, or Monitoring cannot be read;
`MonitoringWait` says which, and how long it waited, so the runbook can state it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from netra_ops.config import Environment
from netra_ops.metrics.frames import Reading
from netra_ops.metrics.monitoring import default_step_s, monitoring_reading

__all__ = ["DEFAULT_MONITORING_WAIT_S", "MonitoringWait", "await_monitoring"]

DEFAULT_MONITORING_WAIT_S = 180.0
"""Cloud Run metrics may take up to 180 s to become visible in Cloud Monitoring."""
_POLL_S = 5.0
_METRIC = "memory_bytes"

logger = logging.getLogger("netra_ops.load")

Reader = Callable[[Environment, datetime, datetime], Reading]


@dataclass(frozen=True)
class MonitoringWait:
    """How waiting for Monitoring ended: `caught_up` (a memory point at or near `until`),
    the newest memory point seen (None: none in the window), seconds waited, and the
    reading's error when Monitoring could not be read."""

    until: datetime
    caught_up: bool
    newest: datetime | None
    waited_s: float
    error: str | None = None

    def describe(self) -> str:
        """One line for the runbook: what Monitoring had, after how long."""
        waited = f"after waiting {self.waited_s:.0f} s"
        if self.error is not None:
            return f"Cloud Monitoring could not be read ({waited}): {self.error}"
        if self.caught_up:
            return f"Cloud Monitoring covers the window ({waited})"
        if self.newest is None:
            return (f"no data yet: Cloud Monitoring had no memory point of the window "
                    f"{waited} (it publishes late)")
        behind = (self.until - self.newest).total_seconds()
        return (f"Cloud Monitoring is {behind:.0f} s behind the end of the window {waited}: "
                "the last part is not judged")


def await_monitoring(env: Environment, start: datetime, until: datetime, *,
                     wait_s: float = DEFAULT_MONITORING_WAIT_S, poll_s: float = _POLL_S,
                     read: Reader | None = None,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> MonitoringWait:
    """Poll Cloud Monitoring (every `poll_s`, at most `wait_s` seconds; 0: read once) until
    the backend's memory series of (start, until] has a point within two sampling steps of
    `until`. Never raises for what Monitoring answers: an error ends the wait, and says so."""
    reader = read or _read
    tolerance = timedelta(seconds=2 * default_step_s(env))
    began = clock()
    while True:
        reading = reader(env, start, until)
        newest = _newest(reading.frame)
        waited = clock() - began
        caught_up = newest is not None and newest >= until - tolerance
        if caught_up or reading.error is not None or waited + poll_s > wait_s:
            return MonitoringWait(until, caught_up, newest, waited, reading.error)
        logger.info("waiting for Cloud Monitoring to cover the load (newest memory point: "
                    "%s; %.0f of %.0f s waited)", newest or "none", waited, wait_s)
        sleep(poll_s)


def _read(env: Environment, start: datetime, end: datetime) -> Reading:
    return monitoring_reading(env, start, end)


def _newest(frame: pd.DataFrame) -> datetime | None:
    times = frame.loc[frame["metric"] == _METRIC, "time"]
    if times.empty:
        return None
    newest: datetime = pd.Timestamp(times.max()).to_pydatetime()
    return newest
