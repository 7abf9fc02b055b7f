"""The schedule on Cloud Run jobs and Cloud Scheduler, rehearsed on the sandbox through
Google's clients: `--deploy-jobs --execute` creates them, a trigger's "run now" executes the
job (the sandbox runs its command locally), its record lands in the records bucket the
environment names (`records_url`, the emulated Cloud Storage, read back through
google-cloud-storage and `records verify`) and its failure reaches the webhook read from
Secret Manager; `--remove-jobs` leaves none. Also the emulations' Google error shapes, and
the permissions doctor asks for the jobs.

One sandbox for the module; the runbooks are the record tests' small fixture notebooks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from google.api_core import exceptions as gexc
from google.cloud import run_v2, scheduler_v1
from schedule_fakes import NOTEBOOKS, Receiver

from netra_ops.cloud import executions_client, jobs_client, scheduler_client
from netra_ops.cloud.clients import storage_client
from netra_ops.config import Environment
from netra_ops.doctor import doctor
from netra_ops.schedule import job_id_for

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

T = TypeVar("T")
TOKEN = "T0KEN-jobs-sandbox-4b3a2918"
INCIDENT = "INC-JOBS"
HOOK = "NETRA_TEST_JOBS_HOOK"
IMAGE = "us-central1-docker.pkg.dev/netra-sandbox/netra/netra-ops:test"
BUCKET = "netra-sandbox-records"  # the sandbox's records bucket, there from the start
RECORDS = f"gs://{BUCKET}/jobs"


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    yield module_sandbox_env
    grant(module_sandbox_env, None)


def grant(env: Environment, permissions: Sequence[str] | None) -> None:
    body = {"granted_permissions": None if permissions is None else list(permissions)}
    with httpx.Client(trust_env=False, timeout=10) as client:
        client.put(f"{env.api_endpoint}/_sandbox/iam", json=body).raise_for_status()


def put_secret(env: Environment, secret: str, value: str) -> None:
    with httpx.Client(trust_env=False, timeout=10) as client:
        client.put(f"{env.api_endpoint}/_sandbox/secrets/{secret}",
                   json={"value": value}).raise_for_status()


@pytest.fixture(scope="module")
def bucket_env(env: Environment) -> Path:
    """The module's environment file with `records_url` naming the bucket, beside it."""
    path = source(env).with_name("with-bucket.toml")
    path.write_text(f'records_url = "{RECORDS}"\n' + source(env).read_text(encoding="utf-8"),
                    encoding="utf-8")
    return path


def cli(env_file: Path, *args: str, outputs: Path | None = None,
        command: Sequence[str] = ("schedule", "-i", INCIDENT)) -> subprocess.CompletedProcess[str]:
    """`netra-ops schedule` for the module's incident (or `command`), as a user runs it: no
    NETRA_OPS_* of the test's, a staging folder of its own for a bucket's records."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_OPS_")}
    clean["NETRA_OPS_STAGING"] = str(env_file.with_name(f"staging-{time.monotonic_ns()}"))
    return subprocess.run(
        [sys.executable, "-m", "netra_ops", *command, "--env", str(env_file),
         *(["--outputs", str(outputs)] if outputs else []), *args],
        capture_output=True, text=True, timeout=300, env=clean, stdin=subprocess.DEVNULL,
        check=False)


def source(env: Environment) -> Path:
    assert env.source is not None
    return env.source


def parent(env: Environment) -> str:
    return f"projects/{env.project}/locations/{env.region}"


def poll(what: str, check: Callable[[], T | None], deadline_s: float = 240.0) -> T:
    """`check()` until it answers (not None), or fail after a generous deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = check()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {deadline_s:g} s")


def finished(env: Environment, job: str, count: int) -> list[run_v2.Execution]:
    """The job's executions, newest first, once `count` of them have completed."""
    client = executions_client(env)

    def done() -> list[run_v2.Execution] | None:
        found = list(client.list_executions(parent=job))
        complete = [e for e in found if e.completion_time]
        return found if len(complete) >= count else None

    return poll(f"{count} execution(s) of {job}", done)


