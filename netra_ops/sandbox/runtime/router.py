"""The backend service's stable URL: split traffic between revisions, log every request.

An ASGI app, served by the platform on `[sandbox.ports] backend`. For each HTTP request, and
for each WebSocket connection, it picks a revision by the traffic percents (smooth weighted
round-robin: a 50/50 split alternates exactly) and proxies to that revision's process:

- HTTP: method, path, query, headers and body go upstream; status, headers and body come
  back unchanged.
- WebSocket: the upstream connection is opened first, with the client's subprotocols and
  headers (the `jwt.<token>` subprotocol and `Authorization` pass through); the client is
  accepted with the subprotocol upstream chose; messages flow both ways; a close code and
  reason (1008 on an auth failure) reach the other side.

A WebSocket is one request to Cloud Run: it ends at the revision's request timeout
(`timeout_s`, 300 s by default, divided by the revision's `NETRA_REHEARSAL_TIME_SCALE`), as on
Cloud Run, where a WebSocket stream is "still subject to the request timeout configured for
your Cloud Run service" (cloud.google.com/run/docs/triggering/websockets). What the client
sees then is the connection dropped without a close frame (close code 1006 on its side), as
reported of Cloud Run's front end; the revision gets close 1001.
When no revision can serve (none has traffic, the chosen one failed, or its process does not
answer) the answer is 503 `{"error": "no revision is serving", ...}`, also for a WebSocket
(as an HTTP response before the handshake), and it is logged against the chosen revision.

Every request and connection is one line of `logs/requests.jsonl`, in the shape of Cloud
Run's request log (docs/sandbox-internals.md); the last entries are kept in memory too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from netra_ops.sandbox.runtime.revisions import Revision, RevisionManager, TrafficTarget
from netra_ops.sandbox.services.backend_settings import time_scale
from netra_ops.sandbox.services.http_serving import POOL_IDLE_S
from netra_ops.sandbox.services.service_logging import rfc3339_now

__all__ = ["RequestLog", "Router", "TrafficPicker"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

NO_REVISION = "no revision is serving"
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length",
})
_WS_HANDSHAKE = frozenset({
    "host", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    "sec-websocket-protocol", "user-agent",
}) | _HOP_BY_HOP
_SENDABLE_CLOSE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                             1013, 1014})
_SECRET_QUERY_KEYS = frozenset({"token", "access_token", "jwt", "password", "key", "auth"})
_WS_MAX_SIZE = 16 * 1024 * 1024
logger = logging.getLogger("netra_ops.sandbox.router")


class RequestLog:
    """The router's request log: appended to a JSONL file and kept (the last N) in memory."""

    def __init__(self, path: Path | None, *, keep: int = 10_000) -> None:
        self.path = path
        self._recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def append(self, entry: dict[str, Any]) -> None:
        """Record one request (written and flushed at once)."""
        self._recent.append(entry)
        if self._file is not None:
            self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._file.flush()

    def entries(self) -> list[dict[str, Any]]:
        """The entries kept in memory, oldest first."""
        return list(self._recent)

    def close(self) -> None:
        """Close the file (entries in memory stay readable)."""
        if self._file is not None:
            self._file.close()
            self._file = None


class TrafficPicker:
    """Smooth weighted round-robin over a traffic split: exact shares over each cycle."""

    def __init__(self) -> None:
        self._targets: tuple[TrafficTarget, ...] = ()
        self._current: dict[str, int] = {}

    def pick(self, targets: Sequence[TrafficTarget]) -> str | None:
        """The revision the next request goes to (None when nothing has traffic)."""
        if tuple(targets) != self._targets:
            self._targets = tuple(targets)
            self._current = {t.revision: 0 for t in self._targets}
        if not self._targets:
            return None
        for target in self._targets:
            self._current[target.revision] += target.percent
        chosen = max(self._targets, key=lambda t: self._current[t.revision])
        self._current[chosen.revision] -= sum(t.percent for t in self._targets)
        return chosen.revision


