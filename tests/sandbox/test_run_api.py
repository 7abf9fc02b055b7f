"""The Cloud Run Admin v2 emulation, driven by Google's own client (google-cloud-run, REST).

Read-only checks use the session's sandbox; the deploys run on a sandbox of this module.
Each deploying test first sends traffic back to LATEST, so it does not depend on the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google.api import launch_stage_pb2
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from google.protobuf import field_mask_pb2

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.sandbox.control.scenarios import image_with_tag
from netra_ops.sandbox.runtime.state import StatePaths

pytestmark = pytest.mark.sandbox

LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
SUCCEEDED = run_v2.Condition.State.CONDITION_SUCCEEDED
FAILED = run_v2.Condition.State.CONDITION_FAILED
MakeEnv = Callable[[], Environment]
Alive = Callable[[int, float | None], bool]


@dataclass
class Run:
    """Google's Cloud Run clients pointed at one sandbox, and plain HTTP for the rest."""

    env: Environment
    services: run_v2.ServicesClient
    revisions: run_v2.RevisionsClient
    http: httpx.Client

    @property
    def name(self) -> str:
        return f"projects/{self.env.project}/locations/{self.env.region}/services/" \
               f"{self.env.backend.name}"

    def image(self, tag: str) -> str:
        assert self.env.sandbox is not None
        return image_with_tag(self.env.sandbox.initial_image, tag)

    def get(self) -> run_v2.Service:
        return self.services.get_service(name=self.name)

    def update(self, service: run_v2.Service, **request: Any) -> run_v2.Service:
        operation = self.services.update_service(request={"service": service, **request})
        result: run_v2.Service = operation.result(timeout=60)
        return result

    def deploy(self, tag: str) -> run_v2.Service:
        service = self.get()
        service.template.containers[0].image = self.image(tag)
        return self.update(service)

    def route(self, *targets: tuple[str | None, int]) -> run_v2.Service:
        """Set traffic: (short revision name, percent), None for LATEST."""
        service = self.get()
        service.traffic.clear()
        for revision, percent in targets:
            service.traffic.append(run_v2.TrafficTarget(
                type_=LATEST if revision is None else REVISION, revision=revision or "",
                percent=percent))
        return self.update(service)

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(
            f"{self.env.api_endpoint}/_sandbox/status").raise_for_status().json()
        return answer

    def process(self, short: str) -> dict[str, Any]:
        return next(r for r in self.status()["revisions"] if r["name"] == short)

    def serving(self) -> str:
        """The revision that answers the service URL now."""
        revision: str = self.http.get(self.env.backend.url + "/health").json()["revision"]
        return revision

    def close(self) -> None:
        self.services.transport.close()
        self.revisions.transport.close()
        self.http.close()


def short(full_name: str) -> str:
    return full_name.rsplit("/", 1)[-1]


def statuses(service: run_v2.Service) -> list[tuple[str, str, int]]:
    return [(t.type_.name.rsplit("_", 1)[-1], t.revision, t.percent)
            for t in service.traffic_statuses]


def ready_condition(revision: run_v2.Revision) -> run_v2.Condition:
    return next(c for c in revision.conditions if c.type_ == "Ready")


def clients(env: Environment) -> Run:
    options = {"api_endpoint": env.api_endpoint}
    return Run(
        env,
        run_v2.ServicesClient(transport="rest", credentials=AnonymousCredentials(),
                              client_options=options),
        run_v2.RevisionsClient(transport="rest", credentials=AnonymousCredentials(),
                               client_options=options),
        httpx.Client(trust_env=False, timeout=10),
    )


@pytest.fixture(scope="module")
def shared(sandbox_env: Environment) -> Iterator[Run]:
    """Clients of the session's sandbox (read-only use)."""
    run = clients(sandbox_env)
    yield run
    run.close()


