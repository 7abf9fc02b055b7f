"""The platform process: the routers, the Google API emulation and the revisions it owns.

One asyncio loop runs the uvicorn servers: a router per Cloud Run service (the backend's
stable URL on `[sandbox.ports] backend`; with `services` in the spec, auth and frontend on
their ports too, each with its own RevisionManager) and the API port (`[sandbox.ports] api`:
the `/_sandbox/*` admin routes, Cloud Run Admin v2 for every service, Artifact Registry v1,
Cloud Build v1 (builds of the rehearsal repository) and Cloud Logging v2 over REST, and
Resource Manager's projects.testIamPermissions from Cloud Run's granted permissions).
Beside them, on `[sandbox.ports] monitoring`, a gRPC server emulates Cloud Monitoring's
ListTimeSeries from the request log and a sampler of the revisions' memory and CPU (one
sample a second); Logging and Monitoring share one reader of the request log.

At start it creates each service's first revision from the spec the supervisor wrote
(`platform-spec.json`), which gets 100% of the traffic (Cloud Run's default: LATEST). On
SIGTERM or SIGINT it stops every revision and the Monitoring server, then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from netra_ops.errors import SandboxError
from netra_ops.sandbox.control.admin_api import create_admin_app
from netra_ops.sandbox.google.build_api import CloudBuildEmulator, build_routes
from netra_ops.sandbox.google.jobs_api import CloudRunJobsEmulator, jobs_routes
from netra_ops.sandbox.google.logging_api import logging_routes
from netra_ops.sandbox.google.monitoring_api import MonitoringServer
from netra_ops.sandbox.google.registry import Registry, registry_routes
from netra_ops.sandbox.google.resourcemanager_api import resourcemanager_routes
from netra_ops.sandbox.google.run_api import CloudRunEmulator, google_fallback_route, run_routes
from netra_ops.sandbox.google.scheduler_api import CloudSchedulerEmulator, scheduler_routes
from netra_ops.sandbox.google.storage_api import StorageEmulator, storage_routes
from netra_ops.sandbox.runtime.revisions import REVISION_COMMAND, RevisionManager
from netra_ops.sandbox.runtime.router import RequestLog, Router
from netra_ops.sandbox.runtime.state import StatePaths, read_json, write_json_atomic
from netra_ops.sandbox.runtime.telemetry import ProcessSampler
from netra_ops.sandbox.runtime.telemetry import RequestLog as RequestLogReader
from netra_ops.sandbox.services.http_serving import server_options
from netra_ops.sandbox.services.service_logging import configure_logging

__all__ = ["EmbeddedServer", "PlatformSpec", "ServiceSpec", "main", "run_platform"]

logger = logging.getLogger("netra_ops.sandbox.platform")


@dataclass(frozen=True)
class ServiceSpec:
    """Another Cloud Run service the platform runs (auth, frontend): its revisions are
    `python -m netra_ops.sandbox ROLE` processes behind a router on `port`."""

    service: str
    role: str
    port: int
    image: str
    base_env: Mapping[str, str] = field(default_factory=dict)
    memory_limit: str = "512Mi"
    cpu_limit: str = "1"
    timeout_s: int = 300
    concurrency: int = 80
    session_affinity: bool = False

    @property
    def command(self) -> tuple[str, ...]:
        """What a revision of this service runs (the host and port are appended)."""
        return (*REVISION_COMMAND[:-1], self.role)


@dataclass(frozen=True)
class PlatformSpec:
    """What the platform serves: written by the supervisor, read by the platform process."""

    service: str
    host: str
    router_port: int
    api_port: int
    image: str
    base_env: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str | None] = field(default_factory=dict)
    memory_limit: str = "512Mi"
    cpu_limit: str = "1"
    timeout_s: int = 300
    concurrency: int = 80
    session_affinity: bool = False
    startup_timeout_s: float = 30.0
    project: str = "netra-sandbox"
    region: str = "us-central1"
    monitoring_port: int | None = None
    granted_permissions: Sequence[str] | None = None
    sample_interval_s: float = 1.0
    services: Sequence[ServiceSpec] = ()

    @property
    def service_url(self) -> str:
        """The backend service's stable URL (the router)."""
        return f"http://{self.host}:{self.router_port}"

    @property
    def api_url(self) -> str:
        """Where the admin API and the Google REST emulation answer."""
        return f"http://{self.host}:{self.api_port}"

    def write(self, path: Path) -> None:
        """Save the spec as JSON."""
        permissions = self.granted_permissions
        write_json_atomic(path, {**asdict(self), "base_env": dict(self.base_env),
                                 "env": dict(self.env), "granted_permissions":
                                 None if permissions is None else list(permissions),
                                 "services": [{**asdict(s), "base_env": dict(s.base_env)}
                                              for s in self.services]})

    @classmethod
    def read(cls, path: Path) -> PlatformSpec:
        """Load a spec; SandboxError says what is missing or wrong."""
        data = read_json(path)
        if data is None:
            raise SandboxError(f"platform spec {path} does not exist (the supervisor writes it)")
        try:
            services = tuple(ServiceSpec(**s) for s in data.pop("services", None) or ())
            return cls(**data, services=services)
        except TypeError as exc:
            raise SandboxError(f"platform spec {path} is malformed: {exc}") from None


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host (several share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: the platform handles SIGTERM/SIGINT itself."""
        yield


def embedded_server(app: Any, host: str, port: int) -> EmbeddedServer:
    """A quiet uvicorn server for `app` (no access log, logging left as configured)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="on",
        date_header=False, ws_per_message_deflate=False, timeout_graceful_shutdown=3,
        **server_options(),  # Google's front ends keep idle connections too
    )
    return EmbeddedServer(config)


