"""Authenticated WebSocket connections to the backend: the steps every WebSocket probe shares.

Log in as the environment's test user (`login_steps`; the public probe is
`netra_ops.probe.auth.login`), estimate the server's clock offset from the auth service's
health answer (`clock_offset`), open the backend's WebSocket with the `jwt.<token>`
subprotocol up to `connection_established` (`open_connection`), close it without waiting
long (`close_quietly`), and classify and describe what went wrong on the way
(`classify_failure`, `judge_first_message`, `hint`). These are steps (`drivers`):
generators of I/O operations that either driver performs. A bad answer from the target is
a failed result; only bad configuration raises (NetraOpsError).
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    NegotiationError,
)

from netra_ops.config import Environment
from netra_ops.probe._transport.drivers import (
    NETWORK_ERRORS,
    Close,
    Connect,
    Deadline,
    Http,
    Link,
    Recv,
    Steps,
    describe_close,
)
from netra_ops.probe._transport.failure_text import describe_exception
from netra_ops.probe._transport.http import HttpAnswer, json_object
from netra_ops.probe._transport.strict_json import loads_strict
from netra_ops.probe.agent_events import event_error
from netra_ops.probe.event_timing import ClockOffset, estimate_clock_offset
from netra_ops.secrets import resolve_secret

__all__ = [
    "CLOCK_TIMEOUT_S",
    "STEP_TIMEOUT_S",
    "LoggedIn",
    "Opened",
    "Step",
    "classify_failure",
    "clock_offset",
    "close_quietly",
    "hint",
    "json_body",
    "judge_first_message",
    "login_steps",
    "open_connection",
]

STEP_TIMEOUT_S = 10.0  # one login, handshake or connection_established wait at most
CLOCK_TIMEOUT_S = 2.0  # the clock-offset request at most (a slow answer is a poor estimate)


@dataclass(frozen=True)
class Step:
    """One timed step of a probe: login, chat page, connect, a turn, close."""

    name: str
    ok: bool
    ms: float | None
    detail: str
    http_status: int | None = None


@dataclass(frozen=True)
class Opened:
    """The outcome of login -> handshake -> `connection_established`.

    `failure` classifies a failure: `login`, `refused`, `timeout`, `http_error`,
    `handshake`, `auth_rejected`, `server_error`, `closed`, `protocol` or `network`.
    `user_id` is the user login named (None when no login ran or it did not say); `clock`
    the server's clock offset, when it was asked for; `established` the `data` object of
    `connection_established` (heartbeat interval, connection timeout, time scale, ... as the
    server states them; empty when it sent none).
    """

    link: Link | None
    steps: tuple[Step, ...]
    failed_step: str | None = None
    failure: str | None = None
    error: str | None = None
    http_status: int | None = None
    user_id: str | None = None
    clock: ClockOffset | None = None
    established: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """True when the connection is open and established."""
        return self.link is not None

    def step_ms(self, name: str) -> float | None:
        """Milliseconds of the named step, if it ran."""
        return next((s.ms for s in self.steps if s.name == name), None)


class LoggedIn(NamedTuple):
    """What a login step gave: the token (None: failed), the step, and the user it names."""

    token: str | None
    step: Step
    user_id: str | None = None


def login_steps(env: Environment, deadline: Deadline) -> Steps[LoggedIn]:
    """Steps: log in as the environment's test user.

    The token is only handed back to the caller's steps: it never enters a result. The
    user is the answer's `user.id` (or `user_id`), else the token's `sub` claim."""
    url = env.auth.url + "/auth/login"
    if deadline.expired:
        return LoggedIn(None, Step("login", False, None, f"probe deadline of "
                                   f"{deadline.total_s:g} s reached before login"))
    password = resolve_secret(env.credentials.password)
    request = Http("POST", url, deadline.cap(STEP_TIMEOUT_S),
                   {"email": env.credentials.email, "password": password})
    del password
    answer: HttpAnswer = yield request
    if answer.failure:
        return LoggedIn(None, Step("login", False, answer.elapsed_ms,
                                   hint(env, f"{url}: {answer.error}")))
    return _judge_login(url, answer)


def _judge_login(url: str, answer: HttpAnswer) -> LoggedIn:
    body = json_body(answer)
    status = answer.status_code
    if status != 200:
        detail = body.get("error") or body.get("detail") or body.get("message")
        text = str(detail) if detail else answer.body[:120].decode("utf-8", "replace")
        return LoggedIn(None, Step("login", False, answer.elapsed_ms,
                                   f"{url}: HTTP {status} {text}".strip(), status))
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        return LoggedIn(None, Step("login", False, answer.elapsed_ms,
                                   f"{url}: HTTP 200 without an access_token", status))
    return LoggedIn(token, Step("login", True, answer.elapsed_ms,
                                "HTTP 200, access token received", 200),
                    _user_of(body, token))


def _user_of(body: dict[str, Any], token: str) -> str | None:
    """The logged-in user's id: the answer's `user.id` or `user_id`, else the JWT's `sub`."""
    user = body.get("user")
    for value in (user.get("id") if isinstance(user, dict) else None, body.get("user_id")):
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return _token_subject(token)