@pytest.fixture(scope="module")
def run(make_sandbox_env: MakeEnv, process_alive: Alive) -> Iterator[Run]:
    """Clients of a sandbox of this module's own, stopped at the end with all it started."""
    env = make_sandbox_env()
    sandbox.up(env)
    run = clients(env)
    try:
        yield run
    finally:
        run.close()
        saved = json.loads(StatePaths.of(env).revisions_json.read_text())["revisions"]
        sandbox.down(env)
        assert not [r["name"] for r in saved if r["pid"]
                    and process_alive(r["pid"], r["create_time"])]


@pytest.fixture
def latest(run: Run) -> Run:
    """The module's sandbox with traffic following the latest ready revision."""
    if [t.type_ for t in run.get().traffic] != [LATEST]:
        run.route((None, 100))
    return run


# -- reading (the session's sandbox) ---------------------------------------------------------


def test_get_service_shows_the_initial_revision_serving_everything(shared: Run) -> None:
    service = shared.get()
    env = shared.env
    assert service.name == shared.name
    alias = env.backend.url.replace("127.0.0.1", "localhost")
    assert service.uri == env.backend.url and list(service.urls) == [alias, env.backend.url]
    assert httpx.get(alias + "/health", timeout=10, trust_env=False).status_code == 200
    assert service.generation >= 1 and service.observed_generation == service.generation
    assert not service.reconciling and service.terminal_condition.state == SUCCEEDED
    assert service.etag and service.uid and service.create_time and service.creator
    assert launch_stage_pb2.LaunchStage.Name(service.launch_stage) == "GA"
    assert service.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL
    assert {c.type_ for c in service.conditions} == {"RoutesReady", "ConfigurationsReady"}
    container = service.template.containers[0]
    assert container.image == shared.image("develop-long-lived")
    assert {v.name: v.value for v in container.env}["AUTH_SERVICE_URL"] == env.auth.url
    assert dict(container.resources.limits) == {"memory": "4Gi", "cpu": "4"}
    assert [(t.type_, t.percent) for t in service.traffic] == [(LATEST, 100)]
    first = short(service.latest_ready_revision)
    assert service.latest_created_revision == service.latest_ready_revision
    assert service.latest_ready_revision == f"{shared.name}/revisions/{first}"
    assert statuses(service) == [("LATEST", first, 100)]
    assert shared.serving() == first


def test_list_services_and_revisions(shared: Run) -> None:
    parent = f"projects/{shared.env.project}/locations/{shared.env.region}"
    names = [s.name for s in shared.services.list_services(parent=parent)]
    assert names == sorted(f"{parent}/services/{s.name}" for s in (
        shared.env.backend, shared.env.auth, shared.env.frontend))
    assert list(shared.services.list_services(
        parent=f"projects/{shared.env.project}/locations/europe-west1")) == []
    revisions = list(shared.revisions.list_revisions(parent=shared.name))
    assert revisions and revisions[0].name == shared.get().latest_created_revision
    revision = shared.revisions.get_revision(name=revisions[0].name)
    assert revision.service == shared.name and revision.uid and revision.create_time
    assert ready_condition(revision).state == SUCCEEDED and not revision.reconciling
    assert revision.containers[0].image == shared.image("develop-long-lived")
    # the whole log: the default tail (200 lines) may hold only other tests' agent turns
    log = shared.http.get(revision.log_uri, params={"lines": 10_000})
    assert log.status_code == 200 and "revision ready" in log.text


def test_unknown_service_revision_and_project_are_google_errors(shared: Run) -> None:
    with pytest.raises(gexc.NotFound, match=r"'nope' of kind 'SERVICE'.*does not exist"):
        shared.services.get_service(name=shared.name.rsplit("/", 1)[0] + "/nope")
    with pytest.raises(gexc.NotFound, match="of kind 'REVISION'"):
        shared.revisions.get_revision(name=f"{shared.name}/revisions/nope-00001-abc")
    with pytest.raises(gexc.Forbidden, match="emulates project 'netra-sandbox' only"):
        shared.services.get_service(name=shared.name.replace("netra-sandbox", "someone-else"))
    answer = shared.http.get(f"{shared.env.api_endpoint}/v2/projects/p/locations/l/workerPools")
    assert answer.status_code == 404 and answer.json()["error"]["status"] == "NOT_FOUND"


