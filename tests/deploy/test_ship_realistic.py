"""`ship` on the sandbox's `realistic` scenario, as staging runs: revisions report their image
by digest, take 8 s to start and 3 s to answer their first request. The decisions must be
the ones the fast defaults give: a release that serves already is `unchanged`, a rebuild is
shipped to its service alone, a failing backend stops the chain and is what goes back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import plan_rollbacks, read_services, roll_back, ship

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    yield module_sandbox_env


def test_what_serves_by_digest_is_unchanged_and_a_rebuild_ships_alone(
        env: Environment) -> None:
    first = ship(env, execute=True, deadline_s=180)
    assert first.ok, first.to_frame().to_dict("records")
    assert first.status == "unchanged" and first.shipped == {}  # each serves its digest
    assert first.verified == ("auth", "backend", "frontend")
    assert first.resources("backend") == {"memory": "4Gi", "cpu": "4", "timeout_s": 3600.0,
                                          "concurrency": 80}

    pushed = sandbox.push(env, "develop-long-lived", service="frontend")
    again = ship(env, execute=True, deadline_s=180)
    assert again.ok and list(again.shipped) == ["frontend"], again.to_frame()
    assert read_services(env)["frontend"].serving_image == pushed["uri"]


def test_a_failing_backend_stops_the_chain_and_goes_back_alone(env: Environment) -> None:
    good = {role: state.serving_revision for role, state in read_services(env).items()}
    shipment = ship(env, env_vars={"backend": {"NETRA_FAULT_HTTP_ERROR_RATE": "0.5"}},
                    execute=True, deadline_s=180)
    assert shipment.failed_role == "backend" and shipment.not_attempted == ("frontend",)
    assert list(shipment.shipped) == ["backend"] and shipment.decision()[0] == "rollback"
    plan = plan_rollbacks(env, shipped=shipment.shipped, blamed=shipment.failed_role)
    assert [s.role for s in plan.services] == ["backend"]
    assert (plan.services[0].target.revision, plan.services[0].target.known_good) == (
        good["backend"], False)  # nothing marked known good on this sandbox
    done = roll_back(env, plan, execute=True)
    assert done.status == "done"
    after = read_services(env)
    assert {role: state.serving_revision for role, state in after.items()} == good
    assert after["backend"].known_bad == (shipment.shipped["backend"],)
