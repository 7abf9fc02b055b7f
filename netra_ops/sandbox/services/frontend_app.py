"""The sandbox's frontend: one small chat page that really walks the golden path.

`GET|HEAD /` serves `static/chat.html` with the auth and backend URLs injected as JSON. Its
script logs in (`POST {auth}/auth/login`), opens `{backend}/ws` with subprotocol
`jwt.<token>`, sends `user_message` and shows each golden-path event and the final answer,
state written as text. `GET|HEAD /health` answers JSON.
"""

from __future__ import annotations

import json
import os
from importlib import metadata, resources

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from netra_ops.errors import ConfigError
from netra_ops.sandbox.services.http_serving import server_options
from netra_ops.sandbox.services.service_logging import log_config, rfc3339_now

__all__ = ["SERVICE_NAME", "create_app", "render_page", "serve"]

SERVICE_NAME = "frontend"
_PAGE = "static/chat.html"
_PLACEHOLDER = "__NETRA_CONFIG__"
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def render_page(*, auth_url: str, backend_url: str) -> str:
    """The chat page with the service URLs embedded as script-safe JSON."""
    template = resources.files("netra_ops.sandbox.services").joinpath(_PAGE).read_text()
    config = json.dumps({"auth_url": auth_url, "backend_url": backend_url})
    return template.replace(_PLACEHOLDER, config.translate(_SCRIPT_SAFE))


def create_app(*, auth_url: str, backend_url: str) -> Starlette:
    """The frontend as an ASGI app; ConfigError if a URL is not http(s)."""
    urls = {"auth_url": _checked(auth_url, "auth_url"),
            "backend_url": _checked(backend_url, "backend_url")}
    page = render_page(**urls)

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(
            page, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "healthy", "service": SERVICE_NAME,
                             "version": _version(), "timestamp": rfc3339_now(), **urls})

    return Starlette(routes=[Route("/", index, methods=["GET"]),
                             Route("/health", health, methods=["GET"])])


def _checked(url: str, name: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"frontend {name} must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def _version() -> str:
    try:
        return metadata.version("netra-ops")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def serve(host: str, port: int) -> None:
    """Run the frontend until stopped, with NETRA_SANDBOX_AUTH_URL / _BACKEND_URL.

    Raises ConfigError when either variable is missing or not an http(s) URL.
    """
    urls = {}
    for name, variable in (("auth_url", "NETRA_SANDBOX_AUTH_URL"),
                           ("backend_url", "NETRA_SANDBOX_BACKEND_URL")):
        value = os.environ.get(variable, "").strip()
        if not value:
            raise ConfigError(f"{variable} is not set; the frontend needs the {name[:-4]} URL")
        urls[name] = value
    app = create_app(**urls)
    uvicorn.run(app, host=host, port=port, **server_options(),
                log_config=log_config({"service": SERVICE_NAME}, access_log=True))
