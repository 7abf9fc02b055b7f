"""RevisionManager.pause: freeze a revision's process, let it run on, stop it even frozen.

Real revision processes (the tiny backend of tests/sandbox) on loopback, no full sandbox.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psutil
import pytest

from netra_ops.errors import SandboxError
from netra_ops.sandbox.runtime.revisions import MAX_PAUSE_S, RevisionManager
from netra_ops.sandbox.runtime.state import StatePaths

pytestmark = [pytest.mark.anyio, pytest.mark.sandbox]

TINY_BACKEND = (sys.executable, str(Path(__file__).parents[1] / "sandbox" / "tiny_backend.py"))
IMAGE = "example.test/repo/backend:good"


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[RevisionManager]:
    manager = RevisionManager(service="svc", paths=StatePaths(tmp_path).ensure(),
                              base_env={}, startup_timeout_s=10, command=TINY_BACKEND)
    yield manager
    await manager.stop_all()


def _status(pid: int | None) -> str:
    assert pid is not None
    return str(psutil.Process(pid).status())


async def _until_running(pid: int | None, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _status(pid) == psutil.STATUS_STOPPED:
        assert time.monotonic() < deadline, "the revision was not resumed"
        await anyio.sleep(0.05)


async def test_a_paused_revision_is_frozen_then_runs_on(manager: RevisionManager) -> None:
    revision = await manager.create(IMAGE, {})
    resumes_at = await manager.pause(revision.name, 0.3)
    assert _status(revision.pid) == psutil.STATUS_STOPPED
    assert resumes_at > time.time() and revision.state == "ready"
    await _until_running(revision.pid)


async def test_pausing_again_replaces_the_resume_time(manager: RevisionManager) -> None:
    revision = await manager.create(IMAGE, {})
    await manager.pause(revision.name, MAX_PAUSE_S)
    await manager.pause(revision.name, 0.2)
    await _until_running(revision.pid)  # not a minute later


async def test_a_frozen_revision_still_stops_on_sigterm(manager: RevisionManager) -> None:
    revision = await manager.create(IMAGE, {})
    process = psutil.Process(revision.pid or 0)
    await manager.pause(revision.name, MAX_PAUSE_S)
    await manager.stop_all()  # resumes it first: a stopped process would not act on SIGTERM
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert revision.state == "stopped"
    assert manager._processes[revision.name].returncode != -signal.SIGKILL


async def test_pause_refuses_bad_seconds_unknown_and_stopped_revisions(
        manager: RevisionManager) -> None:
    revision = await manager.create(IMAGE, {})
    for seconds in (0, -1, MAX_PAUSE_S + 1):
        with pytest.raises(SandboxError, match="at most 60 seconds"):
            await manager.pause(revision.name, seconds)
    with pytest.raises(SandboxError, match="no revision 'nope'"):
        await manager.pause("nope", 1)
    second = await manager.create(IMAGE, {}, traffic=False)
    await manager.stop(second.name)
    with pytest.raises(SandboxError, match="is stopped; only a ready revision"):
        await manager.pause(second.name, 1)
    assert _status(revision.pid) != psutil.STATUS_STOPPED  # refusals froze nothing
