"""The validation schedule as Google Cloud resources: one Cloud Run job, Cloud Scheduler jobs.

`plan_jobs(env, schedule, ...)` builds, without calling anything, what `netra-ops schedule
--deploy-jobs` creates (`cloud_jobs` creates it):

- a **Cloud Run job** `netra-validate-<incident>-<hash>` running the netra-ops image (its
  entrypoint is the CLI) with the command line of one triggered validation:
  `netra-ops schedule --incident ID --env ENV --cadence C --start START --runbooks ...
  -p RUNBOOK.key=value ... --due-now [--webhook env:NAME]`. One task, no retries (a failed
  validation is escalated, not run again), a task timeout of the cadence's shortest
  interval (10 min at least). Its environment: `NETRA_OPS_OUTPUTS`, the records location
  each run writes its record to, and the webhook URL as a **Secret Manager** reference
  (`valueSource.secretKeyRef`, never the URL itself);
- a **Cloud Scheduler job** per cron line of each phase of the cadence (`cron`'s
  `phase_cron_fields`, in UTC: a phase with a duration names its dates, the open-ended one
  repeats), each calling Cloud Run's `jobs.run` with an OAuth token of the jobs' service
  account and the override `NETRA_OPS_PHASE=N`: the execution validates only a due time of
  its phase (a dated cron line fires again next year, the open-ended one fires before its
  phase begins: those triggers run nothing).

The start is taken to the whole minute (cron fires at whole minutes; a start with seconds
would make each trigger come before its due time).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from google.cloud import run_v2, scheduler_v1
from google.protobuf import duration_pb2

from netra_ops.config import Environment
from netra_ops.errors import ParameterError
from netra_ops.record.incident import is_bucket_url, outputs_root, records_location
from netra_ops.schedule.cron import phase_cron_fields
from netra_ops.schedule.scheduler import Schedule, absolute_if_path, runbook_argument

__all__ = [
    "IMAGE_OUTPUTS",
    "JOB_PREFIX",
    "PHASE_ENV",
    "RECORDS_ENV",
    "JobsPlan",
    "WebhookSecret",
    "default_image",
    "default_service_account",
    "job_id_for",
    "plan_jobs",
    "webhook_secret",
]

RECORDS_ENV = "NETRA_OPS_OUTPUTS"
"""The records location a job's run writes to (what `--outputs` defaults to in the CLI)."""

PHASE_ENV = "NETRA_OPS_PHASE"
"""Set by each Cloud Scheduler job's override: the phase its trigger stands for."""

IMAGE_OUTPUTS = "/app/outputs"
"""The records folder inside the image (the Dockerfile's WORKDIR is /app)."""

JOB_PREFIX = "netra-validate"
_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_MIN_TIMEOUT = timedelta(minutes=10)
_MAX_TIMEOUT = timedelta(hours=24)
_ATTEMPT_DEADLINE_S = 180
_LIMITS = {"cpu": "1", "memory": "2Gi"}


@dataclass(frozen=True)
class WebhookSecret:
    """The escalation webhook of a job: the variable the container reads its URL from
    (`--webhook env:NAME` in its command) and the Secret Manager secret that fills it."""

    env_name: str
    secret: str
    version: str = "latest"


def webhook_secret(option: str | None, secret: str | None = None) -> WebhookSecret | None:
    """`--webhook env:NAME` (and `--webhook-secret SECRET[:VERSION]`, default NAME) as a
    job's WebhookSecret; None without a webhook. ParameterError for a URL or `file:`: in
    a job spec the URL would be plain text for anyone who can read the job."""
    if option is None:
        if secret:
            raise ParameterError("--webhook-secret names where --webhook env:NAME comes "
                                 "from; give --webhook env:NAME too")
        return None
    if not option.startswith("env:") or not _ENV_NAME.fullmatch(option[4:]):
        raise ParameterError("with --deploy-jobs the webhook must be --webhook env:NAME: the "
                             "job reads NAME from a Secret Manager secret (--webhook-secret, "
                             "default NAME); a URL or file: would be written into the job spec")
    name = option[4:]
    secret_id, _, version = (secret or name).partition(":")
    if not _SECRET_ID.fullmatch(secret_id) or (version and not (
            version == "latest" or version.isdigit())):
        raise ParameterError(f"--webhook-secret {secret!r}: a Secret Manager secret id "
                             "(letters, digits, '-', '_'), optionally :VERSION (a number or "
                             "latest)")
    return WebhookSecret(name, secret_id, version or "latest")


