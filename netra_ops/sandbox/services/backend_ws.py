"""The backend's WebSocket `/ws`: token check, chat messages and the five agent events.

A connection is accepted first so that a rejection can be explained in a message:

- no token or a token the auth service rejects -> `{type:"error", error_code:"AUTH_FAILED"}`,
  close 1008 (policy violation);
- auth service unreachable or answering nonsense -> `error_code:"AUTH_SERVICE_UNAVAILABLE"`,
  close 1011.

Then `connection_established`, and for each `user_message` / `chat_message` / `start_agent`
one agent turn: `agent_started`, `agent_thinking`, `tool_executing`, `tool_completed`,
`agent_completed` (or `agent_error`). `ping` gets `pong`; an idle connection gets a
`heartbeat`; a malformed or unknown message gets an `error` and the connection stays open.

Idle timeout (`WEBSOCKET_CONNECTION_TIMEOUT`, 900 s unset): a connection whose client has sent
nothing (a `pong` answering a heartbeat counts) for that long, with no turn running, is closed
with 1000 and the reason `IDLE_CLOSE_REASON` names. A client that answers heartbeats stays
connected as long as Cloud Run lets the request live. `NETRA_REHEARSAL_TIME_SCALE` runs the
heartbeat and this timeout that many times faster (`BackendSettings.time_scale`).

Timing: a turn's events are sent as they happen, each stamped (`timestamp`) when it is
produced. The gaps between them follow `TurnPlan`: milliseconds by default, or, with
`NETRA_AGENT_TURN_S` ("3-8": a total drawn uniformly per turn; "5": fixed), seconds spread
as a real agent spends them (thinking, choosing the tool, running it, writing the answer).
`NETRA_FAULT_DELIVERY_DELAY_MS` holds every message of a connection back that long after it
was produced, in order: the timestamps stay prompt, the delivery lags (a slow network path).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.websockets import WebSocket

from netra_ops.sandbox.services.agent import AgentTurn, SpendAdvisor
from netra_ops.sandbox.services.backend_faults import FaultInjector
from netra_ops.sandbox.services.backend_settings import GOLDEN_PATH_EVENTS, BackendSettings
from netra_ops.sandbox.services.service_logging import rfc3339_now

__all__ = [
    "FAST_TURN",
    "IDLE_CLOSE_CODE",
    "IDLE_CLOSE_REASON",
    "AuthOutcome",
    "BackendRuntime",
    "TurnPlan",
    "UserExecutionContext",
    "plan_turn",
    "websocket_endpoint",
]

AUTH_TIMEOUT_S = 3.0
IDLE_CLOSE_CODE = 1000
IDLE_CLOSE_REASON = "idle timeout"
"""The reason of the app's idle close, followed by the configured WEBSOCKET_CONNECTION_TIMEOUT."""
MAX_TEXT_CHARS = 4000
CHAT_TYPES = ("user_message", "chat_message", "start_agent")
_TEXT_KEYS = ("text", "content", "user_request", "message")
_LOG = logging.getLogger("netra_ops.sandbox.backend")


@dataclass(frozen=True)
class UserExecutionContext:
    """Per-run context of an agent execution (its `session_id` field was removed)."""

    user_id: str
    thread_id: str
    run_id: str


@dataclass(frozen=True)
class TurnPlan:
    """The pauses of one agent turn, in seconds, after each of its first four events."""

    think_s: float  # agent_started -> agent_thinking
    choose_s: float  # agent_thinking -> tool_executing
    tool_s: float  # tool_executing -> tool_completed
    answer_s: float  # tool_completed -> agent_completed

    @property
    def total_s(self) -> float:
        """The whole turn, from agent_started to agent_completed."""
        return self.think_s + self.choose_s + self.tool_s + self.answer_s


