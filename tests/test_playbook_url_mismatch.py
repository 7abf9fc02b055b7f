"""The remediation playbook's `url-mismatch` story on the sandbox's `realistic` scenario (3-8 s
agent turns, images by digest, 8 s start-up, late Monitoring and Logging): the stale build
serves with AUTH_SERVICE_URL naming the frontend (the seed's two causes at once); the fix is
deployed and inherits that URL. 02 fails naming both URLs and escalates, since the revision
before has the same URL and a rollback would not fix it: HELD, nothing rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playbook_runs import outcome, play, records, runbooks

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import read_service

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    yield module_sandbox_env


def test_url_mismatch_fails_02_naming_both_urls_and_holds(env: Environment,
                                                          tmp_path: Path) -> None:
    done, index = play(env, tmp_path, "INC-url", "url-mismatch")
    outcome(done, "HELD")
    assert runbooks(index) == ["01_preflight", "02_deploy", "00_incident_summary"]
    deployed = records(index, "02_deploy")
    assert deployed["deploy_status"] == "done"
    assert "netra-backend@sha256:" in deployed["image_before"]  # the stale build, by digest
    assert "backend: AUTH_SERVICE_URL names the auth service" in deployed["verdict.failed"]
    assert deployed["decision"] == "escalate"
    reason = deployed["decision.reason"]
    assert f"AUTH_SERVICE_URL={env.frontend.url} (that is netra-frontend-staging's URL)" in reason
    assert f"Cloud Run serves netra-auth-service at {env.auth.url}" in reason
    assert f"has the same AUTH_SERVICE_URL={env.frontend.url}" in reason
    state = read_service(env)
    assert state.serving == {deployed["new_revision"]: 100}  # kept, not rolled back
    for knob in ("NETRA_RUN_STARTUP_S", "NETRA_AGENT_TURN_S", "NETRA_RUN_IMAGE_BY_DIGEST"):
        assert knob in state.template_env  # staged and deployed on realistic's terms
    assert state.template_env["AUTH_SERVICE_URL"] == env.frontend.url
