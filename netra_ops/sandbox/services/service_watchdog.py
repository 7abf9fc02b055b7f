"""A watchdog that ends a sandbox service when the process that owns it is gone.

Backend revisions are spawned by the sandbox platform in their own session, so they do not
die with it. Each revision watches its parent's pid (`NETRA_SANDBOX_PARENT_PID`) about once a
second; when the parent has exited, the revision shuts down cleanly and nothing is left
behind.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import psutil

from netra_ops.processes import started_after

__all__ = ["ParentWatchdog", "parent_is_gone"]


def parent_is_gone(parent_pid: int, *, was_parent: bool, own_start: float) -> bool:
    """True when the process `parent_pid` has exited (or its pid now names another process).

    `was_parent` says whether `parent_pid` was this process's parent at start: then a change
    of `os.getppid()` (re-parenting to init or a subreaper) is the exact signal. Otherwise
    the pid must still exist, not be a zombie, and not have started after this process
    (`netra_ops.processes.started_after`: start times move when the wall clock is adjusted).
    """
    if was_parent:
        return os.getppid() != parent_pid
    try:
        parent = psutil.Process(parent_pid)
        return parent.status() == psutil.STATUS_ZOMBIE or started_after(parent, own_start)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return True


class ParentWatchdog:
    """Calls `on_gone` once, from a daemon thread, when `parent_pid` has exited."""

    def __init__(
        self, parent_pid: int, on_gone: Callable[[], None], *, interval_s: float = 1.0
    ) -> None:
        self.parent_pid = parent_pid
        self._on_gone = on_gone
        self._interval_s = interval_s
        self._was_parent = os.getppid() == parent_pid
        self._own_start = psutil.Process().create_time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="parent-watchdog", daemon=True)

    def start(self) -> ParentWatchdog:
        """Start watching; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the callback is not called afterwards)."""
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval_s):
            if parent_is_gone(
                self.parent_pid, was_parent=self._was_parent, own_start=self._own_start
            ):
                self._on_gone()
                return