def _token_subject(token: str) -> str | None:
    """The `sub` claim of a JWT, read without verifying it (the server did that)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = loads_strict(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return str(subject) if isinstance(subject, str | int) and str(subject) else None


def json_body(answer: HttpAnswer) -> dict[str, Any]:
    """An answer's body as a JSON object ({} when it is not one, or not valid JSON)."""
    try:
        value = loads_strict(answer.body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def clock_offset(env: Environment, deadline: Deadline) -> Steps[ClockOffset]:
    """Steps: estimate the server clock's offset from the auth service's health answer
    (its `timestamp` and the request's round trip, NTP-style); never fails: an answer
    without a usable timestamp gives an offset assumed 0 that says why."""
    url = env.auth.url + env.auth.health_path
    if deadline.expired:
        return ClockOffset.assumed("probe deadline reached before the clock was read")
    sent = time.time()
    answer: HttpAnswer = yield Http("GET", url, deadline.cap(CLOCK_TIMEOUT_S))
    received = time.time()
    if answer.failure:
        return ClockOffset.assumed(f"GET {url}: {answer.error}")
    body, problem = json_object(answer)
    if body is None:
        return ClockOffset.assumed(f"GET {url}: {problem}")
    return estimate_clock_offset(body.get("timestamp"), sent, received, f"GET {url}")


def open_connection(env: Environment, deadline: Deadline, token: str | None = None,
                    close_timeout_s: float = 1.0, *,
                    estimate_clock: bool = False) -> Steps[Opened]:
    """Steps: log in (unless a token is given), read the server's clock offset (when
    `estimate_clock`), open the WebSocket with the `jwt.<token>` subprotocol, and wait for
    `connection_established`."""
    steps: list[Step] = []
    user_id = clock = None
    if token is None:
        token, step, user_id = yield from login_steps(env, deadline)
        steps.append(step)
        if token is None:
            return Opened(None, tuple(steps), "login", "login", step.detail, step.http_status)
    if estimate_clock:
        clock = yield from clock_offset(env, deadline)
    url = env.backend.websocket_url
    link, step, failure = yield from _handshake(env, url, token, deadline, close_timeout_s)
    steps.append(step)
    if link is None:
        return Opened(None, tuple(steps), "connect", failure, step.detail, step.http_status,
                      user_id, clock)
    step, failure, data = yield from _established(link, deadline)
    steps.append(step)
    if failure is not None:
        yield from close_quietly(link, deadline.cap(0.2))
        return Opened(None, tuple(steps), "handshake", failure, step.detail, 101, user_id,
                      clock)
    return Opened(link, tuple(steps), http_status=101, user_id=user_id, clock=clock,
                  established=data)


def _handshake(env: Environment, url: str, token: str, deadline: Deadline,
               close_timeout_s: float) -> Steps[tuple[Link | None, Step, str | None]]:
    if deadline.expired:
        return None, Step("connect", False, None, f"probe deadline of {deadline.total_s:g} s "
                          "reached before connecting"), "timeout"
    offered = f"jwt.{token}"
    op = Connect(url, (offered,), deadline.cap(STEP_TIMEOUT_S), close_timeout_s)
    started = time.perf_counter()
    try:
        link: Link = yield op
    except NETWORK_ERRORS as exc:
        failure, text, status = classify_failure(exc, op.timeout_s)
        text = hint(env, f"{url}: {text}").replace(token, "<token>")
        return None, Step("connect", False, _ms_since(started), text, status), failure
    ms = _ms_since(started)
    if link.subprotocol is None:
        yield from close_quietly(link, deadline.cap(0.2))
        return None, Step("connect", False, ms, "the server accepted the WebSocket without "
                          "echoing the offered subprotocol (jwt.<token>): browsers refuse "
                          "such a connection", 101), "handshake"
    return link, Step("connect", True, ms, "HTTP 101, subprotocol echoed", 101), None


def _established(link: Link, deadline: Deadline
                 ) -> Steps[tuple[Step, str | None, dict[str, Any]]]:
    """Wait for `connection_established` (heartbeats before it are skipped); its `data`."""
    started = time.perf_counter()
    wait = deadline.cap(STEP_TIMEOUT_S)
    until = started + wait
    skipped = 0
    while True:
        try:
            frame = yield Recv(link, max(0.0, until - time.perf_counter()))
        except TimeoutError:
            extra = f" ({skipped} heartbeats)" if skipped else ""
            return Step("established", False, _ms_since(started), "no connection_established "
                        f"message within {wait:.3g} s{extra}"), "timeout", {}
        except ConnectionClosed as exc:
            failure = {1008: "auth_rejected", 1011: "server_error"}.get(_close_code(exc),
                                                                         "closed")
            return Step("established", False, _ms_since(started),
                        f"before connection_established: {describe_close(exc)}"), failure, {}
        except NETWORK_ERRORS as exc:
            text = f"before connection_established: {describe_exception(exc)}"
            return Step("established", False, _ms_since(started), text), "network", {}
        kind, problem = judge_first_message(frame)
        if kind == "skip":
            skipped += 1
            continue
        ms = _ms_since(started)
        if kind == "ok":
            return (Step("established", True, ms, "connection_established received"), None,
                    _data_of(frame))
        return Step("established", False, ms, problem or kind), kind, {}


def _data_of(frame: str | bytes) -> dict[str, Any]:
    """The `data` object of a `connection_established` message ({} when it has none)."""
    data = loads_strict(frame).get("data")
    return data if isinstance(data, dict) else {}


def close_quietly(link: Link, timeout_s: float) -> Steps[Step]:
    """Steps: close a connection; a failure to close cleanly is reported, never raised."""
    started = time.perf_counter()
    try:
        yield Close(link, timeout_s)
    except NETWORK_ERRORS as exc:
        return Step("close", False, _ms_since(started), describe_exception(exc))
    return Step("close", True, _ms_since(started), "closed")


def judge_first_message(frame: str | bytes) -> tuple[str, str | None]:
    """What the first message of a connection says: (`ok` | `skip` | a failure kind,
    the problem). Pure: shared by the sync and async probes."""
    if isinstance(frame, bytes):
        return "protocol", f"binary frame of {len(frame)} bytes instead of connection_established"
    try:
        message = loads_strict(frame)
    except ValueError:
        return "protocol", f"invalid JSON instead of connection_established: {frame[:40]!r}"
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "connection_established":
        return "ok", None
    if kind in ("heartbeat", "pong", "ping"):
        return "skip", None
    if kind == "error":
        code = str(message.get("error_code") or "")
        failure = ("auth_rejected" if code.startswith("AUTH_FAILED")
                   else "server_error" if "UNAVAILABLE" in code else "protocol")
        return failure, f"error instead of connection_established: {event_error(message)}"
    return "protocol", f"expected connection_established, got {str(kind or frame)[:40]!r}"


def classify_failure(exc: BaseException, timeout_s: float) -> tuple[str, str, int | None]:
    """(kind, readable text, HTTP status) for an exception raised while connecting."""
    if isinstance(exc, InvalidStatus):
        response = exc.response
        body = response.body.decode("utf-8", "replace")[:120].strip() if response.body else ""
        text = f"handshake answered HTTP {response.status_code} {response.reason_phrase}"
        return "http_error", f"{text}: {body}" if body else text, response.status_code
    if isinstance(exc, NegotiationError):
        return "handshake", f"handshake refused by the probe: {exc}", 101
    if isinstance(exc, InvalidHandshake):
        return "handshake", f"invalid handshake answer: {describe_exception(exc)}", None
    if isinstance(exc, ConnectionClosed):
        return "closed", describe_close(exc), None
    if isinstance(exc, TimeoutError):
        return "timeout", f"no handshake answer within {timeout_s:.3g} s", None
    if isinstance(exc, ConnectionRefusedError):
        return "refused", describe_exception(exc), None
    return "network", describe_exception(exc), None


def _close_code(exc: ConnectionClosed) -> int:
    return exc.rcvd.code if exc.rcvd is not None else 1006


def hint(env: Environment, text: str) -> str:
    """`text`, with how to start the sandbox when a sandbox port refused."""
    if env.kind != "sandbox" or "refused" not in text.lower():
        return text
    flag = "" if env.name == "sandbox" else f" --env {env.source}"
    return f"{text} (is the sandbox running? start it with: netra-ops sandbox up{flag})"


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