async def run_platform(
    spec: PlatformSpec,
    paths: StatePaths,
    *,
    stop: asyncio.Event,
    command: Sequence[str] = REVISION_COMMAND,
) -> None:
    """Serve the router, the API port and Monitoring until `stop` is set; revisions, the
    Monitoring server and the sampler are stopped on exit.

    PortInUseError if the Monitoring port is taken (before anything else starts).
    """
    registry = Registry(spec.project, spec.region)
    manager = RevisionManager(
        service=spec.service, paths=paths, base_env=spec.base_env, host=spec.host,
        memory_limit=spec.memory_limit, cpu_limit=spec.cpu_limit, timeout_s=spec.timeout_s,
        concurrency=spec.concurrency, session_affinity=spec.session_affinity,
        startup_timeout_s=spec.startup_timeout_s, command=command,
        locate=registry.locate, labels_of=registry.labels,
    )
    requests = RequestLogReader(paths.root)
    monitoring = _start_monitoring(spec, paths, requests)
    request_log = RequestLog(paths.requests_log)
    emulator = CloudRunEmulator(manager, project=spec.project, location=spec.region,
                                service_url=spec.service_url, api_url=spec.api_url,
                                granted_permissions=spec.granted_permissions)
    others = [_other_service(s, spec, paths, registry, emulator) for s in spec.services]
    builds = CloudBuildEmulator(registry, paths, api_url=spec.api_url,
                                permissions=lambda: emulator.granted_permissions)
    jobs = CloudRunJobsEmulator(emulator, paths, api_url=spec.api_url)
    schedules = CloudSchedulerEmulator(spec.project, spec.region, api_url=spec.api_url,
                                       permissions=lambda: emulator.granted_permissions)
    storage = StorageEmulator(paths.root / "storage", spec.project, api_url=spec.api_url,
                              permissions=lambda: emulator.granted_permissions)
    google = [*run_routes(emulator), *jobs_routes(jobs), *scheduler_routes(schedules),
              *storage_routes(storage),
              *resourcemanager_routes(emulator),
              *registry_routes(registry), *build_routes(builds),
              *logging_routes(paths.root, spec.project, spec.service, location=spec.region,
                              request_log=requests),
              google_fallback_route()]
    admin = create_admin_app(manager, service_url=spec.service_url, extra_routes=google)
    servers = [embedded_server(Router(manager, request_log), spec.host, spec.router_port),
               embedded_server(admin, spec.host, spec.api_port),
               *(embedded_server(Router(m, request_log), spec.host, s.port)
                 for s, m in zip(spec.services, others, strict=True))]
    managers = [manager, *others]
    serving = [asyncio.create_task(server.serve()) for server in servers]
    firsts = [asyncio.create_task(_first_revision(manager, spec.image, spec.env)),
              *(asyncio.create_task(_first_revision(m, s.image, {}))
                for s, m in zip(spec.services, others, strict=True))]
    try:
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([stopped, *serving], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
    finally:
        logger.info("platform stopping: stopping revisions")
        for first in firsts:
            first.cancel()
        await emulator.close()
        await builds.close()
        await schedules.close()
        await jobs.close()
        await asyncio.gather(*(m.stop_all() for m in managers))
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*serving, *firsts, return_exceptions=True)
        request_log.close()
        if monitoring is not None:
            await asyncio.to_thread(monitoring.stop)


