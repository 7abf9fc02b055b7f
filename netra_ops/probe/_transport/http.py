"""Bounded HTTP/1.1 requests for probes: one deadline for the whole call, a body cap, few
redirects, and every failure described in words instead of raised.

httpx bounds each phase (connect, every read) on its own, so a server that drips one byte
every half second keeps a request alive indefinitely. A probe needs a bound on the whole
call, so it speaks HTTP/1.1 through h11 (the sans-I/O protocol engine under httpx) on a
socket whose every wait is clamped to the time left:

- `fetch` (blocking sockets, fine inside a running event loop such as Jupyter's) and
  `fetch_async` (asyncio streams) share everything but the I/O: `_Exchange` turns bytes
  into an answer, `_Chain` decides whether to follow a redirect, `_Exchange.fail` names
  what went wrong.
- The result is always an `HttpAnswer`; a refused connection, a timeout, a reset, a
  malformed or truncated answer, an oversized body or a redirect loop is its `failure`
  (a kind from FAILURE_KINDS) and `error` (a sentence), never an exception.
- One connection per request (`Connection: close`), no proxies, no compression, no
  cookies. Name resolution in `fetch` uses the system resolver and its own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import h11
import httpx

from netra_ops.errors import ConfigError
from netra_ops.probe._transport.strict_json import NonStandardJSON, loads_strict

__all__ = [
    "FAILURE_KINDS",
    "MAX_BODY_BYTES",
    "MAX_REDIRECTS",
    "HttpAnswer",
    "detail_text",
    "fetch",
    "fetch_async",
    "json_object",
    "size_text",
]

MAX_BODY_BYTES = 1 << 20
MAX_REDIRECTS = 3
MAX_HEADER_BYTES = 64 * 1024
FAILURE_KINDS = ("unreachable", "timeout", "reset", "closed", "protocol", "too_large",
                 "redirect")
USER_AGENT = "netra-ops-probe"
_READ_SIZE = 64 * 1024
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_FOLLOWED_METHODS = frozenset({"GET", "HEAD"})
_HOST = re.compile(r"[A-Za-z0-9._:-]+")
_SAFE = "/%?=&:@!$'()*+,;~-._"
_BYTEARRAY = re.compile(r"bytearray\(b(['\"].*?['\"])\)")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class HttpAnswer:
    """What one bounded request got: the answer, or `failure` + `error` saying why not."""

    url: str
    method: str
    status_code: int | None
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    elapsed_ms: float
    redirects: tuple[str, ...] = ()
    failure: str | None = None
    error: str | None = None

    @property
    def content_type(self) -> str | None:
        """The media type without parameters, lower case (`application/json`)."""
        value = self.headers.get("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def retry_after_s(self) -> float | None:
        """Seconds the server asked to wait (`Retry-After`), if it said so readably."""
        return _retry_after(self.headers.get("retry-after"))


class _Failure(Exception):
    """Raised inside an exchange: one of FAILURE_KINDS and the sentence to report."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text


@dataclass(frozen=True)
class _Target:
    """Where a URL points: host, port, TLS or not, and the request target."""

    host: str
    port: int
    tls: bool
    path: str

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"


