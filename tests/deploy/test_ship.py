"""Shipping a release to the three services, and rolling it back service by service, through
google-cloud-run against a sandbox of this module's own (the tests run in order: each starts
from what the one before left).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

from netra_ops import sandbox
from netra_ops.cloud import pinned_image, service_name
from netra_ops.config import Environment
from netra_ops.deploy import (
    DEPLOY_ORDER,
    audit_trail,
    mark_clean_window,
    plan_rollbacks,
    read_services,
    release_images,
    roll_back,
    rolled_back_checks,
    services_frame,
    ship,
)
from netra_ops.errors import ChangesNotAllowedError
from netra_ops.probe import health

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def serving(env: Environment) -> dict[str, str | None]:
    return {role: state.serving_revision for role, state in read_services(env).items()}


def test_a_dry_run_plans_every_service_by_digest_and_changes_nothing(env: Environment) -> None:
    before = serving(env)
    plan = ship(env)
    assert not plan.executed and plan.status == "planned" and plan.shipped == {}
    assert [s.role for s in plan.services] == list(DEPLOY_ORDER)
    for part in plan.services:
        assert part.change is not None and part.change.image is not None
        assert part.change.image == pinned_image(env, release_images(env)[part.role])
        assert any(step.startswith("image: ") and "@sha256:" in step
                   for step in part.change.plan), part.change.plan
    backend = plan.service("backend")
    assert backend is not None and backend.change is not None
    assert not any(step.startswith(("timeout", "limit", "concurrency"))
                   for step in backend.change.plan)  # the sandbox started it as the file says
    action, reason = plan.decision()
    assert action == "continue" and reason.startswith("dry run: nothing was deployed")
    assert serving(env) == before


def test_the_three_services_ship_by_digest_each_verified_with_its_resources(
        env: Environment) -> None:
    started = len(audit_trail())
    shipment = ship(env, execute=True, deadline_s=120)
    assert shipment.ok, shipment.to_frame().to_dict("records")
    assert shipment.status == "done" and set(shipment.shipped) == set(DEPLOY_ORDER)
    assert shipment.verified == DEPLOY_ORDER and shipment.decision()[0] == "continue"
    names = {c.name for c in shipment.checks()}
    assert {"auth: Ready and serving all traffic", "frontend: health 200 (5 of 5)",
            "backend: resources read back (4Gi, 4 CPU, timeout 3600 s, concurrency 80)",
            "backend: WebSocket connects"} <= names
    assert shipment.resources("backend") == {"memory": "4Gi", "cpu": "4", "timeout_s": 3600.0,
                                             "concurrency": 80}
    json.dumps(shipment.to_record())  # what 02 records
    outcomes = [(e.service.rsplit("/", 1)[-1], e.outcome) for e in audit_trail()[started:]]
    assert outcomes == [(env.services[role].name, outcome) for role in DEPLOY_ORDER
                        for outcome in ("started", "done")]

    # What Cloud Run says, through its own client: every service serves its image by digest.
    options = {"api_endpoint": env.api_endpoint}
    services = run_v2.ServicesClient(transport="rest", credentials=AnonymousCredentials(),
                                     client_options=options)
    revisions = run_v2.RevisionsClient(transport="rest", credentials=AnonymousCredentials(),
                                       client_options=options)
    listed = list(services.list_services(parent=f"projects/{env.project}/locations/"
                                                f"{env.region}"))
    assert len(listed) == 3
    for service in listed:
        (status,) = service.traffic_statuses
        revision = revisions.get_revision(name=f"{service.name}/revisions/{status.revision}")
        assert "@sha256:" in revision.containers[0].image, service.name
        assert service.template.containers[0].image == revision.containers[0].image
    backend = revisions.get_revision(name=f"{service_name(env, 'backend')}/revisions/"
                                          f"{shipment.new_revision('backend')}")
    assert dict(backend.containers[0].resources.limits) == {"memory": "4Gi", "cpu": "4"}
    assert backend.timeout == timedelta(seconds=3600)
    assert backend.max_instance_request_concurrency == 80
    frame = services_frame(read_services(env))
    assert list(frame["service"]) == list(DEPLOY_ORDER) and frame["pinned"].all()

    again = ship(env, execute=True)
    assert again.ok and again.status == "unchanged" and again.shipped == {}
    mark = mark_clean_window(env, "continue", execute=True)  # 07 after a clean window
    assert set(mark.others) == {"auth", "frontend"}
    assert {role: state.known_good for role, state in read_services(env).items()} == {
        role: (name,) for role, name in shipment.shipped.items()}


def test_a_failing_backend_stops_the_chain_and_the_release_goes_back_service_by_service(
        env: Environment) -> None:
    good = serving(env)
    sandbox.push(env, "develop-long-lived", service="auth")  # a rebuilt auth: a new digest
    shipment = ship(env, env_vars={"backend": {"NETRA_FAULT_HTTP_ERROR_RATE": "0.5"}},
                    execute=True, deadline_s=120)
    assert not shipment.ok and shipment.not_attempted == ("frontend",)
    assert shipment.failed is not None and shipment.failed.role == "backend"
    assert set(shipment.shipped) == {"auth", "backend"}
    action, reason = shipment.decision()
    assert action == "rollback" and reason.startswith("backend: the new revision failed "
                                                      "verification: health 200"), reason
    assert f"shipped: auth ({shipment.shipped['auth']}), backend" in reason
    frontend = next(c for c in shipment.checks() if c.name == "frontend: deploy")
    assert not frontend.ok and frontend.detail.startswith("not attempted: backend failed")
    assert serving(env)["frontend"] == good["frontend"]

    plan = plan_rollbacks(env, shipped=shipment.shipped, blamed=shipment.failed_role)
    assert [s.role for s in plan.services] == ["backend", "auth"]  # each before what it needs
    assert all(s.target.known_good for s in plan.services)
    done = roll_back(env, plan, execute=True)
    assert done.status == "done"
    assert serving(env) == good
    states = read_services(env)
    assert {role: state.serving for role, state in states.items()} == {
        role: {name: 100} for role, name in good.items()}
    assert states["backend"].known_bad == (shipment.shipped["backend"],)  # to blame
    assert states["auth"].known_bad == states["frontend"].known_bad == ()  # went back with it
    assert done.to_frame().set_index("service")["known_bad_mark"].to_dict() == {
        "backend": "done", "auth": "not marked: back with the release"}
    others = rolled_back_checks(env, done, execute=True)
    assert [c.name for c in others] == ["auth: Ready and serving all traffic",
                                        "auth: health 200 with valid JSON (3 of 3)"]
    assert all(c.ok for c in others), others


def test_a_release_whose_revision_is_known_bad_is_not_sent_traffic_again(
        env: Environment) -> None:
    good = serving(env)
    shipment = ship(env, env_vars={"backend": {"NETRA_FAULT_HTTP_ERROR_RATE": "0.5"}},
                    execute=True)  # the same build and configuration as the bad one
    # auth: the rebuilt release's revision went back with the release, unmarked: its
    # traffic returns to it (no new revision), and that is shipped too (06 would undo it)
    assert shipment.shipped == {"auth": serving(env)["auth"]} and serving(env)["auth"] != good[
        "auth"]
    backend = shipment.service("backend")
    assert backend is not None and backend.change is None and backend.error is not None
    assert "is recorded as known bad" in backend.error and "deploy another build" in backend.error
    assert shipment.not_attempted == ("frontend",) and serving(env)["backend"] == good["backend"]
    action, reason = shipment.decision()
    assert action == "rollback" and reason.startswith("backend could not be deployed"), reason
    locked = env.model_copy(update={"allow_changes": False})
    with pytest.raises(ChangesNotAllowedError, match="not allow-listed"):
        ship(locked, execute=True)


def test_a_revision_that_cannot_start_stops_the_chain_with_traffic_where_it_was(
        env: Environment) -> None:
    good = serving(env)
    crash = release_images(env)["backend"].rsplit(":", 1)[0] + ":crash-on-start"
    shipment = ship(env, {"backend": crash, "frontend": release_images(env)["frontend"]},
                    execute=True, deadline_s=120)
    backend = shipment.service("backend")
    assert backend is not None and backend.change is not None
    assert backend.change.status == "failed" and shipment.status == "failed"
    assert shipment.not_attempted == ("frontend",) and list(shipment.shipped) == ["backend"]
    action, reason = shipment.decision()
    assert action == "rollback" and "failed to deploy (failed)" in reason, reason
    assert serving(env) == good and health(env.backend.url).ok


def test_an_image_the_registry_lacks_is_planned_by_tag_saying_so(env: Environment) -> None:
    missing = f"europe-west1-docker.pkg.dev/{env.project}/netra/netra-auth:develop"
    plan = ship(env, {**release_images(env), "auth": missing})
    auth = plan.service("auth")
    assert auth is not None and auth.change is not None and auth.change.image == missing
    assert any("Artifact Registry has no such tag; deployed by tag" in step
               for step in auth.change.plan), auth.change.plan
