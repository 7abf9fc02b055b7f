"""Deploys are by digest: a tag is resolved through Artifact Registry, the template names
`REPO@sha256:...`, and a new build pushed under the same tag rolls out as a new revision.

Against a sandbox of the module's own, through google-cloud-run and Artifact Registry's REST
API (the sandbox's emulation of both).
"""

from __future__ import annotations

import pytest

from netra_ops import sandbox
from netra_ops.cloud import pinned_image, service_name, services_client, tag_digest
from netra_ops.config import Environment
from netra_ops.deploy import deploy, deploy_decision, read_service, verify
from netra_ops.probe import health

pytestmark = [pytest.mark.sandbox]


def test_a_push_under_the_same_tag_is_deployed_as_a_new_revision(
    module_sandbox_env: Environment,
) -> None:
    env = module_sandbox_env
    assert env.sandbox is not None
    image = env.sandbox.initial_image
    repository, tag = image.rsplit(":", 1)
    first = deploy(env, image, execute=True)
    digest = tag_digest(env, image)
    assert digest is not None and first.image == f"{repository}@{digest}"
    assert first.status == "done" and first.new_revision is not None  # tag -> digest
    state = read_service(env)
    assert state.template_image == state.serving_image == first.image
    assert state.serving == {first.new_revision: 100}

    again = deploy(env, image, execute=True)
    assert again.status == "unchanged" and again.plan == ()
    checks = verify(env, expected_image=image, websocket=False, health_checks=1)
    assert checks.ok, checks.to_frame()  # the tag names the digest that serves
    action, reason = deploy_decision(again, checks)
    assert action == "continue" and reason.startswith("unchanged: nothing to deploy"), reason

    pushed = sandbox.push(env, tag)
    assert pushed["previous_digest"] == digest and pushed["digest"] != digest
    moved = verify(env, expected_image=image, websocket=False, health_checks=1)
    assert [c.name for c in moved.checks if not c.ok] == ["serving image"]
    action, reason = deploy_decision(again, moved)  # nothing deployed: no rollback, a human
    assert action == "escalate" and "fails verification: serving image" in reason, reason

    rolled = deploy(env, image, execute=True)
    assert rolled.status == "done" and rolled.new_revision is not None, rolled.plan
    assert rolled.image == f"{repository}@{pushed['digest']}"
    assert f"image: {first.image} -> {rolled.image}" in rolled.plan
    after = read_service(env)
    assert after.serving == {rolled.new_revision: 100}
    assert after.serving_image == rolled.image
    template = services_client(env).get_service(name=service_name(env)).template
    assert template.containers[0].image == rolled.image  # the template names the digest
    assert deploy(env, image, execute=True).status == "unchanged"
    assert deploy(env, rolled.image, execute=True).status == "unchanged"  # as it is


def test_an_older_digest_is_deployed_as_it_is_and_runs_that_build(
    module_sandbox_env: Environment,
) -> None:
    env = module_sandbox_env
    assert env.sandbox is not None
    repository = env.sandbox.initial_image.rsplit(":", 1)[0]
    stale = sandbox.push(env, "main")["uri"]  # a build of the stale branch
    assert stale.startswith(f"{repository}@sha256:") and pinned_image(env, f"{repository}:main") \
        == stale
    change = deploy(env, stale, execute=True, deadline_s=60)
    assert change.status == "done" and change.image == stale
    answer = health(env.backend.url)
    assert answer.ok and answer.version == "main"  # the build that digest was pushed as
    fixed = deploy(env, env.sandbox.initial_image, execute=True, deadline_s=60)
    assert fixed.status == "done" and health(env.backend.url).version == "develop-long-lived"


def test_a_tag_artifact_registry_does_not_have_is_deployed_by_tag_and_the_plan_says_so(
    module_sandbox_env: Environment,
) -> None:
    env = module_sandbox_env
    before = read_service(env)
    elsewhere = f"europe-west1-docker.pkg.dev/{env.project}/netra/netra-backend:develop"
    assert tag_digest(env, elsewhere) is None and pinned_image(env, elsewhere) == elsewhere
    plan = deploy(env, elsewhere)
    assert plan.image == elsewhere and plan.status == "planned"
    assert (f"image {elsewhere}: Artifact Registry has no such tag; deployed by tag, Cloud Run "
            "resolves it when the revision starts (or fails it)") in plan.plan
    assert read_service(env) == before


def test_images_outside_artifact_registry_are_not_asked_about(
    module_sandbox_env: Environment,
) -> None:
    assert tag_digest(module_sandbox_env, "docker.io/library/nginx:latest") is None
    assert tag_digest(module_sandbox_env, "us-central1-docker.pkg.dev/p/r/x@sha256:ab") is None
    assert pinned_image(module_sandbox_env, "docker.io/library/nginx:latest") == (
        "docker.io/library/nginx:latest")
