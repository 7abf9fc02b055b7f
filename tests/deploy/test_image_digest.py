"""A new build pushed under the same tag rolls out: deploy compares digests, as staging needs.

Against a sandbox of the module's own, whose backend reports images by digest as Cloud Run
does (NETRA_RUN_IMAGE_BY_DIGEST), through google-cloud-run and Artifact Registry's REST API.
"""

from __future__ import annotations

import pytest

from netra_ops import sandbox
from netra_ops.cloud import (
    IMAGE_DIGEST_ANNOTATION,
    new_build,
    service_name,
    services_client,
    tag_digest,
)
from netra_ops.config import Environment
from netra_ops.deploy import deploy, deploy_decision, read_service, verify
from netra_ops.sandbox.runtime.revisions import IMAGE_BY_DIGEST_ENV

pytestmark = [pytest.mark.sandbox]


def test_a_push_under_the_same_tag_is_deployed_as_a_new_revision(
    module_sandbox_env: Environment,
) -> None:
    env = module_sandbox_env
    assert env.sandbox is not None
    image = env.sandbox.initial_image
    first = deploy(env, image, env_vars={IMAGE_BY_DIGEST_ENV: "true"}, execute=True)
    assert first.status == "done" and first.new_revision is not None
    digest = tag_digest(env, image)
    assert digest is not None and read_service(env).serving_image == (
        image.rsplit(":", 1)[0] + "@" + digest)

    again = deploy(env, image, execute=True)
    assert again.status == "unchanged" and again.plan == ()
    # Verified by digest: the revision reports REPO@sha256:..., the tag names that digest.
    checks = verify(env, expected_image=image, websocket=False, health_checks=1)
    assert checks.ok, checks.to_frame()
    action, reason = deploy_decision(again, checks)
    assert action == "continue" and reason.startswith("unchanged: nothing to deploy"), reason

    tag = image.rsplit(":", 1)[1]
    pushed = sandbox.push(env, tag)
    assert pushed["previous_digest"] == digest and pushed["digest"] != digest
    assert new_build(env, read_service(env), image) == pushed["digest"]
    moved = verify(env, expected_image=image, websocket=False, health_checks=1)
    assert [c.name for c in moved.checks if not c.ok] == ["serving image"]
    action, reason = deploy_decision(again, moved)  # nothing deployed: no rollback, a human
    assert action == "escalate" and "fails verification: serving image" in reason, reason
    rolled = deploy(env, image, execute=True)
    assert rolled.status == "done" and rolled.new_revision is not None, rolled.plan
    assert any(f"now names {pushed['digest']}" in step for step in rolled.plan)
    after = read_service(env)
    assert after.serving_revision == rolled.new_revision
    assert after.serving_image is not None and after.serving_image.endswith(pushed["digest"])
    template = services_client(env).get_service(name=service_name(env)).template
    assert template.annotations[IMAGE_DIGEST_ANNOTATION] == pushed["digest"]
    assert template.containers[0].image == image  # the template still names the tag

    settled = deploy(env, image, execute=True)
    assert settled.status == "unchanged", settled.plan


def test_images_outside_artifact_registry_are_not_asked_about(
    module_sandbox_env: Environment,
) -> None:
    assert tag_digest(module_sandbox_env, "docker.io/library/nginx:latest") is None
    assert tag_digest(module_sandbox_env, "us-central1-docker.pkg.dev/p/r/x@sha256:ab") is None