def _target_of(url: str) -> _Target:
    """Host, port and request target of an http(s) URL; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http:// or https:// URL: {url!r}")
    if not _HOST.fullmatch(parts.hostname):
        raise ValueError(f"not a valid host name: {parts.hostname!r}")
    tls = parts.scheme == "https"
    path = quote(parts.path or "/", safe=_SAFE) + (
        f"?{quote(parts.query, safe=_SAFE)}" if parts.query else "")
    return _Target(parts.hostname, parts.port or (443 if tls else 80), tls, path)


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    body: bytes = field(default=b"", repr=False)
    content_type: str | None = None


class _Deadline:
    """The one time bound of a call; `remaining()` raises TimeoutError once it is spent."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.perf_counter()
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline reached")
        return left

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class _Exchange:
    """One request and its answer on one connection, without I/O (h11 underneath)."""

    def __init__(self, request: _Request, max_body_bytes: int) -> None:
        self.request = request
        self.target = _target_of(request.url)
        self.max_body_bytes = max_body_bytes
        self.phase = "connect"
        self.status_code: int | None = None
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.failure: _Failure | None = None
        self._received = 0
        self._first_bytes = b""
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)

    def request_bytes(self) -> bytes:
        """The bytes to send; moves to the `send` phase."""
        self.phase = "send"
        body = self.request.body
        headers = [("Host", self._host_header()), ("User-Agent", USER_AGENT),
                   ("Accept", "application/json, */*;q=0.5"),
                   ("Accept-Encoding", "identity"), ("Connection", "close")]
        if body or self.request.method not in _FOLLOWED_METHODS:
            headers.append(("Content-Length", str(len(body))))
        if self.request.content_type:
            headers.append(("Content-Type", self.request.content_type))
        data = self._h11.send(h11.Request(method=self.request.method, target=self.target.path,
                                          headers=headers)) or b""
        if body:
            data += self._h11.send(h11.Data(data=body)) or b""
        return data + (self._h11.send(h11.EndOfMessage()) or b"")

    def _host_header(self) -> str:
        default = 443 if self.target.tls else 80
        host = f"[{self.target.host}]" if ":" in self.target.host else self.target.host
        return host if self.target.port == default else f"{host}:{self.target.port}"

    def sent(self) -> None:
        """The request is out; from now on we wait for the response headers."""
        self.phase = "headers"

    def feed(self, data: bytes) -> bool:
        """Take bytes read from the server (b"" at its end); True once the answer is whole."""
        if not data:
            self._check_early_close()
        self._first_bytes = self._first_bytes or bytes(data[:40])
        self._received += len(data)
        self._h11.receive_data(data)
        while (event := self._h11.next_event()) is not h11.NEED_DATA:
            if self._handle(event):
                return True
        return False

    def _handle(self, event: Any) -> bool:
        if isinstance(event, h11.Response):
            self._check_head_size()
            self.status_code = event.status_code
            self.headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                            for k, v in event.headers}
            self.phase = "body"
            self._check_declared_length()
        elif isinstance(event, h11.Data):
            self.body += event.data
            if len(self.body) > self.max_body_bytes:
                raise _Failure("too_large", f"HTTP {self.status_code}: body larger than "
                               f"{size_text(self.max_body_bytes)} (stopped reading)")
        return isinstance(event, h11.EndOfMessage | h11.ConnectionClosed)

    def _check_head_size(self) -> None:
        if self._received - len(self._h11.trailing_data[0]) > MAX_HEADER_BYTES:
            raise self._headers_too_large()

    def _headers_too_large(self) -> _Failure:
        return _Failure("protocol", f"ProtocolError: response headers larger than "
                        f"{size_text(MAX_HEADER_BYTES)}")

    def _check_declared_length(self) -> None:
        declared = self._declared_length()
        if declared is None or self.request.method == "HEAD" or declared <= self.max_body_bytes:
            return
        raise _Failure("too_large", f"HTTP {self.status_code}: body larger than "
                       f"{size_text(self.max_body_bytes)} (Content-Length {declared})")

    def _declared_length(self) -> int | None:
        value = self.headers.get("content-length", "")
        return int(value) if value.strip().isdigit() else None

    def _check_early_close(self) -> None:
        if self.phase == "headers" and not self._received:
            raise _Failure("closed", "ConnectionClosed: the server closed the connection "
                           "without answering")
        if self.phase == "headers" and not self._looks_like_http():
            raise self._not_http()
        if self.phase == "headers":
            raise _Failure("closed", "ConnectionClosed: the server closed the connection in "
                           "the middle of the response headers")
        declared = self._declared_length()
        if self.phase == "body" and declared is not None and len(self.body) < declared:
            raise _Failure("protocol", f"ProtocolError: body truncated: the server closed the "
                           f"connection after {len(self.body)} of {declared} bytes "
                           f"(HTTP {self.status_code})")

    def fail(self, exc: BaseException, timeout_s: float) -> None:
        """Record why the exchange failed, in words, from what was raised and the phase."""
        self.failure = exc if isinstance(exc, _Failure) else self._describe(exc, timeout_s)

    def _describe(self, exc: BaseException, timeout_s: float) -> _Failure:
        if isinstance(exc, TimeoutError):
            return self._timeout(timeout_s)
        if isinstance(exc, h11.RemoteProtocolError):
            return self._malformed(exc)
        if isinstance(exc, ConnectionRefusedError):
            return _Failure("unreachable", f"ConnectError: connection refused by "
                            f"{self.target.netloc} (nothing listens there)")
        if isinstance(exc, socket.gaierror):
            return _Failure("unreachable", f"ConnectError: cannot resolve host "
                            f"{self.target.host!r} ({exc.strerror or exc})")
        if self.phase == "connect" and isinstance(exc, OSError):
            return _Failure("unreachable", f"ConnectError: cannot connect to "
                            f"{self.target.netloc}: {_os_text(exc)}")
        if self.phase == "tls" and isinstance(exc, OSError):
            return _Failure("unreachable", f"TLSError: no TLS session with "
                            f"{self.target.netloc}: {_os_text(exc)}")
        if isinstance(exc, ssl.SSLError):
            return _Failure("protocol", f"TLSError: {_os_text(exc)}")
        return self._reset(exc)

    def _malformed(self, exc: h11.RemoteProtocolError) -> _Failure:
        if self.phase != "headers":
            return _Failure("protocol", f"ProtocolError: malformed body: {_h11_text(exc)}"
                            f"{self._status_suffix()}")
        if not self._looks_like_http():
            return self._not_http()
        if self._received > MAX_HEADER_BYTES:
            return self._headers_too_large()
        return _Failure("protocol", f"ProtocolError: malformed response headers: "
                        f"{_h11_text(exc)}")

    def _looks_like_http(self) -> bool:
        """The answer starts as an HTTP status line would (`HTTP/`, or a prefix of it)."""
        start = self._first_bytes[:5]
        return b"HTTP/".startswith(start) if len(start) < 5 else start == b"HTTP/"

    def _not_http(self) -> _Failure:
        start = self._first_bytes.split(b"\r", 1)[0].split(b"\n", 1)[0]
        return _Failure("protocol", f"ProtocolError: the answer is not HTTP (it starts with "
                        f"{_clip(start.decode('latin-1'), 40)!r})")

    def _timeout(self, timeout_s: float) -> _Failure:
        bound = f"{timeout_s:g} s"
        if self.phase == "connect":
            return _Failure("unreachable", f"Timeout: no connection to {self.target.netloc} "
                            f"within {bound}")
        if self.phase == "tls":
            return _Failure("unreachable", f"Timeout: TLS handshake with {self.target.netloc} "
                            f"not completed within {bound}")
        if self.phase == "send":
            return _Failure("timeout", f"Timeout: the request was not sent within {bound}")
        if self.phase == "headers":
            return _Failure("timeout", f"Timeout: no response headers within {bound}")
        return _Failure("timeout", f"Timeout: body incomplete after {bound}"
                        f"{self._status_suffix()}")

    def _reset(self, exc: BaseException) -> _Failure:
        when = "mid-body" if self.phase == "body" else "before answering"
        text = f"NetworkError: {_os_text(exc)} ({when})"
        if isinstance(exc, ConnectionError):
            text = f"ConnectionReset: the server reset the connection {when}"
        return _Failure("reset", text + self._status_suffix())

    def _status_suffix(self) -> str:
        if self.status_code is None:
            return ""
        declared = self._declared_length()
        of = f" of {declared}" if declared is not None else ""
        return f" (HTTP {self.status_code}, {len(self.body)}{of} bytes received)"

    def redirect_location(self) -> str | None:
        """Where a completed redirect answer points, if it is one to consider."""
        if self.failure is not None or self.status_code not in _REDIRECT_CODES:
            return None
        return self.headers.get("location") or None


