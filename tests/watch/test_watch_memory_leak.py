"""A trigger firing during the watch: the playbook's memory-leak story (a build that leaks
8 MiB/s serves; `memory_high` at the rehearsal's scale of 256 MiB held 10 s) fires while the
watch runs, inside the rollback window: runbook 06 rolls the backend back to the revision
before, marks the leaking one known bad, and the watch escalates (once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from watch_receiver import Receiver

from netra_ops.config import Environment
from netra_ops.deploy import read_service, serve_for_rehearsal
from netra_ops.record import incident_runs
from netra_ops.watch import WatchState, watch_notices

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
LEAK = {"NETRA_FAULT_MEMORY_GROWTH_KB_PER_S": "8192"}  # as the playbook's memory-leak scenario
RULES = {"memory_high": {"threshold": 268435456, "window_s": 10.0, "for_s": 10.0}}


def test_a_memory_leak_during_the_watch_rolls_back_and_escalates(
        module_sandbox_env: Environment, tmp_path: Path, receiver: Receiver) -> None:
    env = module_sandbox_env
    before = read_service(env).serving_revision
    leaking = serve_for_rehearsal(env, "develop-long-lived", LEAK).new_revision
    assert leaking and leaking != before
    outputs = tmp_path / "outputs"
    done = subprocess.run(
        [sys.executable, "-m", "netra_ops", "watch", "-i", "INC-leak", "--env",
         str(env.source), "--outputs", str(outputs), "--hours", "1", "--time-scale", "60",
         "--interval", "1", "--cadence", "4h", "--period-h", "0.25", "-p", "runs=1",
         "--rule-overrides", json.dumps(RULES), "--quiet-s", "5", "--webhook",
         "env:WATCH_HOOK", "--execute"],
        cwd=ROOT, capture_output=True, text=True, timeout=800, stdin=subprocess.DEVNULL,
        env={**os.environ, "WATCH_HOOK": receiver.url})
    assert done.returncode == 6, done.stdout + done.stderr[-4000:]  # rolled back
    assert "outcome: ROLLED BACK" in done.stdout

    state = WatchState.load(outputs / "INC-leak" / "watch")
    assert state is not None
    (trigger,) = state.triggers.values()
    assert trigger["rule"] == "memory_high" and trigger["revision"] == leaking
    assert trigger["inside_rollback_window"] and trigger["action"] == "rollback"
    (rollback,) = state.rollbacks
    assert rollback["rollback_status"] == "done" and rollback["rolled_back_from"] == leaking
    assert rollback["serving_revision"] == rollback["rollback_target"] == before
    assert rollback["rollback_validated"] is True
    service = read_service(env)
    assert service.serving_revision == before and leaking in service.known_bad

    runs = [r.runbook for r in incident_runs(outputs / "INC-leak")]
    assert "06_rollback" in runs  # the rollback's own record
    periods = [r for r in incident_runs(outputs / "INC-leak") if r.runbook == "watch"]
    assert len(periods) == 4 and any(p.records["rollbacks"] for p in periods)

    notices = [body["netra_ops"] for body in receiver.bodies]
    escalations = [n for n in notices if n["event"] == "escalation"]
    assert len(escalations) == 2  # the trigger and its rollback; the end, not stable
    trigger, final = escalations
    assert trigger["fields"]["Trigger"] == "Rollback required due to critical issues"
    assert trigger["fields"]["Rule"] == "memory_high" and leaking in trigger["text"]
    assert trigger["record"] == rollback["record"]  # 06's record
    assert final["key"].endswith(":watch:final:24_Hours") and "NOT stable" in final["text"]
    assert len({n["key"] for n in notices}) == len(notices)
    assert all(e["delivered"] for e in watch_notices(outputs / "INC-leak"))