class _Monitoring:
    """The Monitoring gRPC server and the sampler that feeds it, stopped together."""

    def __init__(self, server: MonitoringServer, sampler: ProcessSampler) -> None:
        self.server = server
        self.sampler = sampler

    def stop(self) -> None:
        self.server.stop()
        self.sampler.stop()


def _start_monitoring(spec: PlatformSpec, paths: StatePaths,
                      requests: RequestLogReader) -> _Monitoring | None:
    """Start the sampler and the Monitoring server (None without a monitoring port)."""
    if spec.monitoring_port is None:
        return None
    sampler = ProcessSampler(paths.root, interval_s=spec.sample_interval_s).start()
    server = MonitoringServer(paths.root, spec.project, spec.service, sampler,
                              location=spec.region, request_log=requests)
    try:
        port = server.start(spec.host, spec.monitoring_port)
    except SandboxError:
        sampler.stop()
        raise
    logger.info("Monitoring emulation (gRPC) on %s:%s", spec.host, port)
    return _Monitoring(server, sampler)


def _other_service(service: ServiceSpec, spec: PlatformSpec, paths: StatePaths,
                   registry: Registry, emulator: CloudRunEmulator) -> RevisionManager:
    """The RevisionManager of another service, joined to the Cloud Run emulation."""
    manager = RevisionManager(
        service=service.service, paths=paths, base_env=service.base_env, host=spec.host,
        memory_limit=service.memory_limit, cpu_limit=service.cpu_limit,
        timeout_s=service.timeout_s, concurrency=service.concurrency,
        session_affinity=service.session_affinity,
        startup_timeout_s=spec.startup_timeout_s, command=service.command,
        locate=registry.locate, labels_of=registry.labels,
        record=paths.service_revisions_json(service.role),
    )
    emulator.join(CloudRunEmulator(
        manager, project=spec.project, location=spec.region,
        service_url=f"http://{spec.host}:{service.port}", api_url=spec.api_url))
    return manager


async def _first_revision(manager: RevisionManager, image: str,
                          env: Mapping[str, str | None]) -> None:
    revision = await manager.create(image, manager.env_with(env))
    if revision.state != "ready":
        logger.error("the first revision %s failed: %s", revision.name, revision.reason)


class _DenialIsNotAnError(logging.Filter):
    """Drop uvicorn's "returned without completing handshake" after a WebSocket denial.

    uvicorn's websockets-sansio protocol logs that ERROR even when the app answered the
    handshake with an HTTP response (the ASGI `websocket.http.response` extension), which
    the router does on purpose for a 503. The request log records those answers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


def main(spec_path: Path, state_dir: Path) -> int:
    """Entry point of `python -m netra_ops.sandbox platform`; the exit code."""
    configure_logging({"service": "sandbox-platform"})
    logging.getLogger("uvicorn.error").addFilter(_DenialIsNotAnError())
    spec = PlatformSpec.read(spec_path)
    paths = StatePaths(state_dir).ensure()
    try:
        asyncio.run(_main(spec, paths))
    except SandboxError as exc:
        logger.error("the platform cannot run: %s", exc)
        return 1
    return 0


async def _main(spec: PlatformSpec, paths: StatePaths) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info("platform serving %s at %s (admin and Google APIs on port %s, Monitoring "
                "on port %s)", spec.service, spec.service_url, spec.api_port,
                spec.monitoring_port)
    await run_platform(spec, paths, stop=stop)
