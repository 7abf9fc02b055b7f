"""Cloud Run Admin v2 resources as the sandbox shows them: Service, Revision, Operation.

The shapes are Google's own protobuf messages (google-cloud-run's `types`), rendered with
protobuf's proto3 JSON mapping (lowerCamelCase keys, int64 as strings, RFC 3339 times),
so a field name can only be one the real API has. Enums are rendered as numbers when the
client asks for `$alt=json;enum-encoding=int` (the Python REST client does), else as names.

What a request may set is checked against what the sandbox emulates: a field it does not
(volumes, VPC access, commands, secrets from Secret Manager, sidecars, traffic tags, ...)
is an INVALID_ARGUMENT naming it, never silently ignored. Output-only fields a client sends
back (uid, conditions, trafficStatuses, ...) are ignored, as Google does.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.api import launch_stage_pb2
from google.cloud import run_v2
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from google.rpc import status_pb2

from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.errors import invalid
from netra_ops.sandbox.runtime.revisions import Revision, RevisionManager, TrafficRule
from netra_ops.sandbox.runtime.telemetry import parse_cpu_quantity, parse_memory_quantity

__all__ = [
    "LATEST",
    "META_FIELDS",
    "REVISION",
    "SERVICE_TYPE_URL",
    "ServiceNames",
    "ServiceView",
    "TemplateDefaults",
    "default_meta",
    "failure_message",
    "granted",
    "list_page",
    "merge_update",
    "meta_of",
    "operation_message",
    "parse_service",
    "requested_rules",
    "revision_message",
    "service_message",
    "service_urls",
    "template_of",
    "to_json",
    "validate_template",
]

ServicePb = run_v2.Service.pb()
TemplatePb = run_v2.RevisionTemplate.pb()
RevisionPb = run_v2.Revision.pb()
ConditionPb = run_v2.Condition.pb()
SERVICE_TYPE_URL = "type.googleapis.com/google.cloud.run.v2.Service"
_State = run_v2.Condition.State
_Severity = run_v2.Condition.Severity
_RevisionReason = run_v2.Condition.RevisionReason
_CONTAINER_MISSING = run_v2.Condition.CommonReason.CONTAINER_MISSING
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
_GA = launch_stage_pb2.LaunchStage.Value("GA")
_INGRESS_ALL = run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL
_RESERVED_ENV = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")
_CREATOR = "anonymous@sandbox.invalid"

# Service fields a request may set besides template and traffic (kept as given).
META_FIELDS = ("description", "labels", "annotations", "client", "clientVersion", "ingress",
               "launchStage", "scaling", "invokerIamDisabled", "defaultUriDisabled",
               "customAudiences")
_OUTPUT_ONLY = {"uid", "generation", "createTime", "updateTime", "deleteTime", "expireTime",
                "creator", "lastModifier", "observedGeneration", "terminalCondition",
                "conditions", "latestReadyRevision", "latestCreatedRevision",
                "trafficStatuses", "uri", "urls", "satisfiesPzs", "reconciling", "etag"}
_SERVICE_FIELDS = {"name", "template", "traffic", *META_FIELDS, *_OUTPUT_ONLY}
_TEMPLATE_FIELDS = {"revision", "labels", "annotations", "scaling", "timeout",
                    "serviceAccount", "containers", "executionEnvironment",
                    "maxInstanceRequestConcurrency", "sessionAffinity"}
_CONTAINER_FIELDS = {"name", "image", "env", "resources", "ports"}
_LIMIT_KEYS = {"cpu", "memory"}
_MAX_TIMEOUT_S = 3600
_MAX_CONCURRENCY = 1000
_MI, _GI = 2**20, 2**30
# (lowest CPU, highest CPU, least memory, most memory): what Cloud Run accepts together.
_MEMORY_FOR_CPU = ((0.08, 0.166, 128 * _MI, 128 * _MI), (0.167, 0.332, 128 * _MI, 256 * _MI),
                   (0.333, 0.582, 128 * _MI, 512 * _MI), (0.583, 0.999, 128 * _MI, 1 * _GI),
                   (1, 1, 128 * _MI, 4 * _GI), (2, 2, 128 * _MI, 8 * _GI),
                   (4, 4, 2 * _GI, 16 * _GI), (6, 6, 4 * _GI, 24 * _GI),
                   (8, 8, 4 * _GI, 32 * _GI))


@dataclass(frozen=True)
class ServiceNames:
    """The resource names of the one emulated service."""

    project: str
    location: str
    service: str

    @property
    def parent(self) -> str:
        """`projects/P/locations/L`."""
        return f"projects/{self.project}/locations/{self.location}"

    @property
    def name(self) -> str:
        """The service's full name."""
        return f"{self.parent}/services/{self.service}"

    def revision(self, short: str) -> str:
        """A revision's full name."""
        return f"{self.name}/revisions/{short}"

    def operation(self, op_id: str) -> str:
        """An operation's full name."""
        return f"{self.parent}/operations/{op_id}"

    def short_revision(self, name: str) -> str:
        """A revision name as a request gives it (short, or full under this service)."""
        return name.removeprefix(f"{self.name}/revisions/")


