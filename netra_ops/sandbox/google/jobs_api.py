"""Cloud Run Admin API v2 emulation of jobs and their executions (REST), run locally.

Routes, on the API port, in the paths and JSON shapes of `run.googleapis.com` (google-cloud-
run's own `Job` and `Execution` messages, rendered as proto3 JSON):

    POST   /v2/projects/P/locations/L/jobs?jobId=J               jobs.create -> Operation
    GET    /v2/projects/P/locations/L/jobs[/J]                   jobs.list / jobs.get
    PATCH  /v2/projects/P/locations/L/jobs/J                     jobs.patch -> Operation
    DELETE /v2/projects/P/locations/L/jobs/J                     jobs.delete -> Operation
    POST   /v2/projects/P/locations/L/jobs/J:run                 jobs.run -> Operation
    GET    /v2/projects/P/locations/L/jobs/J/executions[/E]      executions.list / get
    DELETE /v2/projects/P/locations/L/jobs/J/executions/E        executions.delete
    POST   /v2/projects/P/locations/L/jobs/J/executions/E:cancel executions.cancel
    GET    /_sandbox/executions/E/log          an execution's output (its `logUri`)
    PUT|DELETE /_sandbox/secrets/S  {"value"}  the sandbox's stand-in for Secret Manager
                                               secret S (what `secretKeyRef` env reads)

Google's clients, pointed here: `run_v2.JobsClient` / `run_v2.ExecutionsClient`
(`transport="rest"`, anonymous credentials, `api_endpoint` this port). Operations are
Cloud Run's (`/v2/projects/P/locations/L/operations/O`, served by `run_api`): creating,
updating and deleting a job end at once with the Job as response; running one ends when its
execution does, with the Execution as response, or with an `error` (FAILED_PRECONDITION,
the execution's message) when it failed or was cancelled; while it runs its metadata is the
live Execution.

An execution runs its one task locally (`job_tasks`): the netra-ops image's command as a
subprocess, its output in `<state_dir>/logs/jobs/E.log`. A task that exits non-zero is
retried up to `maxRetries` times (Cloud Run's default 3 when unset), one past its `timeout`
(default 600 s) is stopped. What the sandbox does not emulate is an INVALID_ARGUMENT naming
it: more than one task, volumes, VPC access, images other than netra-ops'.

Errors are Google's: 404 NOT_FOUND "Resource 'J' of kind 'JOB' ... does not exist.", 409
ALREADY_EXISTS "Resource 'J' already exists.", 403 PERMISSION_DENIED for another project or
a permission not granted (`run.jobs.create`, `.get`, `.list`, `.update`, `.delete`,
`.run`, `run.executions.get`, `.list`, `.delete`, `.cancel`; the granted set of
`/_sandbox/iam`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api import launch_stage_pb2
from google.cloud import run_v2
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.errors import GoogleApiError, guarded, invalid, json_body
from netra_ops.sandbox.google.job_tasks import (
    TaskSpec,
    container_env,
    local_command,
    run_task,
    secret_path,
)
from netra_ops.sandbox.google.run_api import CloudRunEmulator, listing
from netra_ops.sandbox.google.run_resources import list_page, to_json
from netra_ops.sandbox.runtime.state import StatePaths

__all__ = ["CloudRunJobsEmulator", "jobs_routes"]

JobPb = run_v2.Job.pb()
ExecutionPb = run_v2.Execution.pb()
ConditionPb = run_v2.Condition.pb()
_State = run_v2.Condition.State
_Reason = run_v2.Condition.ExecutionReason
_Completion = run_v2.ExecutionReference.CompletionStatus
_GA = launch_stage_pb2.LaunchStage.Value("GA")
_FAILED_PRECONDITION = 9
_CREATOR = "anonymous@sandbox.invalid"
_JOB_ID = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_DEFAULT_TIMEOUT_S = 600
_DEFAULT_RETRIES = 3
_KEEP_EXECUTIONS = 100
_NOT_EMULATED = ("volumes", "vpc_access", "encryption_key", "node_selector")


@dataclass
class _Execution:
    """One execution: its message (kept up to date) and the task running it."""

    message: Message
    job_id: str
    task: asyncio.Task[None] | None = None
    cancelled: bool = False

    @property
    def short(self) -> str:
        return str(self.message.name).rsplit("/", 1)[-1]

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


@dataclass
class _Job:
    message: Message
    executions: OrderedDict[str, _Execution] = field(default_factory=OrderedDict)


class CloudRunJobsEmulator:
    """Jobs and executions of the Cloud Run emulation `run` (its project, region, granted
    permissions and operations); executions run locally under `paths`."""

    def __init__(self, run: CloudRunEmulator, paths: StatePaths, *, api_url: str) -> None:
        self.run = run
        self.paths = paths
        self.api_url = api_url
        self._jobs: dict[str, _Job] = {}

    @property
    def parent(self) -> str:
        return f"projects/{self.run.names.project}/locations/{self.run.names.location}"

    # -- access ----------------------------------------------------------------------------
    def here(self, project: str, location: str, permission: str) -> bool:
        """Whether P/L is the sandbox's (PERMISSION_DENIED for another project or a
        permission not granted)."""
        return self.run.check_parent(project, location, permission) and \
            location == self.run.names.location

    def job(self, project: str, location: str, job_id: str, permission: str) -> _Job:
        """The job P/L/J; NOT_FOUND otherwise."""
        found = self._jobs.get(job_id) if self.here(project, location, permission) else None
        if found is None:
            raise GoogleApiError(404, "NOT_FOUND", f"Resource '{job_id}' of kind 'JOB' in "
                                 f"region '{location}' in project '{project}' does not exist.")
        return found

    def execution(self, job: _Job, execution_id: str) -> _Execution:
        """An execution of the job; NOT_FOUND otherwise."""
        found = job.executions.get(execution_id)
        if found is None:
            raise GoogleApiError(404, "NOT_FOUND", f"Resource '{execution_id}' of kind "
                                 f"'EXECUTION' in region '{self.run.names.location}' in "
                                 f"project '{self.run.names.project}' does not exist.")
        return found

    def has(self, job_id: str) -> bool:
        """Whether a job of that id exists."""
        return job_id in self._jobs

    def jobs(self) -> list[Message]:
        """Every job, by name."""
        return [self._jobs[k].message for k in sorted(self._jobs)]

    # -- jobs ------------------------------------------------------------------------------
    def create(self, job_id: str, body: dict[str, Any], *, validate_only: bool) -> Message:
        """jobs.create: the finished Operation's Job (kept unless `validate_only`)."""
        if not _JOB_ID.fullmatch(job_id or ""):
            raise invalid(f"jobId {job_id!r}: a job name must use only lowercase letters, "
                          "digits and '-', begin with a letter, not end with '-', and be at "
                          "most 63 characters")
        if job_id in self._jobs:
            raise GoogleApiError(409, "ALREADY_EXISTS", f"Resource '{job_id}' already exists.")
        message = self._parse(body, f"{self.parent}/jobs/{job_id}")
        message.uid = str(uuid.uuid4())
        message.generation = message.observed_generation = 1
        message.creator = message.last_modifier = _CREATOR
        message.create_time.GetCurrentTime()
        message.update_time.CopyFrom(message.create_time)
        message.launch_stage = message.launch_stage or _GA
        message.terminal_condition.CopyFrom(_condition("Ready", _State.CONDITION_SUCCEEDED))
        message.etag = _etag(message)
        if not validate_only:
            self._jobs[job_id] = _Job(message)
        return message

    def update(self, job: _Job, body: dict[str, Any], *, validate_only: bool) -> Message:
        """jobs.patch: the job's template, labels and annotations replaced."""
        wanted = self._parse(body, job.message.name)
        if wanted.etag and wanted.etag != job.message.etag:
            raise GoogleApiError(409, "ABORTED", f"etag {wanted.etag} does not match the "
                                 f"job's current etag {job.message.etag}; get it and retry")
        updated = JobPb()
        updated.CopyFrom(job.message)
        for name in ("template", "labels", "annotations", "client", "client_version"):
            updated.ClearField(name)
        for name in ("template", "labels", "annotations", "client", "client_version"):
            _copy(updated, wanted, name)
        updated.generation = updated.observed_generation = job.message.generation + 1
        updated.last_modifier = _CREATOR
        updated.update_time.GetCurrentTime()
        updated.etag = _etag(updated)
        if not validate_only:
            job.message = updated
        return updated

    async def delete(self, job: _Job) -> Message:
        """jobs.delete: running executions are cancelled, the job and its executions go."""
        for execution in job.executions.values():
            await self._cancel(execution)
        self._jobs.pop(job.message.name.rsplit("/", 1)[-1], None)
        gone = JobPb()
        gone.CopyFrom(job.message)
        gone.delete_time.GetCurrentTime()
        return gone

    def _parse(self, body: dict[str, Any], name: str) -> Message:
        message = JobPb()
        try:
            json_format.ParseDict(body, message)
        except json_format.ParseError as exc:
            raise invalid(f"Invalid JSON payload received: {exc}") from None
        for output_only in ("uid", "generation", "create_time", "update_time", "delete_time",
                            "creator", "last_modifier", "terminal_condition", "conditions",
                            "execution_count", "latest_created_execution", "reconciling",
                            "observed_generation"):
            message.ClearField(output_only)
        if message.name and message.name != name:
            raise invalid(f"job.name {message.name!r} does not match {name!r}")
        message.name = name
        self._check_template(message.template)
        account = message.template.template.service_account
        if account:  # running as a service account is acting as it
            self.run.require("iam.serviceAccounts.actAs", f"projects/-/serviceAccounts/{account}")
        return message

    def _check_template(self, execution: Message) -> None:
        if execution.task_count > 1 or execution.parallelism > 1:
            raise invalid("template.taskCount / parallelism above 1 is not emulated: the "
                          "sandbox runs one task per execution")
        task = execution.template
        for name in sorted({f.name for f, _ in task.ListFields()} & set(_NOT_EMULATED)):
            raise invalid(f"template.template.{name} is not emulated by the sandbox")
        if len(task.containers) != 1:
            raise invalid("template.template.containers: the sandbox runs exactly one "
                          f"container, got {len(task.containers)}")
        container = task.containers[0]
        if not container.image.strip():
            raise invalid("template.template.containers[0].image is required")
        try:
            local_command(container.image, list(container.command), list(container.args))
        except SandboxError as exc:
            raise invalid(str(exc)) from None
        for variable in container.env:
            if variable.HasField("value_source") and not \
                    variable.value_source.secret_key_ref.secret:
                raise invalid(f"env {variable.name}: valueSource.secretKeyRef.secret is "
                              "required")

    # -- executions ------------------------------------------------------------------------
    def start(self, job: _Job, body: dict[str, Any]) -> tuple[_Execution, Any]:
        """jobs.run: a new execution of the job (with the request's overrides), started;
        with its operation."""
        request = run_v2.RunJobRequest.pb()()
        try:
            json_format.ParseDict(body, request)
        except json_format.ParseError as exc:
            raise invalid(f"Invalid JSON payload received: {exc}") from None
        if request.etag and request.etag != job.message.etag:
            raise GoogleApiError(409, "ABORTED", f"etag {request.etag} does not match the "
                                 f"job's current etag {job.message.etag}")
        job_id = job.message.name.rsplit("/", 1)[-1]
        name = f"{job.message.name}/executions/{job_id}-{_suffix()}"
        message = ExecutionPb(name=name, uid=str(uuid.uuid4()), creator=_CREATOR,
                              generation=1, job=job_id, launch_stage=_GA, task_count=1,
                              parallelism=1, reconciling=True, observed_generation=1)
        message.template.CopyFrom(job.message.template.template)
        _apply_overrides(message, request.overrides)
        message.labels.update({"run.googleapis.com/job": job_id})
        message.create_time.GetCurrentTime()
        message.update_time.CopyFrom(message.create_time)
        message.log_uri = f"{self.api_url}/_sandbox/executions/{name.rsplit('/', 1)[-1]}/log"
        message.conditions.extend([_condition("Completed", _State.CONDITION_PENDING),
                                   _condition("ResourcesAvailable", _State.CONDITION_PENDING)])
        message.etag = _etag(message)
        execution = _Execution(message, job_id)
        job.executions[execution.short] = execution
        while len(job.executions) > _KEEP_EXECUTIONS:
            job.executions.popitem(last=False)
        job.message.execution_count += 1
        job.message.latest_created_execution.name = name
        job.message.latest_created_execution.create_time.CopyFrom(message.create_time)
        job.message.latest_created_execution.completion_status = _Completion.EXECUTION_PENDING
        operation = self.run.track(lambda: execution.message)
        execution.task = asyncio.ensure_future(self._execute(job, execution, operation))
        return execution, operation

    async def _execute(self, job: _Job, execution: _Execution, operation: Any) -> None:
        message = execution.message
        code: int | None = None
        reason = ""
        try:
            spec = self._task(execution)
            message.start_time.GetCurrentTime()
            message.running_count = 1
            _set_condition(message, "ResourcesAvailable", _State.CONDITION_SUCCEEDED)
            _set_condition(message, "Started", _State.CONDITION_SUCCEEDED)
            job.message.latest_created_execution.completion_status = \
                _Completion.EXECUTION_RUNNING
            code = await self._attempts(execution, spec)
        except SandboxError as exc:  # a secret that is not there: the task never starts
            reason = str(exc)
        except asyncio.CancelledError:
            execution.cancelled = True
        finally:
            self._finish(job, execution, code, reason)
            operation.metadata = execution.message
            if message.succeeded_count:
                operation.response = execution.message
            else:
                operation.error = (_FAILED_PRECONDITION, _completed(message).message)
            operation.finished.set()

    async def _attempts(self, execution: _Execution, spec: TaskSpec) -> int:
        template = execution.message.template
        retries = template.max_retries if template.HasField("max_retries") \
            else _DEFAULT_RETRIES
        code = 0
        for attempt in range(retries + 1):
            env = {**spec.env, "CLOUD_RUN_TASK_ATTEMPT": str(attempt)}
            code = await run_task(TaskSpec(spec.argv, env, spec.workdir, spec.log,
                                           spec.timeout_s))
            if code == 0:
                return 0
            if attempt < retries:
                execution.message.retried_count += 1
        return code

    def _task(self, execution: _Execution) -> TaskSpec:
        message = execution.message
        container = message.template.containers[0]
        own = {v.name: (self._secret(v.value_source.secret_key_ref.secret)
                        if v.HasField("value_source") else v.value) for v in container.env}
        cloud_run = {"CLOUD_RUN_JOB": execution.job_id, "CLOUD_RUN_EXECUTION": execution.short,
                     "CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "1"}
        timeout = message.template.timeout.ToTimedelta().total_seconds() or _DEFAULT_TIMEOUT_S
        argv = local_command(container.image, list(container.command), list(container.args))
        workdir = self.paths.root / "jobs" / execution.short
        return TaskSpec(tuple(argv), container_env(own, cloud_run, workdir), workdir,
                        self.log_path(execution.short), timeout)

    def _secret(self, reference: str) -> str:
        secret = reference.rsplit("/", 1)[-1]
        path = secret_path(self.paths.secrets_dir, secret)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SandboxError(f"secret '{secret}' was not found in Secret Manager (on the "
                               f"sandbox: PUT /_sandbox/secrets/{secret} "
                               '{"value": ...})') from None

    def _finish(self, job: _Job, execution: _Execution, code: int | None, reason: str) -> None:
        message = execution.message
        message.running_count = 0
        message.reconciling = False
        message.completion_time.GetCurrentTime()
        message.update_time.CopyFrom(message.completion_time)
        task = f"Task {execution.short}-task0"
        if execution.cancelled:
            message.cancelled_count = 1
            state, status, text = (_State.CONDITION_FAILED, _Completion.EXECUTION_CANCELLED,
                                   "The execution was cancelled.")
            _set_condition(message, "Completed", state, text, _Reason.CANCELLED)
        elif code == 0:
            message.succeeded_count = 1
            state, status = _State.CONDITION_SUCCEEDED, _Completion.EXECUTION_SUCCEEDED
            _set_condition(message, "Completed", state, "Execution completed successfully "
                           "in the sandbox.")
        else:
            message.failed_count = 1
            status = _Completion.EXECUTION_FAILED
            text = reason or (f"{task} failed with exit code {code}"
                              + (" (it ran past its timeout)" if code == 124 else "")
                              + f". See logs: {message.log_uri}")
            _set_condition(message, "Completed", _State.CONDITION_FAILED, text,
                           _Reason.NON_ZERO_EXIT_CODE)
        message.etag = _etag(message)
        latest = job.message.latest_created_execution
        if latest.name == message.name:
            latest.completion_time.CopyFrom(message.completion_time)
            latest.completion_status = status

    async def cancel(self, execution: _Execution) -> Message:
        """executions.cancel: a running execution is stopped (SIGTERM, then SIGKILL)."""
        await self._cancel(execution)
        return execution.message

    async def _cancel(self, execution: _Execution) -> None:
        if execution.running and execution.task is not None:
            execution.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await execution.task

    async def delete_execution(self, job: _Job, execution: _Execution) -> Message:
        """executions.delete: stopped if it runs, then forgotten."""
        await self._cancel(execution)
        job.executions.pop(execution.short, None)
        gone = ExecutionPb()
        gone.CopyFrom(execution.message)
        gone.delete_time.GetCurrentTime()
        return gone

    def log_path(self, execution_id: str) -> Path:
        """Where an execution's output goes."""
        return self.paths.logs_dir / "jobs" / f"{execution_id}.log"

    def log_text(self, execution_id: str) -> str:
        """An execution's output so far; NOT_FOUND for an execution never run here."""
        path = self.log_path(execution_id)
        if not path.is_file():
            raise GoogleApiError(404, "NOT_FOUND", f"no execution {execution_id!r}")
        return path.read_text(encoding="utf-8", errors="replace")

    def put_secret(self, secret: str, value: str | None) -> None:
        """Set (or, with None, delete) the sandbox's Secret Manager secret."""
        try:
            path = secret_path(self.paths.secrets_dir, secret)
        except SandboxError as exc:
            raise invalid(str(exc)) from None
        if value is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(value, encoding="utf-8")

    async def close(self) -> None:
        """Stop the executions still running (platform shutdown)."""
        for job in list(self._jobs.values()):
            for execution in list(job.executions.values()):
                await self._cancel(execution)


def _apply_overrides(message: Message, overrides: Message) -> None:
    if overrides.task_count > 1:
        raise invalid("overrides.taskCount above 1 is not emulated: one task per execution")
    if overrides.HasField("timeout"):
        message.template.timeout.CopyFrom(overrides.timeout)
    container = message.template.containers[0]
    for override in overrides.container_overrides:
        if override.name and override.name != container.name:
            raise invalid(f"overrides.containerOverrides: no container {override.name!r}")
        if override.clear_args or override.args:
            del container.args[:]
            container.args.extend(override.args)
        names = {v.name: i for i, v in enumerate(container.env)}
        for variable in override.env:
            if variable.name in names:
                container.env[names[variable.name]].CopyFrom(variable)
            else:
                container.env.add().CopyFrom(variable)


def _condition(kind: str, state: int, message: str = "", reason: int = 0) -> Message:
    condition = ConditionPb(type_=kind, state=state, message=message)
    if reason:
        condition.execution_reason = reason
    condition.last_transition_time.GetCurrentTime()
    return condition


def _set_condition(message: Message, kind: str, state: int, text: str = "",
                   reason: int = 0) -> None:
    fresh = _condition(kind, state, text, reason)
    for condition in message.conditions:
        if condition.type_ == kind:
            condition.CopyFrom(fresh)
            return
    message.conditions.append(fresh)


def _completed(message: Message) -> Message:
    return next(c for c in message.conditions if c.type_ == "Completed")


def _copy(target: Message, source: Message, name: str) -> None:
    value = getattr(source, name)
    if isinstance(value, Message):
        getattr(target, name).CopyFrom(value)
    elif hasattr(value, "update"):
        getattr(target, name).update(value)
    else:
        setattr(target, name, value)


def _etag(message: Message) -> str:
    return f'"{uuid.uuid5(uuid.NAMESPACE_URL, message.SerializeToString().hex()).hex[:18]}"'


def _suffix() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(5))