def job_id_for(incident: str) -> str:
    """The Cloud Run job id of an incident: `netra-validate-<slug>-<6 hex>` (lowercase,
    at most 63 characters; the hash keeps `INC_1` and `inc-1` apart)."""
    digest = hashlib.sha256(incident.encode()).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9]+", "-", incident.lower()).strip("-")
    room = 63 - len(JOB_PREFIX) - len(digest) - 2
    return f"{JOB_PREFIX}-{slug[:room].strip('-') or 'incident'}-{digest}"


def default_image(env: Environment, tag: str) -> str:
    """`REGION-docker.pkg.dev/PROJECT/netra/netra-ops:TAG`, beside the platform's images."""
    return f"{env.region}-docker.pkg.dev/{env.project}/netra/netra-ops:{tag}"


def default_service_account(env: Environment) -> str:
    """`netra-ops-jobs@PROJECT.iam.gserviceaccount.com`: runs the job, and Cloud Scheduler
    calls Cloud Run as it."""
    return f"netra-ops-jobs@{env.project}.iam.gserviceaccount.com"


@dataclass(frozen=True)
class JobsPlan:
    """What `--deploy-jobs` creates, and what to know about it (`notes`)."""

    incident: str
    parent: str
    job_id: str
    job: run_v2.Job
    schedules: tuple[scheduler_v1.Job, ...]
    records: str
    start: datetime
    notes: tuple[str, ...] = ()

    @property
    def job_name(self) -> str:
        """projects/P/locations/L/jobs/J."""
        return f"{self.parent}/jobs/{self.job_id}"

    @property
    def schedule_prefix(self) -> str:
        """The id prefix of this incident's Cloud Scheduler jobs."""
        return f"{self.job_id}-p"

    def to_frame(self) -> pd.DataFrame:
        """One row per resource: kind, name, schedule (UTC), what it does."""
        container = self.job.template.template.containers[0]
        rows = [{"kind": "Cloud Run job", "name": self.job_id, "schedule": "",
                 "what": f"{container.image}: netra-ops {' '.join(container.args)}"}]
        rows += [{"kind": "Cloud Scheduler job", "name": j.name.rsplit("/", 1)[-1],
                  "schedule": f"{j.schedule} ({j.time_zone})", "what": j.description}
                 for j in self.schedules]
        return pd.DataFrame(rows, columns=["kind", "name", "schedule", "what"])


def plan_jobs(env: Environment, schedule: Schedule, *, image: str, service_account: str,
              webhook: WebhookSecret | None, now: datetime) -> JobsPlan:
    """The Cloud Run job and Cloud Scheduler jobs of `schedule` on `env` (see the module
    docstring); nothing is called."""
    start = schedule.start_at(now).astimezone(UTC).replace(second=0, microsecond=0)
    parent = f"projects/{env.project}/locations/{env.region}"
    job_id = job_id_for(schedule.incident)
    records, notes = _records(env, schedule)
    job = run_v2.Job(
        labels={"netra-ops": "validation", "incident": job_id.removeprefix(f"{JOB_PREFIX}-")},
        annotations={"netra-ops/incident": schedule.incident,
                     "netra-ops/start": start.isoformat(),
                     "netra-ops/cadence": str(schedule.cadence)},
        template=run_v2.ExecutionTemplate(task_count=1, parallelism=1, template=run_v2.TaskTemplate(
            containers=[run_v2.Container(
                name="netra-ops", image=image, args=container_args(env, schedule, start, webhook),
                env=_env(records, webhook),
                resources=run_v2.ResourceRequirements(limits=_LIMITS))],
            max_retries=0, timeout=_seconds(_task_timeout(schedule)),
            service_account=service_account)))
    schedules = tuple(_schedules(env, schedule, start, f"{parent}/jobs/{job_id}",
                                 service_account))
    if env.kind == "gcp" and Path(schedule.environment).suffix == ".toml":
        notes += (f"--env {schedule.environment} is a file: the image holds only the "
                  "environments/ of the repository it was built from; use a name from there",)
    if webhook is None:
        notes += ("no --webhook: a failed validation is only logged (ESCALATION: lines in "
                  "the job's log)",)
    else:
        notes += (f"the webhook URL is read from Secret Manager secret {webhook.secret} "
                  f"(version {webhook.version}) into {webhook.env_name}: create it first "
                  f"(gcloud secrets create {webhook.secret} --data-file=-"
                  + ("; on the sandbox: PUT /_sandbox/secrets/" + webhook.secret
                     if env.kind == "sandbox" else "") + ")",)
    return JobsPlan(schedule.incident, parent, job_id, job, schedules, records, start, notes)


