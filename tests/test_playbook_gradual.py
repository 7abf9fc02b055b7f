"""A gradual rollout in the remediation playbook, on the fast defaults (a sandbox of this
module's own): the `gradual-bad-deploy` scenario's bad build is stopped at the first step
with traffic back, then rolled back and validated; and 02 refuses bad steps before it
builds or changes anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playbook_runs import outcome, play, records, runbooks, serving_images
from runbook_records import charts, run_runbook

from netra_ops.config import Environment
from netra_ops.deploy import read_service

# A playbook run is about a minute on a quiet 2-core machine; 2-3x that when busy.
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def test_bad_rollout_steps_fail_02_before_anything_is_built(
        env: Environment, tmp_path: Path) -> None:
    before = read_service(env).serving
    code, ran, _ = run_runbook(env, tmp_path, "INC-steps", "02_deploy", "execute=true",
                               "rollout_steps=[50,10,100]")
    assert code != 0
    failing = ran["failing_cell"]
    assert "rollout_steps must be strictly ascending, got [50, 10, 100]" in str(failing)
    assert "build.commit" not in ran["records"] and read_service(env).serving == before


def test_a_gradual_bad_deploy_stops_at_the_first_step_with_traffic_back(
        env: Environment, tmp_path: Path) -> None:
    done, index = play(env, tmp_path, "INC-gradual", "gradual-bad-deploy",
                       "06_rollback.quiet_s=5")
    outcome(done, "ROLLED BACK")
    assert runbooks(index) == ["01_preflight", "02_deploy", "06_rollback",
                               "00_incident_summary"]
    deployed = records(index, "02_deploy")
    assert deployed["decision"] == "rollback"
    assert deployed["rollout_status"] == "rolled_back"
    assert deployed["rollout_steps_made"] == [
        {"percent": 10, "decision": "rollback", "firing_rule": "health_5xx"}]
    rollout = deployed["rollout"]
    new, good = deployed["new_revision"], rollout["previous_revision"]
    assert good == deployed["revision_before"]  # what the scenario staged
    assert rollout["options"]["steps"] == [10, 50, 100]
    assert rollout["steps"][0]["split"] == f"{new} 10%, {good} 90%"
    assert rollout["final_split"] == {good: 100}
    assert "health_5xx" in rollout["rules_on_new_revision"]
    assert "at the 10% step: health_5xx fired" in deployed["decision.reason"]
    assert deployed["not_shipped"] == ["frontend"]
    record = max((tmp_path / "INC-gradual").glob("*-02_deploy"))
    assert charts(record, "02_deploy.ipynb") >= 1  # the rollout chart
    back = records(index, "06_rollback")
    assert back["rolled_back_from"] == new
    assert back["serving_revision"] == good
    assert back["rollback_validated"] is True
    state = read_service(env)
    assert state.serving == {good: 100} and new in state.known_bad
    backend = env.backend.name
    assert serving_images(env)[backend] == state.revision(good).image  # via Google's client
