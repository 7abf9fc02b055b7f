"""The health probe against a server that misbehaves on purpose (tests/probe/hostile_http.py).

Each case asserts a failed result, its reason in words and that the call returned within
its bound, through both the blocking and the asyncio probe; `no_leaks` checks that no
thread, socket or connection is left behind (and, for async, no task).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_http import (
    OVERSIZED_BYTES,
    HostileHttpServer,
    no_leaks,
    open_sockets,
    self_signed_tls,
    sockets_left_behind,
)

from netra_ops.errors import ConfigError
from netra_ops.probe.health_endpoint import health, health_async, wait_healthy, wait_healthy_async

BOUND_S = 1.0
# Scheduling on a busy 2-core machine; ignoring the bound costs far more (the drip: 12.4 s).
SLACK_S = 2.0
INTERVAL_S = 0.2
OVERSIZED_LENGTH = len(b'{"status": "healthy", "pad": ""}') + OVERSIZED_BYTES
BAD_UTF8_OFFSET = b'{"status": "healthy", "service": "caf\xe9'.index(b"\xe9")

# path -> the exact error (a regular expression where timing decides a number)
CASES: dict[str, str] = {
    "/reset": "ConnectionReset: the server reset the connection mid-body "
              "(HTTP 200, 15 of 1000 bytes received)",
    "/reset-at-once": "ConnectionReset: the server reset the connection before answering",
    "/hang": "Timeout: no response headers within 1 s",
    "/drip": r"Timeout: body incomplete after 1 s \(HTTP 200, \d of 62 bytes received\)",
    "/slow-headers": "Timeout: no response headers within 1 s",
    "/html-502": "HTTP 502: body is an HTML page, not JSON (title: '502 Bad Gateway')",
    "/json-list": "HTTP 200: body is a JSON array, not an object",
    "/json-no-status": "HTTP 200: the JSON object has no 'status' field",
    "/unhealthy": "HTTP 200: status is 'unhealthy', not 'healthy'",
    "/oversized": f"HTTP 200: body larger than 1 MiB (Content-Length {OVERSIZED_LENGTH})",
    "/oversized-chunked": "HTTP 200: body larger than 1 MiB (stopped reading)",
    "/bad-utf8": f"HTTP 200: body is not valid UTF-8 (byte 0xe9 at offset {BAD_UTF8_OFFSET})",
    "/redirect-loop": "redirect loop: /redirect-loop -> /redirect-loop-back -> /redirect-loop",
    "/redirect-chain": "too many redirects (more than 3): /redirect-chain -> "
                       "/redirect-chain/1 -> /redirect-chain/2 -> /redirect-chain/3 -> "
                       "/redirect-chain/4",
    "/no-content": "HTTP 204: empty body, expected a JSON object",
    "/wrong-content-type": "HTTP 200: Content-Type is 'text/plain', not application/json",
    "/truncated": "ProtocolError: body truncated: the server closed the connection after "
                  "22 of 100 bytes (HTTP 200)",
    "/chunked-garbage": r"ProtocolError: malformed body: illegal chunk header: 'zz\r\n' "
                        "(HTTP 200, 0 bytes received)",
    "/retry-after": "HTTP 503: status is 'unhealthy', not 'healthy' (Retry-After: 30 s)",
    "/not-http": "ProtocolError: the answer is not HTTP (it starts with 'SSH-2.0-OpenSSH_9.6')",
    "/silent-close": "ConnectionClosed: the server closed the connection without answering",
    "/huge-headers": "ProtocolError: response headers larger than 64 KiB",
    "/half-headers": "ConnectionClosed: the server closed the connection in the middle of "
                     "the response headers",
    "/redirect-gopher": "redirect to an unusable URL: gopher://127.0.0.1/health",
}
REGEX_CASES = {"/drip"}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileHttpServer]:
    with HostileHttpServer(interval_s=INTERVAL_S) as hostile:
        yield hostile


@pytest.fixture
def clean(server: HostileHttpServer) -> Iterator[None]:
    with no_leaks(server):
        yield


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_error(path: str, error: str | None) -> None:
    expected = CASES[path]
    assert error is not None
    if path in REGEX_CASES:
        assert re.fullmatch(expected, error), error
    else:
        assert error == expected


@pytest.mark.parametrize("path", sorted(CASES))
def test_misbehaviour_is_a_failed_result_within_the_bound(
    server: HostileHttpServer, clean: None, path: str
) -> None:
    started = time.monotonic()
    result = health(server.url, path=path, timeout_s=BOUND_S)
    elapsed = time.monotonic() - started
    assert not result.ok
    _assert_error(path, result.error)
    assert elapsed < BOUND_S + SLACK_S
    assert result.timeout_s == BOUND_S


@pytest.mark.anyio
@pytest.mark.parametrize("path", sorted(CASES))
async def test_async_twin_reports_the_same(
    server: HostileHttpServer, clean: None, path: str
) -> None:
    tasks = asyncio.all_tasks()
    started = time.monotonic()
    result = await health_async(server.url, path=path, timeout_s=BOUND_S)
    elapsed = time.monotonic() - started
    assert not result.ok
    _assert_error(path, result.error)
    assert elapsed < BOUND_S + SLACK_S
    assert asyncio.all_tasks() <= tasks, "a task was left behind"


def test_connection_refused(clean: None) -> None:
    port = _closed_port()
    result = health(f"http://127.0.0.1:{port}", timeout_s=BOUND_S)
    assert not result.ok and result.status_code is None
    assert result.error == f"ConnectError: connection refused by 127.0.0.1:{port} " \
                           "(nothing listens there)"


@pytest.mark.anyio
async def test_connection_refused_async(clean: None) -> None:
    port = _closed_port()
    result = await health_async(f"http://127.0.0.1:{port}", timeout_s=BOUND_S)
    assert not result.ok
    assert result.error == f"ConnectError: connection refused by 127.0.0.1:{port} " \
                           "(nothing listens there)"


def test_details_of_a_broken_answer_are_kept(server: HostileHttpServer, clean: None) -> None:
    result = health(server.url, path="/retry-after", timeout_s=BOUND_S)
    assert (result.status_code, result.status, result.retry_after_s) == (503, "unhealthy", 30)
    assert result.json_valid and result.content_type == "application/json"
    unhealthy = health(server.url, path="/unhealthy", timeout_s=BOUND_S)
    assert unhealthy.status_code == 200 and unhealthy.status == "unhealthy"
    page = health(server.url, path="/html-502", timeout_s=BOUND_S)
    assert page.content_type == "text/html" and not page.json_valid and page.body_bytes > 0


def test_healthy_answer_and_one_followed_redirect(server: HostileHttpServer,
                                                  clean: None) -> None:
    result = health(server.url, path="/moved", timeout_s=BOUND_S)
    assert result.ok and result.error is None
    assert (result.status, result.service, result.redirects) == ("healthy", "hostile", 1)
    assert result.url == f"{server.url}/moved"
    request = server.requests[-1]
    assert request.path == "/healthy"
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    assert request.headers["user-agent"] == "netra-ops-probe"


def test_head_judges_the_status_only(server: HostileHttpServer, clean: None) -> None:
    assert health(server.url, path="/healthy", method="HEAD", expect_json=False).ok
    page = health(server.url, path="/html-502", method="HEAD", expect_json=False,
                  timeout_s=BOUND_S)
    assert not page.ok and page.error == "HTTP 502"
    assert page.method == "HEAD" and page.body_bytes == 0


def test_a_page_without_json_expectation_names_its_title(server: HostileHttpServer,
                                                         clean: None) -> None:
    result = health(server.url, path="/html-502", expect_json=False, timeout_s=BOUND_S)
    assert result.error == "HTTP 502: 502 Bad Gateway"


def test_body_limit_is_a_parameter(server: HostileHttpServer, clean: None) -> None:
    result = health(server.url, path="/healthy", max_body_bytes=16, timeout_s=BOUND_S)
    length = len(json.dumps({"status": "healthy", "service": "hostile", "version": "6.6.6"}))
    assert result.error == f"HTTP 200: body larger than 16 bytes (Content-Length {length})"


def test_redirects_are_not_followed_when_disallowed(server: HostileHttpServer,
                                                    clean: None) -> None:
    result = health(server.url, path="/moved", max_redirects=0, timeout_s=BOUND_S)
    assert not result.ok and result.error == ("too many redirects (more than 0): "
                                              "/moved -> /healthy")


def test_wait_healthy_gives_up_within_its_bound(server: HostileHttpServer,
                                                clean: None) -> None:
    started = time.monotonic()
    result = wait_healthy(server.url, path="/hang", within_s=BOUND_S)
    assert time.monotonic() - started < BOUND_S + SLACK_S
    assert not result.ok
    assert result.error is not None and result.error.startswith(
        "not healthy within 1 s: Timeout: no response headers within")


@pytest.mark.anyio
async def test_wait_healthy_async_polls_until_its_bound(server: HostileHttpServer,
                                                        clean: None) -> None:
    before, tasks = len(server.requests), asyncio.all_tasks()
    started = time.monotonic()
    result = await wait_healthy_async(server.url, path="/unhealthy", within_s=0.6,
                                      interval_s=0.1)
    assert time.monotonic() - started < 0.6 + SLACK_S
    assert result.error == ("not healthy within 0.6 s: "
                            "HTTP 200: status is 'unhealthy', not 'healthy'")
    assert len(server.requests) - before >= 3
    healthy = await wait_healthy_async(server.url, path="/healthy", within_s=BOUND_S)
    assert healthy.ok
    assert asyncio.all_tasks() <= tasks, "a task was left behind"


@pytest.mark.anyio
async def test_blocking_probe_works_inside_a_running_loop(server: HostileHttpServer,
                                                          clean: None) -> None:
    """As in a Jupyter cell: the loop is running and the sync probe must still work."""
    asyncio.get_running_loop()
    assert health(server.url, path="/healthy", timeout_s=BOUND_S).ok


def test_a_cancelled_async_probe_leaves_nothing_behind(server: HostileHttpServer,
                                                       clean: None) -> None:
    async def cancel_midway() -> None:
        task = asyncio.create_task(health_async(server.url, path="/hang", timeout_s=5))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())


def test_a_url_that_is_not_http_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="http:// or https://"):
        health("ftp://127.0.0.1:21")


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HostileHttpServer, Path]]:
    pytest.importorskip("cryptography")
    context, cert_file = self_signed_tls(tmp_path_factory.mktemp("tls"))
    with HostileHttpServer(interval_s=INTERVAL_S, tls=context) as hostile:
        yield hostile, cert_file


def test_https_with_a_trusted_certificate(tls_server: tuple[HostileHttpServer, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    server, cert_file = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    with no_leaks(server):
        assert health(server.url, path="/healthy", timeout_s=BOUND_S).ok
        assert asyncio.run(health_async(server.url, path="/healthy", timeout_s=BOUND_S)).ok
        result = health(server.url, path="/drip", timeout_s=BOUND_S)
        assert result.error is not None and result.error.startswith(
            "Timeout: body incomplete after 1 s (HTTP 200")


def test_https_with_an_untrusted_certificate(tls_server: tuple[HostileHttpServer, Path]) -> None:
    server, _ = tls_server
    with no_leaks(server):
        for result in (health(server.url, path="/healthy", timeout_s=BOUND_S),
                       asyncio.run(health_async(server.url, path="/healthy",
                                                timeout_s=BOUND_S))):
            assert not result.ok and result.error is not None
            assert result.error.startswith(
                f"TLSError: no TLS session with 127.0.0.1:{server.port}: [SSL: "
                "CERTIFICATE_VERIFY_FAILED] certificate verify failed"), result.error


def test_https_to_a_server_that_never_answers_the_handshake(server: HostileHttpServer,
                                                            clean: None) -> None:
    url = server.url.replace("http://", "https://")
    started = time.monotonic()
    result = health(url, path="/healthy", timeout_s=BOUND_S)
    again = asyncio.run(health_async(url, path="/healthy", timeout_s=BOUND_S))
    assert time.monotonic() - started < 2 * BOUND_S + SLACK_S
    expected = (f"Timeout: TLS handshake with 127.0.0.1:{server.port} not completed "
                "within 1 s")
    assert result.error == again.error == expected


def test_the_leak_check_finds_a_client_socket_left_open() -> None:
    # no_leaks itself: a socket connected to the server's port, or never connected, is
    # found; a connection elsewhere (another module's thread) and a listener are not.
    with socket.create_server(("127.0.0.1", 0)) as target, \
            socket.create_server(("127.0.0.1", 0)) as elsewhere:
        port = target.getsockname()[1]
        before = open_sockets()
        client, loose = socket.create_connection(("127.0.0.1", port)), socket.socket()
        other = socket.create_connection(elsewhere.getsockname())
        with client, loose, other, socket.create_server(("127.0.0.1", 0)):
            left = sockets_left_behind(before, port)
            assert sorted(int(s.split(":")[0].removeprefix("fd ")) for s in left) == sorted(
                [client.fileno(), loose.fileno()]), left
        assert sockets_left_behind(before, port) == []