def container_args(env: Environment, schedule: Schedule, start: datetime,
                   webhook: WebhookSecret | None) -> list[str]:
    """The job's command line after `netra-ops`: one triggered validation (`--due-now`)."""
    args = ["schedule", "--incident", schedule.incident,
            "--env", str(env.source) if env.kind == "sandbox" and env.source
            else absolute_if_path(schedule.environment),
            "--cadence", str(schedule.cadence), "--start", start.isoformat(),
            "--runbooks", ",".join(runbook_argument(v) for v in schedule.validations)]
    for validation in schedule.validations:
        for key, value in validation.parameters.items():
            args += ["-p", f"{validation.runbook}.{key}={json.dumps(value)}"]
    args += [f"--cell-timeout={schedule.cell_timeout_s:g}"] if schedule.cell_timeout_s else []
    args += [f"--deadline={schedule.deadline_s:g}"] if schedule.deadline_s else []
    args += ["--webhook", f"env:{webhook.env_name}"] if webhook else []
    return [*args, "--due-now"]


def _records(env: Environment, schedule: Schedule) -> tuple[str, tuple[str, ...]]:
    """The records location the job's runs write to, and a note when it does not last: a
    bucket (`--outputs gs://...` or the environment's `records_url`) as it is; else, on the
    sandbox, this machine's folder (the sandbox runs the job here), on Google the image's."""
    chosen = records_location(schedule.outputs_dir, str(env.source or env.name))
    if is_bucket_url(chosen):
        return chosen, ()
    if env.kind == "sandbox":
        return str(outputs_root(schedule.outputs_dir, str(env.source or env.name))), ()
    where = str(schedule.outputs_dir) if schedule.outputs_dir else IMAGE_OUTPUTS
    return where, (f"records go to {where} inside the container: they last only as long as "
                   "the task; set records_url = \"gs://BUCKET/PREFIX\" in the environment "
                   "(or --outputs gs://...) to keep them in a bucket",)


def _env(records: str, webhook: WebhookSecret | None) -> list[run_v2.EnvVar]:
    variables = [run_v2.EnvVar(name=RECORDS_ENV, value=records)]
    if webhook is not None:
        variables.append(run_v2.EnvVar(name=webhook.env_name, value_source=run_v2.EnvVarSource(
            secret_key_ref=run_v2.SecretKeySelector(secret=webhook.secret,
                                                    version=webhook.version))))
    return variables


def _schedules(env: Environment, schedule: Schedule, start: datetime, job_name: str,
               service_account: str) -> list[scheduler_v1.Job]:
    root = (env.api_endpoint or "https://run.googleapis.com").rstrip("/")
    parent = job_name.rsplit("/jobs/", 1)[0]
    job_id = job_name.rsplit("/", 1)[-1]
    found = []
    for index, phase, begin, end in schedule.cadence.spans(start):
        lines = phase_cron_fields(phase, begin, end)
        for number, (fields, _) in enumerate(lines, 1):
            suffix = f"-{number}" if len(lines) > 1 else ""
            body = {"overrides": {"containerOverrides": [
                {"env": [{"name": PHASE_ENV, "value": str(index + 1)}]}]}}
            found.append(scheduler_v1.Job(
                name=f"{parent}/jobs/{job_id}-p{index + 1}{suffix}",
                description=(f"netra-ops {schedule.incident}: validation phase {index + 1} "
                             f"({phase.describe()}), from {begin.isoformat()}"
                             + (f" until {end.isoformat()}" if end else "")),
                schedule=fields, time_zone="Etc/UTC",
                http_target=scheduler_v1.HttpTarget(
                    uri=f"{root}/v2/{job_name}:run",
                    http_method=scheduler_v1.HttpMethod.POST,
                    headers={"Content-Type": "application/json"},
                    body=json.dumps(body).encode(),
                    oauth_token=scheduler_v1.OAuthToken(
                        service_account_email=service_account, scope=_SCOPE)),
                retry_config=scheduler_v1.RetryConfig(retry_count=0),
                attempt_deadline=_seconds(timedelta(seconds=_ATTEMPT_DEADLINE_S))))
    return found


def _task_timeout(schedule: Schedule) -> timedelta:
    shortest = min(p.every for p in schedule.cadence.phases)
    return min(max(shortest, _MIN_TIMEOUT), _MAX_TIMEOUT)


def _seconds(delta: timedelta) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(delta.total_seconds()))
