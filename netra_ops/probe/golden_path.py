"""Golden-path probe (seed 3.1): login -> WebSocket -> user message -> the five agent events.

The probe logs in as the environment's test user, connects to the backend's WebSocket with
the `jwt.<token>` subprotocol, sends one `user_message` and listens until `agent_completed`,
an error, a close or the deadline. Each event's latency is measured from the moment the
message was sent. The token is used and forgotten: it never enters the result.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from netra_ops.config import Environment, load_environment
from netra_ops.probe._text import describe_exception
from netra_ops.secrets import resolve_secret

__all__ = [
    "DEFAULT_MESSAGE",
    "GOLDEN_PATH_EVENTS",
    "ConnectResult",
    "EventObservation",
    "GoldenPathResult",
    "golden_path",
    "websocket_connect",
]

GOLDEN_PATH_EVENTS: tuple[str, ...] = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
DEFAULT_MESSAGE = (
    "We spend about $12,000 a month on GPT-4o for 3 million tokens a day. "
    "How can we cut that cost without hurting answer quality?"
)
MIN_FINAL_RESPONSE_CHARS = 20
_IGNORED_TYPES = {"heartbeat", "pong", "connection_established"}


@dataclass(frozen=True)
class EventObservation:
    """One message received after the user message was sent."""

    type: str
    received_ms: float
    message: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class GoldenPathResult:
    """Everything one golden-path run saw; `ok` only if the whole path worked."""

    ok: bool
    environment: str
    started_at: datetime
    thread_id: str
    message: str
    event_budget_ms: float
    login_ms: float | None = None
    connect_ms: float | None = None
    total_ms: float | None = None
    events: tuple[EventObservation, ...] = ()
    missing: tuple[str, ...] = ()
    out_of_order: tuple[str, ...] = ()
    final_response: str | None = None
    failed_step: str | None = None
    error: str | None = None
    http_status: int | None = None

    @property
    def server_error(self) -> bool:
        """True when the platform answered a request of this run with a 5xx status."""
        return self.http_status is not None and self.http_status >= 500

    def latency_ms(self, event_type: str) -> float | None:
        """Milliseconds from the send to the first event of that type, or None."""
        return next((e.received_ms for e in self.events if e.type == event_type), None)

    @property
    def slow_events(self) -> tuple[str, ...]:
        """Golden-path events that arrived later than the budget."""
        return tuple(name for name in GOLDEN_PATH_EVENTS
                     if (ms := self.latency_ms(name)) is not None and ms > self.event_budget_ms)

    @property
    def last_event(self) -> str | None:
        """The type of the last message received after the send."""
        return self.events[-1].type if self.events else None

    def to_frame(self) -> pd.DataFrame:
        """One row per golden-path event (and per extra event seen, such as agent_error)."""
        names = list(GOLDEN_PATH_EVENTS) + [e.type for e in self.events
                                            if e.type not in GOLDEN_PATH_EVENTS]
        rows = [self._row(name, position) for position, name in enumerate(names, start=1)]
        return pd.DataFrame(rows)

    def _row(self, name: str, position: int) -> dict[str, Any]:
        latency = self.latency_ms(name)
        return {
            "started_at": self.started_at, "thread_id": self.thread_id, "position": position,
            "event": name, "expected": name in GOLDEN_PATH_EVENTS, "seen": latency is not None,
            "in_order": name not in self.out_of_order, "latency_ms": latency,
            "within_budget": latency is not None and latency <= self.event_budget_ms,
            "run_ok": self.ok,
        }


@dataclass(frozen=True)
class ConnectResult:
    """Whether an authenticated WebSocket connection reached `connection_established`."""

    ok: bool
    url: str
    login_ms: float | None
    connect_ms: float | None
    failed_step: str | None
    error: str | None
    http_status: int | None

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([asdict(self)])


def websocket_connect(env: Environment | str = "sandbox") -> ConnectResult:
    """Log in and open the backend's WebSocket up to `connection_established` (seed 1.3)."""
    environment = load_environment(env) if isinstance(env, str) else env
    result = _Run(environment, "", "connect-check", 10.0, 500.0).execute(converse=False)
    return ConnectResult(result.failed_step is None, environment.backend.websocket_url,
                         result.login_ms, result.connect_ms, result.failed_step, result.error,
                         result.http_status)


