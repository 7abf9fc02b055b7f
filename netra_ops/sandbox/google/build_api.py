"""Cloud Build API v1 emulation (REST): builds of the rehearsal repository, pushed to the
emulated Artifact Registry, logged to the emulated Cloud Logging.

Routes, on the API port, in the paths and JSON shapes of `cloudbuild.googleapis.com` (the
shapes are google-cloud-build's own messages, rendered as proto3 JSON):

    POST /v1/projects/P/builds                 builds.create -> Operation (global)
    POST /v1/projects/P/locations/L/builds     builds.create -> Operation (regional)
    GET  /v1/projects/P[/locations/L]/builds[/ID]           builds.list / builds.get
    POST /v1/projects/P[/locations/L]/builds/ID:cancel      builds.cancel -> Build
    GET  /v1/operations/build/P/OP             operations.get (global builds)
    GET  /v1/projects/P/locations/L/operations/OP           operations.get (regional)
    POST ...operations/OP:cancel               operations.cancel (cancels the build)
    GET  /_sandbox/builds/ID/log               the build's log as text (its `logUrl`)
    GET|PUT /_sandbox/builds                   `{"step_s"}`: how long a build step takes

Google's client, pointed here: `cloudbuild_v1.CloudBuildClient(transport="rest",
credentials=AnonymousCredentials(), client_options={"api_endpoint": "http://HOST:PORT"})`;
it sends `builds.create` to `/v1/projects/{project_id}/builds` (with `parent` as a query
parameter when both are set) and polls the operation at `/v1/{name=operations/**}` or
`/v1/{name=projects/*/locations/*/operations/*}`.

What a build may be (anything else is 400 INVALID_ARGUMENT naming it): a `gitSource` whose
`url` is the sandbox's rehearsal repository (`file://<state_dir>/netra-repo`) and whose
`revision` is a commit or branch in it; steps `gcr.io/cloud-builders/docker` with `build -t
TAG ... -f DOCKERFILE .` (`build_steps`); `images` among the tags the steps built, in the
sandbox's Artifact Registry repositories. A build runs in the background as Cloud Build
does: QUEUED, WORKING (FETCHSOURCE, each step, PUSH), then SUCCESS with `results.images`
({name, digest, pushTiming} per image: one digest per built image, whatever its tags), or
FAILURE with `failureInfo` (FETCH_SOURCE_FAILED for a commit the repository does not have,
USER_BUILD_STEP for a step that exits non-zero, e.g. a COPY of a file the commit lacks,
PUSH_IMAGE_NOT_FOUND), TIMEOUT past its `timeout`, or CANCELLED. Its operation then ends
`done: true` with the Build as `response`, or with an `error` and the Build in `metadata`.

Each log line goes to `<state_dir>/logs/builds/<id>.log`, which the Logging emulation
serves as Cloud Build's (`logName: projects/P/logs/cloudbuild`, resource `build`). Pushes
move the images' tags in the registry to the new digest, with the image's labels: the
commit (`org.opencontainers.image.revision`) and which backend its code is
(`netra.sandbox.build`, read from the commit), so a revision of that image behaves as the
code it was built from. How long a step takes is `step_s` (default 0.02 s: a build takes
well under a second; the `realistic` scenario sets 1 s: seconds, as staging's take minutes).

Permissions follow Cloud Run's granted set (`/_sandbox/iam`): `cloudbuild.builds.create`,
`.get`, `.list`, `.update` (cancel); another project is 403.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.cloud.devtools import cloudbuild_v1
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.build_steps import (
    DOCKER_BUILDER,
    DockerBuild,
    SourceTree,
    StepFailed,
    docker_build_lines,
    parse_docker_args,
)
from netra_ops.sandbox.google.errors import GoogleApiError, guarded, invalid, json_body
from netra_ops.sandbox.google.registry import Registry, parse_image
from netra_ops.sandbox.google.run_resources import list_page, operation_message, to_json
from netra_ops.sandbox.runtime.state import StatePaths
from netra_ops.sandbox.runtime.telemetry import format_timestamp
from netra_ops.sandbox.services.backend_settings import BUILD_LABEL
from netra_ops.sandbox.services.rehearsal_repo import EXECUTION_CONTEXT, backend_build_of

__all__ = ["DEFAULT_STEP_S", "REVISION_LABEL", "CloudBuildEmulator", "build_routes"]

BuildPb = cloudbuild_v1.Build.pb()
StepPb = cloudbuild_v1.BuildStep.pb()
_Status = cloudbuild_v1.Build.Status
_Failure = cloudbuild_v1.Build.FailureInfo.FailureType
DEFAULT_STEP_S = 0.02
MAX_STEP_S = 60.0
REVISION_LABEL = "org.opencontainers.image.revision"
_KEEP_BUILDS = 200
_DEFAULT_TIMEOUT_S = 600
_OPERATION_ERRORS = {_Status.FAILURE: (2, "Build failed; check build logs for details"),
                     _Status.TIMEOUT: (4, "Build timed out"),
                     _Status.CANCELLED: (1, "Build cancelled"),
                     _Status.INTERNAL_ERROR: (13, "Build failed with an internal error")}
_UNSUPPORTED = ("storageSource", "repoSource", "storageSourceManifest", "connectedRepository")


class _Stop(Exception):
    """The build ends here, with this status and failure."""

    def __init__(self, status: int, detail: str, failure: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.failure = failure


@dataclass
class _Run:
    """One build: its message (kept up to date), its operation, its task."""

    build: Message
    operation: str
    started: float = field(default_factory=time.monotonic)
    logged_us: int = 0  # the newest log line's time: each line is later than the one before
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class CloudBuildEmulator:
    """Builds of the rehearsal repository: create, get, list, cancel, operations."""

    def __init__(self, registry: Registry, paths: StatePaths, *, api_url: str,
                 permissions: Callable[[], frozenset[str] | None] = lambda: None) -> None:
        self.registry = registry
        self.project = registry.project
        self.location = registry.location
        self.paths = paths
        self.api_url = api_url
        self.permissions = permissions
        self.step_s = DEFAULT_STEP_S
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._operations: dict[str, str] = {}

    # -- access ----------------------------------------------------------------------------
    def require(self, project: str, permission: str, resource: str | None = None) -> None:
        """PERMISSION_DENIED for another project, or a permission not granted."""
        resource = resource or f"projects/{project}"
        held = self.permissions()
        if project != self.project or (held is not None and permission not in held):
            raise GoogleApiError(403, "PERMISSION_DENIED", f"The caller does not have "
                                 f"permission '{permission}' on '{resource}'" + (
                                     f" (the sandbox emulates project '{self.project}' only)"
                                     if project != self.project else "") + ".")

    def check_location(self, location: str | None) -> None:
        """NOT_FOUND for a region the sandbox does not build in."""
        if location not in (None, self.location, "global"):
            raise GoogleApiError(404, "NOT_FOUND", f"Location '{location}' is not where the "
                                 f"sandbox builds ('{self.location}' or 'global').")

    # -- builds ----------------------------------------------------------------------------
    def create(self, project: str, location: str | None, body: dict[str, Any], *,
               int_enums: bool) -> dict[str, Any]:
        """builds.create: validate, record QUEUED, start it; the Operation JSON."""
        self.require(project, "cloudbuild.builds.create")
        self.check_location(location)
        build = self._parse(body)
        build_id = str(uuid.uuid4())
        build.id = build_id
        build.project_id = project
        build.status = _Status.QUEUED
        build.create_time.GetCurrentTime()
        if location not in (None, "global"):
            build.name = f"projects/{project}/locations/{location}/builds/{build_id}"
            operation = (f"projects/{project}/locations/{location}/operations/"
                         f"{uuid.uuid4()}")
        else:
            build.name = f"projects/{project}/builds/{build_id}"
            encoded = base64.b64encode(build_id.encode()).decode()
            operation = f"operations/build/{project}/{encoded}"
        build.log_url = f"{self.api_url}/_sandbox/builds/{build_id}/log"
        build.logs_bucket = f"gs://{project}_cloudbuild/logs"
        if not build.HasField("timeout"):
            build.timeout.FromSeconds(_DEFAULT_TIMEOUT_S)
        run = _Run(build, operation)
        self._keep(run)
        run.task = asyncio.ensure_future(self._run(run))
        return self.render_operation(run, int_enums=int_enums)

    def run_of(self, project: str, build_id: str, permission: str) -> _Run:
        """The build `build_id`; NOT_FOUND if unknown (or long forgotten)."""
        self.require(project, permission, f"projects/{project}/builds/{build_id}")
        run = self._runs.get(build_id)
        if run is None:
            raise GoogleApiError(404, "NOT_FOUND", f"Requested entity was not found: build "
                                 f"{build_id!r} (the sandbox keeps its last {_KEEP_BUILDS}).")
        return run

    def builds(self, project: str) -> list[Message]:
        """builds.list: every kept build, newest first."""
        self.require(project, "cloudbuild.builds.list")
        return [run.build for run in reversed(self._runs.values())]

    def cancel(self, run: _Run) -> Message:
        """builds.cancel: a running build ends CANCELLED; a finished one is left as it is."""
        if not run.done and run.task is not None:
            run.task.cancel()
        return run.build

    def run_of_operation(self, name: str) -> _Run:
        """The build of an operation name; NOT_FOUND if unknown."""
        build_id = self._operations.get(name)
        if build_id is None or build_id not in self._runs:
            raise GoogleApiError(404, "NOT_FOUND", f"Operation '{name}' not found.")
        return self._runs[build_id]

    def render_operation(self, run: _Run, *, int_enums: bool) -> dict[str, Any]:
        """The Operation JSON: BuildOperationMetadata{build}; the Build as response, or an
        error, once done."""
        metadata = cloudbuild_v1.BuildOperationMetadata.pb()()
        metadata.build.CopyFrom(run.build)
        error = _OPERATION_ERRORS.get(run.build.status) if run.done else None
        message = operation_message(run.operation, metadata, done=run.done,
                                    response=run.build if run.done and error is None
                                    else None, error=error)
        return to_json(message, int_enums=int_enums)

    def log_text(self, build_id: str) -> str:
        """The build's log as text, one line each (what its `logUrl` shows)."""
        if build_id not in self._runs:
            raise GoogleApiError(404, "NOT_FOUND", f"no build {build_id!r}")
        path = self._log_path(build_id)
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return "".join(json.loads(line)["message"] + "\n" for line in lines if line.strip())

    async def close(self) -> None:
        """Cancel the builds still running (platform shutdown)."""
        tasks = [run.task for run in self._runs.values() if run.task and not run.done]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- request ---------------------------------------------------------------------------
    def _parse(self, body: dict[str, Any]) -> Message:
        unsupported = [k for k in _UNSUPPORTED if k in (body.get("source") or {})]
        if unsupported:
            raise invalid(f"source.{unsupported[0]} is not emulated: the sandbox builds a "
                          f"gitSource of its rehearsal repository ({self._source_url()})")
        build = BuildPb()
        try:
            json_format.ParseDict(body, build)
        except json_format.ParseError as exc:
            raise invalid(f"Invalid JSON payload received: {exc}") from None
        self._check_source(build)
        if not build.steps:
            raise invalid("build.steps: at least one step is required")
        built: set[str] = set()
        for number, step in enumerate(build.steps):
            built.update(self._docker_step(number, step).tags)
        for image in build.images:
            self._check_image(image)
            if image not in built:
                raise invalid(f"build.images: {image} is not built by any step (steps tag "
                              f"{', '.join(sorted(built))})")
        return build

    def _check_source(self, build: Message) -> None:
        git = build.source.git_source
        if not build.source.HasField("git_source") or not git.url or not git.revision:
            raise invalid("build.source.gitSource with url and revision is required (the "
                          f"sandbox builds commits of {self._source_url()})")
        if _local_path(git.url) != self.paths.rehearsal_repo.resolve():
            raise invalid(f"build.source.gitSource.url {git.url!r} is not the sandbox's "
                          f"rehearsal repository ({self._source_url()})")
        if git.dir_:
            raise invalid("build.source.gitSource.dir is not emulated; build from the "
                          "repository's root")

    def _docker_step(self, number: int, step: Message) -> DockerBuild:
        if step.name != DOCKER_BUILDER:
            raise invalid(f"build.steps[{number}].name {step.name!r}: the sandbox emulates "
                          f"{DOCKER_BUILDER} steps only")
        try:
            return parse_docker_args(list(step.args))
        except SandboxError as exc:
            raise invalid(f"build.steps[{number}].args: {exc}") from None

    def _check_image(self, image: str) -> None:
        try:
            ref = parse_image(image)
        except SandboxError as exc:
            raise invalid(f"build.images: {exc}") from None
        if ref.digest is not None or f"/{self.project}/" not in ref.repository:
            raise invalid(f"build.images: {image} is not a tag in the sandbox's Artifact "
                          f"Registry ({self.location}-docker.pkg.dev/{self.project}/...)")

    def _source_url(self) -> str:
        return f"file://{self.paths.rehearsal_repo.resolve()}"

    def _keep(self, run: _Run) -> None:
        self._runs[run.build.id] = run
        self._operations[run.operation] = run.build.id
        while len(self._runs) > _KEEP_BUILDS:
            _, old = self._runs.popitem(last=False)
            self._operations.pop(old.operation, None)

    # -- running ---------------------------------------------------------------------------
    async def _run(self, run: _Run) -> None:
        build = run.build
        build.status = _Status.WORKING
        build.start_time.GetCurrentTime()
        try:
            await self._steps(run)
            build.status = _Status.SUCCESS
            self._log(run, "DONE")
        except _Stop as stop:
            self._end(run, stop.status, stop.detail, stop.failure)
        except asyncio.CancelledError:
            self._end(run, _Status.CANCELLED, "Build cancelled")
        except Exception as exc:
            self._end(run, _Status.INTERNAL_ERROR, f"internal error: {exc}")
        finally:
            build.finish_time.GetCurrentTime()
            run.finished.set()

    def _end(self, run: _Run, status: int, detail: str, failure: int | None = None) -> None:
        run.build.status = status
        run.build.status_detail = detail
        if failure is not None:
            run.build.failure_info.type_ = failure
            run.build.failure_info.detail = detail
        with contextlib.suppress(OSError):
            if status == _Status.CANCELLED:
                self._log(run, detail, "CANCELLED")
            else:
                self._log(run, "ERROR", f"ERROR: {detail.removeprefix('Build step failure: ')}")

    async def _steps(self, run: _Run) -> None:
        build = run.build
        self._log(run, f'starting build "{build.id}"', "", "FETCHSOURCE")
        tree = await self._fetch(run)
        self._log(run, "BUILD")
        images: dict[str, str] = {}  # tag -> image id
        for number, step in enumerate(build.steps):
            images.update(await self._step(run, tree, number, step))
        self._log(run, "PUSH")
        code = await asyncio.to_thread(tree.read, EXECUTION_CONTEXT)
        labels = {REVISION_LABEL: tree.commit, BUILD_LABEL: backend_build_of(code or "")}
        digests: dict[str, str] = {}
        for image in build.images:
            await self._push(run, image, images, digests, labels)
        build.results.build_step_images.extend(
            next((digests[t] for t in _step_tags(step) if t in digests), "")
            for step in build.steps)

    async def _fetch(self, run: _Run) -> SourceTree:
        git = run.build.source.git_source
        self._log(run, f"Fetching source from {git.url} at {git.revision}")
        tree = await asyncio.to_thread(SourceTree.resolve, self.paths.rehearsal_repo,
                                       git.revision)
        await self._pause(run, self.step_s / 2)
        if tree is None:
            self._log(run, f"fatal: couldn't find remote ref {git.revision}")
            raise _Stop(_Status.FAILURE, f"failed to fetch source: revision {git.revision!r} "
                        f"is not a commit of {git.url}", _Failure.FETCH_SOURCE_FAILED)
        run.build.source_provenance.resolved_git_source.url = git.url
        run.build.source_provenance.resolved_git_source.revision = tree.commit
        self._log(run, f"HEAD is now at {tree.commit[:7]}")
        return tree

    async def _step(self, run: _Run, tree: SourceTree, number: int,
                    step: Message) -> dict[str, str]:
        label = f'Step #{number}' + (f' - "{step.id}"' if step.id else "")
        docker = parse_docker_args(list(step.args))
        step.status = _Status.WORKING
        step.timing.start_time.GetCurrentTime()
        self._log(run, f"Starting {label}")
        lines, failed = await asyncio.to_thread(_collect, tree, docker)
        for line in lines:
            await self._pause(run, self.step_s / max(len(lines), 1))
            self._log(run, f"{label}: {line}")
        step.timing.end_time.GetCurrentTime()
        self._log(run, f"Finished {label}")
        if failed is not None:
            step.status = _Status.FAILURE
            step.exit_code = failed.exit_code
            raise _Stop(_Status.FAILURE, f'Build step failure: build step {number} '
                        f'"{step.name}" failed: step exited with non-zero status: '
                        f"{failed.exit_code}", _Failure.USER_BUILD_STEP)
        step.status = _Status.SUCCESS
        image_id = hashlib.sha256(f"{tree.commit}/{docker.dockerfile}".encode()).hexdigest()
        return dict.fromkeys(docker.tags, image_id)

    async def _push(self, run: _Run, image: str, images: dict[str, str],
                    digests: dict[str, str], labels: dict[str, str]) -> None:
        image_id = images.get(image)
        if image_id is None:
            raise _Stop(_Status.FAILURE, f"An image does not exist locally with the tag: "
                        f"{image}", _Failure.PUSH_IMAGE_NOT_FOUND)
        ref = parse_image(image)
        digest = "sha256:" + hashlib.sha256(f"{run.build.id}/{image_id}".encode()).hexdigest()
        new = digest not in digests.values()
        pushed = run.build.results.images.add(name=image, digest=digest)
        pushed.push_timing.start_time.GetCurrentTime()
        self._log(run, f"Pushing {image}", f"The push refers to repository [{ref.repository}]")
        if new:
            await self._pause(run, self.step_s / 2)
        self.registry.push(image, digest=digest, labels=labels)
        digests[image] = digest
        pushed.push_timing.end_time.GetCurrentTime()
        self._log(run, f"{ref.tag}: digest: {digest} size: 2417")

    async def _pause(self, run: _Run, seconds: float) -> None:
        """Sleep; TIMEOUT once the build has run past its `timeout`."""
        await asyncio.sleep(seconds)
        limit = run.build.timeout.ToTimedelta().total_seconds()
        if limit and time.monotonic() - run.started > limit:
            raise _Stop(_Status.TIMEOUT, f"Build timeout: the build ran past its timeout of "
                        f"{limit:g} s")

    def _log(self, run: _Run, *lines: str) -> None:
        path = self._log_path(run.build.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            for line in lines:
                run.logged_us = max(time.time_ns() // 1000, run.logged_us + 1)
                out.write(json.dumps({"timestamp": format_timestamp(run.logged_us),
                                      "severity": "INFO", "message": line}) + "\n")

    def _log_path(self, build_id: str) -> Path:
        return self.paths.build_logs_dir / f"{build_id}.log"


def _collect(tree: SourceTree, docker: DockerBuild) -> tuple[list[str], StepFailed | None]:
    """A docker build's output lines, and how it failed (None: it did not)."""
    lines: list[str] = []
    try:
        lines.extend(docker_build_lines(tree, docker))
    except StepFailed as exc:
        lines.append(str(exc))
        return lines, exc
    return lines, None


def _step_tags(step: Message) -> tuple[str, ...]:
    try:
        return parse_docker_args(list(step.args)).tags
    except SandboxError:
        return ()


def _local_path(url: str) -> Path | None:
    path = url.removeprefix("file://") if url.startswith("file://") else url
    return Path(path).resolve() if path.startswith("/") else None


def _int_enums(request: Request) -> bool:
    return "enum-encoding=int" in request.query_params.get("$alt", "")


def _split_verb(segment: str) -> tuple[str, str]:
    name, _, verb = segment.partition(":")
    return name, verb


def _step_seconds(body: dict[str, Any]) -> float:
    value = body.get("step_s")
    if (isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value)
            or not 0 <= value <= MAX_STEP_S):
        raise invalid(f'"step_s" must be seconds from 0 to {MAX_STEP_S:g}, got {value!r}')
    return float(value)


# -- HTTP ------------------------------------------------------------------------------------

def build_routes(emulator: CloudBuildEmulator) -> list[BaseRoute]:
    """The Starlette routes of the emulated Cloud Build v1 API and `/_sandbox/builds`."""
    e = emulator

    async def builds(request: Request) -> Response:
        p = request.path_params
        location = p.get("location") or _query_location(request)
        if request.method == "POST":
            body = await json_body(request)
            return JSONResponse(e.create(p["project"], location, body,
                                         int_enums=_int_enums(request)))
        e.check_location(location)
        if request.query_params.get("filter"):
            raise invalid("builds.list: filter is not emulated; list without it")
        page, token = list_page(e.builds(p["project"]), request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"))
        answer: dict[str, Any] = {"builds": [to_json(b, int_enums=_int_enums(request))
                                             for b in page]} if page else {}
        if token:
            answer["nextPageToken"] = token
        return JSONResponse(answer)

    async def build(request: Request) -> Response:
        p = request.path_params
        e.check_location(p.get("location"))
        build_id, verb = _split_verb(p["build"])
        if request.method == "POST" and verb == "cancel":
            run = e.run_of(p["project"], build_id, "cloudbuild.builds.update")
            return JSONResponse(to_json(e.cancel(run), int_enums=_int_enums(request)))
        if request.method != "GET" or verb:
            raise GoogleApiError(501, "UNIMPLEMENTED", f"builds {verb or request.method} is "
                                 "not emulated")
        run = e.run_of(p["project"], build_id, "cloudbuild.builds.get")
        return JSONResponse(to_json(run.build, int_enums=_int_enums(request)))

    async def operation(request: Request) -> Response:
        p = request.path_params
        if "location" in p:
            op_id, verb = _split_verb(p["operation"])
            name = f"projects/{p['project']}/locations/{p['location']}/operations/{op_id}"
            project = p["project"]
        else:
            path, verb = _split_verb(p["path"])
            name = f"operations/{path}"
            project = path.split("/")[1] if path.count("/") >= 2 else ""
        e.require(project, "cloudbuild.builds.get", name)
        run = e.run_of_operation(name)
        if request.method == "POST" and verb == "cancel":
            e.cancel(run)
            return JSONResponse({})
        if request.method != "GET" or verb:
            raise GoogleApiError(501, "UNIMPLEMENTED", f"operations {verb or request.method} "
                                 "is not emulated")
        return JSONResponse(e.render_operation(run, int_enums=_int_enums(request)))

    async def log(request: Request) -> Response:
        return PlainTextResponse(e.log_text(request.path_params["build"]))

    async def settings(request: Request) -> Response:
        if request.method == "PUT":
            e.step_s = _step_seconds(await json_body(request))
        return JSONResponse({"step_s": e.step_s})

    regional = "/v1/projects/{project}/locations/{location}"
    return [
        Route("/v1/projects/{project}/builds", guarded(builds), methods=["GET", "POST"]),
        Route(f"{regional}/builds", guarded(builds), methods=["GET", "POST"]),
        Route("/v1/projects/{project}/builds/{build}", guarded(build), methods=["GET", "POST"]),
        Route(f"{regional}/builds/{{build}}", guarded(build), methods=["GET", "POST"]),
        Route("/v1/operations/{path:path}", guarded(operation), methods=["GET", "POST"]),
        Route(f"{regional}/operations/{{operation}}", guarded(operation),
              methods=["GET", "POST"]),
        Route("/_sandbox/builds", guarded(settings), methods=["GET", "PUT"]),
        Route("/_sandbox/builds/{build}/log", guarded(log), methods=["GET"]),
    ]


def _query_location(request: Request) -> str | None:
    parent = request.query_params.get("parent", "")
    parts = parent.split("/")
    return parts[3] if len(parts) == 4 and parts[2] == "locations" else None

