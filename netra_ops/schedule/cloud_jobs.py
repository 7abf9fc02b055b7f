"""The validation schedule on Cloud Run jobs and Cloud Scheduler: deploy, list, remove.

`deploy_jobs(env, plan, execute=...)` creates (or updates) the Cloud Run job and the Cloud
Scheduler jobs of a `JobsPlan` (`job_spec`) and deletes this incident's Cloud Scheduler jobs
that the plan no longer has (a new start or cadence); `remove_jobs(env, incident, ...)`
deletes them all when the incident closes; `list_jobs(env, incident)` reads them back. All
through Google's clients (`run_v2.JobsClient` / `ExecutionsClient`, `scheduler_v1`), on
Google or on the sandbox's emulation. Without `execute` nothing is called but the plan is
returned; with it, only an allow-listed environment is changed (`allow_changes`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

import pandas as pd
from google.api_core import exceptions as gexc
from google.cloud import run_v2, scheduler_v1
from google.protobuf import field_mask_pb2

from netra_ops.cloud import api_errors, executions_client, jobs_client, scheduler_client
from netra_ops.config import Environment
from netra_ops.deploy.change import refuse_unless_allowed
from netra_ops.errors import DeployError
from netra_ops.schedule.job_spec import JobsPlan, job_id_for

__all__ = ["JobsChange", "deploy_jobs", "list_jobs", "remove_jobs"]

T = TypeVar("T")
logger = logging.getLogger("netra_ops.schedule")
_TIMEOUT_S = 120.0
_SCHEDULE_FIELDS = ["description", "schedule", "time_zone", "http_target", "retry_config",
                    "attempt_deadline"]


@dataclass
class JobsChange:
    """What deploy or remove did (`done`), or would do (`planned`): one line per resource."""

    action: Literal["deploy", "remove"]
    status: Literal["planned", "done"]
    steps: list[str] = field(default_factory=list)

    @property
    def executed(self) -> bool:
        """Whether anything was called."""
        return self.status == "done"


def deploy_jobs(env: Environment, plan: JobsPlan, *, execute: bool) -> JobsChange:
    """Create or update the plan's Cloud Run job and Cloud Scheduler jobs; delete this
    incident's Cloud Scheduler jobs the plan does not have. ChangesNotAllowedError (before
    any call) for an environment not allow-listed; DeployError for a refused call, naming
    what was done before it."""
    refuse_unless_allowed(env, execute, why="the schedule creates Cloud Run and Cloud "
                                            "Scheduler jobs")
    wanted = {j.name for j in plan.schedules}
    if not execute:
        return JobsChange("deploy", "planned", [f"create Cloud Run job {plan.job_id}"] + [
            f"create Cloud Scheduler job {_short(n)}" for n in sorted(wanted)])
    change = JobsChange("deploy", "done")
    with _calls(env, change, "deploying the schedule's jobs"):
        _put_run_job(env, plan, change)
        schedules = scheduler_client(env)
        for stale in _incident_schedules(env, plan.incident):
            if stale.name not in wanted:
                _call(change, f"deleted Cloud Scheduler job {_short(stale.name)} (not in the "
                      "plan)", partial(schedules.delete_job, name=stale.name))
        for job in plan.schedules:
            _put_schedule(schedules, plan.parent, job, change)
    return change


def remove_jobs(env: Environment, incident: str, *, execute: bool) -> JobsChange:
    """Delete the incident's Cloud Scheduler jobs, then its Cloud Run job (and with it its
    executions). Planned without `execute` (the plan reads what exists)."""
    refuse_unless_allowed(env, execute, why="it deletes Cloud Run and Cloud Scheduler jobs")
    change = JobsChange("remove", "done" if execute else "planned")
    job_name = _job_name(env, incident)
    with _calls(env, change, "removing the schedule's jobs"):
        found = _incident_schedules(env, incident)
        run_job = _get_run_job(env, job_name)
        if not execute:
            change.steps = [f"delete Cloud Scheduler job {_short(j.name)}" for j in found] + (
                [f"delete Cloud Run job {_short(job_name)}"] if run_job else [])
            return change
        schedules = scheduler_client(env)
        for job in found:
            _call(change, f"deleted Cloud Scheduler job {_short(job.name)}",
                  partial(schedules.delete_job, name=job.name))
        if run_job is not None:
            _call(change, f"deleted Cloud Run job {_short(job_name)}", lambda: jobs_client(
                env).delete_job(name=job_name).result(timeout=_TIMEOUT_S))
    return change


def list_jobs(env: Environment, incident: str) -> pd.DataFrame:
    """The incident's Cloud Run job (with its latest execution) and Cloud Scheduler jobs,
    as Google's APIs list them: kind, name, schedule, state, last (attempt or execution)."""
    rows: list[dict[str, Any]] = []
    job_name = _job_name(env, incident)
    with api_errors(env, "listing the schedule's jobs"):
        for job in jobs_client(env).list_jobs(parent=_parent(env)):
            if job.name == job_name:
                rows.append(_run_row(env, job))
        rows += [{"kind": "Cloud Scheduler job", "name": _short(j.name),
                  "schedule": f"{j.schedule} ({j.time_zone})", "state": j.state.name,
                  "last": _attempt(j)} for j in _incident_schedules(env, incident)]
    return pd.DataFrame(rows, columns=["kind", "name", "schedule", "state", "last"])


