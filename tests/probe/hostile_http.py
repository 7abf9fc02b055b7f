"""A loopback HTTP server that misbehaves on purpose: one path per misbehaviour.

Raw asyncio streams on 127.0.0.1, its event loop in one background thread, so a test can
hit exactly the broken bytes (a real framework would refuse to send most of them). The
first path segment picks the behaviour and the rest of the path is ignored, so
`http://127.0.0.1:PORT/auth-401` stands for a whole auth service whose every answer is a
401 (`/auth-401/auth/login`, `/auth-401/auth/validate`, ...).

    with HostileHttpServer(interval_s=0.2) as server:
        health(server.url, path="/drip", timeout_s=1.0)
        assert server.wait_idle()   # every connection the server saw is closed again

`ROUTES` names every behaviour with one line on what the server does; docs/hostile-http.md
is the table of them. Slow behaviours (drip, slow headers) send one piece per `interval_s`
and stop as soon as the client hangs up, so nothing outlives the test that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import json
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import psutil

__all__ = ["FAKE_ACCESS_TOKEN", "FAKE_REFRESH_TOKEN", "ROUTES", "HostileHttpServer",
           "Request", "no_leaks", "open_sockets", "self_signed_tls", "sockets_left_behind"]

FAKE_ACCESS_TOKEN = "hostile-access-7c3f9a2e51d84b06"
FAKE_REFRESH_TOKEN = "hostile-refresh-e0b14d7a93c25f68"
HEALTHY = json.dumps({"status": "healthy", "service": "hostile", "version": "6.6.6"}).encode()
HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
             b"<body><center><h1>502 Bad Gateway</h1></center><hr>nginx</body></html>\n")
HTML_500 = (b"<html><head><title>500 Internal Server Error</title></head>"
            b"<body>Traceback (most recent call last): ...</body></html>")
OVERSIZED_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    """What the server read from a client."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Conn:
    """One client connection as a handler sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 request: Request, interval_s: float) -> None:
        self.reader = reader
        self.writer = writer
        self.request = request
        self.interval_s = interval_s

    @property
    def hung_up(self) -> bool:
        """True once the client closed its side."""
        return self.reader.at_eof() or self.writer.is_closing()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, status: int, body: bytes = b"", *,
                     content_type: str | None = "application/json",
                     headers: tuple[tuple[str, str], ...] = ()) -> None:
        await self.send(head(status, content_type=content_type, headers=headers,
                             length=None if status == 204 else len(body)) + body)

    async def wait_hang_up(self) -> None:
        """Read (and drop) whatever comes until the client closes."""
        while await self.reader.read(4096):
            pass

    def reset(self) -> None:
        """Close with an RST instead of a FIN (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


def head(status: int, *, content_type: str | None = "application/json",
         headers: tuple[tuple[str, str], ...] = (), length: int | None = None) -> bytes:
    """A response head: status line, headers, blank line."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


Handler = Callable[[_Conn], Awaitable[None]]


async def _healthy(c: _Conn) -> None:
    await c.answer(200, HEALTHY)


async def _reset(c: _Conn) -> None:
    await c.send(head(200, length=1000) + b'{"status": "hea')
    await asyncio.sleep(0.1)
    c.reset()


async def _reset_at_once(c: _Conn) -> None:
    c.reset()


async def _hang(c: _Conn) -> None:
    await c.wait_hang_up()


async def _drip(c: _Conn) -> None:
    body = json.dumps({"status": "healthy", "pad": "x" * 30}).encode()
    await c.send(head(200, length=len(body)))
    for byte in body:
        await asyncio.sleep(c.interval_s)
        if c.hung_up:
            return
        await c.send(bytes([byte]))


async def _slow_headers(c: _Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\n")
    for number in range(1000):
        await asyncio.sleep(c.interval_s)
        if c.hung_up:
            return
        await c.send(f"X-Slow-{number}: {number}\r\n".encode())


async def _html_502(c: _Conn) -> None:
    await c.answer(502, HTML_PAGE, content_type="text/html")


async def _html_500(c: _Conn) -> None:
    await c.answer(500, HTML_500, content_type="text/html; charset=utf-8")


async def _json_list(c: _Conn) -> None:
    await c.answer(200, b'[{"status": "healthy"}]')


async def _json_no_status(c: _Conn) -> None:
    await c.answer(200, b'{"service": "backend", "version": "1.0"}')


async def _nan_json(c: _Conn) -> None:
    await c.answer(200, b'{"status": "healthy", "uptime_seconds": NaN}')


async def _infinity_json(c: _Conn) -> None:
    await c.answer(200, b'{"status": "healthy", "checks": {"latency_ms": -Infinity}}')


async def _unhealthy(c: _Conn) -> None:
    await c.answer(200, b'{"status": "unhealthy", "checks": {"database": "down"}}')


async def _oversized(c: _Conn) -> None:
    body = b'{"status": "healthy", "pad": "' + b"x" * OVERSIZED_BYTES + b'"}'
    await c.answer(200, body)


async def _oversized_chunked(c: _Conn) -> None:
    await c.send(head(200, headers=(("Transfer-Encoding", "chunked"),)))
    chunk = b"x" * 65536
    for _ in range(OVERSIZED_BYTES // len(chunk)):
        if c.hung_up:
            return
        await c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    await c.send(b"0\r\n\r\n")


async def _bad_utf8(c: _Conn) -> None:
    await c.answer(200, b'{"status": "healthy", "service": "caf\xe9\xff"}')


async def _redirect(c: _Conn, location: str) -> None:
    await c.answer(302, b"", content_type=None, headers=(("Location", location),))


async def _redirect_loop(c: _Conn) -> None:
    await _redirect(c, "/redirect-loop-back")


async def _redirect_loop_back(c: _Conn) -> None:
    await _redirect(c, "/redirect-loop")


async def _redirect_chain(c: _Conn) -> None:
    last = c.request.path.rstrip("/").rsplit("/", 1)[-1]
    await _redirect(c, f"/redirect-chain/{int(last) + 1 if last.isdigit() else 1}")


async def _redirect_gopher(c: _Conn) -> None:
    await _redirect(c, "gopher://127.0.0.1/health")


async def _half_headers(c: _Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Type: appl")


async def _moved(c: _Conn) -> None:
    await c.answer(301, b"", content_type=None, headers=(("Location", "/healthy"),))


async def _no_content(c: _Conn) -> None:
    await c.answer(204, content_type=None)


async def _wrong_content_type(c: _Conn) -> None:
    await c.answer(200, HEALTHY, content_type="text/plain")


async def _truncated(c: _Conn) -> None:
    await c.send(head(200, length=100) + b'{"status": "healthy", ')


async def _chunked_garbage(c: _Conn) -> None:
    await c.send(head(200, headers=(("Transfer-Encoding", "chunked"),)) + b"zz\r\nnot a chunk")


async def _retry_after(c: _Conn) -> None:
    await c.answer(503, b'{"status": "unhealthy", "reason": "overloaded"}',
                   headers=(("Retry-After", "30"),))


async def _not_http(c: _Conn) -> None:
    await c.send(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n")


async def _silent_close(c: _Conn) -> None:
    return


async def _huge_headers(c: _Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"a" * 100_000 + b"\r\n\r\n")
    await c.wait_hang_up()


async def _auth_ok(c: _Conn) -> None:
    path = c.request.path
    if path.endswith("/auth/validate"):
        await c.answer(200, json.dumps({"valid": True, "user_id": "u-1", "email": "x@y.z",
                                        "expires_at": "2030-01-01T00:00:00+00:00"}).encode())
        return
    tokens = {"access_token": FAKE_ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 900,
              "user": {"id": "u-1", "email": "x@y.z"}}
    if path.endswith("/auth/login"):
        tokens["refresh_token"] = FAKE_REFRESH_TOKEN
    await c.answer(200, json.dumps(tokens).encode())


async def _auth_expired(c: _Conn) -> None:
    if c.request.path.endswith("/auth/validate"):
        await c.answer(200, b'{"valid": false, "error": "token expired"}')
        return
    await _auth_ok(c)


async def _auth_no_token(c: _Conn) -> None:
    await c.answer(200, b'{"token_type": "Bearer", "expires_in": 900}')


async def _auth_401(c: _Conn) -> None:
    await c.answer(401, b'{"error": "invalid_credentials", '
                        b'"detail": "email or password is incorrect"}')


async def _auth_echo(c: _Conn) -> None:
    detail = "cannot process " + c.request.body.decode("utf-8", "replace")
    await c.answer(500, json.dumps({"detail": detail}).encode())


ROUTES: dict[str, tuple[str, Handler]] = {
    "healthy": ("200 with a healthy JSON body (the control)", _healthy),
    "reset": ("sends the headers and 15 of 1000 body bytes, then RST (SO_LINGER 0)", _reset),
    "reset-at-once": ("reads the request, then RST before any byte", _reset_at_once),
    "hang": ("reads the request, never answers", _hang),
    "drip": ("headers at once, then the 62-byte body one byte per interval", _drip),
    "slow-headers": ("status line, then one header line per interval, forever", _slow_headers),
    "html-502": ("502 with an nginx-style HTML error page", _html_502),
    "html-500": ("500 with an HTML error page", _html_500),
    "json-list": ("200 with a JSON array instead of an object", _json_list),
    "json-no-status": ("200 with a JSON object without `status`", _json_no_status),
    "unhealthy": ("200 with `{\"status\": \"unhealthy\"}`", _unhealthy),
    "nan-json": ("200 with `NaN` in the body (Python's json accepts it, JSON does not)",
                 _nan_json),
    "infinity-json": ("200 with `-Infinity` in the body (not JSON either)", _infinity_json),
    "oversized": ("200 with a 2 MiB body, Content-Length declared", _oversized),
    "oversized-chunked": ("200 streaming 2 MiB in 64 KiB chunks, no length", _oversized_chunked),
    "bad-utf8": ("200 application/json with bytes 0xe9 0xff", _bad_utf8),
    "redirect-loop": ("302 to /redirect-loop-back, which redirects back", _redirect_loop),
    "redirect-loop-back": ("302 to /redirect-loop", _redirect_loop_back),
    "redirect-chain": ("302 from /redirect-chain/N to /redirect-chain/N+1, endless",
                       _redirect_chain),
    "redirect-gopher": ("302 to a gopher:// URL", _redirect_gopher),
    "half-headers": ("half a response head, then closes", _half_headers),
    "moved": ("301 to /healthy (one redirect, followed)", _moved),
    "no-content": ("204 No Content", _no_content),
    "wrong-content-type": ("200 with a healthy JSON body labelled text/plain",
                           _wrong_content_type),
    "truncated": ("Content-Length 100, sends 22 bytes, closes", _truncated),
    "chunked-garbage": ("Transfer-Encoding chunked, then a chunk size `zz`", _chunked_garbage),
    "retry-after": ("503 `{\"status\": \"unhealthy\"}` with Retry-After: 30", _retry_after),
    "not-http": ("answers like an SSH server and closes", _not_http),
    "silent-close": ("reads the request, closes without a byte", _silent_close),
    "huge-headers": ("a 100 KB header line", _huge_headers),
    "auth-ok": ("a working auth service with fake tokens", _auth_ok),
    "auth-expired": ("logs in, but validate says the token expired", _auth_expired),
    "auth-no-token": ("200 to a login, without an access_token", _auth_no_token),
    "auth-401": ("401 invalid_credentials to everything", _auth_401),
    "auth-500-html": ("500 with an HTML error page", _html_500),
    "auth-hang": ("the token endpoint never answers", _hang),
    "auth-echo": ("500 echoing the request body (password, token) in `detail`", _auth_echo),
}


class HostileHttpServer:
    """The misbehaving server; a context manager that starts and stops its thread."""

    def __init__(self, *, interval_s: float = 0.5, tls: ssl.SSLContext | None = None) -> None:
        self.interval_s = interval_s
        self.tls = tls
        self.requests: list[Request] = []
        self.port = 0
        self._active = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-http", daemon=True)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (`https://` when serving TLS)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileHttpServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the hostile HTTP server did not start within 5 s")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """True once no client connection is open (polls until `timeout_s`: generous, a
        busy machine may take seconds to run the server's side of a close)."""
        deadline = time.monotonic() + timeout_s
        while self._active and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._active == 0

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._active += 1
        try:
            request = await _read_request(reader)
            self.requests.append(request)
            name = request.path.strip("/").split("/", 1)[0]
            handler = ROUTES.get(name, ("", _not_found))[1]
            await handler(_Conn(reader, writer, request, self.interval_s))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            pass
        finally:
            await _close(writer)
            self._active -= 1
            self._tasks.discard(task)


async def _not_found(c: _Conn) -> None:
    await c.answer(404, b'{"error": "no such misbehaviour"}')


async def _read_request(reader: asyncio.StreamReader) -> Request:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return Request(method, path, headers, body)


async def _close(writer: asyncio.StreamWriter) -> None:
    if writer.transport.is_closing():
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return
    writer.close()
    try:
        async with asyncio.timeout(2):
            await writer.wait_closed()
    except (Exception, asyncio.CancelledError):
        writer.transport.abort()


def open_sockets() -> dict[int, str]:
    """This process's open socket descriptors: fd -> its /proc name (`socket:[inode]`)."""
    sockets = {}
    for entry in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            target = os.readlink(entry)
            if target.startswith("socket:"):
                sockets[int(entry.name)] = target
    return sockets


def sockets_left_behind(before: dict[int, str], port: int) -> list[str]:
    """The sockets opened since `before` and still open that a probe could have left
    behind: a TCP client of `port`, or one never connected (not a listener; an unbound one
    is in no table of /proc/net). Other sockets, such as a sandbox's that an earlier
    module's thread opens meanwhile, are not the probe's."""
    opened = {fd for fd, name in open_sockets().items() if before.get(fd) != name}
    known = {conn.fd: conn for conn in psutil.Process().net_connections("all")}
    left = []
    for fd in sorted(opened):
        conn = known.get(fd)
        if conn is None:
            left.append(f"fd {fd}: a socket that is not bound")
        elif conn.type == socket.SOCK_STREAM and conn.family != socket.AF_UNIX and (
                conn.raddr.port == port if conn.raddr else conn.status != psutil.CONN_LISTEN):
            left.append(f"fd {fd}: {conn.laddr} -> {conn.raddr or 'nowhere'} ({conn.status})")
    return left


@contextlib.contextmanager
def no_leaks(server: HostileHttpServer) -> Iterator[None]:
    """Fail if the code run inside leaves a thread, a socket or a connection behind."""
    gc.collect()  # sockets an earlier test dropped close now, not in the middle of this one
    threads, sockets = threading.active_count(), open_sockets()
    yield
    assert server.wait_idle(), "a client connection stayed open on the hostile server"
    deadline = time.monotonic() + 30  # a thread that is ending may take a moment when busy
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads, "a thread was left behind"
    # A probe's leaked socket stays open; the server's side of a TLS handshake the client
    # refused is closed by the server's thread a moment later (it never reaches `_serve`, so
    # wait_idle does not wait for it) and, closed on the wire, is in no table of /proc/net
    # meanwhile: poll, generously, for the sockets opened to go
    deadline = time.monotonic() + 10
    while True:
        gc.collect()
        left = sockets_left_behind(sockets, server.port)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    assert not left, f"sockets left open: {'; '.join(left)}"


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the file of its certificate (to trust it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile test server")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