@dataclass(frozen=True)
class TemplateDefaults:
    """What Cloud Run fills into a template that leaves it out."""

    memory: str
    cpu: str
    port: int = 8080
    timeout_s: int = 300
    concurrency: int = 80
    max_instances: int = 100
    session_affinity: bool = False  # the service's, for a revision the platform started


# -- requests --------------------------------------------------------------------------------

def parse_service(body: Any) -> Message:
    """A Service message from a request body; INVALID_ARGUMENT for unknown or bad fields."""
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received: the body must be a Service object")
    try:
        service = json_format.ParseDict(body, ServicePb())
    except json_format.ParseError as exc:
        first = str(exc).splitlines()[0]
        raise invalid(f"Invalid JSON payload received. {first}") from None
    unsupported = sorted(_set_fields(service) - _SERVICE_FIELDS)
    if unsupported:
        raise invalid(f"the sandbox does not emulate service field(s) {', '.join(unsupported)}"
                      f"; it emulates {', '.join(sorted({'template', 'traffic', *META_FIELDS}))}")
    return service


def merge_update(current: Message, request: Message, mask: Sequence[str] | None) -> Message:
    """The service a PATCH asks for: the request (no mask), or `current` with the masked
    paths taken from the request. Paths are lowerCamelCase or snake_case."""
    if not mask:
        merged = ServicePb()
        merged.CopyFrom(request)
        return merged
    merged = ServicePb()
    merged.CopyFrom(current)
    for path in mask:
        _copy_path(merged, request, [_camel(part) for part in path.strip().split(".")])
    return merged


def _copy_path(target: Message, source: Message, parts: list[str]) -> None:
    top = parts[0]
    if top not in ("template", "traffic", *META_FIELDS):
        raise invalid(f"update_mask path {'.'.join(parts)!r} is not supported; use template, "
                      f"template.<field>, traffic or one of {', '.join(META_FIELDS)}")
    if top == "template" and len(parts) > 1:
        if parts[1] not in _TEMPLATE_FIELDS:
            raise invalid(f"update_mask path {'.'.join(parts)!r} names no emulated template "
                          f"field ({', '.join(sorted(_TEMPLATE_FIELDS))})")
        _copy_field(target.template, source.template, parts[1])
        return
    _copy_field(target, source, top)


def _copy_field(target: Message, source: Message, json_name: str) -> None:
    field = next(f for f in target.DESCRIPTOR.fields if f.json_name == json_name)
    target.ClearField(field.name)
    value = getattr(source, field.name)
    if field.message_type is not None and not field.is_repeated:
        if source.HasField(field.name):
            getattr(target, field.name).CopyFrom(value)
    elif field.is_repeated and field.message_type is not None:
        if field.message_type.GetOptions().map_entry:
            getattr(target, field.name).update(value)
        else:
            getattr(target, field.name).extend(value)
    elif field.is_repeated:
        getattr(target, field.name).extend(value)
    else:
        setattr(target, field.name, value)