def golden_path(
    env: Environment | str = "sandbox",
    *,
    message: str = DEFAULT_MESSAGE,
    thread_id: str | None = None,
    timeout_s: float = 45.0,
    event_budget_ms: float = 500.0,
) -> GoldenPathResult:
    """Run the golden path once against `env` and report what happened; never raises for
    a bad answer from the platform (a bad environment file or secret does raise)."""
    environment = load_environment(env) if isinstance(env, str) else env
    run = _Run(environment, message, thread_id or f"probe-{uuid.uuid4().hex[:12]}",
               timeout_s, event_budget_ms)
    return run.execute()


class _Run:
    """The steps of one golden-path run; each records its timing or its failure."""

    def __init__(self, env: Environment, message: str, thread_id: str, timeout_s: float,
                 event_budget_ms: float) -> None:
        self.env = env
        self.message = message
        self.thread_id = thread_id
        self.timeout_s = timeout_s
        self.budget = event_budget_ms
        self.started_at = datetime.now(UTC)
        self.timings: dict[str, float] = {}
        self.events: list[EventObservation] = []
        self.http_status: int | None = None

    def execute(self, converse: bool = True) -> GoldenPathResult:
        password = resolve_secret(self.env.credentials.password)
        token, failure = self._login(password)
        del password
        if token is None:
            return self._result("login", failure)
        try:
            ws = self._connect(token)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            if isinstance(exc, InvalidStatus):
                self.http_status = exc.response.status_code
            return self._result("connect", self._hint(describe_exception(exc)))
        with ws:
            if not converse:
                failure = self._established_or_closed(ws)
                return self._result("handshake" if failure else None, failure, judge=False)
            return self._converse(ws)

    def _established_or_closed(self, ws: ClientConnection) -> str | None:
        try:
            return self._await_established(ws)
        except ConnectionClosed as exc:
            return _closed_text(exc)

    def _login(self, password: str) -> tuple[str | None, str | None]:
        url = self.env.auth.url + "/auth/login"
        started = time.perf_counter()
        try:
            response = httpx.post(url, json={"email": self.env.credentials.email,
                                             "password": password}, timeout=10.0)
        except httpx.HTTPError as exc:
            return None, self._hint(f"{url}: {describe_exception(exc)}")
        self.timings["login"] = _ms_since(started)
        self.http_status = response.status_code
        if response.status_code != 200:
            return None, f"{url}: HTTP {response.status_code} {_error_text(response)}"
        token = _json_or_empty(response).get("access_token")
        if not isinstance(token, str) or not token:
            return None, f"{url}: HTTP 200 without an access_token"
        return token, None

    def _connect(self, token: str) -> ClientConnection:
        started = time.perf_counter()
        ws = connect(self.env.backend.websocket_url, subprotocols=[Subprotocol(f"jwt.{token}")],
                     open_timeout=10.0, close_timeout=2.0, compression=None,
                     max_size=2**22, user_agent_header="netra-ops-probe")
        self.timings["connect"] = _ms_since(started)
        self.http_status = 101
        return ws

    def _converse(self, ws: ClientConnection) -> GoldenPathResult:
        try:
            failure = self._await_established(ws)
            if failure:
                return self._result("handshake", failure)
            sent = time.perf_counter()
            ws.send(json.dumps({"type": "user_message",
                                "payload": {"text": self.message, "thread_id": self.thread_id}}))
            failure = self._collect(ws, sent)
            self.timings["total"] = _ms_since(sent)
        except ConnectionClosed as exc:
            return self._result("agent" if self.events else "handshake", _closed_text(exc))
        return self._result("agent" if failure else None, failure)

    def _await_established(self, ws: ClientConnection) -> str | None:
        try:
            first = json.loads(ws.recv(timeout=10.0))
        except TimeoutError:
            return "no connection_established message within 10 s"
        if first.get("type") == "connection_established":
            return None
        return f"{first.get('error_code') or first.get('type')}: {first.get('message', '')}"

    def _collect(self, ws: ClientConnection, sent: float) -> str | None:
        deadline = sent + self.timeout_s
        while (remaining := deadline - time.perf_counter()) > 0:
            try:
                raw = ws.recv(timeout=remaining)
            except TimeoutError:
                break
            msg = json.loads(raw)
            kind = str(msg.get("type"))
            if kind in _IGNORED_TYPES:
                continue
            self.events.append(EventObservation(kind, _ms_since(sent), msg))
            if kind == "agent_completed":
                return None
            if kind in ("agent_error", "error"):
                return f"{kind}: {_event_error(msg)}"
        last = self.events[-1].type if self.events else "none"
        return f"no agent_completed within {self.timeout_s:g} s (last event: {last})"

    def _hint(self, text: str) -> str:
        if self.env.kind != "sandbox" or "refused" not in text.lower():
            return text
        flag = "" if self.env.name == "sandbox" else f" --env {self.env.source}"
        return f"{text} (is the sandbox running? start it with: netra-ops sandbox up{flag})"

    def _result(self, failed_step: str | None, error: str | None,
                judge: bool = True) -> GoldenPathResult:
        seen = [e.type for e in self.events if e.type in GOLDEN_PATH_EVENTS]
        missing = tuple(name for name in GOLDEN_PATH_EVENTS if name not in seen)
        final = _final_response(self.events)
        incomplete = bool(missing) or len(final or "") <= MIN_FINAL_RESPONSE_CHARS
        if failed_step is None and judge and incomplete:
            failed_step, error = "agent", _incomplete_text(missing, final)
        out_of_order = _out_of_order(seen)
        if failed_step is None and out_of_order:
            failed_step, error = "agent", f"events out of order: {', '.join(out_of_order)}"
        return GoldenPathResult(
            ok=failed_step is None, environment=self.env.name, started_at=self.started_at,
            thread_id=self.thread_id, message=self.message, event_budget_ms=self.budget,
            login_ms=self.timings.get("login"), connect_ms=self.timings.get("connect"),
            total_ms=self.timings.get("total"), events=tuple(self.events), missing=missing,
            out_of_order=out_of_order, final_response=final, failed_step=failed_step,
            error=error, http_status=self.http_status,
        )


