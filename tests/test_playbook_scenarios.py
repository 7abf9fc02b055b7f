"""The remediation playbook end to end on a sandbox: the scenarios take their branches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def play(env: Environment, outputs: Path, incident: str,
         scenario: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "netra_ops", "run", "golden_path_remediation", "--env",
         str(env.source), "--incident", incident, "--outputs", str(outputs), "--execute",
         "--scenario", scenario],
        cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    index = json.loads((outputs / incident / "index.json").read_text())
    return done, index


def test_stale_to_fixed_is_remediated(env: Environment, tmp_path: Path) -> None:
    done, index = play(env, tmp_path, "INC-stale", "stale-to-fixed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outcome: REMEDIATED" in done.stdout
    assert [r["runbook"] for r in index["runs"]] == [
        "01_preflight", "02_deploy", "03_config_sync", "04_golden_path_validation",
        "07_monitoring", "00_incident_summary"]
    assert {p["status"] for p in index["phases"].values()} == {"passed"}
    deploy = index["runs"][1]["records"]
    assert deploy["image_before"].endswith(":main")
    assert deploy["serving_image"].endswith(":develop-long-lived")
    summary = index["runs"][-1]["records"]
    assert summary["stakeholder_update"].startswith("Golden Path restored")
    assert summary["escalations_fired"] == []
    verified = subprocess.run([sys.executable, "-m", "netra_ops", "records", "verify",
                               "INC-stale", "--outputs", str(tmp_path), "--env",
                               str(env.source)], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout


def test_bad_deploy_rolls_back_and_validates_the_rollback(
        env: Environment, tmp_path: Path) -> None:
    done, index = play(env, tmp_path, "INC-bad", "bad-deploy")
    assert done.returncode == 6, done.stdout + done.stderr
    assert "ROLLED_BACK (branch rollback taken)" in done.stdout
    runbooks = [r["runbook"] for r in index["runs"]]
    assert "06_rollback" in runbooks
    assert runbooks.index("06_rollback") < len(runbooks) - 2
    rollback = next(r for r in index["runs"] if r["runbook"] == "06_rollback")
    assert rollback["status"] == "passed"
    assert rollback["records"]["rollback_status"] == "done"
    assert index["runs"][-2]["runbook"] == "04_golden_path_validation"
    assert index["runs"][-2]["status"] == "passed"
    summary = index["runs"][-1]["records"]
    assert "Rollback required due to critical issues" in summary["escalations_fired"]
    assert summary["stakeholder_update"].startswith("Rollback executed")


def test_memory_leak_fires_the_memory_trigger_and_rolls_back(
        env: Environment, tmp_path: Path) -> None:
    done, index = play(env, tmp_path, "INC-leak", "memory-leak")
    assert done.returncode == 6, done.stdout + done.stderr
    runbooks = [r["runbook"] for r in index["runs"]]
    assert runbooks == ["01_preflight", "02_deploy", "03_config_sync",
                        "04_golden_path_validation", "07_monitoring", "06_rollback",
                        "04_golden_path_validation", "00_incident_summary"]
    monitoring = index["runs"][4]
    assert monitoring["status"] == "failed"
    records = monitoring["records"]
    assert records["decision"] == "rollback"
    assert records["first_firing"]["rule"] == "memory_high"
    assert records["rule_overrides"]["memory_high"]["threshold"] == 268435456
    rollback = index["runs"][5]["records"]
    assert rollback["rollback_status"] == "done"
    assert rollback["serving_revision"] == rollback["rollback_target"]
    assert rollback["rollback_target"] != rollback["revision_before"]  # the leaking one
    assert index["runs"][6]["status"] == "passed"
    summary = index["runs"][-1]["records"]
    assert "Rollback required due to critical issues" in summary["escalations_fired"]