def _camel(part: str) -> str:
    head, *rest = part.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def validate_template(service: Message, names: ServiceNames,
                      defaults: TemplateDefaults) -> Message:
    """The requested template, checked and with Cloud Run's defaults filled in."""
    if not service.HasField("template"):
        raise invalid("service.template is required (the revision template to run)")
    template = TemplatePb()
    template.CopyFrom(service.template)
    _refuse_fields("template", template, _TEMPLATE_FIELDS)
    if template.revision and not template.revision.startswith(f"{names.service}-"):
        raise invalid(f"template.revision {template.revision!r} must start with the service "
                      f"name followed by a dash ({names.service}-...)")
    if len(template.containers) != 1:
        raise invalid(f"template.containers must hold exactly one container, got "
                      f"{len(template.containers)} (the sandbox does not emulate sidecars)")
    _check_container(template.containers[0], defaults)
    cpu = _check_resources(template.containers[0].resources.limits)
    if not template.HasField("timeout"):
        template.timeout.FromSeconds(defaults.timeout_s)
    elif not 1 <= template.timeout.ToTimedelta().total_seconds() <= _MAX_TIMEOUT_S:
        raise invalid(f"template.timeout: must be between 1s and {_MAX_TIMEOUT_S}s, got "
                      f"{template.timeout.ToJsonString()}")
    concurrency = template.max_instance_request_concurrency
    if not concurrency:
        template.max_instance_request_concurrency = defaults.concurrency if cpu >= 1 else 1
    elif not 1 <= concurrency <= _MAX_CONCURRENCY:
        raise invalid(f"template.maxInstanceRequestConcurrency: must be between 1 and "
                      f"{_MAX_CONCURRENCY}, got {concurrency}")
    elif cpu < 1 and concurrency > 1:
        raise invalid(f"template.containers[0].resources.limits.cpu: Total cpu < 1 is not "
                      f"supported with concurrency > 1 (cpu {cpu:g}, concurrency {concurrency})")
    if not template.scaling.max_instance_count:
        template.scaling.max_instance_count = defaults.max_instances
    return template


def _check_container(container: Any, defaults: TemplateDefaults) -> None:
    _refuse_fields("template.containers[0]", container, _CONTAINER_FIELDS)
    if not container.image.strip():
        raise invalid("template.containers[0].image is required")
    seen: set[str] = set()
    for var in container.env:
        if var.HasField("value_source"):
            raise invalid(f"env var {var.name}: valueSource (Secret Manager) is not emulated "
                          "by the sandbox; give a plain value")
        if var.name in _RESERVED_ENV:
            raise invalid(f"The following reserved env names were provided: {var.name}. "
                          "These values are automatically set by the system.")
        if not var.name or var.name in seen:
            raise invalid(f"env var names must be non-empty and unique, got {var.name!r}")
        seen.add(var.name)
    limits = container.resources.limits
    unknown = sorted(set(limits) - _LIMIT_KEYS)
    if unknown:
        raise invalid(f"resources.limits {', '.join(unknown)} are not emulated (cpu, memory)")
    limits.setdefault("cpu", defaults.cpu)
    limits.setdefault("memory", defaults.memory)
    try:
        parse_cpu_quantity(limits["cpu"])
        parse_memory_quantity(limits["memory"])
    except SandboxError as exc:
        raise invalid(f"resources.limits: {exc}") from None
    if len(container.ports) > 1:
        raise invalid("a container exposes at most one port")
    if not container.ports:
        container.ports.add(name="http1", container_port=defaults.port)
    elif not 0 < container.ports[0].container_port < 65536:
        raise invalid(f"containerPort must be 1-65535, got {container.ports[0].container_port}")


def _check_resources(limits: Any) -> float:
    """Cloud Run's CPU values and the memory range each allows; the CPU (cores)."""
    cpu = parse_cpu_quantity(limits["cpu"]) or 0.0
    memory = parse_memory_quantity(limits["memory"]) or 0
    allowed = next((r for r in _MEMORY_FOR_CPU if r[0] <= cpu <= r[1]), None)
    where = "template.containers[0].resources.limits"
    if allowed is None:
        raise invalid(f"{where}.cpu: Invalid value specified for cpu: {limits['cpu']}; Cloud "
                      "Run offers 0.08 to 1, or 1, 2, 4, 6 or 8 CPUs")
    low, high = allowed[2], allowed[3]
    if not low <= memory <= high:
        raise invalid(f"{where}.memory: Invalid value specified for container memory. For "
                      f"{cpu:g} CPU, memory must be between {_quantity(low)} and "
                      f"{_quantity(high)} inclusive; got {limits['memory']}")
    return cpu


def _quantity(size: int) -> str:
    return f"{size // 2**30}Gi" if size % 2**30 == 0 else f"{size // 2**20}Mi"


def _refuse_fields(where: str, message: Message, allowed: set[str]) -> None:
    unsupported = sorted(_set_fields(message) - allowed)
    if unsupported:
        raise invalid(f"{where}: the sandbox does not emulate {', '.join(unsupported)} "
                      f"(it emulates {', '.join(sorted(allowed))})")


