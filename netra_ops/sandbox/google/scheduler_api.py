"""Cloud Scheduler API v1 emulation (REST): jobs with HTTP targets, run on demand.

Routes, on the API port, in the paths and JSON shapes of `cloudscheduler.googleapis.com`
(google-cloud-scheduler's own `Job` message, rendered as proto3 JSON):

    POST   /v1/projects/P/locations/L/jobs          jobs.create -> Job
    GET    /v1/projects/P/locations/L/jobs[/J]      jobs.list / jobs.get
    PATCH  /v1/projects/P/locations/L/jobs/J        jobs.patch (updateMask) -> Job
    DELETE /v1/projects/P/locations/L/jobs/J        jobs.delete -> {}
    POST   /v1/projects/P/locations/L/jobs/J:run    jobs.run -> Job (dispatched now)
    POST   .../jobs/J:pause, .../jobs/J:resume      jobs.pause / jobs.resume -> Job

Google's client, pointed here: `scheduler_v1.CloudSchedulerClient(transport="rest",
credentials=AnonymousCredentials(), client_options={"api_endpoint": "http://HOST:PORT"})`.

A job needs a `schedule` (five cron fields; the sandbox checks their shape, not their
meaning), an `httpTarget` (Pub/Sub and App Engine targets are not emulated) and a name
`projects/P/locations/L/jobs/J` in the sandbox's project and region. `timeZone` defaults to
`Etc/UTC`. The sandbox never fires a job on its schedule: `jobs.run` ("force run") sends the
job's HTTP request at once, in the background, as Cloud Scheduler does, and records the
attempt (`lastAttemptTime`, `status`: OK, or the code the target answered). It sends
requests to its own API only (`http://HOST:API_PORT/...`, e.g. Cloud Run's `jobs/J:run`);
any other target's attempt fails UNAVAILABLE. An `oauthToken` becomes an
`Authorization: Bearer` header the sandbox's APIs ignore.

Errors are Google's: 404 NOT_FOUND "Job not found.", 409 ALREADY_EXISTS, 400
INVALID_ARGUMENT, 403 PERMISSION_DENIED for another project or a permission not granted
(`cloudscheduler.jobs.create`, `.get`, `.list`, `.update`, `.delete`, `.run`, `.pause`,
`.enable`; the granted set of `/_sandbox/iam`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from google.cloud import scheduler_v1
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.sandbox.google.errors import GoogleApiError, guarded, invalid, json_body
from netra_ops.sandbox.google.run_api import listing
from netra_ops.sandbox.google.run_resources import list_page, to_json

__all__ = ["CloudSchedulerEmulator", "scheduler_routes"]

JobPb = scheduler_v1.Job.pb()
_State = scheduler_v1.Job.State
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")
_UTC = "Etc/UTC"
_ATTEMPT_TIMEOUT_S = 30.0
_HTTP_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12, 503: 14,
               504: 4}
_UPDATABLE = ("description", "http_target", "schedule", "time_zone", "retry_config",
              "attempt_deadline")


class CloudSchedulerEmulator:
    """Cloud Scheduler jobs of one project and region; targets only `api_url`."""

    def __init__(self, project: str, location: str, *, api_url: str,
                 permissions: Callable[[], frozenset[str] | None] = lambda: None) -> None:
        self.project = project
        self.location = location
        self.api_url = api_url.rstrip("/")
        self.permissions = permissions
        self._jobs: dict[str, Message] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    # -- access ----------------------------------------------------------------------------
    def require(self, project: str, location: str, permission: str) -> bool:
        """PERMISSION_DENIED for another project or a permission not granted; whether the
        location is the sandbox's."""
        held = self.permissions()
        if project != self.project or (held is not None and permission not in held):
            raise GoogleApiError(403, "PERMISSION_DENIED", f"The principal (user or service "
                                 f"account) lacks IAM permission \"{permission}\" for the "
                                 f"resource \"projects/{project}/locations/{location}\" (or "
                                 "the resource may not exist)." + (
                                     f" The sandbox emulates project '{self.project}' only."
                                     if project != self.project else ""))
        return location == self.location

    def job(self, project: str, location: str, job_id: str, permission: str) -> Message:
        """The job P/L/J; NOT_FOUND otherwise."""
        found = self._jobs.get(job_id) if self.require(project, location, permission) \
            else None
        if found is None:
            raise GoogleApiError(404, "NOT_FOUND", "Job not found.")
        return found

    def jobs(self) -> list[Message]:
        """Every job, by name."""
        return [self._jobs[k] for k in sorted(self._jobs)]

    # -- changes ---------------------------------------------------------------------------
    def act_as(self, job: Message) -> None:
        """PERMISSION_DENIED unless the caller may act as the job's OAuth service account."""
        account = job.http_target.oauth_token.service_account_email
        held = self.permissions()
        if account and held is not None and "iam.serviceAccounts.actAs" not in held:
            raise GoogleApiError(403, "PERMISSION_DENIED", f"The principal (user or service "
                                 f"account) lacks IAM permission \"iam.serviceAccounts.actAs\" "
                                 f"for the resource \"{account}\" (or the resource may not "
                                 "exist).")

    def create(self, body: dict[str, Any]) -> Message:
        """jobs.create: the new Job (ENABLED)."""
        job = _parse(body)
        self.act_as(job)
        if not job.name:
            job.name = f"{self.parent}/jobs/{uuid.uuid4().hex[:20]}"
        job_id = self._own_id(job.name)
        if job_id in self._jobs:
            raise GoogleApiError(409, "ALREADY_EXISTS", f"Job {job.name} already exists.")
        _check(job)
        job.time_zone = job.time_zone or _UTC
        job.state = _State.ENABLED
        job.user_update_time.GetCurrentTime()
        self._jobs[job_id] = job
        return job

    def update(self, job: Message, body: dict[str, Any], mask: str) -> Message:
        """jobs.patch: the fields of `mask` (all updatable ones set in `body` without one)."""
        wanted = _parse(body)
        paths = [_snake(p.strip()) for p in mask.split(",") if p.strip()] or [
            f.name for f, _ in wanted.ListFields() if f.name in _UPDATABLE]
        bad = [p for p in paths if p.split(".")[0] not in _UPDATABLE]
        if bad:
            raise invalid(f"updateMask: {bad[0]!r} cannot be updated (updatable: "
                          f"{', '.join(_UPDATABLE)})")
        updated = JobPb()
        updated.CopyFrom(job)
        for path in {p.split(".")[0] for p in paths}:
            updated.ClearField(path)
            if wanted.HasField(path) if path in ("http_target", "retry_config",
                                                 "attempt_deadline") else True:
                _copy(updated, wanted, path)
        _check(updated)
        self.act_as(updated)
        updated.user_update_time.GetCurrentTime()
        self._jobs[self._own_id(job.name)] = updated
        return updated

    def delete(self, job: Message) -> None:
        """jobs.delete."""
        self._jobs.pop(self._own_id(job.name), None)

    def set_state(self, job: Message, state: int) -> Message:
        """jobs.pause / jobs.resume."""
        job.state = state
        job.user_update_time.GetCurrentTime()
        return job

    def run(self, job: Message) -> Message:
        """jobs.run: dispatch the job's HTTP request now (in the background); the Job."""
        task = asyncio.ensure_future(self._attempt(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def _own_id(self, name: str) -> str:
        parent, _, job_id = name.rpartition("/jobs/")
        if parent != self.parent or not _JOB_ID.fullmatch(job_id):
            raise invalid(f"job.name {name!r} must be {self.parent}/jobs/JOB_ID (letters, "
                          "digits, '-' and '_', at most 500)")
        return job_id

    async def _attempt(self, job: Message) -> None:
        target = job.http_target
        job.last_attempt_time.GetCurrentTime()
        if not target.uri.startswith(self.api_url + "/"):
            job.status.code, job.status.message = 14, (
                f"the sandbox sends requests to its own API only ({self.api_url}/...), not "
                f"to {target.uri.split('?', 1)[0]}")
            return
        headers = dict(target.headers)
        if target.HasField("oauth_token"):
            headers["Authorization"] = "Bearer sandbox-token-for-" + \
                target.oauth_token.service_account_email
        method = scheduler_v1.HttpMethod(target.http_method or 1).name
        try:
            async with httpx.AsyncClient(timeout=_ATTEMPT_TIMEOUT_S) as client:
                answer = await client.request(method, target.uri, content=target.body,
                                              headers=headers)
        except httpx.HTTPError as exc:
            job.status.code, job.status.message = 14, f"{type(exc).__name__}: {exc}"
            return
        if answer.is_success:
            job.status.Clear()
        else:
            job.status.code = _HTTP_CODES.get(answer.status_code, 2)
            job.status.message = f"URL_ERROR-ERROR_OTHER. Original HTTP response code " \
                                 f"number = {answer.status_code}"

    async def close(self) -> None:
        """Cancel the attempts still under way (platform shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _parse(body: dict[str, Any]) -> Message:
    job = JobPb()
    try:
        json_format.ParseDict(body, job)
    except json_format.ParseError as exc:
        raise invalid(f"Invalid JSON payload received: {exc}") from None
    for output_only in ("user_update_time", "state", "status", "schedule_time",
                        "last_attempt_time"):
        job.ClearField(output_only)
    return job


def _check(job: Message) -> None:
    if job.HasField("pubsub_target") or job.HasField("app_engine_http_target"):
        raise invalid("Pub/Sub and App Engine targets are not emulated: use an httpTarget")
    if not job.HasField("http_target") or not job.http_target.uri:
        raise invalid("job.httpTarget.uri is required")
    if not job.http_target.uri.startswith(("http://", "https://")):
        raise invalid(f"httpTarget.uri {job.http_target.uri!r} must be an http(s) URL")
    fields = job.schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise invalid(f"Schedule or time zone is invalid: schedule {job.schedule!r} is not "
                      "five unix-cron fields (e.g. '*/30 * * * *')")


def _copy(target: Message, source: Message, name: str) -> None:
    value = getattr(source, name)
    if isinstance(value, Message):
        getattr(target, name).CopyFrom(value)
    else:
        setattr(target, name, value)


def _snake(path: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)


def _int_enums(request: Request) -> bool:
    return "enum-encoding=int" in request.query_params.get("$alt", "")


# -- HTTP ------------------------------------------------------------------------------------

def scheduler_routes(emulator: CloudSchedulerEmulator) -> list[BaseRoute]:
    """The Starlette routes of the emulated Cloud Scheduler v1 API."""
    e = emulator
    base = "/v1/projects/{project}/locations/{location}/jobs"

    def answer(request: Request, job: Message) -> JSONResponse:
        return JSONResponse(to_json(job, int_enums=_int_enums(request)))

    def run_verb(project: str, location: str, name: str, verb: str) -> Message:
        if verb == "run":
            return e.run(e.job(project, location, name, "cloudscheduler.jobs.run"))
        if verb == "pause":
            return e.set_state(e.job(project, location, name, "cloudscheduler.jobs.pause"),
                               _State.PAUSED)
        if verb == "resume":
            return e.set_state(e.job(project, location, name, "cloudscheduler.jobs.enable"),
                               _State.ENABLED)
        raise GoogleApiError(501, "UNIMPLEMENTED", f"jobs.{verb or 'POST'} is not emulated")

    async def jobs(request: Request) -> Response:
        p = request.path_params
        if request.method == "POST":
            if not e.require(p["project"], p["location"], "cloudscheduler.jobs.create"):
                raise invalid(f"location {p['location']!r}: the sandbox schedules in "
                              f"{e.location!r}")
            return answer(request, e.create(await json_body(request)))
        here = e.require(p["project"], p["location"], "cloudscheduler.jobs.list")
        page, token = list_page(e.jobs() if here else [], request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"), max_size=500)
        return listing(request, "jobs", page, token)

    async def job(request: Request) -> Response:
        p = request.path_params
        name, _, verb = p["job"].partition(":")
        if request.method == "POST":
            return answer(request, run_verb(p["project"], p["location"], name, verb))
        if verb:
            raise GoogleApiError(501, "UNIMPLEMENTED", f"jobs {verb} is not emulated")
        if request.method == "GET":
            return answer(request, e.job(p["project"], p["location"], name,
                                         "cloudscheduler.jobs.get"))
        if request.method == "DELETE":
            e.delete(e.job(p["project"], p["location"], name, "cloudscheduler.jobs.delete"))
            return JSONResponse({})
        found = e.job(p["project"], p["location"], name, "cloudscheduler.jobs.update")
        mask = request.query_params.get("updateMask", "")
        return answer(request, e.update(found, await json_body(request), mask))

    return [
        Route(base, guarded(jobs), methods=["GET", "POST"]),
        Route(f"{base}/{{job}}", guarded(job), methods=["GET", "POST", "PATCH", "DELETE"]),
    ]