class _Chain:
    """The requests of one call: the first, then each redirect followed, loops refused."""

    def __init__(self, request: _Request, max_redirects: int) -> None:
        self.request = request
        self.max_redirects = max_redirects
        self.visited = [request.url]

    def follow(self, exchange: _Exchange) -> bool:
        """Move to the redirect's target when the answer is a redirect to follow."""
        location = exchange.redirect_location()
        if location is None or self.request.method not in _FOLLOWED_METHODS:
            return False
        url = urljoin(self.request.url, location)
        if url in self.visited:
            exchange.failure = _Failure("redirect", f"redirect loop: {self._path([url])}")
        elif len(self.visited) > self.max_redirects:
            exchange.failure = _Failure("redirect", f"too many redirects (more than "
                                        f"{self.max_redirects}): {self._path([url])}")
        elif not _usable(url):
            exchange.failure = _Failure("redirect", f"redirect to an unusable URL: "
                                        f"{_clip(url, 120)}")
        else:
            self.visited.append(url)
            self.request = replace(self.request, url=url)
            return True
        return False

    def _path(self, extra: list[str]) -> str:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.visited[0]))
        hops = [u.removeprefix(origin) or "/" for u in self.visited + extra]
        return " -> ".join(hops)

    def answer(self, exchange: _Exchange, deadline: _Deadline) -> HttpAnswer:
        failure = exchange.failure
        return HttpAnswer(
            url=self.request.url, method=self.request.method,
            status_code=exchange.status_code, headers=dict(exchange.headers),
            body=bytes(exchange.body), elapsed_ms=deadline.elapsed_ms(),
            redirects=tuple(self.visited[1:]),
            failure=failure.kind if failure else None, error=failure.text if failure else None,
        )