def _set_fields(message: Message) -> set[str]:
    return {field.json_name for field, _ in message.ListFields()}


def requested_rules(service: Message, names: ServiceNames) -> tuple[TrafficRule, ...]:
    """The traffic rules of a request; empty traffic is 100% to the latest (Cloud Run's
    default). INVALID_ARGUMENT for tags or a type that contradicts the revision."""
    rules = []
    for target in service.traffic:
        if target.tag:
            raise invalid(f"traffic tag {target.tag!r}: tags are not emulated by the sandbox")
        revision = names.short_revision(target.revision) if target.revision else None
        if target.type_ == LATEST and revision:
            raise invalid(f"a LATEST traffic target must not name a revision ({revision})")
        if target.type_ == REVISION and not revision:
            raise invalid("a REVISION traffic target needs the revision's name")
        if not 0 <= target.percent <= 100:
            raise invalid(f"traffic percent must be 0-100, got {target.percent}")
        rules.append(TrafficRule(target.percent, revision))
    return tuple(rules) or (TrafficRule(100),)


# -- responses -------------------------------------------------------------------------------

def template_of(revision: Revision, requested: Message | None,
                defaults: TemplateDefaults) -> Message:
    """A revision's template: the one requested for it, else built from its process spec."""
    if requested is not None:
        return requested
    template = TemplatePb()
    container = template.containers.add(image=revision.image)
    for key, value in revision.env.items():
        container.env.add(name=key, value=value)
    container.resources.limits.update({"cpu": revision.cpu_limit,
                                       "memory": revision.memory_limit})
    container.ports.add(name="http1", container_port=defaults.port)
    template.timeout.FromSeconds(revision.timeout_s)
    template.max_instance_request_concurrency = revision.concurrency
    template.scaling.max_instance_count = defaults.max_instances
    template.session_affinity = defaults.session_affinity
    return template


@dataclass(frozen=True)
class ServiceView:
    """What a Service message is built from."""

    names: ServiceNames
    manager: RevisionManager
    meta: Message
    templates: Mapping[str, Message]
    defaults: TemplateDefaults
    uri: str
    log_uri: str  # with {revision}


def service_message(view: ServiceView) -> Message:
    """The Service as GET returns it."""
    manager, names = view.manager, view.names
    service = ServicePb()
    service.CopyFrom(view.meta)
    service.name = names.name
    service.generation = manager.generation
    service.observed_generation = manager.observed_generation
    service.reconciling = manager.observed_generation < manager.generation
    service.update_time.FromJsonString(manager.updated)
    latest = manager.latest_created
    if latest is not None:
        service.template.CopyFrom(template_of(latest, view.templates.get(latest.name),
                                              view.defaults))
        service.latest_created_revision = names.revision(latest.name)
    if (ready := manager.latest_ready) is not None:
        service.latest_ready_revision = names.revision(ready.name)
    for rule in manager.traffic_rules:
        service.traffic.add(type_=LATEST if rule.latest else REVISION,
                            revision=rule.revision or "", percent=rule.percent)
    for rule, name in manager.routes:
        service.traffic_statuses.add(type_=LATEST if rule.latest else REVISION,
                                     revision=name, percent=rule.percent)
    service.uri = view.uri
    service.urls.extend(service_urls(view.uri))
    service.etag = _etag(service.uid, manager.generation)
    _service_conditions(service, view)
    return service


def service_urls(uri: str) -> list[str]:
    """Every URL a service answers at, as `urls` lists them: Cloud Run lists two (the
    deterministic `https://S-PROJECTNUMBER.REGION.run.app` first, then the main `uri`); a
    sandbox service on 127.0.0.1 answers at `localhost` too, then at its `uri`."""
    prefix = "http://127.0.0.1:"
    return [f"http://localhost:{uri.removeprefix(prefix)}", uri] if uri.startswith(
        prefix) else [uri]