class _Recorder:
    """Wraps ASGI `send` for one request: notes status and size, logs before the last message.

    Logging just before the final message goes out means that a client holding the whole
    answer (or the close frame) can count on its line being in the request log.
    """

    def __init__(self, send: Send, scope: Scope, log: Callable[[_Recorder], None]) -> None:
        self.scope = scope
        self.started = time.monotonic()
        self.timestamp = rfc3339_now()
        self.revision: Revision | None = None
        self.status = 0
        self.size = 0
        self._send = send
        self._log = log
        self._logged = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("http.response.start", "websocket.http.response.start"):
            self.status = int(message["status"])
        elif kind == "websocket.accept":
            self.status = 101
        elif kind in ("http.response.body", "websocket.http.response.body"):
            self.size += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.finish()
        elif kind == "websocket.send":
            text = message.get("text")
            self.size += len(text.encode() if text is not None else message.get("bytes") or b"")
        elif kind == "websocket.close":
            self.finish()
        await self._send(message)

    def finish(self) -> None:
        """Write the log entry (once; a request that ended without an answer counts 500)."""
        if not self._logged:
            self._logged = True
            self.status = self.status or 500
            self._log(self)

    async def drop_connection(self) -> None:
        """End the connection without a close frame, as Cloud Run does at a WebSocket's
        request timeout (the client sees 1006). uvicorn's `send` is its protocol's method,
        whose transport is aborted; any other server gets close 1011."""
        self.finish()
        transport = getattr(getattr(self._send, "__self__", None), "transport", None)
        if transport is not None:
            transport.abort()
        else:
            await self._send({"type": "websocket.close", "code": 1011,
                              "reason": "request timeout"})

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope.get("headers", []):
            if key.lower() == name:
                return bytes(value).decode("latin-1")
        return None

    def url(self) -> str:
        scheme = "ws" if self.scope["type"] == "websocket" else "http"
        host = self.header(b"host") or "{}:{}".format(*self.scope.get("server") or ("", ""))
        query = _redacted_query(self.scope.get("query_string", b"").decode("latin-1"))
        return f"{scheme}://{host}{self.scope['path']}" + (f"?{query}" if query else "")