def _usable(url: str) -> bool:
    try:
        _target_of(url)
    except ValueError:
        return False
    return True


def _prepare(method: str, url: str, json_body: Any) -> _Request:
    try:
        _target_of(url)
    except ValueError as exc:
        raise ConfigError(f"cannot probe {url!r}: {exc}; give a URL starting with http:// "
                          "or https://") from None
    if json_body is None:
        return _Request(method.upper(), url)
    return _Request(method.upper(), url, json.dumps(json_body).encode(), "application/json")


def fetch(method: str, url: str, *, json_body: Any = None, timeout_s: float = 5.0,
          max_body_bytes: int = MAX_BODY_BYTES,
          max_redirects: int = MAX_REDIRECTS) -> HttpAnswer:
    """Send one request and read its answer within `timeout_s` in total; never raises for
    a bad answer (a URL that is not http(s) raises ConfigError)."""
    chain = _Chain(_prepare(method, url, json_body), max_redirects)
    deadline = _Deadline(timeout_s)
    while True:
        exchange = _Exchange(chain.request, max_body_bytes)
        _run_blocking(exchange, deadline)
        if not chain.follow(exchange):
            return chain.answer(exchange, deadline)


async def fetch_async(method: str, url: str, *, json_body: Any = None, timeout_s: float = 5.0,
                      max_body_bytes: int = MAX_BODY_BYTES,
                      max_redirects: int = MAX_REDIRECTS) -> HttpAnswer:
    """`fetch` on asyncio streams: the same answer, the same bound, without blocking."""
    chain = _Chain(_prepare(method, url, json_body), max_redirects)
    deadline = _Deadline(timeout_s)
    while True:
        exchange = _Exchange(chain.request, max_body_bytes)
        await _run_async(exchange, deadline)
        if not chain.follow(exchange):
            return chain.answer(exchange, deadline)


def _run_blocking(exchange: _Exchange, deadline: _Deadline) -> None:
    try:
        with _connect(exchange, deadline) as sock:
            data = exchange.request_bytes()
            sock.settimeout(deadline.remaining())
            sock.sendall(data)
            exchange.sent()
            while not exchange.feed(_receive(sock, deadline)):
                pass
    except (OSError, h11.RemoteProtocolError, _Failure) as exc:
        exchange.fail(exc, deadline.seconds)


def _connect(exchange: _Exchange, deadline: _Deadline) -> socket.socket:
    target = exchange.target
    sock = socket.create_connection((target.host, target.port), timeout=deadline.remaining())
    if not target.tls:
        return sock
    exchange.phase = "tls"
    try:
        sock.settimeout(deadline.remaining())
        return _tls_context().wrap_socket(sock, server_hostname=target.host)
    except BaseException:
        sock.close()
        raise