FAST_TURN = TurnPlan(0.003, 0.0, 0.008, 0.003)
"""The default: a turn of ~15 ms, for tests and the demo."""
_TURN_SHARES = (0.15, 0.25, 0.25, 0.35)  # reasoning, tool choice, tool run, final answer


def plan_turn(turn_s: tuple[float, float] | None, rng: random.Random) -> TurnPlan:
    """The pauses of the next turn: FAST_TURN without a range, else a total drawn uniformly
    from `turn_s` and spread over the four steps by `_TURN_SHARES`."""
    if turn_s is None:
        return FAST_TURN
    total = rng.uniform(*turn_s)
    return TurnPlan(*(total * share for share in _TURN_SHARES))


@dataclass
class BackendRuntime:
    """What a revision's connections share: settings, faults, the agent, the auth client."""

    settings: BackendSettings
    faults: FaultInjector
    advisor: SpendAdvisor = field(default_factory=SpendAdvisor)
    _auth_client: httpx.AsyncClient | None = None
    _turn_rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._turn_rng = random.Random(self.settings.fault_seed)

    def plan_turn(self) -> TurnPlan:
        """The pauses of the next agent turn (see `plan_turn`)."""
        return plan_turn(self.settings.agent_turn_s, self._turn_rng)

    async def prepare(self) -> None:
        """Create the auth client off the event loop (loading TLS roots takes ~0.1 s)."""
        if self._auth_client is not None:
            return
        client = await asyncio.to_thread(httpx.AsyncClient, timeout=AUTH_TIMEOUT_S)
        if self._auth_client is None:
            self._auth_client = client
        else:  # a connection needed one first; this one never opened a socket
            await client.aclose()

    def auth_client(self) -> httpx.AsyncClient:
        """The HTTP client for the auth service (created on first use if not prepared)."""
        if self._auth_client is None:
            self._auth_client = httpx.AsyncClient(timeout=AUTH_TIMEOUT_S)
        return self._auth_client

    async def aclose(self) -> None:
        """Close the auth client, if one was created."""
        if self._auth_client is not None:
            await self._auth_client.aclose()
            self._auth_client = None

    def execution_context(self, user_id: str, thread_id: str, run_id: str) -> Any:
        """Build the run's context the way this build does (the stale build still passes
        `session_id`, which raises the seed's TypeError)."""
        kwargs: dict[str, Any] = {"user_id": user_id, "thread_id": thread_id, "run_id": run_id}
        if self.settings.build == "stale":
            kwargs["session_id"] = f"session_{thread_id}"
        return UserExecutionContext(**kwargs)


@dataclass(frozen=True)
class AuthOutcome:
    """The result of checking a connection's token with the auth service."""

    user_id: str | None
    error_code: str | None = None
    message: str = ""
    close_code: int = 1000


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one WebSocket connection on `/ws`."""
    runtime: BackendRuntime = websocket.app.state.runtime
    token, subprotocol = token_from(websocket)
    await websocket.accept(subprotocol=subprotocol)
    outcome = await authenticate(runtime, token)
    if outcome.user_id is None:
        await _reject(websocket, outcome, runtime.settings)
        return
    session = _Session(websocket, runtime, outcome.user_id, token or "")
    await session.run()


def token_from(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The bearer token of a handshake and the subprotocol to echo (None: none offered)."""
    offered: list[str] = list(websocket.scope.get("subprotocols") or [])
    chosen = "jwt-auth" if "jwt-auth" in offered else None
    for protocol in offered:
        if protocol.startswith("jwt."):
            return _decode_subprotocol_token(protocol[4:]), chosen or protocol
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), chosen
    return None, chosen


def _decode_subprotocol_token(value: str) -> str:
    """A raw JWT as is; a base64url-encoded one (as some clients send it) decoded."""
    if value.count(".") == 2:
        return value
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return value
    return decoded if decoded.count(".") == 2 else value


