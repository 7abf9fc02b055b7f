"""A backend revision: Netra's backend as one Cloud Run revision process.

Routes (DESIGN.md, "The sandbox", item 2):

- `GET|HEAD /health`, `/health/ready` -> 200 `{status:"healthy", service, version,
  revision, timestamp, build, image, checks:{agent, auth_service}}`; 503
  `{status:"unhealthy", ...}` while the revision warms up.
- WebSocket `/ws`: see `netra_ops.sandbox.services.backend_ws`.

What the revision does follows its image (`build_of`) and its `NETRA_FAULT_*` variables
(`netra_ops.sandbox.services.backend_faults`); see docs/sandbox-internals.md. Every log line
on stdout is one JSON object (Cloud Run structured logging).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from netra_ops.errors import ConfigError
from netra_ops.sandbox.services.backend_faults import FaultInjector, HttpFaultMiddleware
from netra_ops.sandbox.services.backend_settings import (
    GOLDEN_PATH_EVENTS,
    BackendSettings,
    Build,
    build_of,
)
from netra_ops.sandbox.services.backend_ws import BackendRuntime, websocket_endpoint
from netra_ops.sandbox.services.http_serving import server_options
from netra_ops.sandbox.services.service_logging import configure_logging, rfc3339_now
from netra_ops.sandbox.services.service_watchdog import ParentWatchdog

__all__ = [
    "GOLDEN_PATH_EVENTS",
    "BackendSettings",
    "Build",
    "build_of",
    "create_app",
    "serve",
]

_LOG = logging.getLogger("netra_ops.sandbox.backend")
GRACEFUL_SHUTDOWN_S = 3.0


@dataclass
class _Readiness:
    started: float
    ready: bool = False


def create_app(settings: BackendSettings) -> Starlette:
    """The revision as an ASGI app; ready at once when `settings.warmup_s` is 0."""
    faults = FaultInjector(
        http_error_rate=settings.http_error_rate,
        latency_ms=settings.latency_ms,
        memory_growth_kb=settings.memory_growth_kb,
        memory_growth_kb_per_s=settings.memory_growth_kb_per_s,
        echo_secrets=settings.echo_secrets,
        seed=settings.fault_seed,
        memory_report_factor=settings.memory_report_factor,
    )
    runtime = BackendRuntime(settings=settings, faults=faults)
    readiness = _Readiness(started=time.monotonic(), ready=settings.warmup_s <= 0)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        warm_up = asyncio.create_task(_warm_up(readiness, runtime))
        leak = asyncio.create_task(faults.grow_steadily())
        _warn_if_synthetic(faults)
        try:
            yield
        finally:
            warm_up.cancel()
            leak.cancel()
            await runtime.aclose()
            faults.close()

    app = Starlette(
        routes=[
            Route("/health", _health, methods=["GET"]),
            Route("/health/ready", _health, methods=["GET"]),
            WebSocketRoute("/ws", websocket_endpoint),
        ],
        middleware=[Middleware(HttpFaultMiddleware, faults=faults)],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.readiness = readiness
    return app


def _warn_if_synthetic(faults: FaultInjector) -> None:
    if faults.memory_report_factor > 1:
        _LOG.warning(
            "reported memory is partly synthetic: each retained byte shows %g times in RSS "
            "(NETRA_FAULT_MEMORY_REPORT_FACTOR); /health memory.synthetic_bytes says how much",
            faults.memory_report_factor,
            extra={"fields": {"memory_report_factor": faults.memory_report_factor}},
        )


async def _warm_up(readiness: _Readiness, runtime: BackendRuntime) -> None:
    """Simulated start-up work: /health answers 503 until it is done."""
    settings, began = runtime.settings, time.monotonic()
    await runtime.prepare()
    await asyncio.sleep(max(0.0, settings.warmup_s - (time.monotonic() - began)))
    if not readiness.ready:
        readiness.ready = True
        _LOG.info("revision ready", extra={"fields": {"build": settings.build}})


async def _health(request: Request) -> JSONResponse:
    runtime: BackendRuntime = request.app.state.runtime
    readiness: _Readiness = request.app.state.readiness
    settings = runtime.settings
    body = {
        "status": "healthy" if readiness.ready else "unhealthy",
        "service": settings.service,
        "version": settings.version,
        "revision": settings.revision,
        "timestamp": rfc3339_now(),
        "build": settings.build,
        "image": settings.image,
        "environment": settings.environment,
        "uptime_seconds": round(time.monotonic() - readiness.started, 3),
        "checks": {
            "agent": "ok" if readiness.ready else "starting",
            "auth_service": "configured" if settings.auth_service_url else "not_configured",
        },
        "memory": {
            "retained_bytes": runtime.faults.retained_bytes,
            "synthetic_bytes": runtime.faults.synthetic_bytes,
            "report_factor": runtime.faults.memory_report_factor,
        },
    }
    if not readiness.ready:
        body["reason"] = "starting"
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


def serve(host: str, port: int | None = None) -> None:
    """Run this revision until stopped; settings from `os.environ` (port defaults to PORT).

    A crash build, `NETRA_FAULT_CRASH_ON_START` or invalid settings log one ERROR line and
    exit with status 1 before listening, as a failing container does.
    """
    logger = configure_logging(
        {"service": os.environ.get("K_SERVICE", BackendSettings.service),
         "revision": os.environ.get("K_REVISION", BackendSettings.revision)}
    )
    try:
        settings = BackendSettings.from_environ(os.environ)
    except ConfigError as exc:
        logger.error("Container failed to start: invalid configuration: %s", exc)
        sys.exit(1)
    _exit_if_crashing(settings, logger)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=host,
            port=port or settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
            **server_options(),
        )
    )
    if settings.parent_pid is not None:
        ParentWatchdog(settings.parent_pid, lambda: _stop(server, settings)).start()
    logger.info("revision starting", extra={"fields": {"image": settings.image,
                                                       "build": settings.build}})
    server.run()


def _exit_if_crashing(settings: BackendSettings, logger: logging.Logger) -> None:
    if settings.build == "crash":
        reason = f"image {settings.image} is a crash build"
    elif settings.crash_on_start:
        reason = "NETRA_FAULT_CRASH_ON_START is set"
    else:
        return
    logger.error(
        "Container failed to start: application startup aborted (%s); exiting with status 1",
        reason,
        extra={"fields": {"image": settings.image, "build": settings.build}},
    )
    sys.exit(1)


def _stop(server: uvicorn.Server, settings: BackendSettings) -> None:
    """Shut down cleanly because the parent is gone; force the exit if that hangs."""
    _LOG.warning(
        "parent process %s is gone; shutting down", settings.parent_pid,
        extra={"fields": {"parent_pid": settings.parent_pid}},
    )
    server.should_exit = True
    hard_stop = threading.Timer(GRACEFUL_SHUTDOWN_S + 2, os._exit, args=(0,))
    hard_stop.daemon = True
    hard_stop.start()