# -- deploying (this module's sandbox) -------------------------------------------------------


def test_a_new_image_starts_a_new_revision_process_and_moves_traffic(latest: Run) -> None:
    before = latest.get()
    old = short(before.latest_ready_revision)
    old_pid = latest.process(old)["pid"]
    service = latest.get()
    service.template.containers[0].image = latest.image("main")
    operation = latest.services.update_service(service=service)
    assert not operation.done()  # the revision starts in the background
    running = operation.metadata
    assert running.reconciling and running.generation == before.generation + 1
    new = short(running.latest_created_revision)
    assert new != old and running.latest_ready_revision == before.latest_ready_revision
    result = operation.result(timeout=60)

    assert isinstance(result, run_v2.Service)  # the response's @type was understood
    assert short(result.latest_ready_revision) == new and not result.reconciling
    assert result.observed_generation == result.generation
    assert statuses(result) == [("LATEST", new, 100)]
    assert result.template.containers[0].image == latest.image("main")
    process = latest.process(new)
    assert process["state"] == "ready" and process["pid"] not in (None, old_pid)
    assert process["image"] == latest.image("main")
    assert latest.serving() == new

    back = latest.deploy("develop-long-lived")  # and back to the fixed build
    newest = short(back.latest_ready_revision)
    assert newest not in (old, new) and statuses(back) == [("LATEST", newest, 100)]
    assert latest.serving() == newest


def test_an_identical_update_creates_no_revision(latest: Run) -> None:
    before = latest.get()
    count = len(latest.status()["revisions"])
    after = latest.update(before)
    assert after.generation == before.generation
    assert after.latest_created_revision == before.latest_created_revision
    assert len(latest.status()["revisions"]) == count


def test_a_revision_that_cannot_start_fails_the_operation_and_keeps_traffic(
        latest: Run) -> None:
    before = latest.get()
    serving = short(before.latest_ready_revision)
    with pytest.raises(gexc.FailedPrecondition) as caught:
        latest.deploy("crash-on-start")
    message = str(caught.value)
    assert "is not ready and cannot serve traffic" in message
    assert "crash build" in message and "/_sandbox/revisions/" in message

    after = latest.get()
    failed = short(after.latest_created_revision)
    assert failed != serving and short(after.latest_ready_revision) == serving
    assert statuses(after) == [("LATEST", serving, 100)] and latest.serving() == serving
    assert after.template.containers[0].image == latest.image("crash-on-start")
    assert after.terminal_condition.state == FAILED
    revision = latest.revisions.get_revision(name=after.latest_created_revision)
    condition = ready_condition(revision)
    assert condition.state == FAILED and "exited with code 1" in condition.message
    assert latest.process(failed)["state"] == "failed"
    listed = {r.name: ready_condition(r).state
              for r in latest.revisions.list_revisions(parent=latest.name)}
    assert listed[after.latest_created_revision] == FAILED
    assert listed[before.latest_ready_revision] == SUCCEEDED


def test_traffic_pinned_to_a_revision_stays_through_a_deploy(latest: Run) -> None:
    pinned = short(latest.get().latest_ready_revision)
    routed = latest.route((pinned, 100))
    assert statuses(routed) == [("REVISION", pinned, 100)]

    deployed = latest.deploy("main")
    new = short(deployed.latest_ready_revision)
    assert new != pinned and statuses(deployed) == [("REVISION", pinned, 100)]
    assert [(t.type_, t.revision) for t in deployed.traffic] == [(REVISION, pinned)]
    assert latest.serving() == pinned

    followed = latest.route((None, 100))  # back to LATEST: the new revision serves
    assert statuses(followed) == [("LATEST", new, 100)] and latest.serving() == new


