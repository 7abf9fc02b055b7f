"""The backend's memory-growth faults really retain memory, steadily or per request, capped."""

from __future__ import annotations

import asyncio

import pytest

from netra_ops.errors import ConfigError
from netra_ops.sandbox import backend_faults
from netra_ops.sandbox.backend_faults import FaultInjector
from netra_ops.sandbox.backend_settings import BackendSettings


def test_per_request_growth_retains_that_much_each_time() -> None:
    faults = FaultInjector(memory_growth_kb=64)
    for _ in range(3):
        faults.grow()
    assert faults.retained_bytes == 3 * 64 * 1024


def test_steady_growth_retains_memory_every_tick_until_cancelled() -> None:
    faults = FaultInjector(memory_growth_kb_per_s=400)

    async def leak_for(seconds: float) -> None:
        task = asyncio.create_task(faults.grow_steadily())
        await asyncio.sleep(seconds)
        task.cancel()

    asyncio.run(leak_for(0.6))
    tick = int(400 * 1024 * 0.25)
    assert faults.retained_bytes % tick == 0
    assert 1 <= faults.retained_bytes // tick <= 3  # ticks at 0.25 s and 0.5 s (scheduling)


def test_no_steady_growth_returns_at_once() -> None:
    faults = FaultInjector()
    asyncio.run(asyncio.wait_for(faults.grow_steadily(), 1))
    assert faults.retained_bytes == 0


def test_growth_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_faults, "MEMORY_GROWTH_CAP_BYTES", 100 * 1024)
    faults = FaultInjector(memory_growth_kb=64)
    for _ in range(3):
        faults.grow()
    assert faults.retained_bytes == 100 * 1024


def test_the_steady_growth_variable_is_read_and_checked() -> None:
    settings = BackendSettings.from_environ({"NETRA_FAULT_MEMORY_GROWTH_KB_PER_S": "8192"})
    assert settings.memory_growth_kb_per_s == 8192
    with pytest.raises(ConfigError, match="NETRA_FAULT_MEMORY_GROWTH_KB_PER_S"):
        BackendSettings.from_environ({"NETRA_FAULT_MEMORY_GROWTH_KB_PER_S": "-1"})