def _int_enums(request: Request) -> bool:
    return "enum-encoding=int" in request.query_params.get("$alt", "")


def _flag(request: Request, *names: str) -> bool:
    return any(request.query_params.get(n, "").lower() in ("true", "1") for n in names)


# -- HTTP ------------------------------------------------------------------------------------

def jobs_routes(emulator: CloudRunJobsEmulator) -> list[BaseRoute]:
    """The Starlette routes of the emulated Cloud Run jobs and executions, and the sandbox's
    log and secret routes."""
    e = emulator
    base = "/v2/projects/{project}/locations/{location}/jobs"

    def operation_json(request: Request, message: Message) -> JSONResponse:
        operation = e.run.track(lambda: message)
        operation.metadata = operation.response = message
        operation.finished.set()
        return JSONResponse(e.run.render(operation, int_enums=_int_enums(request)))

    async def jobs(request: Request) -> Response:
        p = request.path_params
        if request.method == "POST":
            e.here(p["project"], p["location"], "run.jobs.create")
            if p["location"] != e.run.names.location:
                raise invalid(f"location {p['location']!r}: the sandbox runs jobs in "
                              f"{e.run.names.location!r}")
            job_id = request.query_params.get("jobId") or request.query_params.get("job_id")
            created = e.create(job_id or "", await json_body(request),
                               validate_only=_flag(request, "validateOnly", "validate_only"))
            return operation_json(request, created)
        here = e.here(p["project"], p["location"], "run.jobs.list")
        page, token = list_page(e.jobs() if here else [], request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"))
        return listing(request, "jobs", page, token)

    async def job(request: Request) -> Response:
        p = request.path_params
        name, _, verb = p["job"].partition(":")
        if verb == "run" and request.method == "POST":
            found = e.job(p["project"], p["location"], name, "run.jobs.run")
            _, operation = e.start(found, await json_body(request))
            return JSONResponse(e.run.render(operation, int_enums=_int_enums(request)))
        if verb:
            raise GoogleApiError(501, "UNIMPLEMENTED", f"jobs.{verb} is not emulated")
        if request.method == "GET":
            found = e.job(p["project"], p["location"], name, "run.jobs.get")
            return JSONResponse(to_json(found.message, int_enums=_int_enums(request)))
        if request.method == "DELETE":
            found = e.job(p["project"], p["location"], name, "run.jobs.delete")
            return operation_json(request, await e.delete(found))
        body = await json_body(request)
        if not e.has(name) and _flag(request, "allowMissing", "allow_missing"):
            e.here(p["project"], p["location"], "run.jobs.create")
            return operation_json(request, e.create(
                name, body, validate_only=_flag(request, "validateOnly", "validate_only")))
        found = e.job(p["project"], p["location"], name, "run.jobs.update")
        return operation_json(request, e.update(
            found, body, validate_only=_flag(request, "validateOnly", "validate_only")))

    async def executions(request: Request) -> Response:
        p = request.path_params
        found = e.job(p["project"], p["location"], p["job"], "run.executions.list")
        items = [x.message for x in reversed(found.executions.values())]
        page, token = list_page(items, request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"))
        return listing(request, "executions", page, token)

    async def execution(request: Request) -> Response:
        p = request.path_params
        name, _, verb = p["execution"].partition(":")
        permission = {"GET": "run.executions.get", "DELETE": "run.executions.delete"}.get(
            request.method, "run.executions.cancel")
        found = e.job(p["project"], p["location"], p["job"], permission)
        one = e.execution(found, name)
        if request.method == "POST" and verb == "cancel":
            return operation_json(request, await e.cancel(one))
        if verb:
            raise GoogleApiError(501, "UNIMPLEMENTED", f"executions.{verb} is not emulated")
        if request.method == "DELETE":
            return operation_json(request, await e.delete_execution(found, one))
        return JSONResponse(to_json(one.message, int_enums=_int_enums(request)))

    async def log(request: Request) -> Response:
        return PlainTextResponse(e.log_text(request.path_params["execution"]))

    async def secret(request: Request) -> Response:
        name = request.path_params["secret"]
        if request.method == "DELETE":
            e.put_secret(name, None)
            return JSONResponse({})
        value = (await json_body(request)).get("value")
        if not isinstance(value, str) or not value:
            raise invalid('the body must be {"value": "the secret"}')
        e.put_secret(name, value)
        return JSONResponse({"secret": name})  # never the value

    return [
        Route(base, guarded(jobs), methods=["GET", "POST"]),
        Route(f"{base}/{{job}}", guarded(job), methods=["GET", "POST", "PATCH", "DELETE"]),
        Route(f"{base}/{{job}}/executions", guarded(executions), methods=["GET"]),
        Route(f"{base}/{{job}}/executions/{{execution}}", guarded(execution),
              methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/executions/{execution}/log", guarded(log), methods=["GET"]),
        Route("/_sandbox/secrets/{secret}", guarded(secret), methods=["PUT", "DELETE"]),
    ]

