"""Staging's Cloud Run in the sandbox, through Google's own clients: three services, images
by digest behind moving tags, revision start-up, cold starts and deploys past their deadline.

Every test runs on this module's own sandbox (real processes on loopback).
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from google.api_core import exceptions as gexc
from google.api_core import operation
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from typer.testing import CliRunner

from netra_ops import sandbox
from netra_ops.cli import app
from netra_ops.config import Environment
from netra_ops.sandbox.runtime.revisions import COLD_START_ENV, IMAGE_BY_DIGEST_ENV, STARTUP_ENV
from tests.conftest import is_alive, recorded_processes

pytestmark = pytest.mark.sandbox

MakeEnv = Callable[[], Environment]


class Run:
    """Google's Cloud Run clients on one sandbox, and plain HTTP for the registry."""

    def __init__(self, env: Environment) -> None:
        options = {"api_endpoint": env.api_endpoint}
        self.env = env
        self.services = run_v2.ServicesClient(
            transport="rest", credentials=AnonymousCredentials(), client_options=options)
        self.revisions = run_v2.RevisionsClient(
            transport="rest", credentials=AnonymousCredentials(), client_options=options)
        self.http = httpx.Client(trust_env=False, timeout=30)
        self.parent = f"projects/{env.project}/locations/{env.region}"

    def name(self, role: str) -> str:
        return f"{self.parent}/services/{self.env.services[role].name}"  # type: ignore[index]

    def deploy(self, role: str, env: dict[str, str], *, annotation: str | None = None,
               timeout: float = 90) -> run_v2.Service:
        """Set these env vars (and a template annotation) on a service and wait."""
        deploying = self.start_deploy(role, env, annotation=annotation)
        result: run_v2.Service = deploying.result(timeout=timeout)
        return result

    def start_deploy(self, role: str, env: dict[str, str], *,
                     annotation: str | None = None) -> operation.Operation:
        service = self.services.get_service(name=self.name(role))
        container = service.template.containers[0]
        values = {e.name: e.value for e in container.env} | env
        del container.env[:]
        container.env.extend(run_v2.EnvVar(name=k, value=v) for k, v in values.items())
        if annotation is not None:
            service.template.annotations["netra-ops/build"] = annotation
        return self.services.update_service(service=service)

    def latest(self, role: str) -> run_v2.Revision:
        service = self.services.get_service(name=self.name(role))
        return self.revisions.get_revision(name=service.latest_created_revision)

    def registry(self, path: str) -> httpx.Response:
        return self.http.get(f"{self.env.api_endpoint}/v1/{self.parent}/repositories/netra"
                             f"{path}")


@pytest.fixture(scope="module")
def run(module_sandbox_env: Environment) -> Iterator[Run]:
    clients = Run(module_sandbox_env)
    yield clients
    clients.services.transport.close()
    clients.revisions.transport.close()
    clients.http.close()


def _pid(run: Run, revision: str) -> int:
    assert run.env.sandbox is not None
    for path in sorted(run.env.sandbox.state_dir.glob("revisions*.json")):
        for record in json.loads(path.read_text())["revisions"]:
            if record["name"] == revision:
                return int(record["pid"])
    raise AssertionError(f"no recorded process for {revision}")


def test_three_services_with_revisions_traffic_env_and_limits(run: Run) -> None:
    services = list(run.services.list_services(parent=run.parent))
    assert sorted(s.name for s in services) == sorted(
        run.name(role) for role in ("auth", "backend", "frontend"))
    for service in services:
        assert service.latest_ready_revision == service.latest_created_revision
        assert [(t.percent, t.revision) for t in service.traffic_statuses] == [
            (100, service.latest_ready_revision.rsplit("/", 1)[-1])]
        assert list(run.revisions.list_revisions(parent=service.name))
    auth = run.services.get_service(name=run.name("auth"))
    limits = dict(auth.template.containers[0].resources.limits)
    assert limits == {"memory": run.env.auth.memory, "cpu": f"{run.env.auth.cpu:g}"}
    assert "/netra-auth:" in auth.template.containers[0].image


def test_a_deploy_of_auth_restarts_it_with_the_new_template(run: Run) -> None:
    before = run.latest("auth")
    after = run.deploy("auth", {"FEATURE_FLAG": "on"})
    revision = run.latest("auth")
    assert revision.name != before.name and after.latest_ready_revision == revision.name
    assert {e.name: e.value for e in revision.containers[0].env}["FEATURE_FLAG"] == "on"
    new_pid, old_pid = _pid(run, revision.name.rsplit("/", 1)[-1]), _pid(
        run, before.name.rsplit("/", 1)[-1])
    assert new_pid != old_pid and is_alive(new_pid)
    login = run.http.post(run.env.auth.url + "/auth/login", json={"email": "x@y.z",
                                                                  "password": "wrong"})
    assert login.status_code == 401  # the new auth revision answers through the service URL


