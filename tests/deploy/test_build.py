"""Builds of the release through google-cloud-build against the sandbox's Cloud Build
emulation: plan, build, a failing build, the deadline, and runbooks 01 -> 02 with a build.

One sandbox for the module; its emulated Cloud Build builds commits of the sandbox's
rehearsal repository and pushes to its Artifact Registry.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core import exceptions as gexc
from google.cloud.devtools import cloudbuild_v1

from netra_ops import deploy, probe
from netra_ops.cloud import (
    builds_client,
    docker_build_step,
    get_build,
    submit_build,
    tag_digest,
    wait_build,
)
from netra_ops.config import Environment
from netra_ops.errors import BuildError, ChangesNotAllowedError, ConfigError
from netra_ops.record import run_notebook

pytestmark = [pytest.mark.sandbox]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def git(env: Environment, *args: str) -> str:
    assert env.preflight.repository is not None
    return subprocess.run(["git", "-C", str(env.preflight.repository), *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def api(env: Environment) -> str:
    assert env.api_endpoint is not None
    return env.api_endpoint


@pytest.fixture
def slow_steps(env: Environment) -> Iterator[None]:
    """Build steps of a second each (the realistic scenario's), then the default again."""
    httpx.put(f"{api(env)}/_sandbox/builds", json={"step_s": 1.0}).raise_for_status()
    yield
    httpx.put(f"{api(env)}/_sandbox/builds", json={"step_s": 0.02}).raise_for_status()


def test_the_plan_names_the_commit_and_builds_nothing(env: Environment) -> None:
    head = git(env, "rev-parse", "develop-long-lived")
    plan = deploy.build(env)
    assert (plan.status, plan.executed, plan.commit, dict(plan.images)) == (
        "planned", False, head, {})
    backend = plan.tags["backend"]
    assert backend == (f"{backend[1].rsplit(':', 1)[0]}:{head}", deploy.release_image(env))
    assert plan.dockerfiles["backend"] == "deployment/docker/backend.gcp.Dockerfile"
    assert list(plan.to_frame()["role"]) == ["auth", "backend", "frontend"]
    assert tag_digest(env, backend[0]) is None  # nothing pushed under the commit's tag
    alpine = deploy.build(env, head[:10], alpine=True)
    assert alpine.commit == head
    assert alpine.dockerfiles["auth"] == "dockerfiles/auth.staging.alpine.Dockerfile"


def test_a_build_pushes_every_service_by_digest_under_both_tags(env: Environment) -> None:
    result = deploy.build(env, execute=True)
    assert result.status == "success" and result.build_id and result.log_url
    for role, image in result.images.items():
        repository, _, digest = image.partition("@")
        commit_tag, release_tag = result.tags[role]
        assert digest.startswith("sha256:") and commit_tag.startswith(repository + ":")
        assert tag_digest(env, commit_tag) == digest == tag_digest(env, release_tag)
    read = builds_client(env).get_build(
        name=f"projects/{env.project}/locations/{env.region}/builds/{result.build_id}")
    assert read.status == cloudbuild_v1.Build.Status.SUCCESS
    assert read.source_provenance.resolved_git_source.revision == result.commit
    assert {i.name: i.digest for i in read.results.images}[result.tags["backend"][0]] == \
        result.images["backend"].partition("@")[2]
    assert "DONE" in httpx.get(result.log_url).text
    assert result.audit is not None and result.audit.after == dict(result.images)


def test_an_image_built_from_the_stale_commit_is_stale_by_digest(env: Environment) -> None:
    stale = deploy.build(env, "main", execute=True)
    change = deploy.deploy(env, stale.image("backend"), execute=True, deadline_s=60)
    assert change.status == "done", change.error
    assert deploy.read_service(env).serving_image == stale.image("backend")
    run = probe.golden_path(env)
    assert not run.ok and "session_id" in (run.error or "")
    fixed = deploy.build(env, execute=True)
    assert deploy.deploy(env, fixed.image("backend"), execute=True, deadline_s=60).ok
    assert probe.golden_path(env).ok


def test_a_failing_build_names_its_step_and_the_logs_last_lines(env: Environment) -> None:
    release = deploy.release_image(env)
    before = tag_digest(env, release)
    with pytest.raises(BuildError) as failed:
        deploy.build(env, "broken-build", execute=True)
    error = failed.value
    assert error.step == "build-backend" and error.build_id
    assert any("COPY failed: file not found" in line for line in error.log_tail)
    assert "build-backend" in str(error) and "COPY failed" in str(error)
    assert error.log_tail[-1].startswith("ERROR: build step 1")
    assert tag_digest(env, release) == before  # nothing was pushed
    run = get_build(env, f"projects/{env.project}/locations/{env.region}/builds/"
                         f"{error.build_id}")
    assert run.status == "FAILURE" and run.failed_step is not None
    assert run.failed_step.id == "build-backend"


@pytest.mark.usefixtures("slow_steps")
def test_a_build_past_its_deadline_is_cancelled(env: Environment) -> None:
    release = deploy.release_image(env)
    before = tag_digest(env, release)
    with pytest.raises(BuildError, match="deadline of 1 s and was cancelled at") as late:
        deploy.build(env, execute=True, deadline_s=1.0)  # fetch 0.5 s, then 1 s a step
    assert late.value.build_id and late.value.log_tail[-1] == "CANCELLED"
    run = get_build(env, f"projects/{env.project}/locations/{env.region}/builds/"
                         f"{late.value.build_id}")
    assert run.status == "CANCELLED" and run.images == ()
    assert late.value.step == run.failed_at and run.failed_at in ("fetch source", "build-auth")
    assert tag_digest(env, release) == before


def test_builds_change_nothing_where_changes_are_not_allowed(env: Environment) -> None:
    locked = env.model_copy(update={"allow_changes": False})
    assert deploy.build(locked).status == "planned"
    with pytest.raises(ChangesNotAllowedError, match="pushes images"):
        deploy.build(locked, execute=True)


def test_a_commit_the_repository_lacks_is_refused_before_building(env: Environment) -> None:
    with pytest.raises(ConfigError, match="is not a commit or branch of"):
        deploy.build(env, "no-such-branch", execute=True)
    plan = deploy.build(env, "f" * 40)  # e.g. 01 checked another checkout: the plan says so
    assert plan.commit == "f" * 40 and "a build would refuse it" in plan.plan[-1]
    with pytest.raises(ConfigError, match="build must be one of cloud, local, none"):
        deploy.build_release(env, "gcloud")
    skipped = deploy.build_release(env, "none")
    assert skipped.status == "skipped" and skipped.deploy_image("x:1") == "x:1"
    assert list(skipped.to_frame()["note"]) == ["nothing built (build = none): the deploy runs "
                                                "that image"]


def test_the_emulation_fails_a_fetch_of_an_unknown_commit(env: Environment) -> None:
    assert env.preflight.repository is not None
    image = deploy.release_image(env)
    queued, operation = submit_build(
        env, git_url=f"file://{env.preflight.repository.resolve()}", commit="f" * 40,
        steps=[docker_build_step("build-backend", [image],
                                 deploy.dockerfile("backend"))],
        images=[image], timeout_s=60)
    assert queued.status == "QUEUED"
    run = wait_build(env, operation, queued, 30)
    assert run is not None and run.status == "FAILURE"
    assert run.failure and "is not a commit of" in run.failure


def test_the_emulation_refuses_what_it_does_not_build(env: Environment) -> None:
    client = builds_client(env)
    image = deploy.release_image(env)
    step = docker_build_step("build-backend", [image], deploy.dockerfile("backend"))
    elsewhere = cloudbuild_v1.Build(
        source=cloudbuild_v1.Source(git_source=cloudbuild_v1.GitSource(
            url="https://github.com/netra-systems/zen.git", revision="main")),
        steps=[step], images=[image])
    with pytest.raises(gexc.BadRequest, match="not the sandbox's rehearsal repository"):
        client.create_build(project_id=env.project, build=elsewhere)
    with pytest.raises(gexc.Forbidden):
        client.create_build(project_id="another-project", build=elsewhere)
    with pytest.raises(gexc.NotFound):
        client.get_build(project_id=env.project, id="no-such-build")
    built = deploy.build(env, execute=True)  # what it does build, it lists
    listed = {b.id: b.status for b in client.list_builds(project_id=env.project)}
    assert listed[built.build_id] == cloudbuild_v1.Build.Status.SUCCESS


def test_the_build_command_prints_the_plan(env: Environment) -> None:
    done = subprocess.run([sys.executable, "-m", "netra_ops", "build", "--env",
                           str(env.source), "--use-alpine"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "dockerfiles/backend.staging.alpine.Dockerfile" in done.stdout
    assert f"commit:  {git(env, 'rev-parse', 'develop-long-lived')}" in done.stdout
    assert "plan only" in done.stdout


def run_runbook(env: Environment, outputs: Path, runbook: str,
                **parameters: object) -> tuple[int, dict[str, Any]]:
    """Run a runbook headless (as `netra-ops run` does) in incident INC-build."""
    result = run_notebook(runbook, environment=str(env.source), incident="INC-build",
                          parameters=parameters, outputs_dir=outputs)
    return result.exit_code, result.summary


@pytest.mark.slow
def test_runbook_02_builds_the_commit_01_checked_and_deploys_its_digest(
        env: Environment, tmp_path: Path) -> None:
    code, checked = run_runbook(env, tmp_path, "01_preflight")
    assert code == 0, checked["failing_cell"]
    commit = checked["records"]["release_commit"]
    assert commit == git(env, "rev-parse", "develop-long-lived")
    before = deploy.read_service(env).serving_revision

    code, shipped = run_runbook(env, tmp_path, "02_deploy", execute=True)
    assert code == 0, shipped["failing_cell"]
    records = shipped["records"]
    backend = records["build.images"]["backend"]
    assert records["build.commit"] == commit and records["build.mode"] == "cloud"
    assert records["build.id"] and "@sha256:" in backend
    assert records["image"] == backend == records["serving_image"]
    assert records["new_revision"] and records["revision_before"] == before
    assert deploy.read_service(env).serving_image == backend