def _receive(sock: socket.socket, deadline: _Deadline) -> bytes:
    sock.settimeout(deadline.remaining())
    return sock.recv(_READ_SIZE)


async def _run_async(exchange: _Exchange, deadline: _Deadline) -> None:
    writer: asyncio.StreamWriter | None = None
    target = exchange.target
    try:
        async with asyncio.timeout(deadline.remaining()):
            reader, writer = await asyncio.open_connection(target.host, target.port,
                                                           limit=_READ_SIZE)
            if target.tls:
                exchange.phase = "tls"
                await writer.start_tls(_tls_context(), server_hostname=target.host)
            writer.write(exchange.request_bytes())
            await writer.drain()
            exchange.sent()
            while not exchange.feed(await reader.read(_READ_SIZE)):
                pass
    except (OSError, h11.RemoteProtocolError, _Failure) as exc:
        exchange.fail(exc, deadline.seconds)
    finally:
        if writer is not None:
            await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close at once (the exchange is over either way) and give the loop the one turn it
    needs to release the socket. Not `wait_closed()`: after an interrupted TLS handshake
    the stream's protocol is never told the connection is lost, so it would wait forever."""
    writer.transport.abort()
    await asyncio.sleep(0)


def _tls_context() -> ssl.SSLContext:
    """httpx's default: certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR when set."""
    return _tls_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@cache
def _tls_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """Built once per setting of those variables (the arguments are the cache key)."""
    return httpx.create_ssl_context()


def json_object(answer: HttpAnswer) -> tuple[dict[str, Any] | None, str | None]:
    """The body as a JSON object, or None and why not (`body is an HTML page, not JSON`)."""
    body = answer.body
    if not body.strip():
        return None, "empty body, expected a JSON object"
    if body.lstrip()[:1] == b"<":
        return None, f"body is an HTML page, not JSON{_title_suffix(body)}"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = body[exc.start:exc.start + 1].hex()
        return None, f"body is not valid UTF-8 (byte 0x{bad} at offset {exc.start})"
    try:
        value = loads_strict(text)
    except NonStandardJSON as exc:
        return None, f"body is not valid JSON: {exc}"
    except (ValueError, RecursionError):
        return None, "body is not a JSON object"
    if not isinstance(value, dict):
        return None, f"body is a JSON {_json_kind(value)}, not an object"
    if answer.content_type is not None and not _is_json_type(answer.content_type):
        return None, f"Content-Type is {answer.content_type!r}, not application/json"
    return value, None


def detail_text(answer: HttpAnswer, limit: int = 120) -> str:
    """A short explanation the server gave: a JSON error field, an HTML title, or text."""
    with contextlib.suppress(ValueError, RecursionError):
        value = json.loads(answer.body.decode("utf-8"))
        if isinstance(value, dict):
            found = next((value[k] for k in ("detail", "error", "message") if value.get(k)), None)
            return _clip(str(found), limit) if found else ""
    match = _TITLE.search(answer.body[:MAX_HEADER_BYTES])
    if match:
        return _clip(match.group(1).decode("utf-8", "replace").strip(), limit)
    text = answer.body[:limit * 2].decode("utf-8", "replace")
    return _clip(" ".join("".join(c if c.isprintable() else " " for c in text).split()), limit)


def size_text(size: int) -> str:
    """`1 MiB`, `64 KiB` or `500 bytes`."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def _title_suffix(body: bytes) -> str:
    match = _TITLE.search(body[:MAX_HEADER_BYTES])
    title = match.group(1).decode("utf-8", "replace").strip() if match else ""
    return f" (title: {_clip(title, 80)!r})" if title else ""


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _is_json_type(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _h11_text(exc: h11.RemoteProtocolError) -> str:
    """h11's message without its `bytearray(b'...')` wrappers."""
    return _clip(_BYTEARRAY.sub(r"\1", str(exc)), 160)


def _os_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _clip(str(exc), 160) or type(exc).__name__


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
