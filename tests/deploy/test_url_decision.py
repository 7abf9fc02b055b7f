"""What a deploy decides when the new revision's service URLs are wrong, on a real sandbox:
a mismatch the deploy brought rolls back; one the revision before had too is escalated (a
rollback would not fix it), unless the new build is unhealthy as well.

Every test leaves the shared sandbox serving the fixed build with the expected configuration.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import (
    ChangeResult,
    Checks,
    deploy,
    read_service,
    url_decision,
    verify,
    with_url_checks,
)
from netra_ops.probe import service_urls

pytestmark = pytest.mark.sandbox
FRONTEND = "FRONTEND_URL names the frontend service"


@pytest.fixture()
def env(sandbox_env: Environment) -> Iterator[Environment]:
    yield sandbox_env
    sandbox.apply_scenario(sandbox_env, "fixed")


def deployed(env: Environment, image: str, **env_vars: str) -> tuple[ChangeResult, Checks,
                                                                      tuple[str, str]]:
    change = deploy(env, image, env_vars=dict(env_vars), execute=True, deadline_s=60)
    urls = service_urls(env)
    checks = with_url_checks(verify(env, expected_image=image), urls)
    return change, checks, url_decision(change, checks, urls)


def test_a_mismatch_the_deploy_brought_rolls_back_an_inherited_one_escalates(
        env: Environment) -> None:
    image = read_service(env).serving_image
    assert image is not None
    change, checks, (action, reason) = deployed(env, image, FRONTEND_URL=env.auth.url)
    assert change.status == "done"
    assert checks.title == "deployment verification (seed 1.3) and service URLs"
    assert [c.name for c in checks.checks if not c.ok] == [FRONTEND]  # the rest verifies
    assert action == "rollback" and reason.startswith("the new revision failed verification")

    again, _, (action, reason) = deployed(env, image, WEBSOCKET_HEARTBEAT_INTERVAL="16")
    assert again.status == "done" and again.before.serving_revision == change.new_revision
    assert action == "escalate"
    assert reason.endswith(
        f"not rolled back: {change.new_revision}, which served before, has the same "
        f"FRONTEND_URL={env.auth.url}, so a rollback would not fix it; fix the configuration "
        "(03_config_sync with Cloud Run's URLs), a human decides")

    # an unhealthy build is rolled back whatever its URLs: the revision before was healthy
    _, checks, (action, _) = deployed(env, image, NETRA_FAULT_HTTP_ERROR_RATE="0.5")
    assert any(c.name.startswith("health") and not c.ok for c in checks.checks)
    assert action == "rollback"


def test_nothing_deployed_keeps_deploy_decision(env: Environment) -> None:
    sandbox.apply_scenario(env, "url-mismatch")
    image = read_service(env).serving_image
    assert image is not None
    assert deploy(env, image, execute=True, deadline_s=60).status == "done"  # by digest now
    change, checks, (action, reason) = deployed(env, image)
    assert change.status == "unchanged"
    assert action == "escalate" and "no new revision to roll back from" in reason
    planned = deploy(env, image.rsplit(":", 1)[0] + ":main")
    assert url_decision(planned, checks, service_urls(env))[0] == "continue"  # a dry run
