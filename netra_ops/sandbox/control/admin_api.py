"""The sandbox's own admin API (`/_sandbox/*` on `[sandbox.ports] api`).

- `GET  /_sandbox/health`     -> 200 `{"status": "healthy"}` (the platform itself)
- `GET  /_sandbox/status`     -> `{"service", "url", "revisions": [...], "traffic": [...]}`
- `POST /_sandbox/revisions`  `{"image", "env": {...}, "traffic": true}` -> 201 the ready
  Revision, or 422 the failed one (its `reason` holds the log tail). `env` is applied over
  the platform's base env (the environment's expected configuration); a null value removes
  a variable.
- `PUT  /_sandbox/traffic`    `{"traffic": [{"revision", "percent"}]}` -> 200 the status, or
  400 `{"error": ...}` when the split is invalid. The revisions are pinned (as Cloud Run's
  REVISION traffic targets): later deploys with `traffic: false` leave them serving.
- `GET  /_sandbox/revisions/{name}/log?lines=N` -> the last N (default 200) lines of that
  revision's stdout+stderr, as text (the `logUri` of the emulated Cloud Run revisions).
- `POST /_sandbox/revisions/{name}/pause` `{"seconds": S}` -> 200 `{"revision", "pid",
  "seconds", "resumes_at"}`: the revision's process is frozen (SIGSTOP) and runs on
  (SIGCONT) S seconds later, to stall the backend on purpose; 400 unless 0 < S <= 60, 404
  for an unknown revision, 409 when it is not ready.
- `GET|PUT /_sandbox/observability` `{"monitoring": {"delay_s", "fault"}, "logging": {...}}`:
  how late Logging and Monitoring show data and whether they fail
  (`netra_ops.sandbox.google.observability`); 400 names a malformed field.

The Google API emulation (Cloud Run Admin, Logging) adds its routes to the same app through
`extra_routes`; both it and these routes drive the same RevisionManager.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.observability import (
    Observability,
    current_observability,
    set_observability,
)
from netra_ops.sandbox.runtime.revisions import MAX_PAUSE_S, RevisionManager, TrafficTarget
from netra_ops.sandbox.runtime.state import tail

_DEFAULT_LOG_LINES = 200
_MAX_LOG_LINES = 10_000

__all__ = ["admin_routes", "create_admin_app"]


class _BadRequest(Exception):
    """A request body the admin API cannot use (answered 400)."""


def create_admin_app(
    manager: RevisionManager, *, service_url: str, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """The admin API app over a RevisionManager (plus any emulation routes)."""
    return Starlette(routes=[*admin_routes(manager, service_url=service_url), *extra_routes])


def admin_routes(manager: RevisionManager, *, service_url: str) -> list[BaseRoute]:
    """The `/_sandbox/*` routes."""

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "healthy"})

    async def status(request: Request) -> JSONResponse:
        return JSONResponse({**manager.snapshot(), "url": service_url})

    async def create_revision(request: Request) -> JSONResponse:
        try:
            image, env, traffic = _revision_request(await _json_object(request))
        except _BadRequest as exc:
            return _error(400, str(exc))
        try:
            revision = await manager.create(image, manager.env_with(env), traffic=traffic)
        except SandboxError as exc:
            return _error(409, str(exc))
        return JSONResponse(revision.to_dict(), status_code=201 if revision.state == "ready"
                            else 422)

    async def set_traffic(request: Request) -> JSONResponse:
        try:
            targets = _traffic_request(await _json_object(request))
            manager.set_traffic(targets)
        except (_BadRequest, SandboxError) as exc:
            return _error(400, str(exc))
        return JSONResponse({**manager.snapshot(), "url": service_url})

    async def revision_log(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            manager.get(name)
            lines = int(request.query_params.get("lines", _DEFAULT_LOG_LINES))
        except SandboxError as exc:
            return _error(404, str(exc))
        except ValueError:
            return _error(400, '"lines" must be an integer')
        text = tail(manager.paths.revision_log(name), max(0, min(lines, _MAX_LOG_LINES)))
        return PlainTextResponse(text + "\n" if text else "")

    async def pause_revision(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        try:
            revision = manager.get(name)
        except SandboxError as exc:
            return _error(404, str(exc))
        try:
            seconds = _pause_request(await _json_object(request))
            resumes_at = await manager.pause(name, seconds)
        except _BadRequest as exc:
            return _error(400, str(exc))
        except SandboxError as exc:
            return _error(409, str(exc))
        return JSONResponse({"revision": name, "pid": revision.pid, "seconds": seconds,
                             "resumes_at": _rfc3339(resumes_at)})

    async def observability(request: Request) -> JSONResponse:
        if request.method == "PUT":
            try:
                set_observability(Observability.from_dict(await _json_object(request)))
            except (_BadRequest, SandboxError) as exc:
                return _error(400, str(exc))
        return JSONResponse(current_observability().to_dict())

    return [
        Route("/_sandbox/health", health, methods=["GET", "HEAD"]),
        Route("/_sandbox/observability", observability, methods=["GET", "PUT"]),
        Route("/_sandbox/status", status, methods=["GET"]),
        Route("/_sandbox/revisions", create_revision, methods=["POST"]),
        Route("/_sandbox/revisions/{name}/log", revision_log, methods=["GET"]),
        Route("/_sandbox/revisions/{name}/pause", pause_revision, methods=["POST"]),
        Route("/_sandbox/traffic", set_traffic, methods=["PUT"]),
    ]


def _rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"null")
    except json.JSONDecodeError as exc:
        raise _BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _BadRequest("the body must be a JSON object")
    return data


def _revision_request(data: dict[str, Any]) -> tuple[str, dict[str, str | None], bool]:
    """(image, env overrides, traffic) of a POST /_sandbox/revisions body."""
    image = data.get("image")
    if not isinstance(image, str) or not image.strip():
        raise _BadRequest('"image" must be a non-empty string (e.g. "repo/backend:tag")')
    env = data.get("env") or {}
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in env.items()
    ):
        raise _BadRequest('"env" must be an object of string (or null, to remove) values')
    traffic = data.get("traffic", True)
    if not isinstance(traffic, bool):
        raise _BadRequest('"traffic" must be true or false')
    return image.strip(), env, traffic


def _pause_request(data: dict[str, Any]) -> float:
    """The seconds of a POST /_sandbox/revisions/{name}/pause body."""
    seconds = data.get("seconds")
    if (not isinstance(seconds, int | float) or isinstance(seconds, bool)
            or not 0 < seconds <= MAX_PAUSE_S):
        raise _BadRequest(f'"seconds" must be a number of seconds, more than 0 and at most '
                          f"{MAX_PAUSE_S:g}, got {seconds!r}")
    return float(seconds)


def _traffic_request(data: dict[str, Any]) -> list[TrafficTarget]:
    """The targets of a PUT /_sandbox/traffic body."""
    items = data.get("traffic")
    if not isinstance(items, list) or not items:
        raise _BadRequest('"traffic" must be a non-empty list of {"revision", "percent"}')
    targets = []
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("revision"), str)
                and isinstance(item.get("percent"), int)
                and not isinstance(item.get("percent"), bool)):
            raise _BadRequest(
                f'each traffic entry needs "revision" (string) and "percent" (integer): {item}'
            )
        targets.append(TrafficTarget(item["revision"], item["percent"]))
    return targets