def _out_of_order(seen: list[str]) -> tuple[str, ...]:
    """Events that arrived after an event that should have come later."""
    highest = -1
    late: list[str] = []
    for name in seen:
        index = GOLDEN_PATH_EVENTS.index(name)
        if index < highest:
            late.append(name)
        highest = max(highest, index)
    return tuple(late)


def _final_response(events: list[EventObservation]) -> str | None:
    for event in events:
        if event.type == "agent_completed":
            data = event.message.get("data") or {}
            text = data.get("final_response") or event.message.get("final_response")
            return str(text) if text else None
    return None


def _incomplete_text(missing: tuple[str, ...], final: str | None) -> str:
    if missing:
        return f"missing events: {', '.join(missing)}"
    return f"final response shorter than {MIN_FINAL_RESPONSE_CHARS} characters: {final!r}"


def _event_error(msg: dict[str, Any]) -> str:
    raw = msg.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for value in (data.get("error"), msg.get("error"), msg.get("message"),
                  msg.get("error_code")):
        if value:
            return str(value)
    return json.dumps(msg)[:200]


def _closed_text(exc: ConnectionClosed) -> str:
    close = exc.rcvd
    if close is None:
        return "connection closed without a close frame"
    return f"connection closed {close.code} {close.reason}".strip()


def _error_text(response: httpx.Response) -> str:
    body = _json_or_empty(response)
    detail = body.get("error") or body.get("detail") or body.get("message")
    return str(detail) if detail else response.text[:120]


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
