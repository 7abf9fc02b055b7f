"""The playbook's memory-leak story on the fast defaults: a leaking build passes deploy and
validation, memory_high fires in 07 at the rehearsal's scale, and it is rolled back to the
revision that served before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playbook_runs import outcome, play, runbooks

from netra_ops.config import Environment
from netra_ops.deploy import read_service

# A playbook run is about a minute on a quiet 2-core machine; 2-3x that when busy.
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]


def test_memory_leak_fires_the_memory_trigger_and_rolls_back(
        module_sandbox_env: Environment, tmp_path: Path) -> None:
    done, index = play(module_sandbox_env, tmp_path, "INC-leak", "memory-leak")
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
    assert rollback["rolled_back_from"] in read_service(module_sandbox_env).known_bad
    summary = index["runs"][-1]["records"]
    assert "Rollback required due to critical issues" in summary["escalations_fired"]
