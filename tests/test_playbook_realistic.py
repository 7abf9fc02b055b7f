"""The remediation playbook's outcomes on the sandbox's `realistic` scenario, as staging runs:
agent turns of 3-8 s, images reported by digest, 8 s revision start-up and a 3 s cold start,
Monitoring points 60 s late and Logging entries 5 s late, on all three services.

The playbook's own scenarios are staged on top of `realistic` (a scenario stages only the
build, its fault variables and an API's fault; the rest stays). Durations are short through
parameters (one golden-path run in 04, one per tick in 07, a 10 s watch, a 5 s seed 4.3
quiet window); the realistic delays are real. One sandbox tells the story in order:
the fix deployed and kept (REMEDIATED), a leaking build rolled back to it by a trigger on
late Monitoring data (ROLLED BACK), a trigger on late Logging data firing in a watch, then
Monitoring down (HELD). Budget: about 6 minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import read_service, serve_for_rehearsal
from netra_ops.metrics import override_rules, run_watch

# ~2.5 min per playbook run on a quiet machine, 2-3x that when busy
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parent.parent
EXIT = {"REMEDIATED": 0, "FAILED": 1, "ROLLED BACK": 6, "HELD": 8}  # as the README says
SHORT = ("04_golden_path_validation.runs=1", "07_monitoring.golden_path_runs=1",
         "07_monitoring.duration_s=10", "06_rollback.quiet_s=5")


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    yield module_sandbox_env


def play(env: Environment, outputs: Path, incident: str, scenario: str,
         *params: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    args = [sys.executable, "-m", "netra_ops", "run", "golden_path_remediation", "--env",
            str(env.source), "--incident", incident, "--outputs", str(outputs), "--execute",
            "--scenario", scenario]
    for param in (*SHORT, *params):
        args += ["-p", param]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    index = json.loads((outputs / incident / "index.json").read_text())
    print(incident, next((line for line in done.stdout.splitlines()
                          if line.startswith("outcome:")), "no outcome"))
    return done, index


def records(index: dict[str, Any], runbook: str) -> dict[str, Any]:
    return next(r for r in reversed(index["runs"]) if r["runbook"] == runbook)["records"]


def runbooks(index: dict[str, Any]) -> list[str]:
    return [r["runbook"] for r in index["runs"]]


def outcome(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert f"outcome: {expected}" in done.stdout, done.stdout + done.stderr[-3000:]
    assert done.returncode == EXIT[expected], done.stdout


def test_realistic_fix_kept_then_a_leak_rolled_back_on_late_monitoring_data(
        env: Environment, tmp_path: Path) -> None:
    # The stale build serves with realistic's settings; the fix is deployed, reported by
    # digest (REPO@sha256:...), verified against the tag's digest, validated, watched, kept.
    done, index = play(env, tmp_path, "INC-real-fix", "stale-to-fixed")
    outcome(done, "REMEDIATED")
    deployed = records(index, "02_deploy")
    assert deployed["deploy_status"] == "done" and deployed["decision"] == "continue"
    assert "@sha256:" in deployed["serving_image"] and "@sha256:" in deployed["image_before"]
    assert "names now" in deployed["decision.reason"]
    fix = records(index, "07_monitoring")["known_good_mark"]["revision"]
    state = read_service(env)
    assert state.known_good == (fix,) and state.serving == {fix: 100}
    for knob in ("NETRA_RUN_STARTUP_S", "NETRA_AGENT_TURN_S", "NETRA_RUN_IMAGE_BY_DIGEST"):
        assert knob in state.template_env, state.template_env  # the deploy kept realistic's

    # The leak crosses the rehearsal's 256 MiB in ~30 s; Monitoring shows it 60 s later.
    # The rule's 10 s window ends at the newest point (max_lateness_s), so it fires instead
    # of staying inconclusive until settle_s runs out.
    done, index = play(env, tmp_path, "INC-real-leak", "memory-leak",
                       "07_monitoring.duration_s=60")
    outcome(done, "ROLLED BACK")
    assert runbooks(index)[4:6] == ["07_monitoring", "06_rollback"]
    watched = records(index, "07_monitoring")
    assert watched["decision"] == "rollback", watched["decision.reason"]
    assert watched["first_firing"]["rule"] == "memory_high"
    assert watched["watch.settled_evaluations"] == 0
    back = records(index, "06_rollback")
    assert (back["rollback_target"], back["serving_revision"]) == (fix, fix)
    assert back["rollback_target_known_good"] is True and back["golden_path_ok"] is True
    assert back["rolled_back_from"] in read_service(env).known_bad


def test_realistic_trigger_on_late_logging_data_fires(env: Environment) -> None:
    # Half the answers are 500s; Logging shows them 5 s late. health_5xx (from Logging, the
    # preferred source) fires within the watch while memory_high (Monitoring, a minute late)
    # has no samples of the new revision yet: a firing trigger decides.
    serve_for_rehearsal(env, "develop-long-lived", {"NETRA_FAULT_HTTP_ERROR_RATE": "0.5"})
    rules = override_rules(env.rollback_triggers,
                           {"health_5xx": {"window_s": 10.0, "for_s": 0.0, "min_samples": 1}})
    result = run_watch(env, rules, duration_s=20, interval_s=2, probe=_health_only,
                       stop_on_rollback=True, settle_s=10, max_lateness_s=180, show=False)
    assert result.decision.action == "rollback", result.decision.reason
    firing = result.table[result.table["state"] == "firing"]
    assert list(firing["rule"]) == ["health_5xx"] and firing.iloc[0]["source"] == "logging"


def test_realistic_monitoring_down_holds(env: Environment, tmp_path: Path) -> None:
    # The fix serves (02 finds nothing to deploy: "unchanged", and verifies what serves by
    # digest); Monitoring is down: memory_high stays inconclusive, 07 holds after settle_s.
    done, index = play(env, tmp_path, "INC-real-held", "monitoring-down")
    outcome(done, "HELD")
    assert "06_rollback" not in runbooks(index)
    deployed = records(index, "02_deploy")
    assert deployed["deploy_status"] == "unchanged" and deployed["decision"] == "continue"
    assert deployed["decision.reason"].startswith("unchanged: nothing to deploy")
    watched = records(index, "07_monitoring")
    assert watched["decision"] == "hold", watched["decision.reason"]
    assert "memory_high" in watched["decision.reason"]
    assert "monitoring" in watched["watch.unavailable"]
    assert read_service(env).serving == {deployed["revision_before"]: 100}  # the fix stays


def _health_only(env: Environment) -> list[Any]:
    from netra_ops.probe import health

    return [health(env.backend.url, path=env.backend.health_path)]
