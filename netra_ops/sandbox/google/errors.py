"""Google's error shape, for every emulated API: one error, answered over REST or gRPC.

An emulated API refuses a call by raising `GoogleApiError(http_code, status, message)`,
`status` being a `google.rpc.Code` name (`NOT_FOUND`, `INVALID_ARGUMENT`, ...):

- REST routes wrapped in `guarded` answer it with that HTTP code and Google's JSON body
  `{"error": {"code", "message", "status"}}`, which google-api-core turns into `NotFound`,
  `PermissionDenied`, ... on the client's side;
- the gRPC Monitoring emulation aborts the call with the same status (`grpc_code`).

`json_body` reads a REST request's JSON object, refusing a malformed one as Google does.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from netra_ops.errors import SandboxError

__all__ = ["GoogleApiError", "Handler", "guarded", "invalid", "json_body"]

Handler = Callable[[Request], Awaitable[Response]]


class GoogleApiError(SandboxError):
    """A call an emulated Google API refuses: HTTP code, Google status, message."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        """Google's error JSON: `{"error": {"code", "message", "status"}}`."""
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}

    def response(self) -> JSONResponse:
        """The REST answer: `body()` with the HTTP code."""
        return JSONResponse(self.body(), status_code=self.code)

    @property
    def grpc_code(self) -> grpc.StatusCode:
        """The gRPC status of the same name (`NOT_FOUND` -> `StatusCode.NOT_FOUND`)."""
        return grpc.StatusCode[self.status]


def invalid(message: str) -> GoogleApiError:
    """400 INVALID_ARGUMENT: the request itself is malformed."""
    return GoogleApiError(400, "INVALID_ARGUMENT", message)


def guarded(handler: Handler) -> Handler:
    """`handler`, answering a GoogleApiError it raises in Google's JSON error shape."""

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except GoogleApiError as exc:
            return exc.response()

    return answer


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); 400 INVALID_ARGUMENT otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise invalid(f"Invalid JSON payload received: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("Invalid JSON payload received: the body must be a JSON object")
    return data