def _service_conditions(service: Message, view: ServiceView) -> None:
    manager = view.manager
    latest = manager.latest_created
    if service.reconciling and latest is not None and latest.state == "starting":
        ready = _condition("Ready", _State.CONDITION_RECONCILING, manager.updated,
                           f"Deploying revision {latest.name}.")
    elif latest is not None and latest.state == "failed":
        ready = _condition("Ready", _State.CONDITION_FAILED, latest.transitioned_at,
                           failure_message(latest, view.log_uri), severity=_Severity.ERROR)
    else:
        ready = _condition("Ready", _State.CONDITION_SUCCEEDED, manager.updated)
    service.terminal_condition.CopyFrom(ready)
    broken = [manager.get(t.revision) for t in manager.traffic
              if manager.get(t.revision).state != "ready"]
    routes = (_condition("RoutesReady", _State.CONDITION_FAILED, broken[0].transitioned_at,
                         f"Revision '{broken[0].name}' receives traffic but is "
                         f"{broken[0].state}.", severity=_Severity.ERROR)
              if broken else _condition("RoutesReady", _State.CONDITION_SUCCEEDED,
                                        manager.updated))
    configurations = _condition("ConfigurationsReady", ready.state, ready.last_transition_time
                                .ToJsonString(), ready.message, severity=ready.severity)
    service.conditions.extend([routes, configurations])


def revision_message(view: ServiceView, revision: Revision) -> Message:
    """A Revision as GET returns it (failed and stopped ones too)."""
    template = template_of(revision, view.templates.get(revision.name), view.defaults)
    message = RevisionPb(
        name=view.names.revision(revision.name),
        uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{view.names.revision(revision.name)}"
                                               f"@{revision.created}")),
        generation=1, launch_stage=_GA, service=view.names.name,
        max_instance_request_concurrency=template.max_instance_request_concurrency,
        service_account=template.service_account,
        execution_environment=template.execution_environment,
        session_affinity=template.session_affinity,
        reconciling=revision.state == "starting",
        observed_generation=0 if revision.state == "starting" else 1,
        log_uri=view.log_uri.format(revision=revision.name), creator=_CREATOR,
    )
    message.labels.update(template.labels)
    message.annotations.update(template.annotations)
    message.create_time.FromJsonString(revision.created)
    message.update_time.FromJsonString(revision.transitioned_at)
    message.scaling.CopyFrom(template.scaling)
    message.timeout.CopyFrom(template.timeout)
    message.containers.extend(template.containers)
    message.containers[0].image = revision.reported_image  # by digest, as Cloud Run does
    message.conditions.extend(_revision_conditions(view, revision))
    message.etag = _etag(message.uid, 1 if revision.state != "starting" else 0)
    return message


def _revision_conditions(view: ServiceView, revision: Revision) -> list[Message]:
    at = revision.transitioned_at
    if revision.state == "starting":
        return [_condition("Ready", _State.CONDITION_RECONCILING, at),
                _condition("ContainerHealthy", _State.CONDITION_RECONCILING, at),
                _condition("ResourcesAvailable", _State.CONDITION_RECONCILING, at)]
    if revision.state == "failed" and _image_missing(revision):
        message = failure_message(revision, view.log_uri)
        return [_condition("Ready", _State.CONDITION_FAILED, at, message,
                           severity=_Severity.ERROR, reason=_CONTAINER_MISSING),
                _condition("ContainerHealthy", _State.CONDITION_RECONCILING, at),
                _condition("ResourcesAvailable", _State.CONDITION_RECONCILING, at)]
    if revision.state == "failed":
        message = failure_message(revision, view.log_uri)
        failed = [_condition(kind, _State.CONDITION_FAILED, at, message,
                             severity=_Severity.ERROR,
                             revision_reason=_RevisionReason.HEALTH_CHECK_CONTAINER_ERROR)
                  for kind in ("Ready", "ContainerHealthy")]
        return [*failed, _condition("ResourcesAvailable", _State.CONDITION_SUCCEEDED, at)]
    ok = [_condition(kind, _State.CONDITION_SUCCEEDED, revision.ready_at or at)
          for kind in ("Ready", "ContainerHealthy", "ResourcesAvailable")]
    return [*ok, _active_condition(view, revision)]


def _active_condition(view: ServiceView, revision: Revision) -> Message:
    at = revision.transitioned_at
    if any(t.revision == revision.name for t in view.manager.traffic):
        return _condition("Active", _State.CONDITION_SUCCEEDED, at)
    if revision.state == "stopped":
        return _condition("Active", _State.CONDITION_FAILED, at,
                          "Revision retired: scaled to zero; sending it traffic starts it "
                          "again.", severity=_Severity.INFO,
                          revision_reason=_RevisionReason.RETIRED)
    return _condition("Active", _State.CONDITION_FAILED, at,
                      "Revision is in reserve: it receives no traffic.",
                      severity=_Severity.INFO, revision_reason=_RevisionReason.RESERVE)