def test_deployed_jobs_list_run_on_a_trigger_record_in_the_bucket_and_are_removed(
        env: Environment, bucket_env: Path, receiver: Receiver) -> None:
    put_secret(env, HOOK, f"{receiver.url}/hook?token={TOKEN}")
    deployed = cli(bucket_env, "--runbooks",
                   f"{NOTEBOOKS / 'ok.ipynb'},{NOTEBOOKS / 'broken.ipynb'}",
                   "--cadence", "30m for 1h, 1d", "--start", "now", "--deploy-jobs",
                   "--execute", "--webhook", f"env:{HOOK}")
    assert deployed.returncode == 0, deployed.stderr
    job_id = job_id_for(INCIDENT)
    job_name = f"{parent(env)}/jobs/{job_id}"
    assert f"created Cloud Run job {job_id}" in deployed.stdout
    assert f"{job_id}-p1" in deployed.stdout and f"{job_id}-p2" in deployed.stdout

    [job] = list(jobs_client(env).list_jobs(parent=parent(env)))
    assert job.name == job_name and TOKEN not in run_v2.Job.to_json(job)
    [container] = job.template.template.containers
    assert {v.name: v.value for v in container.env}["NETRA_OPS_OUTPUTS"] == RECORDS
    schedules = scheduler_client(env)
    triggers = sorted(schedules.list_jobs(parent=parent(env)), key=lambda j: j.name)
    names = [j.name.rsplit("/", 1)[-1] for j in triggers]
    # phase 1 (two due times) is one line, or two when they fall in different hours
    assert names[-1] == f"{job_id}-p2" and names[:-1] in (
        [f"{job_id}-p1"], [f"{job_id}-p1-1", f"{job_id}-p1-2"]), names
    assert all(j.state == scheduler_v1.Job.State.ENABLED for j in triggers)

    schedules.run_job(name=triggers[0].name)  # Cloud Scheduler's "force run" of phase 1
    [execution] = finished(env, job_name, 1)
    assert execution.failed_count == 1  # broken.ipynb fails: the validation failed
    log = httpx.get(execution.log_uri, timeout=10).text
    assert "ESCALATION:" in log and TOKEN not in log

    storage = storage_client(env)  # the record, as Google's storage client lists it
    prefix = f"{RECORDS.removeprefix(f'gs://{BUCKET}/')}/{INCIDENT}/"
    stored = {b.name.removeprefix(prefix): b for b in storage.list_blobs(BUCKET, prefix=prefix)}
    assert {"schedule.json", "index.json", "index.html", "manifest.json"} <= stored.keys()
    state = json.loads(stored["schedule.json"].download_as_bytes())
    [slot] = state["slots"]
    assert (slot["phase"], slot["status"]) == (1, "failed")
    assert [r["runbook"] for r in slot["runs"]] == ["ok", "broken"]
    for run in slot["runs"]:  # each run's record is named by its place in the bucket
        assert run["record"].startswith(f"{RECORDS}/{INCIDENT}/"), run["record"]
        folder = run["record"].rsplit("/", 1)[-1]
        assert {f"{folder}/{f}" for f in (f"{run['runbook']}.ipynb", "summary.json",
                                          "run.log", "manifest.json")} <= stored.keys()
    [sent] = receiver.received
    assert (sent.body["runbook"], sent.body["incident"]) == ("broken", INCIDENT)
    assert sent.body["record"] == slot["runs"][1]["record"]
    assert slot["runs"][1]["escalation"]["delivered"] is True
    for name, blob in stored.items():
        assert TOKEN.encode() not in blob.download_as_bytes(), name
    verified = cli(bucket_env, command=("records", "verify", INCIDENT))  # a fresh staging
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"ok: {len(stored) - 1} files match the manifest" in verified.stdout

    schedules.run_job(name=triggers[-1].name)  # the daily line, before its phase begins
    latest = finished(env, job_name, 2)[0]
    assert latest.succeeded_count == 1
    assert "nothing due now" in httpx.get(latest.log_uri, timeout=10).text
    again = json.loads(storage.bucket(BUCKET).blob(f"{prefix}schedule.json").download_as_bytes())
    assert len(again["slots"]) == 1
    attempted = schedules.get_job(name=triggers[-1].name)
    assert attempted.last_attempt_time and attempted.status.code == 0

    removed = cli(bucket_env, "--remove-jobs", "--execute")
    assert removed.returncode == 0, removed.stderr
    assert f"no jobs of incident {INCIDENT} remain" in removed.stdout
    assert list(jobs_client(env).list_jobs(parent=parent(env))) == []
    assert list(schedules.list_jobs(parent=parent(env))) == []
    with pytest.raises(gexc.NotFound):
        list(executions_client(env).list_executions(parent=job_name))


def a_job(args: list[str]) -> run_v2.Job:
    return run_v2.Job(template=run_v2.ExecutionTemplate(template=run_v2.TaskTemplate(
        containers=[run_v2.Container(image=IMAGE, args=args)], max_retries=0)))


