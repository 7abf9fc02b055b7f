"""One scheduler per incident: the lock held by another live process refuses a second one;
a lock file left by a dead process is taken over with a warning."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from netra_ops.schedule import ScheduleLock, ScheduleLockedError

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from netra_ops.schedule import ScheduleLock
    with ScheduleLock(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of tmp_path/INC until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "INC")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(10)
    for stream in (process.stdin, process.stdout):
        if stream:
            stream.close()


def test_a_live_holder_keeps_a_second_scheduler_out_until_it_ends(
        holder: subprocess.Popen[str], tmp_path: Path) -> None:
    lock = ScheduleLock(tmp_path / "INC")
    with pytest.raises(ScheduleLockedError, match=rf"already running \(pid {holder.pid} on "):
        lock.acquire()
    assert holder.stdin is not None
    holder.stdin.close()  # the holder leaves its `with` and exits
    assert holder.wait(10) == 0
    assert not lock.path.exists()
    with lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not lock.path.exists()


def test_a_killed_holder_leaves_a_stale_lock_that_is_taken_over_with_a_warning(
        holder: subprocess.Popen[str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder.kill()
    holder.wait(10)
    lock = ScheduleLock(tmp_path / "INC")
    assert json.loads(lock.path.read_text())["pid"] == holder.pid  # left behind
    with caplog.at_level(logging.WARNING, logger="netra_ops.schedule"), lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"taking over the stale schedule lock {lock.path}: pid {holder.pid}" in warnings[0]
    assert "is no longer running" in warnings[0]


def test_a_lock_is_not_reentrant_across_holders_in_one_process(tmp_path: Path) -> None:
    with ScheduleLock(tmp_path / "INC"), pytest.raises(ScheduleLockedError):
        ScheduleLock(tmp_path / "INC").acquire()


def test_a_lock_file_from_cron_flock_is_free_without_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "INC").mkdir()
    (tmp_path / "INC" / "schedule.lock").write_text("")  # what `flock -n FILE cmd` leaves
    with caplog.at_level(logging.WARNING, logger="netra_ops.schedule"), \
            ScheduleLock(tmp_path / "INC"):
        pass
    assert caplog.records == []