def test_a_push_moves_the_tag_and_revisions_keep_the_digest_they_resolved(run: Run) -> None:
    run.deploy("backend", {IMAGE_BY_DIGEST_ENV: "true"})
    first = run.latest("backend")
    template = run.services.get_service(name=run.name("backend")).template.containers[0].image
    tag = template.rsplit(":", 1)[1]
    resolved = run.registry(f"/packages/netra-backend/tags/{tag}").json()["version"]
    digest = resolved.rsplit("/", 1)[1]
    assert first.containers[0].image == template.rsplit(":", 1)[0] + "@" + digest
    assert template.endswith(":" + tag)  # the service's template names the tag as given

    result = CliRunner().invoke(app, ["sandbox", "push", tag, "--env", str(run.env.source)])
    assert result.exit_code == 0, result.output
    moved = run.registry(f"/packages/netra-backend/tags/{tag}").json()["version"]
    new_digest = moved.rsplit("/", 1)[1]
    assert new_digest != digest and new_digest in result.output
    assert run.latest("backend").containers[0].image.endswith("@" + digest)  # unchanged

    images = {i["uri"].rsplit("@", 1)[1]: i for i in run.registry("/dockerImages").json()[
        "dockerImages"] if "/netra-backend@" in i["uri"]}
    assert images[new_digest]["tags"] == [tag] and "tags" not in images[digest]
    got = run.registry(f"/dockerImages/netra-backend@{new_digest}")
    assert got.status_code == 200 and got.json()["uri"].endswith("@" + new_digest)

    run.deploy("backend", {})  # the same template: Cloud Run creates no revision
    assert run.latest("backend").name == first.name
    run.deploy("backend", {}, annotation=new_digest)  # a changed template resolves again
    assert run.latest("backend").containers[0].image.endswith("@" + new_digest)


def test_start_up_holds_the_operation_past_a_short_deadline(run: Run) -> None:
    serving = run.services.get_service(name=run.name("frontend")).traffic_statuses[0].revision
    deploying = run.start_deploy("frontend", {STARTUP_ENV: "6"})
    with pytest.raises(concurrent.futures.TimeoutError):
        deploying.result(timeout=1.0)
    service = run.services.get_service(name=run.name("frontend"))
    assert service.reconciling and service.traffic_statuses[0].revision == serving
    assert run.http.get(run.env.frontend.url + "/").status_code == 200  # the old one serves
    done = deploying.result(timeout=90)
    revision = run.latest("frontend")
    assert done.latest_ready_revision == revision.name
    ready = next(c for c in revision.conditions if c.type_ == "Ready")
    took = ready.last_transition_time - revision.create_time
    assert took >= timedelta(seconds=6), took


def test_a_new_revision_answers_its_first_requests_after_a_cold_start(run: Run) -> None:
    run.deploy("backend", {COLD_START_ENV: "2"})
    revision = run.latest("backend").name.rsplit("/", 1)[-1]
    started = time.monotonic()
    first = run.http.get(run.env.backend.url + "/health")
    waited = time.monotonic() - started
    assert first.status_code == 200 and first.json()["revision"] == revision
    assert waited >= 2.0, waited
    for _ in range(3):
        assert run.http.get(run.env.backend.url + "/health").status_code == 200
    log = sandbox.logs(run.env, "platform", 400)
    assert log.count(f"revision {revision}: cold start") == 1  # once per instance


def test_an_image_by_digest_runs_the_build_it_was_pushed_as_or_fails_if_unknown(
        run: Run) -> None:
    pushed = sandbox.push(run.env, "main")  # a build of the stale branch, under its tag
    service = run.services.get_service(name=run.name("backend"))
    service.template.containers[0].image = pushed["uri"]
    run.services.update_service(service=service).result(timeout=90)
    revision = run.latest("backend")
    assert revision.containers[0].image == pushed["uri"]  # REPO@sha256:..., as deployed
    assert run.http.get(run.env.backend.url + "/health").json()["version"] == "main"

    serving = run.services.get_service(name=run.name("backend")).traffic_statuses[0].revision
    unknown = pushed["uri"].rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    service = run.services.get_service(name=run.name("backend"))
    service.template.containers[0].image = unknown
    with pytest.raises(gexc.FailedPrecondition, match=f"Image '{unknown}' not found"):
        run.services.update_service(service=service).result(timeout=90)
    failed = run.latest("backend")
    ready = next(c for c in failed.conditions if c.type_ == "Ready")
    assert ready.state == run_v2.Condition.State.CONDITION_FAILED
    assert ready.reason == run_v2.Condition.CommonReason.CONTAINER_MISSING
    after = run.services.get_service(name=run.name("backend"))
    assert after.traffic_statuses[0].revision == serving  # traffic stays


