"""The playbook's failure outcomes on the fast defaults: the seed's story with a failing build
(ROLLED BACK to the stale build, the golden path broken there, escalated), on a sandbox of
its own. A stopped sandbox no longer gets as far as a step: the target is checked before
(tests/record/test_target_check.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playbook_runs import outcome, play, records, runbooks

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import read_service

# A playbook run is about a minute on a quiet 2-core machine; 2-3x that when busy.
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]


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
    assert state.serving_image == deployed["image_before"]  # the stale build, by digest
    assert state.known_bad == (deployed["new_revision"],)
    assert back["services"] == ["backend", "auth"]  # 02 shipped auth, then the backend failed
    assert back["rollbacks"]["auth"]["known_bad_mark"] == "not marked: back with the release"
    assert read_service(fresh, "auth").serving_revision == back["rollbacks"]["auth"]["target"]
    summary = records(index, "00_incident_summary")
    assert "Rollback required due to critical issues" in summary["escalations_fired"]
    assert "golden path is broken there (escalated)" in summary["stakeholder_update"]

