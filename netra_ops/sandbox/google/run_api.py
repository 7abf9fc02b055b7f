"""Cloud Run Admin API v2 emulation (REST) over the platform's RevisionManager.

Routes, on the admin API's port, in the paths and JSON shapes of `run.googleapis.com`:

    GET    /v2/projects/P/locations/L/services                     services.list
    GET    /v2/projects/P/locations/L/services/S                   services.get
    PATCH  /v2/projects/P/locations/L/services/S                   services.patch -> Operation
    POST   /v2/projects/P/locations/L/services/S:testIamPermissions
    GET    /v2/projects/P/locations/L/services/S/revisions[/R]     revisions.list / get
    GET    /v2/projects/P/locations/L/operations[/O]               operations.list / get
    POST   /v2/projects/P/locations/L/operations/O:wait            operations.wait
    DELETE /v2/projects/P/locations/L/operations/O                 operations.delete
    GET|PUT /_sandbox/iam   the permissions testIamPermissions grants (null: all of them);
                            Resource Manager's projects.testIamPermissions answers from the
                            same set (`resourcemanager_api`)
    POST /_sandbox/services/S/revisions   the admin deploy of any service (scenarios)

Google's client, pointed here: `run_v2.ServicesClient(transport="rest",
credentials=AnonymousCredentials(), client_options={"api_endpoint": "http://HOST:PORT"})`.

The services are the environment's backend and, joined to it (`join`), auth and frontend,
in its project and region; each has its own revisions, traffic, env and limits. A PATCH is
Cloud Run's update: a changed template (image, env, resources, ...) records a new revision
at once and starts its process in the background; the Operation (done: false) ends with the
Service as `response`, or with `error` FAILED_PRECONDITION when the revision failed to start
(traffic stays where it was). Traffic rules follow Cloud Run: LATEST moves to each new ready
revision, REVISION targets stay pinned through later deploys, empty traffic means 100% to
LATEST; a traffic-only change moves traffic at once and creates no revision; an identical
request changes nothing. `update_mask` and `validate_only` are honoured; a stale `etag` is
409 ABORTED. An update made while another runs is carried out too, and the newest rules win
(e.g. traffic pinned while a deploy still starts stays pinned when it is ready). A revision
scaled to zero that is sent traffic is started again first.

Errors are Google's JSON `{"error": {"code", "message", "status"}}`: 404 NOT_FOUND for an
unknown service, revision or operation, 403 PERMISSION_DENIED for another project or a
permission not granted, 400 INVALID_ARGUMENT for what the request gets wrong or what the
sandbox does not emulate.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.errors import GoogleApiError, guarded, invalid, json_body
from netra_ops.sandbox.google.run_resources import (
    LATEST,
    REVISION,
    ServiceNames,
    ServiceView,
    TemplateDefaults,
    default_meta,
    failure_message,
    granted,
    list_page,
    merge_update,
    meta_of,
    operation_message,
    parse_service,
    requested_rules,
    revision_message,
    service_message,
    to_json,
    validate_template,
)
from netra_ops.sandbox.runtime.revisions import Revision, RevisionManager, TrafficRule

__all__ = ["CloudRunEmulator", "google_fallback_route", "listing", "run_routes"]

_FAILED_PRECONDITION = 9
_KEEP_OPERATIONS = 200
_MAX_WAIT_S = 300.0
_PERMISSION = re.compile(r"^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+){2,}$")

@dataclass
class _Operation:
    """A long-running operation: live until done, then frozen."""

    name: str
    live: Callable[[], Message] | None = None  # the Service it changes, while it runs
    metadata: Message | None = None
    response: Message | None = None
    error: tuple[int, str] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class CloudRunEmulator:
    """The Cloud Run view of one RevisionManager: service, revisions, operations, IAM.

    Several services (auth, backend, frontend) are several emulators joined into one
    `fleet` (`join`): they share the operations and answer on the same routes.
    """

    def __init__(self, manager: RevisionManager, *, project: str, location: str,
                 service_url: str, api_url: str,
                 granted_permissions: Iterable[str] | None = None) -> None:
        self.manager = manager
        self.names = ServiceNames(project, location, manager.service)
        self.defaults = TemplateDefaults(memory=manager.memory_limit, cpu=manager.cpu_limit,
                                         session_affinity=manager.session_affinity)
        self.service_url = service_url
        self.log_uri = f"{api_url}/_sandbox/revisions/{{revision}}/log"
        self.granted_permissions = (None if granted_permissions is None
                                    else frozenset(granted_permissions))
        self._meta = default_meta(self.names, manager.created)
        self._templates: dict[str, Message] = {}
        self._operations: OrderedDict[str, _Operation] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self.fleet: dict[str, CloudRunEmulator] = {self.names.service: self}

    def join(self, other: CloudRunEmulator) -> CloudRunEmulator:
        """Serve `other` (another service of the same project and region) too; returns it."""
        if (other.names.project, other.names.location) != (self.names.project,
                                                            self.names.location):
            raise SandboxError(f"service {other.names.name} is not in {self.names.parent}")
        other._operations = self._operations
        other.fleet = self.fleet
        other.granted_permissions = self.granted_permissions
        self.fleet[other.names.service] = other
        return other

    def lookup(self, project: str, location: str, service: str,
               permission: str | None) -> CloudRunEmulator:
        """The emulator of P/L/S; NOT_FOUND (or PERMISSION_DENIED) otherwise."""
        resource = f"projects/{project}/locations/{location}/services/{service}"
        here = self.check_parent(project, location, permission, resource)
        found = self.fleet.get(service) if here else None
        if found is None:
            raise GoogleApiError(404, "NOT_FOUND", f"Resource '{service}' of kind 'SERVICE' in "
                                 f"region '{location}' in project '{project}' does not exist. "
                                 f"(The sandbox serves {', '.join(sorted(self.fleet))} in "
                                 f"'{self.names.location}'.)")
        return found

    def set_permissions(self, permissions: Iterable[str] | None) -> None:
        """What testIamPermissions grants, for every service of the fleet (None: all)."""
        held = None if permissions is None else frozenset(permissions)
        for member in self.fleet.values():
            member.granted_permissions = held

    # -- views -----------------------------------------------------------------------------
    def view(self) -> ServiceView:
        """What the Service and Revision messages are built from, now."""
        return ServiceView(self.names, self.manager, self._meta, self._templates,
                           self.defaults, self.service_url, self.log_uri)

    def service(self) -> Message:
        """The Service message as GET returns it."""
        return service_message(self.view())

    def revision(self, short: str) -> Message:
        """A Revision message; NOT_FOUND if the service has no such revision."""
        try:
            revision = self.manager.get(short)
        except SandboxError:
            raise self._not_found("REVISION", short) from None
        return revision_message(self.view(), revision)

    def revisions(self) -> list[Message]:
        """Every revision, newest first."""
        view = self.view()
        return [revision_message(view, r) for r in reversed(self.manager.revisions)]

    # -- access ----------------------------------------------------------------------------
    def require(self, permission: str, resource: str) -> None:
        """PERMISSION_DENIED unless `permission` is granted."""
        if self.granted_permissions is not None and permission not in self.granted_permissions:
            raise GoogleApiError(403, "PERMISSION_DENIED", f"Permission '{permission}' denied "
                                 f"on resource '{resource}' (or resource may not exist).")

    def check_parent(self, project: str, location: str, permission: str | None,
                     resource: str | None = None) -> bool:
        """Whether P/L holds the service (L may be "-"); PERMISSION_DENIED for another
        project, or if `permission` on `resource` (default: P/L) is not granted."""
        resource = resource or f"projects/{project}/locations/{location}"
        if project != self.names.project:
            raise GoogleApiError(403, "PERMISSION_DENIED", f"Permission '{permission or 'run.*'}'"
                                 f" denied on resource '{resource}' (or resource may not exist)."
                                 f" The sandbox emulates project '{self.names.project}' only.")
        if permission is not None:
            self.require(permission, resource)
        return location in (self.names.location, "-")

    def check_service(self, project: str, location: str, service: str,
                      permission: str | None) -> None:
        """NOT_FOUND unless P/L/S is this emulated service."""
        if self.lookup(project, location, service, permission) is not self:
            raise GoogleApiError(404, "NOT_FOUND", f"Resource '{service}' is another service "
                                 f"than {self.names.service}.")

    def _not_found(self, kind: str, name: str) -> GoogleApiError:
        return GoogleApiError(404, "NOT_FOUND", f"Resource '{name}' of kind '{kind}' in region "
                              f"'{self.names.location}' in project '{self.names.project}' does "
                              "not exist.")

    # -- update ----------------------------------------------------------------------------
    def update(self, body: Any, query: dict[str, str], *, int_enums: bool) -> dict[str, Any]:
        """Carry out a PATCH; the Operation JSON (done: false unless validate_only)."""
        request = parse_service(body)
        if request.name and request.name != self.names.name:
            raise invalid(f"service.name {request.name!r} does not match the URL's "
                          f"{self.names.name!r}")
        current = self.service()
        if request.etag and request.etag != current.etag:
            raise GoogleApiError(409, "ABORTED", f"etag {request.etag} does not match the "
                                 f"service's current etag {current.etag}: it changed since you "
                                 "read it; get it again and retry")
        mask = [p for p in _param(query, "updateMask", "update_mask").split(",") if p.strip()]
        wanted = merge_update(current, request, mask)
        template = validate_template(wanted, self.names, self.defaults)
        rules = requested_rules(wanted, self.names)
        try:
            rules = self.manager.check_rules(rules, allow_stopped=True)
        except SandboxError as exc:
            raise invalid(f"traffic: {exc}") from None
        meta = meta_of(wanted, self._meta)
        if _flag(_param(query, "validateOnly", "validate_only")):
            return self._validated(template, rules, meta, int_enums)
        self._refuse_taken_name(template, current)
        operation = self._new_operation()
        try:
            work = self._plan(operation, template, rules, meta, current)
        except GoogleApiError:
            del self._operations[operation.name]
            raise
        except SandboxError as exc:
            del self._operations[operation.name]
            raise invalid(str(exc)) from None
        answer = self.render(operation, int_enums=int_enums)
        self._spawn(work)
        return answer

    def _plan(self, operation: _Operation, template: Message, rules: tuple[TrafficRule, ...],
              meta: Message, current: Message) -> Awaitable[None]:
        """Record the change now; what is left to do, as a coroutine."""
        stopped = [r.revision for r in rules if r.revision
                   and self.manager.get(r.revision).state == "stopped"]
        template_changed = template != current.template
        rules_changed = rules != self.manager.traffic_rules
        if template_changed:
            revision = self._prepare(template)
            self._meta = meta
            return self._deploy(operation, revision, rules, stopped)
        if rules_changed and stopped:
            self._meta = meta
            return self._reroute(operation, rules, stopped)
        if rules_changed:
            self.manager.route(rules)
        elif meta != self._meta:
            self.manager.touch()
        else:
            return self._finish(operation, no_op=True)
        self._meta = meta
        return self._finish(operation)

    def _refuse_taken_name(self, template: Message, current: Message) -> None:
        name = template.revision
        if (name and template != current.template
                and name in {r.name for r in self.manager.revisions}):
            raise GoogleApiError(409, "ALREADY_EXISTS", f"Revision named '{name}' with different "
                                 "configuration already exists.")

    def _prepare(self, template: Message) -> Revision:
        container = template.containers[0]
        name = template.revision or None
        try:
            revision = self.manager.prepare(
                container.image.strip(), {v.name: v.value for v in container.env},
                memory_limit=container.resources.limits["memory"],
                cpu_limit=container.resources.limits["cpu"], name=name,
                timeout_s=int(template.timeout.ToTimedelta().total_seconds()),
                concurrency=template.max_instance_request_concurrency)
        except SandboxError as exc:
            raise GoogleApiError(503, "UNAVAILABLE", str(exc)) from None
        self._templates[revision.name] = template
        return revision

    async def _deploy(self, operation: _Operation, revision: Revision,
                      rules: tuple[TrafficRule, ...], stopped: Sequence[str]) -> None:
        try:
            await self._revive(stopped)
            await self.manager.start(revision, traffic=rules)
        except SandboxError as exc:
            self._fail(operation, str(exc))
            return
        if revision.state != "ready":
            self._fail(operation, failure_message(revision, self.log_uri))
            return
        await self._finish(operation)

    async def _reroute(self, operation: _Operation, rules: tuple[TrafficRule, ...],
                       stopped: Sequence[str]) -> None:
        try:
            await self._revive(stopped)
            self.manager.route(rules)
        except SandboxError as exc:
            self._fail(operation, str(exc))
            return
        await self._finish(operation)

    async def _revive(self, names: Sequence[str]) -> None:
        for name in names:
            revision = await self.manager.revive(name)
            if revision.state != "ready":
                raise SandboxError(failure_message(revision, self.log_uri))

    async def _finish(self, operation: _Operation, *, no_op: bool = False) -> None:
        """Complete an operation; a no-op on a failed latest revision reports that one."""
        latest = self.manager.latest_created
        if no_op and latest is not None and latest.state == "failed":
            self._fail(operation, failure_message(latest, self.log_uri))
            return
        operation.response = operation.metadata = self.service()
        operation.finished.set()

    def _fail(self, operation: _Operation, message: str) -> None:
        operation.error = (_FAILED_PRECONDITION, message)
        operation.metadata = self.service()
        operation.finished.set()

    def _validated(self, template: Message, rules: tuple[TrafficRule, ...], meta: Message,
                   int_enums: bool) -> dict[str, Any]:
        """A finished operation whose Service is what the update would make (not kept)."""
        preview = self.service()
        for field_name in ("description", "labels", "annotations", "client", "client_version",
                           "ingress", "launch_stage", "scaling"):
            preview.ClearField(field_name)
        preview.MergeFrom(meta)
        preview.template.CopyFrom(template)
        preview.ClearField("traffic")
        for rule in rules:
            preview.traffic.add(type_=LATEST if rule.latest else REVISION,
                                revision=rule.revision or "", percent=rule.percent)
        operation = self._new_operation()
        operation.metadata = operation.response = preview
        operation.finished.set()
        return self.render(operation, int_enums=int_enums)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel the operations still running (platform shutdown)."""
        tasks = [t for member in self.fleet.values() for t in member._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- operations ------------------------------------------------------------------------
    def _new_operation(self, live: Callable[[], Message] | None = None) -> _Operation:
        operation = _Operation(self.names.operation(str(uuid.uuid4())),
                               live=live or self.service)
        self._operations[operation.name] = operation
        while len(self._operations) > _KEEP_OPERATIONS:
            self._operations.popitem(last=False)
        return operation

    def track(self, live: Callable[[], Message]) -> _Operation:
        """A new operation on another resource of this Cloud Run (a job, an execution), kept
        and served with the services' ones; its owner sets `metadata`, `response` or
        `error`, then `finished`."""
        return self._new_operation(live)

    def operation(self, name: str) -> _Operation:
        """An operation by full name; NOT_FOUND if unknown (or long forgotten)."""
        try:
            return self._operations[name]
        except KeyError:
            raise GoogleApiError(404, "NOT_FOUND", f"Operation '{name}' not found (the sandbox "
                                 f"keeps its last {_KEEP_OPERATIONS} operations).") from None

    def operations(self) -> list[_Operation]:
        """Every kept operation, newest first."""
        return list(reversed(self._operations.values()))

    def forget(self, name: str) -> None:
        """Delete an operation's record."""
        self.operation(name)
        del self._operations[name]

    async def wait(self, name: str, timeout_s: float) -> _Operation:
        """The operation once done, or as it is after `timeout_s`."""
        operation = self.operation(name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(operation.finished.wait(), min(timeout_s, _MAX_WAIT_S))
        return operation

    def render(self, operation: _Operation, *, int_enums: bool) -> dict[str, Any]:
        """An operation's JSON (the live Service as metadata while it runs)."""
        live = operation.live or self.service
        message = operation_message(
            operation.name, operation.metadata or live(), done=operation.done,
            response=operation.response if operation.error is None else None,
            error=operation.error)
        return to_json(message, int_enums=int_enums)

    # -- IAM -------------------------------------------------------------------------------
    def test_permissions(self, body: Any) -> dict[str, Any]:
        """testIamPermissions: the subset of the asked permissions that is granted."""
        asked = body.get("permissions") if isinstance(body, dict) else None
        if not isinstance(asked, list) or not all(isinstance(p, str) for p in asked):
            raise invalid('the body must be {"permissions": ["run.services.get", ...]}')
        bad = [p for p in asked if not _PERMISSION.match(p)]
        if bad:
            raise invalid(f"Permission {bad[0]!r} is not valid (expected e.g. "
                          "run.services.update)")
        held = granted(asked, self.granted_permissions)
        return {"permissions": held} if held else {}


def _param(query: dict[str, str], *names: str) -> str:
    return next((query[n] for n in names if n in query), "")


def _flag(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


def _int_enums(request: Request) -> bool:
    return "enum-encoding=int" in request.query_params.get("$alt", "")


def _split_verb(segment: str) -> tuple[str, str]:
    name, _, verb = segment.partition(":")
    return name, verb


# -- HTTP ------------------------------------------------------------------------------------

def run_routes(emulator: CloudRunEmulator) -> list[BaseRoute]:
    """The Starlette routes of the emulated Cloud Run Admin v2 API and `/_sandbox/iam`."""
    e = emulator
    base = "/v2/projects/{project}/locations/{location}"

    async def services(request: Request) -> Response:
        p = request.path_params
        if request.method == "POST":
            raise GoogleApiError(501, "UNIMPLEMENTED", "creating services is not emulated: the "
                                 f"sandbox serves {', '.join(sorted(e.fleet))}")
        here = e.check_parent(p["project"], p["location"], "run.services.list")
        items = [e.fleet[n].service() for n in sorted(e.fleet)] if here else []
        page, token = list_page(items, request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"))
        return listing(request, "services", page, token)

    async def service(request: Request) -> Response:
        p = request.path_params
        name, verb = _split_verb(p["service"])
        if verb == "testIamPermissions" and request.method == "POST":
            one = e.lookup(p["project"], p["location"], name, None)
            return JSONResponse(one.test_permissions(await json_body(request)))
        if verb:
            raise GoogleApiError(501, "UNIMPLEMENTED", f"services.{verb} is not emulated")
        if request.method == "GET":
            one = e.lookup(p["project"], p["location"], name, "run.services.get")
            return _message(request, one.service())
        if request.method == "PATCH":
            if name not in e.fleet and _flag(request.query_params.get("allowMissing", "")):
                raise GoogleApiError(501, "UNIMPLEMENTED", "creating services is not emulated")
            one = e.lookup(p["project"], p["location"], name, "run.services.update")
            body = await json_body(request)
            return JSONResponse(one.update(body, dict(request.query_params),
                                           int_enums=_int_enums(request)))
        raise GoogleApiError(501, "UNIMPLEMENTED", "deleting the service is not emulated")

    async def revisions(request: Request) -> Response:
        p = request.path_params
        if p["service"] != "-":
            items = e.lookup(p["project"], p["location"], p["service"],
                             "run.revisions.list").revisions()
        elif e.check_parent(p["project"], p["location"], "run.revisions.list"):
            items = [r for n in sorted(e.fleet) for r in e.fleet[n].revisions()]
        else:
            items = []
        page, token = list_page(items, request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"))
        return listing(request, "revisions", page, token)

    async def revision(request: Request) -> Response:
        p = request.path_params
        one = e.lookup(p["project"], p["location"], p["service"], "run.revisions.get")
        if request.method != "GET":
            raise GoogleApiError(501, "UNIMPLEMENTED", "deleting revisions is not emulated")
        return _message(request, one.revision(p["revision"]))

    async def operations(request: Request) -> Response:
        p = request.path_params
        here = e.check_parent(p["project"], p["location"], "run.operations.list")
        if request.query_params.get("filter"):
            raise invalid("operations.list: filter is not emulated; list without it")
        items = e.operations() if here else []
        page, token = list_page(items, request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"))
        rendered = [e.render(op, int_enums=_int_enums(request)) for op in page]
        body: dict[str, Any] = {"operations": rendered} if rendered else {}
        if token:
            body["nextPageToken"] = token
        return JSONResponse(body)

    async def operation(request: Request) -> Response:
        p = request.path_params
        op_id, verb = _split_verb(p["operation"])
        full = f"projects/{p['project']}/locations/{p['location']}/operations/{op_id}"
        if request.method == "DELETE" and not verb:
            e.check_parent(p["project"], p["location"], "run.operations.delete")
            e.forget(full)
            return JSONResponse({})
        e.check_parent(p["project"], p["location"], "run.operations.get")
        if request.method == "POST" and verb == "wait":
            body = await json_body(request)
            found = await e.wait(full, _duration_s(body.get("timeout") if body else None))
        elif request.method == "GET" and not verb:
            found = e.operation(full)
        else:
            raise GoogleApiError(501, "UNIMPLEMENTED", f"operations {verb or request.method} "
                                 "is not emulated")
        return JSONResponse(e.render(found, int_enums=_int_enums(request)))

    async def deploy(request: Request) -> Response:
        """`POST /_sandbox/services/S/revisions {"image", "env", "traffic"}`: the admin
        API's deploy, for any service (201 ready, 422 failed)."""
        one = e.fleet.get(request.path_params["service"])
        if one is None:
            raise GoogleApiError(404, "NOT_FOUND", f"no service {request.path_params['service']!r}"
                                 f" (services: {', '.join(sorted(e.fleet))})")
        body = await json_body(request)
        image, env, traffic = body.get("image"), body.get("env") or {}, body.get("traffic", True)
        if not isinstance(image, str) or not image.strip() or not isinstance(env, dict) or \
                not isinstance(traffic, bool):
            raise invalid('the body must be {"image": "REPO:TAG", "env": {NAME: value or '
                          'null}, "traffic": true|false}')
        try:
            revision = await one.manager.create(image.strip(), one.manager.env_with(env),
                                                traffic=traffic)
        except SandboxError as exc:
            raise GoogleApiError(409, "FAILED_PRECONDITION", str(exc)) from None
        return JSONResponse(revision.to_dict(),
                            status_code=201 if revision.state == "ready" else 422)

    async def iam(request: Request) -> Response:
        if request.method == "PUT":
            body = await json_body(request)
            permissions = body.get("granted_permissions", None) if body else None
            if permissions is not None and not (isinstance(permissions, list) and all(
                    isinstance(x, str) for x in permissions)):
                raise invalid('"granted_permissions" must be a list of strings, or null')
            e.set_permissions(permissions)
        held = e.granted_permissions
        return JSONResponse({"granted_permissions": None if held is None else sorted(held)})

    return [
        Route(f"{base}/services", guarded(services), methods=["GET", "POST"]),
        Route(f"{base}/services/{{service}}", guarded(service),
              methods=["GET", "PATCH", "POST", "DELETE"]),
        Route(f"{base}/services/{{service}}/revisions", guarded(revisions), methods=["GET"]),
        Route(f"{base}/services/{{service}}/revisions/{{revision}}", guarded(revision),
              methods=["GET", "DELETE"]),
        Route(f"{base}/operations", guarded(operations), methods=["GET"]),
        Route(f"{base}/operations/{{operation}}", guarded(operation),
              methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/iam", guarded(iam), methods=["GET", "PUT"]),
        Route("/_sandbox/services/{service}/revisions", guarded(deploy), methods=["POST"]),
    ]


def google_fallback_route() -> Route:
    """A last route: any other `/v2/...` call is 404 in Google's error shape."""

    async def fallback(request: Request) -> Response:
        raise GoogleApiError(404, "NOT_FOUND", f"the sandbox does not emulate {request.method} "
                             f"{request.url.path}")

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Route("/v2/{path:path}", guarded(fallback), methods=methods)


def _duration_s(value: Any) -> float:
    if value in (None, ""):
        return _MAX_WAIT_S
    text = str(value)
    try:
        return float(text.removesuffix("s"))
    except ValueError:
        raise invalid(f"timeout must be a duration such as \"30s\", got {value!r}") from None


def _message(request: Request, message: Message) -> JSONResponse:
    return JSONResponse(to_json(message, int_enums=_int_enums(request)))


def listing(request: Request, key: str, page: Sequence[Message],
            token: str | None) -> JSONResponse:
    """A list method's answer: `{key: [...], nextPageToken}`, each key left out when empty
    (an empty `nextPageToken` would make Google's pagers ask again forever)."""
    body: dict[str, Any] = {}
    if page:
        body[key] = [to_json(m, int_enums=_int_enums(request)) for m in page]
    if token:
        body["nextPageToken"] = token
    return JSONResponse(body)