async def authenticate(runtime: BackendRuntime, token: str | None) -> AuthOutcome:
    """Validate a token with the auth service (`POST {AUTH_SERVICE_URL}/auth/validate`)."""
    if not token:
        return _auth_failed(
            "no token: send it as subprotocol jwt.<token> or an Authorization: Bearer header"
        )
    url = runtime.settings.auth_service_url
    if not url:
        return _auth_unavailable("AUTH_SERVICE_URL is not set on this revision")
    try:
        response = await runtime.auth_client().post(f"{url}/auth/validate", json={"token": token})
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        return _auth_unavailable(f"auth service at {url} unreachable ({type(exc).__name__})")
    if not isinstance(body, dict):
        return _auth_unavailable(
            f"auth service at {url} answered HTTP {response.status_code} without a validation"
        )
    if body.get("valid") is True and isinstance(body.get("user_id"), str):
        return AuthOutcome(user_id=body["user_id"])
    return _auth_failed(f"token rejected by the auth service: {body.get('error', 'invalid')}")


def _auth_failed(message: str) -> AuthOutcome:
    return AuthOutcome(None, "AUTH_FAILED", message, close_code=1008)


def _auth_unavailable(message: str) -> AuthOutcome:
    return AuthOutcome(None, "AUTH_SERVICE_UNAVAILABLE", message, close_code=1011)


async def _reject(websocket: WebSocket, outcome: AuthOutcome, settings: BackendSettings) -> None:
    level = logging.WARNING if outcome.close_code == 1008 else logging.ERROR
    _LOG.log(
        level,
        "websocket authentication failed: %s",
        outcome.message,
        extra={"fields": {"error_code": outcome.error_code, "close_code": outcome.close_code}},
    )
    await websocket.send_text(
        json.dumps(
            {
                "type": "error",
                "error_code": outcome.error_code,
                "message": outcome.message,
                "timestamp": rfc3339_now(),
                "data": {"error_code": outcome.error_code, "revision": settings.revision},
            }
        )
    )
    await websocket.close(code=outcome.close_code, reason=outcome.error_code or "")


