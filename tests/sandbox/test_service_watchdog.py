"""`parent_is_gone` on live processes: a parent that started before us is there, one whose
pid names a process started after us is gone, and a start time moved by a wall-clock
adjustment (within `START_TIME_TOLERANCE_S`) does not make a live parent look gone."""

from __future__ import annotations

import subprocess
import sys

import psutil

from netra_ops.processes import START_TIME_TOLERANCE_S
from netra_ops.sandbox.services.service_watchdog import parent_is_gone


def test_a_live_parent_that_started_first_is_not_gone() -> None:
    parent = psutil.Process()
    later = parent.create_time() + 10
    assert not parent_is_gone(parent.pid, was_parent=False, own_start=later)


def test_a_start_time_moved_by_a_clock_adjustment_is_still_the_parent() -> None:
    parent = psutil.Process()
    # read after the wall clock was adjusted: the parent now seems to start just after us
    own_start = parent.create_time() - START_TIME_TOLERANCE_S / 2
    assert not parent_is_gone(parent.pid, was_parent=False, own_start=own_start)


def test_a_pid_that_names_a_later_process_is_gone() -> None:
    parent = psutil.Process()
    own_start = parent.create_time() - 10 * START_TIME_TOLERANCE_S
    assert parent_is_gone(parent.pid, was_parent=False, own_start=own_start)


def test_an_exited_parent_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert parent_is_gone(child.pid, was_parent=False, own_start=0.0)


def test_a_reparented_child_sees_its_parent_gone() -> None:
    assert parent_is_gone(psutil.Process().ppid() + 10**6, was_parent=True, own_start=0.0)
    assert not parent_is_gone(psutil.Process().ppid(), was_parent=True, own_start=0.0)
