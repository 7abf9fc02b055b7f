"""The remediation playbook end to end on a sandbox: each outcome, decided from the steps'
recorded decisions (never from "a step failed"), with its exit code.

Lean on purpose (each playbook run is about a minute): short watches and a short seed 4.3
quiet window are parameters, and one sandbox serves a story told in several runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import read_service

# A test here runs up to three playbooks (about a minute each on a quiet 2-core machine):
# more than the suite's 300 s per test once the machine is busy.
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parent.parent
EXIT = {"REMEDIATED": 0, "FAILED": 1, "ROLLED BACK": 6, "HELD": 8}  # as the README says


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def play(env: Environment, outputs: Path, incident: str, scenario: str | None,
         *params: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    args = [sys.executable, "-m", "netra_ops", "run", "golden_path_remediation", "--env",
            str(env.source), "--incident", incident, "--outputs", str(outputs), "--execute"]
    args += ["--scenario", scenario] if scenario else []
    for param in params:
        args += ["-p", param]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)
    index = json.loads((outputs / incident / "index.json").read_text())
    return done, index


def runbooks(index: dict[str, Any]) -> list[str]:
    return [r["runbook"] for r in index["runs"]]


def records(index: dict[str, Any], runbook: str) -> dict[str, Any]:
    return next(r for r in reversed(index["runs"]) if r["runbook"] == runbook)["records"]


def outcome(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == EXIT[expected], done.stdout + done.stderr
    assert f"outcome: {expected}" in done.stdout, done.stdout


def test_a_10_s_watch_keeps_the_fix_then_two_bad_deploys_roll_back_to_it(
        env: Environment, tmp_path: Path) -> None:
    # The reproduction: a 10 s window used to end FAILED (branch rollback taken)
    # because 07 held on too few auth samples. The watch now goes on while rules are
    # inconclusive; it must never roll back the fix.
    done, index = play(env, tmp_path, "INC-stale", "stale-to-fixed",
                       "07_monitoring.duration_s=10")
    assert "06_rollback" not in runbooks(index), done.stdout
    assert done.returncode in (EXIT["REMEDIATED"], EXIT["HELD"]), done.stdout + done.stderr
    outcome(done, "REMEDIATED")
    assert runbooks(index) == ["01_preflight", "02_deploy", "03_config_sync",
                               "04_golden_path_validation", "07_monitoring",
                               "00_incident_summary"]
    assert records(index, "02_deploy")["image_before"].endswith(":main")
    monitoring = records(index, "07_monitoring")
    assert monitoring["decision"] == "continue", monitoring["decision.reason"]
    fix = monitoring["known_good_mark"]["revision"]
    assert monitoring["known_good_mark"]["status"] == "done"
    assert read_service(env).known_good == (fix,)
    summary = records(index, "00_incident_summary")
    assert summary["stakeholder_update"].startswith("Golden Path restored")
    assert summary["escalations_fired"] == []
    verified = subprocess.run([sys.executable, "-m", "netra_ops", "records", "verify",
                               "INC-stale", "--outputs", str(tmp_path), "--env",
                               str(env.source)], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout

    bad: list[str] = []
    for attempt in (1, 2):  # the new build fails half its requests: 02's verification fails
        done, index = play(env, tmp_path, f"INC-bad-{attempt}", "bad-deploy",
                           "06_rollback.quiet_s=5")
        outcome(done, "ROLLED BACK")
        assert runbooks(index) == ["01_preflight", "02_deploy", "06_rollback",
                                   "00_incident_summary"]
        assert records(index, "02_deploy")["decision"] == "rollback"
        back = records(index, "06_rollback")
        assert (back["rollback_target"], back["serving_revision"]) == (fix, fix)
        assert back["rollback_target_known_good"] is True
        assert back["rolled_back_from"] == records(index, "02_deploy")["new_revision"]
        assert back["golden_path_ok"] is True and back["quiet_s"] == 5
        bad.append(back["rolled_back_from"])
        summary = records(index, "00_incident_summary")
        assert "Rollback required due to critical issues" in summary["escalations_fired"]
    state = read_service(env)
    assert state.serving == {fix: 100}
    assert set(bad) <= set(state.known_bad) and len(set(bad)) == 2
    assert state.known_good == (fix,)


def test_the_seeds_story_with_a_failing_build_rolls_back_to_the_stale_build(
        make_sandbox_env: Callable[[], Environment], tmp_path: Path) -> None:
    fresh = make_sandbox_env()  # nothing known good on this service
    sandbox.up(fresh)
    done, index = play(fresh, tmp_path, "INC-seed", "failing-build")
    outcome(done, "ROLLED BACK")
    assert "golden path is broken there" in done.stdout
    assert runbooks(index) == ["01_preflight", "02_deploy", "06_rollback",
                               "00_incident_summary"]
    deployed = records(index, "02_deploy")
    assert deployed["decision"] == "rollback" and "health 200" in deployed["decision.reason"]
    back = records(index, "06_rollback")
    assert back["rollback_target_known_good"] is False
    assert back["rollback_target_reason"].startswith("no known good revision")
    assert back["serving_revision"] == deployed["revision_before"]  # the stale build
    assert back["rollback_validated"] is True and back["quiet_s"] == 15
    assert back["golden_path_ok"] is False and back["escalate"] is True
    state = read_service(fresh)
    assert state.serving_image is not None and state.serving_image.endswith(":main")
    assert state.known_bad == (deployed["new_revision"],)
    summary = records(index, "00_incident_summary")
    assert "Rollback required due to critical issues" in summary["escalations_fired"]
    assert "golden path is broken there (escalated)" in summary["stakeholder_update"]


def test_memory_leak_fires_the_memory_trigger_and_rolls_back(
        env: Environment, tmp_path: Path) -> None:
    done, index = play(env, tmp_path, "INC-leak", "memory-leak")
    outcome(done, "ROLLED BACK")
    assert runbooks(index) == ["01_preflight", "02_deploy", "03_config_sync",
                               "04_golden_path_validation", "07_monitoring", "06_rollback",
                               "00_incident_summary"]
    monitoring = index["runs"][4]
    assert monitoring["status"] == "failed"
    found = monitoring["records"]
    assert found["decision"] == "rollback"
    assert found["first_firing"]["rule"] == "memory_high"
    assert found["rule_overrides"]["memory_high"]["threshold"] == 268435456
    rollback = index["runs"][5]["records"]
    assert rollback["rollback_status"] == "done"
    assert rollback["serving_revision"] == rollback["rollback_target"]
    assert rollback["rollback_target"] != rollback["revision_before"]  # the leaking one
    assert rollback["rolled_back_from"] == rollback["revision_before"]
    assert rollback["rollback_validated"] is True
    assert rollback["rolled_back_from"] in read_service(env).known_bad
    summary = index["runs"][-1]["records"]
    assert "Rollback required due to critical issues" in summary["escalations_fired"]


def test_an_unreachable_cloud_run_api_ends_failed_with_nothing_rolled_back(
        make_sandbox_env: Callable[[], Environment], tmp_path: Path) -> None:
    """FAILED: netra-ops could not act (the sandbox is stopped, so the Cloud Run API does not
    answer; its rehearsal repository is still there, so preflight passes): the step that
    could not act is named, no rollback is attempted."""
    stopped = make_sandbox_env()
    sandbox.up(stopped)
    sandbox.down(stopped)
    done, index = play(stopped, tmp_path, "INC-unreachable", None)
    outcome(done, "FAILED")
    assert "ApiUnreachableError" in done.stdout, done.stdout
    assert "06_rollback" not in runbooks(index)
    assert runbooks(index)[-1] == "00_incident_summary"