def _run_row(env: Environment, job: run_v2.Job) -> dict[str, Any]:
    executions = list(executions_client(env).list_executions(parent=job.name))
    last = executions[0] if executions else None
    text = ""
    if last is not None:
        done = next((c for c in last.conditions if c.type_ == "Completed"), None)
        text = f"{_short(last.name)}: " + (done.state.name.removeprefix("CONDITION_")
                                           if done else "PENDING")
    return {"kind": "Cloud Run job", "name": _short(job.name), "schedule": "",
            "state": job.terminal_condition.state.name.removeprefix("CONDITION_"),
            "last": text}


def _attempt(job: scheduler_v1.Job) -> str:
    if not job.last_attempt_time:
        return "never run"
    status = "OK" if job.status.code == 0 else f"code {job.status.code}: {job.status.message}"
    return f"{job.last_attempt_time.isoformat()} {status}"


def _put_run_job(env: Environment, plan: JobsPlan, change: JobsChange) -> None:
    client = jobs_client(env)
    try:
        client.create_job(parent=plan.parent, job=plan.job,
                          job_id=plan.job_id).result(timeout=_TIMEOUT_S)
        change.steps.append(f"created Cloud Run job {plan.job_id}")
    except gexc.Conflict as exc:
        if not _already_exists(exc):
            raise
        job = run_v2.Job(plan.job)
        job.name = plan.job_name
        _call(change, f"updated Cloud Run job {plan.job_id}",
              lambda: client.update_job(job=job).result(timeout=_TIMEOUT_S))


def _put_schedule(client: scheduler_v1.CloudSchedulerClient, parent: str,
                  job: scheduler_v1.Job, change: JobsChange) -> None:
    try:
        client.create_job(parent=parent, job=job)
        change.steps.append(f"created Cloud Scheduler job {_short(job.name)}")
    except gexc.Conflict as exc:
        if not _already_exists(exc):
            raise
        mask = field_mask_pb2.FieldMask(paths=_SCHEDULE_FIELDS)
        _call(change, f"updated Cloud Scheduler job {_short(job.name)}",
              lambda: client.update_job(job=job, update_mask=mask))


def _already_exists(exc: gexc.Conflict) -> bool:
    """Whether a 409 is ALREADY_EXISTS (not ABORTED): over REST google-api-core raises
    Conflict for both; the body's `error.status` tells them apart."""
    if isinstance(exc, gexc.AlreadyExists):
        return True
    try:
        status = exc.response.json()["error"]["status"]  # type: ignore[union-attr]
    except (AttributeError, ValueError, KeyError, TypeError):
        return "already exists" in str(exc.message).lower()
    return bool(status == "ALREADY_EXISTS")


def _incident_schedules(env: Environment, incident: str) -> list[scheduler_v1.Job]:
    prefix = f"{job_id_for(incident)}-p"
    return [j for j in scheduler_client(env).list_jobs(parent=_parent(env))
            if _short(j.name).startswith(prefix)]


def _get_run_job(env: Environment, name: str) -> run_v2.Job | None:
    try:
        return jobs_client(env).get_job(name=name)
    except gexc.NotFound:
        return None


def _call(change: JobsChange, done: str, function: Callable[[], T]) -> T:
    result = function()
    change.steps.append(done)
    logger.info("%s", done)
    return result


@contextmanager
def _calls(env: Environment, change: JobsChange, what: str) -> Iterator[None]:
    """A refused call becomes a DeployError naming it and what was done before it."""
    with api_errors(env, what):
        try:
            yield
        except gexc.ServiceUnavailable:
            raise  # unreachable: api_errors says so
        except gexc.GoogleAPICallError as exc:
            before = "; ".join(change.steps) or "nothing"
            hint = (" (`netra-ops doctor` names the role that grants a missing permission)"
                    if isinstance(exc, gexc.Forbidden) else "")
            raise DeployError(f"{what}: {type(exc).__name__}: {exc.message}{hint}; done before "
                              f"it: {before}") from None


def _parent(env: Environment) -> str:
    return f"projects/{env.project}/locations/{env.region}"


def _job_name(env: Environment, incident: str) -> str:
    return f"{_parent(env)}/jobs/{job_id_for(incident)}"


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]
