"""Leak detection on a real sandbox: the `memory-leak` revision (512 KiB kept per request) is
flagged, the `fixed` one under the same load is not. Memory is read back through Cloud
Monitoring's client from the sandbox's emulation, which samples each revision's RSS every
second; each revision gets the same few warm-up requests, then the same paced health-check
load, then a few quiet seconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.metrics.leak import memory_leaks
from netra_ops.metrics.leak_chart import leak_chart
from netra_ops.probe import health

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
MIB = 2**20
REQUESTS = 300   # per revision: 300 x 512 KiB = 150 MiB kept by the leaking one
RATE = 30.0      # requests per second: 10 s of load
QUIET_S = 3.0    # after the load: memory a healthy revision would give back
WARM_UP = 10     # requests before the window: first-request allocations are not growth


def loaded_window(env: Environment, scenario: str) -> tuple[str, datetime, datetime]:
    """Deploy a scenario, load it with paced health checks; (revision, start, end)."""
    revision = str(sandbox.apply_scenario(env, scenario)["name"])
    for _ in range(WARM_UP):
        health(env.backend.url)
    time.sleep(1.0)
    start = datetime.now(UTC)
    began = time.monotonic()
    for i in range(REQUESTS):
        assert health(env.backend.url).ok
        time.sleep(max(0.0, began + (i + 1) / RATE - time.monotonic()))
    time.sleep(QUIET_S)
    return revision, start, datetime.now(UTC)


def test_a_leaking_revision_is_flagged_and_a_healthy_one_is_not(
        module_sandbox_env: Environment) -> None:
    env = module_sandbox_env
    rows, names, starts = [], [], []
    for scenario in ("fixed", "memory-leak"):
        revision, start, end = loaded_window(env, scenario)
        starts.append(start)
        table, _ = memory_leaks(env, start, end)
        row = table.set_index("revision").loc[revision]
        rows.append(row)
        names.append(revision)
        print(f"\n{scenario} ({revision}): {row['verdict']}, {row['samples']} samples, "
              f"slope {row['slope_bytes_per_s'] / MIB:.3f} MiB/s "
              f"[{row['slope_low_bytes_per_s'] / MIB:.3f}, "
              f"{row['slope_high_bytes_per_s'] / MIB:.3f}], now "
              f"{row['current_bytes'] / MIB:.1f} MiB: {row['reason']}")
    healthy, leaking = rows
    assert leaking["verdict"] == "leak"
    assert leaking["slope_low_bytes_per_s"] > 1 * MIB      # ~150 MiB over ~13 s
    assert healthy["verdict"] == "no leak"
    assert abs(healthy["slope_bytes_per_s"]) < 0.01 * MIB
    assert leaking["samples"] >= 10 and healthy["samples"] >= 10

    # Both over the whole run, from the healthy revision's loaded window on: before it, the
    # window would hold that process's start (21 -> 49 MiB within its first second, when
    # the sampler catches it), which is start-up, not the growth under load judged here.
    table, frame = memory_leaks(env, starts[0], datetime.now(UTC))
    table = table[table["revision"].isin(names)]
    whole = table.sort_values("revision")
    assert list(whole["verdict"]) == ["no leak", "leak"], list(whole["reason"])
    figure = leak_chart(frame[frame["revision"].isin(names)], table)
    markers = {str(c.get_gid()) for ax in figure.axes for c in ax.collections}
    assert f"cross:{names[1]}" in markers and f"cross:{names[0]}" not in markers
