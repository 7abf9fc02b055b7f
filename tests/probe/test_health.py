"""Health probe against a real HTTP server on loopback, with healthy and broken answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from netra_ops.probe import health


def _healthy(request: Request) -> Response:
    return JSONResponse({"status": "healthy", "service": "backend", "version": "1.2.3",
                         "revision": "backend-00002-abc"})


def _starting(request: Request) -> Response:
    return JSONResponse({"status": "unhealthy", "reason": "starting"}, status_code=503)


def _not_json(request: Request) -> Response:
    return PlainTextResponse("OK")


def _degraded(request: Request) -> Response:
    return JSONResponse({"status": "degraded"})


def _slow(request: Request) -> Response:
    time.sleep(1.0)
    return JSONResponse({"status": "healthy"})


APP = Starlette(routes=[
    Route("/health", _healthy, methods=["GET", "HEAD"]),
    Route("/starting", _starting), Route("/text", _not_json), Route("/degraded", _degraded),
    Route("/slow", _slow),
])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(APP, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def test_healthy_json_is_ok(server_url: str) -> None:
    result = health(server_url)
    assert result.ok and result.error is None
    assert (result.status_code, result.status, result.revision) == (200, "healthy",
                                                                     "backend-00002-abc")
    assert result.json_valid and result.latency_ms > 0
    frame = result.to_frame()
    assert frame.loc[0, "url"] == f"{server_url}/health" and bool(frame.loc[0, "ok"])


def test_503_while_starting_is_reported_not_raised(server_url: str) -> None:
    result = health(server_url, path="/starting")
    assert not result.ok
    assert result.status_code == 503 and result.status == "unhealthy"
    assert result.error == "HTTP 503: status is 'unhealthy', not 'healthy'"


def test_200_without_json_fails_the_seeds_valid_json_criterion(server_url: str) -> None:
    result = health(server_url, path="/text")
    assert not result.ok and not result.json_valid
    assert result.error == "HTTP 200: body is not a JSON object"
    assert health(server_url, path="/text", expect_json=False).ok


def test_status_other_than_healthy_fails(server_url: str) -> None:
    assert health(server_url, path="/degraded").error == (
        "HTTP 200: status is 'degraded', not 'healthy'")


def test_head_only_needs_a_2xx(server_url: str) -> None:
    result = health(server_url, method="HEAD")
    assert result.ok and result.status_code == 200 and not result.json_valid


def test_timeout_is_a_result(server_url: str) -> None:
    result = health(server_url, path="/slow", timeout_s=0.2)
    assert not result.ok and result.status_code is None
    assert result.error is not None and "Timeout" in result.error


def test_refused_connection_is_a_result() -> None:
    result = health(f"http://127.0.0.1:{_free_port()}")
    assert not result.ok and result.status_code is None
    assert result.error is not None and "ConnectError" in result.error