def test_a_traffic_only_rollback_serves_the_old_image_at_once(latest: Run) -> None:
    good = short(latest.deploy("develop-long-lived").latest_ready_revision)
    bad = latest.deploy("main")
    count = len(latest.status()["revisions"])

    started = time.monotonic()
    rolled = latest.route((good, 100))
    assert latest.serving() == good
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"rollback took {elapsed:.2f} s"  # generous: busy machine; that no
    # revision starts is checked below, by count
    assert statuses(rolled) == [("REVISION", good, 100)]
    assert rolled.template.containers[0].image == latest.image("main")  # the template stays
    served = latest.revisions.get_revision(name=f"{latest.name}/revisions/{good}")
    assert served.containers[0].image == latest.image("develop-long-lived")
    assert rolled.latest_created_revision == bad.latest_created_revision
    assert len(latest.status()["revisions"]) == count  # no revision was created


def test_split_traffic_and_bad_traffic(latest: Run) -> None:
    current = latest.get()
    newest = short(current.latest_ready_revision)
    older = next(short(r.name) for r in latest.revisions.list_revisions(parent=latest.name)
                 if ready_condition(r).state == SUCCEEDED and short(r.name) != newest)
    split = latest.route((None, 50), (older, 50))
    assert sorted(statuses(split)) == sorted([("LATEST", newest, 50), ("REVISION", older, 50)])
    assert {latest.serving() for _ in range(6)} == {newest, older}

    failed = [short(r.name) for r in latest.revisions.list_revisions(parent=latest.name)
              if ready_condition(r).state == FAILED]
    bad: list[tuple[tuple[tuple[str | None, int], ...], str]] = [
        (((older, 60),), "must sum to 100, got 60"),
        ((("nope-00009-xyz", 100),), "no revision 'nope-00009-xyz'"),
        (((older, 50), (older, 50)), "names a revision twice"),
    ]
    if failed:
        bad.append((((failed[0], 100),), "is failed; only ready revisions can serve"))
    for targets, message in bad:
        with pytest.raises(gexc.BadRequest, match=message) as caught:
            latest.route(*targets)
        assert caught.value.response.json()["error"]["status"] == "INVALID_ARGUMENT"
    tagged = latest.get()
    tagged.traffic[0].tag = "canary"
    with pytest.raises(gexc.BadRequest, match="tags are not emulated"):
        latest.update(tagged)
    assert sorted(statuses(latest.get())) == sorted(statuses(split))  # unchanged


def test_update_mask_validate_only_etag_and_unsupported_fields(latest: Run) -> None:
    before = latest.get()
    preview = latest.services.update_service(request={
        "service": run_v2.Service(name=latest.name, template=run_v2.RevisionTemplate(
            containers=[run_v2.Container(image=latest.image("preview"))])),
        "validate_only": True})
    assert preview.done() and preview.result().template.containers[0].image.endswith(":preview")
    assert latest.get().generation == before.generation  # nothing persisted

    labelled = latest.update(run_v2.Service(name=latest.name, labels={"team": "netra"}),
                             update_mask=field_mask_pb2.FieldMask(paths=["labels"]))
    assert dict(labelled.labels) == {"team": "netra"}
    assert labelled.generation == before.generation + 1
    assert labelled.template == before.template and labelled.traffic == before.traffic

    stale = before  # read before the labels changed: its etag is old
    stale.template.containers[0].image = latest.image("main")
    with pytest.raises(gexc.Conflict, match="etag"):
        latest.services.update_service(service=stale)

    for bad, message in (("command", "does not emulate command"),
                         ("PORT", "reserved env names were provided: PORT")):
        service = latest.get()
        if bad == "command":
            service.template.containers[0].command.append("serve")
        else:
            service.template.containers[0].env.append(run_v2.EnvVar(name="PORT", value="1"))
        with pytest.raises(gexc.BadRequest, match=message):
            latest.services.update_service(service=service)