def failure_message(revision: Revision, log_uri: str) -> str:
    """Cloud Run's text for a revision that is not ready, with the sandbox's reason."""
    logs = log_uri.format(revision=revision.name)
    if _image_missing(revision):
        return (f"Revision '{revision.name}' is not ready and cannot serve traffic. "
                f"{revision.reason}")
    if revision.reason and "while serving" in revision.reason:
        return (f"Revision '{revision.name}' is not ready and cannot serve traffic: "
                f"{revision.reason}\nLogs: {logs}")
    return (f"Revision '{revision.name}' is not ready and cannot serve traffic. The "
            "user-provided container failed to start and listen on the port defined "
            f"provided by the PORT={revision.port} environment variable within the "
            f"allocated timeout: {revision.reason}\nLogs: {logs}")


def _image_missing(revision: Revision) -> bool:
    """Whether the revision failed because its image is not in the registry."""
    return revision.state == "failed" and (revision.reason or "").startswith("Image '")


def _condition(kind: str, state: int, at: str, message: str = "", *,
               severity: int = 0, revision_reason: int = 0, reason: int = 0) -> Message:
    condition = ConditionPb(type_=kind, state=state, message=message, severity=severity)
    if revision_reason:
        condition.revision_reason = revision_reason
    elif reason:
        condition.reason = reason
    condition.last_transition_time.FromJsonString(at)
    return condition


def _etag(uid: str, generation: int) -> str:
    digest = hashlib.blake2b(f"{uid}/{generation}".encode(), digest_size=9).hexdigest()
    return f'"{digest}"'


def default_meta(names: ServiceNames, created: str) -> Message:
    """The service-level fields of a fresh service (uid, times, ingress, launch stage)."""
    meta = ServicePb(uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{names.name}@{created}")),
                     creator=_CREATOR, last_modifier=_CREATOR, ingress=_INGRESS_ALL,
                     launch_stage=_GA)
    meta.create_time.FromJsonString(created)
    return meta


def meta_of(service: Message, current: Message) -> Message:
    """The service-level fields a request sets, over `current`'s output-only ones."""
    meta = ServicePb()
    for field in service.DESCRIPTOR.fields:
        if field.json_name in META_FIELDS:
            _copy_field(meta, service, field.json_name)
    meta.uid, meta.creator, meta.last_modifier = current.uid, current.creator, _CREATOR
    meta.create_time.CopyFrom(current.create_time)
    meta.ingress = meta.ingress or _INGRESS_ALL
    meta.launch_stage = meta.launch_stage or _GA
    return meta


# -- operations and JSON ---------------------------------------------------------------------

def operation_message(name: str, metadata: Message, *, done: bool,
                      response: Message | None = None,
                      error: tuple[int, str] | None = None) -> Message:
    """A google.longrunning.Operation with the Service as metadata (and response)."""
    operation = operations_pb2.Operation(name=name, done=done)
    operation.metadata.Pack(metadata)
    if response is not None:
        operation.response.CopyFrom(_packed(response))
    if error is not None:
        operation.error.CopyFrom(status_pb2.Status(code=error[0], message=error[1]))
    return operation


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_json(message: Message, *, int_enums: bool) -> dict[str, Any]:
    """Proto3 JSON of a message (enums as numbers if the client asked for them)."""
    data: dict[str, Any] = json_format.MessageToDict(message, use_integers_for_enums=int_enums)
    return data


def list_page(items: Sequence[Any], page_size: Any, page_token: Any,
              max_size: int = 1000) -> tuple[Sequence[Any], str | None]:
    """One page of `items` and the next token (None on the last page)."""
    try:
        size = int(page_size or 0)
        start = int(page_token or 0)
    except (TypeError, ValueError):
        raise invalid(f"pageSize and pageToken must be integers this API returned, got "
                      f"{page_size!r} and {page_token!r}") from None
    if size < 0 or start < 0:
        raise invalid("pageSize and pageToken must not be negative")
    size = min(size or max_size, max_size)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def granted(permissions: Iterable[str], allowed: frozenset[str] | None) -> list[str]:
    """The permissions of a testIamPermissions request that the caller holds."""
    return [p for p in permissions if allowed is None or p in allowed]
