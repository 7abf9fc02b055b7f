"""The remediation playbook on the sandbox's `realistic` scenario, as staging runs: agent
turns of 3-8 s, images reported by digest, 8 s revision start-up and a 3 s cold start,
Monitoring points 60 s late and Logging entries 5 s late, on all three services.

The playbook's own scenarios are staged on top of `realistic` (a scenario stages only the
build, its fault variables and an API's fault; the rest stays). Durations are short through
parameters (playbook_runs.REALISTIC_SHORT); the realistic delays are real. This module: the
fix deployed and kept (REMEDIATED). A leak rolled back on late Monitoring data:
test_playbook_realistic_leak.py; late Logging data and Monitoring down (HELD):
test_playbook_realistic_held.py. A module each, so that they run side by side.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playbook_runs import REALISTIC_SHORT, outcome, play, records, serving_images

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import read_service

# ~2.5 min per playbook run on a quiet machine, 2-3x that when busy
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    yield module_sandbox_env


def test_realistic_fix_is_deployed_by_digest_validated_watched_and_kept(
        env: Environment, tmp_path: Path) -> None:
    # The stale build serves with realistic's settings; the fix is built from the commit 01
    # checked (Cloud Build steps of 1 s), deployed by its digest, reported by digest
    # (REPO@sha256:...), verified, validated, watched, kept.
    done, index = play(env, tmp_path, "INC-real-fix", "stale-to-fixed", *REALISTIC_SHORT)
    outcome(done, "REMEDIATED")
    deployed = records(index, "02_deploy")
    assert deployed["deploy_status"] == "done" and deployed["decision"] == "continue"
    assert "@sha256:" in deployed["serving_image"] and "@sha256:" in deployed["image_before"]
    assert deployed["build.commit"] == records(index, "01_preflight")["release_commit"]
    assert deployed["serving_image"] == deployed["build.images"]["backend"]
    assert deployed["decision.reason"].startswith("every service by digest")
    assert deployed["services_verified"] == ["auth", "backend", "frontend"]
    assert deployed["backend_resources"] == {"memory": "4Gi", "cpu": "4", "timeout_s": 3600.0,
                                             "concurrency": 80}
    assert all("@sha256:" in image for image in serving_images(env).values())
    fix = records(index, "07_monitoring")["known_good_mark"]["revision"]
    state = read_service(env)
    assert state.known_good == (fix,) and state.serving == {fix: 100}
    for knob in ("NETRA_RUN_STARTUP_S", "NETRA_AGENT_TURN_S", "NETRA_RUN_IMAGE_BY_DIGEST"):
        assert knob in state.template_env, state.template_env  # the deploy kept realistic's
