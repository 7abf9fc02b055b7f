"""A whole "24 h" watch rehearsed on the sandbox at a time scale, killed (SIGKILL) midway and
started again: validations at the cadence's points and the seed's depths, a record for each
period with no gap, no message repeated, "System stable" at the end, and the control panel
showing the watch while it runs and after.

The cadence here has three points (one per depth: mission-critical at +0 h, full at +12 h,
complete at +24 h) so that the six runbook runs stay within a minute or two; the seed's own
points are test_watch_plan.py's. Runbooks run at their real duration, tiny here (-p)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from watch_receiver import Receiver

from netra_ops.config import Environment
from netra_ops.record import verify_incident
from netra_ops.schedule import ScheduleState
from netra_ops.ui import read_state
from netra_ops.ui.watch_run import watch_html
from netra_ops.watch import WatchState, read_ticks, watch_notices

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = "INC-watch"
SCALE = 2000  # 1 h of watch time in 1.8 s of watching
WATCH = ["--hours", "24", "--time-scale", str(SCALE), "--interval", "0.5",
         "--cadence", "12h for 12h, 12h for 12h, 1d", "--webhook", "env:WATCH_HOOK",
         "-p", "runs=1", "-p", "05_performance.duration_s=2", "-p", "05_performance.users=1",
         "-p", "05_performance.settle_s=0", "-p", "05_performance.monitoring_wait_s=0"]


def _start(env: Environment, outputs: Path, hook: str, log: Path) -> subprocess.Popen[str]:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "netra_ops", "watch", "-i", INCIDENT, "--env",
             str(env.source), "--outputs", str(outputs), *WATCH],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, env={**os.environ, "WATCH_HOOK": hook})


def _state(folder: Path) -> WatchState | None:
    try:
        return WatchState.load(folder)
    except Exception:  # being replaced right now
        return None


def _periods(incident: Path) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in sorted(incident.glob("*-watch-period-*/"
                                                                     "summary.json"))]
    return sorted(found, key=lambda s: s["records"]["watch.period"])


def test_a_24_hour_watch_killed_midway_resumes_without_gap_or_repeat(
        sandbox_env: Environment, tmp_path: Path, receiver: Receiver) -> None:
    outputs, log = tmp_path / "outputs", tmp_path / "watch.log"
    folder = outputs / INCIDENT / "watch"
    first = _start(sandbox_env, outputs, receiver.url, log)
    seen_running = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and first.poll() is None:
        state = _state(folder)
        if state is not None and state.periods_written >= 3 and seen_running is None:
            seen_running = read_state(sandbox_env, incident=INCIDENT,
                                      outputs_dir=str(outputs)).watch
        if state is not None and state.periods_written >= 13:
            break
        time.sleep(0.2)
    assert first.poll() is None, log.read_text()[-3000:]
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    before = read_ticks(folder)
    second = _start(sandbox_env, outputs, receiver.url, log)
    assert second.wait(600) == 0, log.read_text()[-4000:]
    assert "outcome: STABLE" in log.read_text()

    # the panel while it ran: running, the next validation, the last notification
    assert seen_running is not None and seen_running.running
    assert seen_running.next_validation and "at +12h00m" in seen_running.next_validation
    assert seen_running.last_message and "(delivered at" in seen_running.last_message

    # one record per period, 24 of them, contiguous, each stating the time scale
    periods = _periods(outputs / INCIDENT)
    assert [p["records"]["watch.period"] for p in periods] == list(range(1, 25))
    spans = [p["records"]["watch.span"] for p in periods]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert {p["records"]["time_scale"] for p in periods} == {SCALE}
    assert all("time scale 2000" in p["records"]["time_scale_note"] for p in periods)

    # resumed where it was: the second session starts at the last evaluation's watch time
    state = WatchState.load(folder)
    assert state is not None and state.status == "finished" and state.outcome["stable"]
    _, resumed = state.sessions
    assert resumed["down_s"] is not None
    assert resumed["resumed_at_watch_s"] == pytest.approx(before[-1]["watch_s"], abs=0.2)
    ticks = read_ticks(folder)
    assert [t["n"] for t in ticks] == list(range(1, len(ticks) + 1))
    assert all(a["watch_s"] <= b["watch_s"] for a, b in itertools.pairwise(ticks))
    downs = [d for p in periods for d in p["records"]["down"]]
    assert len(downs) == 1  # the restart is in the record of the period it happened in

    # validations at the cadence's points, each at its depth
    schedule = ScheduleState.load(outputs / INCIDENT)
    assert schedule is not None
    slots = [(round((s.due - state.start).total_seconds() / 3600), s.status,
              [r["runbook"] for r in s.runs]) for s in schedule.slots]
    assert slots == [
        (0, "passed", ["04_golden_path_validation"]),
        (12, "passed", ["04_golden_path_validation", "05_performance"]),
        (24, "passed", ["04_golden_path_validation", "05_performance",
                        "00_incident_summary"])]

    # no message twice; the seed's updates and "System stable" at the end
    keys = receiver.keys()
    assert len(keys) == len(set(keys)), keys
    run = f"{INCIDENT}:watch-{state.start:%Y%m%dT%H%M%SZ}:watch"
    assert keys == [f"{run}:{k}" for k in ("started:Watch_started",
                                            "stakeholder_update:2_Hours",
                                            "stakeholder_update:4_Hours", "final:24_Hours")]
    assert "System stable, all metrics within targets" in receiver.bodies[-1]["text"]
    assert [e["delivered"] for e in watch_notices(outputs / INCIDENT)] == [True] * 4

    # the panel after: finished, nothing next, the last notification is "System stable"
    panel = read_state(sandbox_env, incident=INCIDENT, outputs_dir=str(outputs))
    assert panel.watch is not None and not panel.watch.running
    assert panel.watch.status == "finished" and panel.watch.next_validation is None
    shown = watch_html(panel.watch)
    assert "System stable" in shown and "next validation: none" in shown
    summary = (folder / "watch-summary.html").read_text()
    assert summary.count("<img") == 4  # error rate, latency, memory, rule states
    verified = verify_incident(outputs / INCIDENT)
    assert verified.ok, verified.to_frame()


def test_sigterm_stops_the_watch_cleanly_and_the_panel_says_so(
        sandbox_env: Environment, tmp_path: Path, receiver: Receiver) -> None:
    outputs, log = tmp_path / "outputs", tmp_path / "watch.log"
    folder = outputs / INCIDENT / "watch"
    process = _start(sandbox_env, outputs, receiver.url, log)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        started = ScheduleState.load(outputs / INCIDENT) \
            if (outputs / INCIDENT / "schedule.json").is_file() else None
        if started is not None and started.slots:  # the validation at +0 h runs
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(300) == 143, log.read_text()[-3000:]
    state = WatchState.load(folder)
    assert state is not None and state.status == "stopped (terminated)"
    schedule = ScheduleState.load(outputs / INCIDENT)
    assert schedule is not None and schedule.slots[0].status == "interrupted"
    panel = read_state(sandbox_env, incident=INCIDENT, outputs_dir=str(outputs)).watch
    assert panel is not None and not panel.running  # the lock was released
    assert "stopped (terminated)" in watch_html(panel)
    assert not (folder / "schedule.lock").exists()
