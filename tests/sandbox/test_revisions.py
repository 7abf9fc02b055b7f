"""RevisionManager: real revision processes (a tiny Starlette backend) on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import httpx
import pytest

from netra_ops.errors import SandboxError
from netra_ops.sandbox.runtime.revisions import RevisionManager, TrafficTarget
from netra_ops.sandbox.runtime.state import StatePaths

pytestmark = [pytest.mark.anyio, pytest.mark.sandbox]

TINY_BACKEND = (sys.executable, str(Path(__file__).with_name("tiny_backend.py")))
IMAGE = "example.test/repo/backend:good"
Alive = Callable[[int, float | None], bool]


@pytest.fixture
async def manager(tmp_path: Path, process_alive: Alive) -> AsyncIterator[RevisionManager]:
    manager = RevisionManager(
        service="svc", paths=StatePaths(tmp_path).ensure(), base_env={"ENVIRONMENT": "test"},
        memory_limit="1Gi", cpu_limit="2", startup_timeout_s=10, command=TINY_BACKEND,
    )
    yield manager
    await manager.stop_all()
    assert not [r.name for r in manager.revisions
                if r.pid and process_alive(r.pid, r.create_time)]


async def _echo(manager: RevisionManager, name: str) -> dict[str, object]:
    port = manager.get(name).port
    async with httpx.AsyncClient(trust_env=False) as client:
        answer: dict[str, object] = (await client.get(f"http://127.0.0.1:{port}/echo")).json()
        return answer


async def test_a_revision_starts_with_the_cloud_run_contract(
    manager: RevisionManager, monkeypatch: pytest.MonkeyPatch, process_alive: Alive
) -> None:
    monkeypatch.setenv("NETRA_FAULT_LATENCY_MS", "999")  # must not leak into revisions
    revision = await manager.create(IMAGE, manager.env_with({"EXTRA": "1"}))

    assert re.fullmatch(r"svc-00001-[a-z]{3}", revision.name)
    assert revision.state == "ready" and revision.ready_at and revision.reason is None
    assert revision.pid is not None and process_alive(revision.pid, revision.create_time)
    assert manager.traffic == (TrafficTarget(revision.name, 100),)
    env = (await _echo(manager, revision.name))["env"]
    assert env == {
        "PORT": str(revision.port), "K_SERVICE": "svc", "K_REVISION": revision.name,
        "K_CONFIGURATION": "svc", "NETRA_SANDBOX_IMAGE": IMAGE,
        "NETRA_SANDBOX_PARENT_PID": str(os.getpid()), "ENVIRONMENT": "test", "EXTRA": "1",
        "NETRA_FAULT_LATENCY_MS": None,
    }
    record = json.loads(manager.paths.revisions_json.read_text())
    assert record["traffic"] == [{"revision": revision.name, "percent": 100}]
    (saved,) = record["revisions"]
    assert (saved["pid"], saved["create_time"], saved["state"]) == (
        revision.pid, revision.create_time, "ready")
    assert (saved["memory_limit"], saved["cpu_limit"]) == ("1Gi", "2")


async def test_a_crashing_revision_fails_and_traffic_stays(manager: RevisionManager) -> None:
    good = await manager.create(IMAGE, manager.base_env)
    bad = await manager.create("example.test/repo/backend:crash-on-start", manager.base_env)

    assert bad.state == "failed"
    assert "exited with code 1 while starting" in (bad.reason or "")
    assert "crash image, exiting with code 1" in (bad.reason or "")  # the log tail
    assert manager.traffic == (TrafficTarget(good.name, 100),)
    assert bad.name.startswith("svc-00002-")
    with pytest.raises(SandboxError, match="is failed; only ready revisions can serve"):
        manager.set_traffic([TrafficTarget(bad.name, 100)])


async def test_a_revision_that_never_answers_times_out(
    tmp_path: Path, process_alive: Alive
) -> None:
    manager = RevisionManager(service="svc", paths=StatePaths(tmp_path).ensure(), base_env={},
                              startup_timeout_s=1.5, command=TINY_BACKEND)
    try:
        revision = await manager.create("example.test/backend:hang", {})
        assert revision.state == "failed"
        assert "did not answer 200 on /health within 1.5 s" in (revision.reason or "")
        assert manager.traffic == ()
        assert revision.pid is not None and not process_alive(revision.pid, revision.create_time)
    finally:
        await manager.stop_all()


async def test_traffic_is_validated(manager: RevisionManager) -> None:
    first = await manager.create(IMAGE, manager.base_env)
    second = await manager.create(IMAGE, manager.base_env, traffic=False)
    assert manager.traffic == (TrafficTarget(first.name, 100),)

    manager.set_traffic([TrafficTarget(first.name, 50), TrafficTarget(second.name, 50)])
    assert [t.percent for t in manager.traffic] == [50, 50]
    cases = {
        "must sum to 100, got 90": [TrafficTarget(first.name, 40), TrafficTarget(second.name, 50)],
        "no revision 'nope'": [TrafficTarget("nope", 100)],
        "names a revision twice": [TrafficTarget(first.name, 50), TrafficTarget(first.name, 50)],
        "at least one revision": [],
    }
    for message, split in cases.items():
        with pytest.raises(SandboxError, match=message):
            manager.set_traffic(split)
    assert [t.percent for t in manager.traffic] == [50, 50]  # unchanged by bad requests


async def test_a_revision_that_dies_is_marked_failed(manager: RevisionManager) -> None:
    revision = await manager.create(IMAGE, manager.base_env)
    assert revision.pid is not None
    os.kill(revision.pid, signal.SIGKILL)
    with anyio.fail_after(5):
        while revision.state == "ready":
            await anyio.sleep(0.05)
    assert revision.state == "failed"
    assert "exited with code -9 while serving" in (revision.reason or "")


async def test_stop_all_stops_every_revision(
    manager: RevisionManager, process_alive: Alive
) -> None:
    revisions = [await manager.create(IMAGE, manager.base_env) for _ in range(2)]
    await manager.stop_all()
    assert all(r.state == "stopped" for r in revisions)
    assert not any(r.pid and process_alive(r.pid, r.create_time) for r in revisions)
    saved = json.loads(manager.paths.revisions_json.read_text())["revisions"]
    assert [r["state"] for r in saved] == ["stopped", "stopped"]
    with pytest.raises(SandboxError, match="platform is stopping"):
        await manager.create(IMAGE, manager.base_env)
