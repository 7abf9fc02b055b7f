"""The backend's faults: memory growth (real, steady or per request, capped; and synthetic),
the error schedule, and the agent's turn timing."""

from __future__ import annotations

import asyncio
import random

import psutil
import pytest

from netra_ops.errors import ConfigError
from netra_ops.sandbox.services import backend_faults
from netra_ops.sandbox.services.backend_faults import ErrorSchedule, FaultInjector, SyntheticMemory
from netra_ops.sandbox.services.backend_settings import BackendSettings
from netra_ops.sandbox.services.backend_ws import FAST_TURN, plan_turn


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


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.25, 0.5, 1 / 3, 0.9])
def test_the_error_schedule_holds_the_rate_in_every_window(rate: float) -> None:
    schedule = ErrorSchedule(rate)
    fails = [schedule.next_fails() for _ in range(400)]
    for window in (10, 20, 50):
        for start in range(0, 400 - window):
            count = sum(fails[start:start + window])
            assert abs(count - rate * window) <= 1, (rate, window, start)
    first = round(1 / rate / 2 + 0.5)  # the first error: as soon as rounding says one is due
    assert fails.index(True) < first + 1


def test_another_seed_moves_the_errors_but_keeps_the_rate() -> None:
    zero, other = ErrorSchedule(0.2), ErrorSchedule(0.2, seed=7)
    a = [zero.next_fails() for _ in range(100)]
    b = [other.next_fails() for _ in range(100)]
    assert a != b and sum(a) == sum(b) == 20
    assert a[:5] == [False, False, True, False, False]  # seed 0: the 3rd of every 5
    assert not any(ErrorSchedule(0.0).next_fails() for _ in range(100))


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def test_synthetic_memory_shows_in_rss_without_using_ram() -> None:
    synthetic = SyntheticMemory(factor=7)
    before, available = _rss(), psutil.virtual_memory().available
    try:
        synthetic.follow(64 * 1024**2)  # 448 MiB reported, one 4 MiB block of RAM
        assert synthetic.mapped_bytes == 448 * 1024**2
        assert _rss() - before >= 440 * 1024**2
        assert available - psutil.virtual_memory().available < 300 * 1024**2
        synthetic.follow(64 * 1024**2)
        assert synthetic.mapped_bytes == 448 * 1024**2  # nothing more for the same retained
    finally:
        synthetic.close()
    assert synthetic.mapped_bytes == 0 and _rss() - before < 100 * 1024**2


def test_synthetic_memory_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_faults, "SYNTHETIC_CAP_BYTES", 12 * 1024**2)
    synthetic = SyntheticMemory(factor=63)
    try:
        synthetic.follow(1024**3)
        assert synthetic.mapped_bytes == 12 * 1024**2
    finally:
        synthetic.close()


def test_the_report_factor_and_the_agent_timing_are_read_and_checked() -> None:
    settings = BackendSettings.from_environ({"NETRA_FAULT_MEMORY_REPORT_FACTOR": "8",
                                             "NETRA_AGENT_TURN_S": "3-8",
                                             "NETRA_FAULT_DELIVERY_DELAY_MS": "800"})
    assert (settings.memory_report_factor, settings.agent_turn_s,
            settings.delivery_delay_ms) == (8.0, (3.0, 8.0), 800.0)
    assert BackendSettings.from_environ({"NETRA_AGENT_TURN_S": "5"}).agent_turn_s == (5.0, 5.0)
    assert BackendSettings.from_environ({}).agent_turn_s is None
    for bad in ("8-3", "soon", "-1", "1-2-3", "9999"):
        with pytest.raises(ConfigError, match="NETRA_AGENT_TURN_S"):
            BackendSettings.from_environ({"NETRA_AGENT_TURN_S": bad})
    with pytest.raises(ConfigError, match="NETRA_FAULT_MEMORY_REPORT_FACTOR"):
        BackendSettings.from_environ({"NETRA_FAULT_MEMORY_REPORT_FACTOR": "0.5"})


def test_turns_are_fast_by_default_and_drawn_per_turn_when_configured() -> None:
    rng = random.Random(0)
    assert plan_turn(None, rng) is FAST_TURN and FAST_TURN.total_s < 0.05
    totals = [plan_turn((3.0, 8.0), rng).total_s for _ in range(200)]
    assert all(3.0 <= t <= 8.0 for t in totals)
    assert len({round(t, 6) for t in totals}) == 200  # a new draw every turn
    assert min(totals) < 4 and max(totals) > 7
    plan = plan_turn((5.0, 5.0), rng)
    assert plan.total_s == pytest.approx(5.0) and plan.answer_s > plan.think_s > 0