def _redacted_query(query: str) -> str:
    """A query string with the values of token-like parameters replaced."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "REDACTED" if k.lower() in _SECRET_QUERY_KEYS else v)
                      for k, v in pairs])


class Router:
    """The ASGI app of the backend service's URL (see module docstring)."""

    def __init__(
        self,
        manager: RevisionManager,
        request_log: RequestLog,
        *,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 300.0,
    ) -> None:
        self.manager = manager
        self.request_log = request_log
        self._picker = TrafficPicker()
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch an ASGI connection by its type."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        handler = self._http if scope["type"] == "http" else self._websocket
        recorder = _Recorder(send, scope, self._log)
        try:
            await handler(scope, receive, recorder)
        finally:
            recorder.finish()

    async def aclose(self) -> None:
        """Close the upstream HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _choose(self) -> tuple[Revision | None, str | None]:
        """The revision for the next request, and why it cannot serve (None if it can)."""
        name = self._picker.pick(self.manager.traffic)
        if name is None:
            return None, "no revision receives traffic"
        revision = self.manager.get(name)
        if revision.state != "ready" or revision.port is None:
            why = (revision.reason or "").split(";")[0]
            return revision, f"revision {name} is {revision.state}" + (f": {why}" if why else "")
        return revision, None

    def _unavailable(self, revision: Revision | None, detail: str) -> dict[str, Any]:
        logger.warning("503 for %s: %s", revision.name if revision else "no revision", detail)
        return {"error": NO_REVISION, "service": self.manager.service,
                "revision": revision.name if revision else None, "detail": detail}

    def _log(self, request: _Recorder) -> None:
        scope = request.scope
        self.request_log.append({
            "timestamp": request.timestamp, "service": self.manager.service,
            "revision": request.revision.name if request.revision else None,
            "method": scope.get("method", "GET"), "url": request.url(), "path": scope["path"],
            "status": request.status, "latency_s": round(time.monotonic() - request.started, 6),
            "protocol": "websocket" if scope["type"] == "websocket" else "HTTP/1.1",
            "remote_ip": (scope.get("client") or ("",))[0],
            "user_agent": request.header(b"user-agent"), "response_size": request.size,
        })

    # --- HTTP -------------------------------------------------------------------------

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                trust_env=False, follow_redirects=False,
                timeout=httpx.Timeout(self._read_timeout_s, connect=self._connect_timeout_s),
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200,
                                    keepalive_expiry=POOL_IDLE_S),
            )
        return self._client

    async def _http(self, scope: Scope, receive: Receive, send: _Recorder) -> None:
        body = await _read_body(receive)
        revision, problem = self._choose()
        send.revision = revision
        if revision is None or problem is not None:
            await _send_json(send, 503, self._unavailable(revision, problem or ""))
        else:
            await self.manager.warm(revision)  # a new instance's cold start
            await self._forward(scope, body, revision, send)

    async def _forward(self, scope: Scope, body: bytes, revision: Revision, send: Send) -> None:
        """Proxy one request to a revision and its answer back."""
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://{self.manager.host}:{revision.port}{_raw_path(scope)}"
        request = self._http_client().build_request(
            scope["method"], url + (f"?{query}" if query else ""),
            headers=_forwarded_headers(scope), content=body or None,
        )
        try:
            response = await self._http_client().send(request, stream=True)
        except httpx.TimeoutException as exc:
            await _send_json(send, 504, {"error": "upstream request timeout",
                                         "revision": revision.name, "detail": str(exc)})
            return
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            detail = f"revision {revision.name} is not answering ({type(exc).__name__})"
            await _send_json(send, 503, self._unavailable(revision, detail))
            return
        try:
            await _relay(response, send)
        finally:
            await response.aclose()

    # --- WebSocket --------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: _Recorder) -> None:
        await receive()  # websocket.connect
        revision, problem = self._choose()
        send.revision = revision
        if revision is None or problem is not None:
            body = self._unavailable(revision, problem or "")
            await _refuse(scope, send, 503, json.dumps(body).encode())
            return
        await self.manager.warm(revision)  # a new instance's cold start
        upstream = await self._open_upstream(scope, send, revision)
        if upstream is None:
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        limit_s = revision.timeout_s / time_scale(revision.env)
        try:
            await asyncio.wait_for(_pump(receive, send, upstream), limit_s)
        except TimeoutError:
            logger.info("WebSocket to %s ended at the request timeout (%g s)",
                        revision.name, limit_s)
            send.status = 504
            await _close_upstream(upstream, 1001, "request timeout")
            await send.drop_connection()

    async def _open_upstream(
        self, scope: Scope, send: Send, revision: Revision
    ) -> ClientConnection | None:
        """Connect to the revision; on failure, answer the client and return None."""
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"ws://{self.manager.host}:{revision.port}{_raw_path(scope)}"
        url += f"?{query}" if query else ""
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, v in _forwarded_headers(scope, drop=_WS_HANDSHAKE)]
        subprotocols = [Subprotocol(p) for p in scope.get("subprotocols", [])]
        user_agent = next((bytes(v).decode("latin-1") for k, v in scope.get("headers", [])
                           if k.lower() == b"user-agent"), None)
        try:
            return await connect(
                url, subprotocols=subprotocols or None, compression=None, proxy=None,
                additional_headers=headers, user_agent_header=user_agent,
                open_timeout=self._connect_timeout_s, max_size=_WS_MAX_SIZE, origin=None,
            )
        except InvalidStatus as exc:
            answer = exc.response
            await _refuse(scope, send, answer.status_code, bytes(answer.body or b""),
                          answer.headers.get("content-type"))
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            detail = f"revision {revision.name} is not answering ({type(exc).__name__})"
            body = json.dumps(self._unavailable(revision, detail)).encode()
            await _refuse(scope, send, 503, body)
        return None

    # --- lifespan ---------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    return bytes(raw).decode("latin-1") if raw else str(scope["path"])


def _forwarded_headers(
    scope: Scope, *, drop: Iterable[str] = _HOP_BY_HOP
) -> list[tuple[bytes, bytes]]:
    """The client's headers minus hop-by-hop ones, plus X-Forwarded-For/-Proto."""
    dropped = {name.encode() for name in drop}
    headers = [(bytes(k), bytes(v)) for k, v in scope.get("headers", [])
               if bytes(k).lower() not in dropped]
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", str(client[0]).encode()))
    headers.append((b"x-forwarded-proto", b"https" if scope.get("scheme") in ("https", "wss")
                    else b"http"))
    return headers


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _relay(response: httpx.Response, send: Send) -> None:
    """Send an upstream response (streamed, undecoded) to the client."""
    headers = [(k, v) for k, v in response.headers.raw
               if k.lower().decode() not in _HOP_BY_HOP - {"content-length"}]
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": headers})
    held = b""  # one chunk behind, so the last bytes go out as the final message
    with contextlib.suppress(httpx.HTTPError):
        async for chunk in response.aiter_raw():
            if held:
                await send({"type": "http.response.body", "body": held, "more_body": True})
            held = chunk
    await send({"type": "http.response.body", "body": held})