def test_the_emulated_apis_answer_in_googles_shapes(env: Environment) -> None:
    jobs = jobs_client(env)
    with pytest.raises(gexc.NotFound, match="of kind 'JOB'"):
        jobs.get_job(name=f"{parent(env)}/jobs/nobody")
    created = jobs.create_job(parent=parent(env), job=a_job(["--help"]),
                              job_id="helper").result(timeout=60)
    assert created.name == f"{parent(env)}/jobs/helper" and created.uid
    with pytest.raises(gexc.Conflict, match="Resource 'helper' already exists") as twice:
        jobs.create_job(parent=parent(env), job=a_job(["--help"]), job_id="helper")
    assert twice.value.response.json()["error"]["status"] == "ALREADY_EXISTS"
    with pytest.raises(gexc.BadRequest, match="runs only the netra-ops image"):
        jobs.create_job(parent=parent(env), job=run_v2.Job(template=run_v2.ExecutionTemplate(
            template=run_v2.TaskTemplate(containers=[run_v2.Container(image="busybox")]))),
            job_id="other")
    ran = jobs.run_job(name=created.name).result(timeout=120)  # ends with the execution
    assert ran.succeeded_count == 1 and ran.completion_time
    overrides = run_v2.RunJobRequest.Overrides(container_overrides=[
        run_v2.RunJobRequest.Overrides.ContainerOverride(args=["run", "99_none", "-i", "x"])])
    failing = jobs.run_job(request={"name": created.name, "overrides": overrides})
    with pytest.raises(gexc.GoogleAPICallError, match="failed with exit code 2"):
        failing.result(timeout=120)
    executions = list(executions_client(env).list_executions(parent=created.name))
    assert [e.failed_count for e in executions] == [1, 0]
    assert "no runbook named '99_none'" in httpx.get(executions[0].log_uri, timeout=10).text
    jobs.delete_job(name=created.name).result(timeout=60)
    with pytest.raises(gexc.NotFound):
        jobs.get_job(name=created.name)

    schedules = scheduler_client(env)
    with pytest.raises(gexc.NotFound, match="Job not found"):
        schedules.get_job(name=f"{parent(env)}/jobs/nobody")
    trigger = scheduler_v1.Job(name=f"{parent(env)}/jobs/t1", schedule="*/5 * * * *",
                               http_target=scheduler_v1.HttpTarget(uri="https://example.com/"))
    assert schedules.create_job(parent=parent(env), job=trigger).time_zone == "Etc/UTC"
    with pytest.raises(gexc.Conflict, match="already exists") as twice:
        schedules.create_job(parent=parent(env), job=trigger)
    assert twice.value.response.json()["error"]["status"] == "ALREADY_EXISTS"
    with pytest.raises(gexc.BadRequest, match="five unix-cron fields"):
        schedules.create_job(parent=parent(env), job=scheduler_v1.Job(
            name=f"{parent(env)}/jobs/t2", schedule="whenever", http_target=trigger.http_target))
    schedules.run_job(name=trigger.name)  # its target is not the sandbox's: never called
    refused = poll("the attempt", lambda: (lambda j: j if j.last_attempt_time else None)(
        schedules.get_job(name=trigger.name)))
    assert refused.status.code == 14 and "its own API only" in refused.status.message
    schedules.delete_job(name=trigger.name)
    assert trigger.name not in [j.name for j in schedules.list_jobs(parent=parent(env))]


MISSING = {"run.jobs.create": "roles/run.developer",
           "cloudscheduler.jobs.create": "roles/cloudscheduler.admin",
           "iam.serviceAccounts.actAs": "roles/iam.serviceAccountUser"}


def test_a_missing_job_permission_stops_the_deploy_and_doctor_names_its_role(
        env: Environment, tmp_path: Path) -> None:
    from netra_ops.doctor import REQUIREMENTS

    every = [r.permission for r in REQUIREMENTS]
    deploy = ["--runbooks", str(NOTEBOOKS / "ok.ipynb"), "--deploy-jobs", "--execute"]
    try:
        grant(env, [p for p in every if p not in MISSING])
        report = doctor(env)
        for missing, role in MISSING.items():
            row = report.check(f"permission {missing}")
            assert row.status == "fail" and role in row.detail and f"--role={role}" in row.fix
            assert "schedule --deploy-jobs" in row.detail
        refused = cli(source(env), *deploy, outputs=tmp_path)
        assert refused.returncode == 1 and "run.jobs.create" in refused.stderr, refused.stderr
        assert "netra-ops doctor" in refused.stderr and "done before it: nothing" in \
            refused.stderr
        grant(env, [p for p in every if p != "cloudscheduler.jobs.create"])
        halfway = cli(source(env), *deploy, outputs=tmp_path)
        assert halfway.returncode == 1 and "cloudscheduler.jobs.create" in halfway.stderr
        assert f"done before it: created Cloud Run job {job_id_for(INCIDENT)}" in \
            halfway.stderr
    finally:
        grant(env, None)
    removed = cli(source(env), "--remove-jobs", "--execute", outputs=tmp_path)
    assert removed.returncode == 0 and f"deleted Cloud Run job {job_id_for(INCIDENT)}" in \
        removed.stdout