def test_traffic_pinned_while_a_deploy_starts_stays_pinned(latest: Run) -> None:
    serving = latest.serving()
    service = latest.get()
    service.template.containers[0].env.append(run_v2.EnvVar(name="EXTRA", value="1"))
    deploying = latest.services.update_service(service=service)
    new = short(deploying.metadata.latest_created_revision)
    pinned = latest.route((serving, 100))  # a second update while the first one runs
    assert statuses(pinned) == [("REVISION", serving, 100)]

    deployed = deploying.result(timeout=60)
    assert short(deployed.latest_ready_revision) == new
    assert deployed.template.containers[0].env[-1].name == "EXTRA"
    assert statuses(deployed) == [("REVISION", serving, 100)]  # the newest rules won
    assert latest.serving() == serving
    assert latest.get().observed_generation == latest.get().generation


def test_operations_can_be_listed_waited_for_and_deleted(latest: Run) -> None:
    parent = f"{latest.env.api_endpoint}/v2/projects/{latest.env.project}/locations/" \
             f"{latest.env.region}/operations"
    operations = latest.http.get(parent).json()["operations"]
    assert operations and all(op["done"] for op in operations)
    newest = operations[0]["name"]
    waited = latest.http.post(f"{latest.env.api_endpoint}/v2/{newest}:wait",
                              json={"timeout": "5s"}).json()
    assert waited["done"] and waited["metadata"]["@type"].endswith("cloud.run.v2.Service")
    assert latest.http.delete(f"{latest.env.api_endpoint}/v2/{newest}").status_code == 200
    assert latest.http.get(f"{latest.env.api_endpoint}/v2/{newest}").status_code == 404


def test_a_revision_scaled_to_zero_starts_again_when_sent_traffic(latest: Run) -> None:
    tags = iter(["main", "develop-long-lived"] * 4)
    while not any(r["state"] == "stopped" for r in latest.status()["revisions"]):
        latest.deploy(next(tags))
    stopped = next(r for r in latest.status()["revisions"] if r["state"] == "stopped")
    revision = latest.revisions.get_revision(name=f"{latest.name}/revisions/{stopped['name']}")
    active = next(c for c in revision.conditions if c.type_ == "Active")
    assert active.revision_reason.name == "RETIRED" and ready_condition(revision).state == SUCCEEDED

    routed = latest.route((stopped["name"], 100))
    assert statuses(routed) == [("REVISION", stopped["name"], 100)]
    process = latest.process(stopped["name"])
    assert process["state"] == "ready" and process["pid"] != stopped["pid"]
    assert latest.serving() == stopped["name"]


def test_iam_permissions_answer_from_the_granted_set(latest: Run) -> None:
    asked = ["run.services.get", "run.services.update", "run.revisions.list"]
    answer = latest.services.test_iam_permissions(request={
        "resource": latest.name, "permissions": asked})
    assert list(answer.permissions) == asked  # default: everything is granted
    iam = f"{latest.env.api_endpoint}/_sandbox/iam"
    latest.http.put(iam, json={"granted_permissions": ["run.services.get"]}).raise_for_status()
    try:
        answer = latest.services.test_iam_permissions(request={
            "resource": latest.name, "permissions": asked})
        assert list(answer.permissions) == ["run.services.get"]
        assert latest.get().name == latest.name
        with pytest.raises(gexc.Forbidden, match=r"'run\.services\.update' denied"):
            latest.services.update_service(service=latest.get())
        with pytest.raises(gexc.Forbidden, match=r"'run\.revisions\.list' denied"):
            list(latest.revisions.list_revisions(parent=latest.name))
    finally:
        latest.http.put(iam, json={"granted_permissions": None}).raise_for_status()
    with pytest.raises(gexc.BadRequest, match="not valid"):
        latest.services.test_iam_permissions(request={"resource": latest.name,
                                                      "permissions": ["bogus"]})