async def _refuse(
    scope: Scope, send: Send, status: int, body: bytes, content_type: str | None = None
) -> None:
    """Answer a WebSocket handshake with an HTTP status (or a close if unsupported)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        kind = (content_type or "application/json").encode()
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", kind)]})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1013 if status == 503 else 1011,
                "reason": NO_REVISION if status == 503 else f"upstream answered {status}"})


async def _pump(receive: Receive, send: Send, upstream: ClientConnection) -> None:
    """Relay messages both ways until one side closes, then close the other side."""
    to_upstream = asyncio.create_task(_client_to_upstream(receive, upstream))
    to_client = asyncio.create_task(_upstream_to_client(upstream, send))
    try:
        await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the request timeout: both directions end here
        to_upstream.cancel()
        to_client.cancel()
        await asyncio.gather(to_upstream, to_client, return_exceptions=True)
        raise
    client_close = _result(to_upstream)
    if client_close is not None:  # the client closed: pass its code upstream
        to_client.cancel()
        await _close_upstream(upstream, *client_close)
    elif to_client.done() and to_client.exception() is not None:  # the client is gone
        to_upstream.cancel()
        await _close_upstream(upstream, 1001, "client went away")
    else:  # upstream closed: deliver what it sent, then its close code
        await asyncio.wait({to_client})
        to_upstream.cancel()
        code, reason = _close_for_client(upstream.close_code, upstream.close_reason)
        with contextlib.suppress(OSError, RuntimeError):
            await send({"type": "websocket.close", "code": code, "reason": reason})
    await asyncio.gather(to_upstream, to_client, return_exceptions=True)


def _result(task: asyncio.Task[tuple[int, str] | None]) -> tuple[int, str] | None:
    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result()


async def _close_upstream(upstream: ClientConnection, code: int, reason: str) -> None:
    with contextlib.suppress(OSError, ConnectionClosed):
        await upstream.close(code, reason)


async def _client_to_upstream(
    receive: Receive, upstream: ClientConnection
) -> tuple[int, str] | None:
    """Forward client messages; the client's close (code, reason), or None if upstream closed."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            code = int(message.get("code") or 1000)
            return (code if code in _SENDABLE_CLOSE or 3000 <= code < 5000 else 1000,
                    message.get("reason") or "")
        data = message.get("text")
        try:
            await upstream.send(data if data is not None else message.get("bytes") or b"")
        except ConnectionClosed:
            return None


async def _upstream_to_client(upstream: ClientConnection, send: Send) -> None:
    """Forward upstream messages until upstream closes."""
    with contextlib.suppress(ConnectionClosed):
        async for message in upstream:
            if isinstance(message, str):
                await send({"type": "websocket.send", "text": message})
            else:
                await send({"type": "websocket.send", "bytes": bytes(message)})


def _close_for_client(code: int | None, reason: str | None) -> tuple[int, str]:
    """The close to send the client for upstream's close (abnormal -> 1011)."""
    if code is None or code == 1005:
        return 1000, reason or ""
    if code in _SENDABLE_CLOSE or 3000 <= code < 5000:
        return code, reason or ""
    return 1011, "the revision closed the connection abnormally"
