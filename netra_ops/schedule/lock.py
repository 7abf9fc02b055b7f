"""One scheduler per incident: an exclusive lock on `<outputs>/<incident>/schedule.lock`.

The lock is a `flock(2)` on the file, so the kernel releases it when its holder dies, however
it dies; the file's content (pid, host, start) only says who holds it. A lock file left
behind by a dead process is therefore taken over, with a warning naming the dead pid. The
same file serves `flock -n` in the cron lines (`netra_ops.schedule.cron`), so a cron-run
validation and a scheduler never run at the same time either.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from netra_ops.errors import ScheduleLockedError
from netra_ops.processes import same_start

__all__ = ["LOCK_FILE", "ScheduleLock", "ScheduleLockedError"]

LOCK_FILE = "schedule.lock"
logger = logging.getLogger("netra_ops.schedule")


class ScheduleLock:
    """`with ScheduleLock(folder):` holds the incident's schedule lock, or raises
    ScheduleLockedError naming its holder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> ScheduleLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock; take over a stale one (warning); ScheduleLockedError if held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ScheduleLockedError(self._held_message()) from None
            if not self._same_file(fd):  # removed by a releasing holder meanwhile: retry
                os.close(fd)
                continue
            self._take(fd)

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def _same_file(self, fd: int) -> bool:
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            return False

    def _take(self, fd: int) -> None:
        previous = _holder(_read(fd))
        if previous.get("pid"):
            logger.warning("taking over the stale schedule lock %s: pid %s (%s, since %s) %s",
                           self.path, previous.get("pid"), previous.get("host", "?"),
                           previous.get("since", "?"), _why_stale(previous))
        mine = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
                "create_time": psutil.Process().create_time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(mine) + "\n").encode(), 0)
        self._fd = fd

    def _held_message(self) -> str:
        holder = _holder(self.path.read_text(encoding="utf-8", errors="replace")
                         if self.path.exists() else "")
        who = (f"pid {holder['pid']} on {holder.get('host', '?')} since "
               f"{holder.get('since', '?')}" if holder.get("pid") else "another process")
        return (f"the schedule of this incident is already running ({who}; lock "
                f"{self.path}); stop that scheduler first, or use another incident id")


def _read(fd: int) -> str:
    return os.pread(fd, 4096, 0).decode("utf-8", errors="replace")


def _holder(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _why_stale(holder: dict[str, Any]) -> str:
    """Why the recorded holder no longer holds the lock, as far as this machine can tell."""
    if holder.get("host") not in (None, socket.gethostname()):
        return "held it on another host, and the lock is free"
    try:
        process = psutil.Process(int(holder["pid"]))
        same = same_start(process, float(holder.get("create_time") or 0))
    except (psutil.Error, ValueError, TypeError):
        return "is no longer running"
    return "is running but no longer holds the lock" if same else \
        "is no longer running (its pid is now another process)"