def test_limits_timeout_and_concurrency_are_applied_and_read_back_as_cloud_run_does(
        run: Run) -> None:
    service = run.services.get_service(name=run.name("frontend"))
    service.template.containers[0].resources.limits.update({"memory": "1Gi", "cpu": "2"})
    service.template.timeout = timedelta(seconds=120)
    service.template.max_instance_request_concurrency = 40
    run.services.update_service(service=service).result(timeout=90)
    revision = run.latest("frontend")
    assert dict(revision.containers[0].resources.limits) == {"memory": "1Gi", "cpu": "2"}
    assert revision.timeout == timedelta(seconds=120)
    assert revision.max_instance_request_concurrency == 40
    raw = run.http.get(f"{run.env.api_endpoint}/v2/{revision.name}").json()  # v2's JSON
    assert (raw["timeout"], raw["maxInstanceRequestConcurrency"]) == ("120s", 40)
    assert raw["containers"][0]["resources"]["limits"] == {"memory": "1Gi", "cpu": "2"}
    assert run.http.get(run.env.frontend.url + "/").status_code == 200  # it really runs

    refused = [({"cpu": "3"}, 0, 0, "Invalid value specified for cpu: 3"),
               ({"cpu": "4", "memory": "1Gi"}, 0, 0,
                "For 4 CPU, memory must be between 2Gi and 16Gi inclusive"),
               ({}, 3601, 0, "must be between 1s and 3600s"),
               ({}, 0, 1001, "must be between 1 and 1000"),
               ({"cpu": "0.5", "memory": "512Mi"}, 0, 80,
                "Total cpu < 1 is not supported with concurrency > 1")]
    for limits, timeout_s, concurrency, message in refused:
        service = run.services.get_service(name=run.name("frontend"))
        service.template.containers[0].resources.limits.update(limits)
        if timeout_s:
            service.template.timeout = timedelta(seconds=timeout_s)
        if concurrency:
            service.template.max_instance_request_concurrency = concurrency
        with pytest.raises(gexc.BadRequest, match=message):
            run.services.update_service(service=service)
    assert run.latest("frontend").name == revision.name  # nothing was created

    service = run.services.get_service(name=run.name("frontend"))
    service.template.containers[0].resources.limits.update({"memory": "512Mi", "cpu": "0.5"})
    service.template.max_instance_request_concurrency = 0  # unset: Cloud Run's default
    run.services.update_service(service=service).result(timeout=90)
    assert run.latest("frontend").max_instance_request_concurrency == 1  # below one CPU


def test_down_leaves_no_process_of_any_service(make_sandbox_env: MakeEnv) -> None:
    env = make_sandbox_env()
    sandbox.up(env)
    processes = recorded_processes(env)
    assert len(processes) == 4  # the platform and one revision per service
    sandbox.down(env)
    assert [pid for pid, created in processes if is_alive(pid, created)] == []


def test_the_realistic_scenario_turns_it_all_on_for_the_three_services(run: Run) -> None:
    revision = sandbox.apply_scenario(run.env, "realistic")
    assert revision["state"] == "ready", revision.get("reason")
    for role in ("auth", "backend", "frontend"):
        latest = run.latest(role)
        env = {e.name: e.value for e in latest.containers[0].env}
        assert env[STARTUP_ENV] == "8" and env[COLD_START_ENV] == "3", role
        assert "@sha256:" in latest.containers[0].image, role
        ready = next(c for c in latest.conditions if c.type_ == "Ready")
        assert ready.last_transition_time - latest.create_time >= timedelta(seconds=8), role
    backend = {e.name: e.value for e in run.latest("backend").containers[0].env}
    assert backend["NETRA_AGENT_TURN_S"] == "3-8"
    observability = run.http.get(f"{run.env.api_endpoint}/_sandbox/observability").json()
    assert observability["monitoring"]["delay_s"] == 60
    assert observability["logging"]["delay_s"] == 5