class _Session:
    """One authenticated connection: its receive loop, heartbeats and agent turns."""

    def __init__(self, websocket: WebSocket, runtime: BackendRuntime, user_id: str,
                 token: str) -> None:
        self.websocket = websocket
        self.token = token
        self.runtime = runtime
        self.settings = runtime.settings
        self.user_id = user_id
        self.connection_id = f"conn_{uuid.uuid4().hex[:16]}"
        self.default_thread = f"thread_{self.connection_id[5:]}"
        self._send_lock = asyncio.Lock()
        self._turn_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_activity = time.monotonic()
        self._last_heard = time.monotonic()  # the client's last message or turn's end
        self._delivery_delay_s = self.settings.delivery_delay_ms / 1000
        self._outbox: asyncio.Queue[tuple[float, dict[str, Any]]] | None = None

    async def run(self) -> None:
        started = time.monotonic()
        self._log(logging.INFO, "websocket connected")
        await self.send(
            {
                "type": "connection_established",
                "timestamp": rfc3339_now(),
                "data": {
                    "connection_id": self.connection_id,
                    "user_id": self.user_id,
                    "golden_path_events": list(GOLDEN_PATH_EVENTS),
                    "revision": self.settings.revision,
                    "heartbeat_interval_s": self.settings.heartbeat_every_s,
                    "connection_timeout_s": self.settings.idle_close_after_s,
                    "time_scale": self.settings.time_scale,
                },
            }
        )
        self._spawn(self._heartbeats())
        self._spawn(self._idle_timeout())
        try:
            await self._receive_loop()
        finally:
            await self._cancel_tasks()
            duration = round(time.monotonic() - started, 3)
            self._log(logging.INFO, "websocket closed", duration_s=duration)

    async def send(self, message: dict[str, Any]) -> None:
        if self._delivery_delay_s > 0:
            self._delay_delivery(message)
            return
        await self._send_now(message)

    async def _send_now(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(message))
            self._last_activity = time.monotonic()

    def _delay_delivery(self, message: dict[str, Any]) -> None:
        """Queue a message for delivery `_delivery_delay_s` from now (order kept)."""
        if self._outbox is None:
            self._outbox = asyncio.Queue()
            self._spawn(self._deliver(self._outbox))
        self._outbox.put_nowait((time.monotonic() + self._delivery_delay_s, message))
        self._last_activity = time.monotonic()

    async def _deliver(self, outbox: asyncio.Queue[tuple[float, dict[str, Any]]]) -> None:
        while True:
            due, message = await outbox.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self._send_now(message)

    async def _receive_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            self._last_activity = self._last_heard = time.monotonic()
            raw = message.get("text")
            if raw is None:
                raw = (message.get("bytes") or b"").decode("utf-8", errors="replace")
            await self._handle(raw)

    async def _handle(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            await self._error("INVALID_JSON", "message is not valid JSON")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._error("INVALID_MESSAGE", "a message is a JSON object with a 'type'")
            return
        kind = message["type"]
        if kind == "ping":
            await self.send({"type": "pong", "timestamp": rfc3339_now(),
                             "data": {"connection_id": self.connection_id}})
        elif kind in CHAT_TYPES:
            await self._start_turn(message)
        elif kind != "pong":
            await self._error(
                "UNKNOWN_MESSAGE_TYPE",
                f"unknown message type {kind!r}; send one of {', '.join(CHAT_TYPES)} or ping",
            )

    async def _start_turn(self, message: dict[str, Any]) -> None:
        text, thread_id = _text_and_thread(message)
        if not text:
            await self._error(
                "INVALID_MESSAGE",
                f"{message['type']} needs the user's text (payload.text, content or "
                "payload.user_request)",
            )
            return
        self._spawn(self._turn(text[:MAX_TEXT_CHARS], thread_id or self.default_thread))

    async def _turn(self, text: str, thread_id: str) -> None:
        async with self._turn_lock:
            try:
                await _AgentRun(self, thread_id).execute(text)
            finally:
                self._last_heard = time.monotonic()

    async def _idle_timeout(self) -> None:
        """Close the connection once the client has been silent, with no turn running, for
        `WEBSOCKET_CONNECTION_TIMEOUT` (on the rehearsal's clock)."""
        limit = self.settings.idle_close_after_s
        while True:
            silent = time.monotonic() - self._last_heard
            if silent < limit or self._turn_lock.locked():
                await asyncio.sleep(max(limit - silent, limit / 20))
                continue
            configured = f"{self.settings.connection_timeout_s:g}"
            self._log(logging.INFO, "websocket idle timeout", idle_s=round(silent, 3),
                      connection_timeout_s=self.settings.connection_timeout_s,
                      time_scale=self.settings.time_scale)
            async with self._send_lock:
                await self.websocket.close(
                    code=IDLE_CLOSE_CODE,
                    reason=f"{IDLE_CLOSE_REASON} (WEBSOCKET_CONNECTION_TIMEOUT={configured}s)")
            return

    async def _heartbeats(self) -> None:
        interval = self.settings.heartbeat_every_s
        while True:
            idle = time.monotonic() - self._last_activity
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            await self.send({"type": "heartbeat", "timestamp": rfc3339_now(),
                             "data": {"connection_id": self.connection_id,
                                      "interval_s": interval}})

    async def _error(self, code: str, message: str) -> None:
        await self.send({"type": "error", "error_code": code, "message": message,
                         "timestamp": rfc3339_now(), "data": {"error_code": code}})

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(self._guard(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coroutine: Any) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-send: nothing left to tell it
            self._log(logging.INFO, f"connection task ended: {type(exc).__name__}")

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _log(self, level: int, message: str, **fields: Any) -> None:
        context = {"connection_id": self.connection_id, "user_id": self.user_id}
        _LOG.log(level, message, extra={"fields": {**context, **fields}})


def _text_and_thread(message: dict[str, Any]) -> tuple[str, str | None]:
    payload = message.get("payload")
    sources = [payload if isinstance(payload, dict) else {}, message]
    text = next(
        (s[k] for s in sources for k in _TEXT_KEYS if isinstance(s.get(k), str) and s[k].strip()),
        "",
    )
    thread = next((s["thread_id"] for s in sources if s.get("thread_id")), None)
    return text.strip(), None if thread is None else str(thread)


class _AgentRun:
    """One agent turn: the five golden-path events (or `agent_error`), paced by a TurnPlan."""

    def __init__(self, session: _Session, thread_id: str) -> None:
        self.session = session
        self.runtime = session.runtime
        self.thread_id = thread_id
        self.run_id = f"run_{uuid.uuid4().hex[:16]}"
        self.sent: list[str] = []

    async def execute(self, text: str) -> None:
        self.runtime.faults.grow()
        started = time.monotonic()
        user_id = self.session.user_id
        await self.emit("agent_started", {"user_id": user_id, "thread_id": self.thread_id,
                                          "timestamp": rfc3339_now(), "status": "started"})
        try:
            self.runtime.execution_context(user_id, self.thread_id, self.run_id)
            turn = self.runtime.advisor.answer(user_id, self.thread_id, text)
        except Exception as exc:
            await self.fail(exc)
            return
        await self.answer(turn, started)

    async def answer(self, turn: AgentTurn, started: float) -> None:
        plan = self.runtime.plan_turn()
        await asyncio.sleep(plan.think_s)
        await self.emit("agent_thinking", {"reasoning": turn.reasoning, "step": 1})
        await asyncio.sleep(plan.choose_s)
        tool_started = time.monotonic()
        await self.emit("tool_executing", {"tool_name": turn.tool_name,
                                           "parameters": turn.parameters},
                        tool_name=turn.tool_name)
        await asyncio.sleep(plan.tool_s)
        elapsed_ms = round((time.monotonic() - tool_started) * 1000, 1)
        await self.emit("tool_completed", {"tool_name": turn.tool_name, "results": turn.results,
                                           "execution_time_ms": elapsed_ms,
                                           "duration": elapsed_ms},
                        tool_name=turn.tool_name, results=turn.results)
        await asyncio.sleep(plan.answer_s)
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        final = turn.final_response + self.runtime.faults.leaked_secrets(self.session.token)
        await self.emit("agent_completed", {"status": "completed",
                                            "final_response": final,
                                            "duration_ms": duration_ms},
                        status="completed")
        self.log(logging.INFO, "agent turn completed", duration_ms=duration_ms,
                 tool_name=turn.tool_name)

    async def fail(self, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        self.log(logging.ERROR, f"agent execution failed: {error}", exc_info=exc,
                 error_type=type(exc).__name__)
        await self.emit("agent_error", {"error": error, "error_type": type(exc).__name__,
                                        "run_id": self.run_id})

    async def emit(self, kind: str, data: dict[str, Any], **top: Any) -> None:
        await self.runtime.faults.delay()
        if kind == self.runtime.settings.drop_event:
            return
        session = self.session
        await session.send({"type": kind, "run_id": self.run_id, "thread_id": self.thread_id,
                            "user_id": session.user_id, "agent_name": SpendAdvisor.name,
                            "timestamp": rfc3339_now(), **top, "data": data})
        self.sent.append(kind)

    def log(self, level: int, message: str, exc_info: Exception | None = None,
            **fields: Any) -> None:
        context = {"run_id": self.run_id, "thread_id": self.thread_id,
                   "user_id": self.session.user_id, "connection_id": self.session.connection_id,
                   "events_sent": list(self.sent)}
        _LOG.log(level, message, exc_info=exc_info, extra={"fields": {**context, **fields}})
