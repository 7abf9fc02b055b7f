"""A hostile WebSocket backend on loopback: one path per misbehaviour, for the probes' tests.

`HostileServers` runs, in background threads on 127.0.0.1:

- a `websockets` asyncio server whose path `/ws/<mode>` behaves as `MODES` says (`good`
  behaves like the real backend: `connection_established`, then the five events with
  substantive content, remembering what a thread said);
- a small HTTP server standing in for the auth service (`POST /<mode>/auth/login` returns
  a token and the user `user-1`; `GET /<mode>/health` a health body whose `timestamp` is the
  mode's clock) and the frontend (`GET|HEAD /` returns a chat page).

`with hostile_servers(folder) as servers:` starts both and stops them at the end;
`servers.env(mode)` is an Environment whose backend is that mode (its test user's password
in a file under `folder`; its auth service under `/<mode>`, so a mode may skew its clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from netra_ops.config import Credentials, Environment, Service
from netra_ops.sandbox.ephemeral import free_ports

TOKEN = "hostile.test.token"
OVERSIZED_BYTES = 4 * 2**20 + 1024
SLOW_EVENT_S = 0.12
SLOW_AGENT_STEP_S = 0.6  # slow-agent: an agent that thinks (prompt timestamps, ~2.4 s answer)
LATE_DELIVERY_S = 0.7  # slow-delivery: each event sits this long between stamping and sending
SKEW_S = 30.0  # skewed-clock: the server's clock runs this far ahead (events and health)
USER = "user-1"  # the user the hostile auth service logs everyone in as
OTHER_USER, OTHER_THREAD, OTHER_RUN = "user-2", "probe-someone-else", "run_someone_else"
SEED_ERROR = ("TypeError: UserExecutionContext.__init__() got an unexpected keyword argument "
              "'session_id'")
GOOD_REASONING = "Analyzing $18,500/month on gpt-4o; pricing a 60% routing mix to gpt-4o-mini."
GOOD_ANSWER = ("Recommendation: route about 60% of requests to gpt-4o-mini and cache repeated "
               "prompts; estimated spend drops by 61%.")
CHAT_PAGE = b"<!doctype html><html><head><title>Netra chat</title></head><body></body></html>"

Mode = Callable[["_Session"], Awaitable[None]]


@contextlib.contextmanager
def hostile_servers(folder: Path) -> Iterator[HostileServers]:
    """The hostile servers, running for the `with` block."""
    password = folder / "password"
    password.write_text("hostile-test-password")
    servers = HostileServers(password).start()
    try:
        yield servers
    finally:
        servers.stop()


def hostile_env(servers: HostileServers, mode: str, password_file: Path) -> Environment:
    """An environment whose backend WebSocket is `/ws/<mode>` of the hostile server."""
    return Environment(
        name=f"hostile-{mode}", kind="gcp", project="hostile-test", region="loopback",
        services={
            "backend": Service(name="hostile-backend", url=servers.ws_url,
                               websocket_path=f"/ws/{mode}"),
            "auth": Service(name="hostile-auth", url=f"{servers.http_url}/{mode}"),
            "frontend": Service(name="hostile-frontend", url=servers.http_url, health_path="/"),
        },
        credentials=Credentials(email="probe@hostile.test", password=f"file:{password_file}"),
    )


# --- the WebSocket side ----------------------------------------------------------------


@dataclass
class _Session:
    """One hostile connection: the socket, its mode and the turns it has seen."""

    ws: ServerConnection
    mode: str
    memory: dict[str, list[str]] = field(default_factory=dict)

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    @property
    def skew_s(self) -> float:
        """How far this mode's clock runs ahead of the real one."""
        return SKEW_S if self.mode.startswith("skewed-clock") else 0.0

    async def established(self) -> None:
        await self.send({"type": "connection_established",
                         "data": {"connection_id": "conn_hostile", "user_id": USER}})

    async def next_message(self) -> tuple[str, str]:
        """(text, thread_id) of the next user message."""
        message = json.loads(await self.ws.recv())
        payload = message.get("payload") or {}
        return str(payload.get("text", "")), str(payload.get("thread_id", "t"))

    def event(self, kind: str, thread_id: str, /, **data: Any) -> dict[str, Any]:
        top = {key: data[key] for key in ("tool_name", "status") if key in data}
        return {"type": kind, "run_id": "run_1", "thread_id": thread_id, "user_id": USER,
                "agent_name": "hostile", "timestamp": _now(self.skew_s), **top, "data": data}

    def five(self, thread_id: str, answer: str = GOOD_ANSWER,
             reasoning: str = GOOD_REASONING) -> list[dict[str, Any]]:
        return [
            self.event("agent_started", thread_id, user_id=USER, thread_id=thread_id,
                       timestamp=_now(self.skew_s)),
            self.event("agent_thinking", thread_id, reasoning=reasoning),
            self.event("tool_executing", thread_id, tool_name="cost_analyzer",
                       parameters={"monthly_spend_usd": 18500}),
            self.event("tool_completed", thread_id, tool_name="cost_analyzer",
                       results={"savings_pct": 0.61}, duration=8.0),
            self.event("agent_completed", thread_id, status="completed", final_response=answer),
        ]

    async def turn(self, events: list[dict[str, Any] | str | bytes],
                   pause_s: float = 0.0) -> None:
        for message in events:
            if pause_s:
                await asyncio.sleep(pause_s)
            await self.send(message)

    async def hold(self) -> None:
        """Keep the connection open until the client goes."""
        await self.ws.wait_closed()


def _now(skew_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=skew_s)).isoformat()


async def _good(s: _Session) -> None:
    await s.established()
    while True:
        text, thread = await s.next_message()
        earlier = s.memory.setdefault(thread, [])
        answer = GOOD_ANSWER if not earlier else f"Earlier you said: {earlier[0]} {GOOD_ANSWER}"
        earlier.append(text)
        await s.turn(list(s.five(thread, answer)))


async def _forgetful(s: _Session) -> None:
    await s.established()
    while True:
        _, thread = await s.next_message()
        await s.turn(list(s.five(thread)))


def _one_turn(shape: Callable[[_Session, str], list[Any]], pause_s: float = 0.0) -> Mode:
    """A mode: connection_established, then one turn whose frames `shape` makes."""
    async def mode(s: _Session) -> None:
        await s.established()
        _, thread = await s.next_message()
        await s.turn(shape(s, thread), pause_s)
        await s.hold()
    return mode


def _replace(index: int, **data: Any) -> Callable[[_Session, str], list[Any]]:
    def shape(s: _Session, thread: str) -> list[Any]:
        events = s.five(thread)
        events[index]["data"].update(data)
        for key in ("status",):
            if key in data:
                events[index][key] = data[key]
        return events
    return shape


def _duplicate(s: _Session, thread: str) -> list[Any]:
    """tool_executing sent twice, as two emitters would: same content, a later timestamp."""
    events = s.five(thread)
    again = {**events[2], "timestamp": _now()}
    return [*events[:3], again, *events[3:]]


def _missing_fields(s: _Session, thread: str) -> list[Any]:
    events = s.five(thread)
    events[0] = {"type": "agent_started", "run_id": "run_1", "data": {}}
    del events[3]["data"]["duration"]
    return events


async def _close_after_first(s: _Session) -> None:
    await s.established()
    _, thread = await s.next_message()
    await s.send(s.five(thread)[0])
    await s.ws.close(1001, "going away")


async def _drop(s: _Session) -> None:
    await s.established()
    _, thread = await s.next_message()
    await s.send(s.five(thread)[0])
    await asyncio.sleep(0.02)
    s.ws.transport.abort()


async def _heartbeats_only(s: _Session) -> None:
    await s.established()
    await s.next_message()
    while True:
        await s.ws.ping()
        await s.send({"type": "heartbeat", "data": {"interval_s": 0.01}})
        await asyncio.sleep(0.01)


async def _silent(s: _Session) -> None:
    await s.established()
    await s.hold()


async def _no_established(s: _Session) -> None:
    await s.hold()


async def _close_1008(s: _Session) -> None:
    await s.send({"type": "error", "error_code": "AUTH_FAILED",
                  "message": "token rejected by the auth service: invalid signature"})
    await s.ws.close(1008, "AUTH_FAILED")


async def _close_1011(s: _Session) -> None:
    await s.ws.close(1011, "AUTH_SERVICE_UNAVAILABLE")


async def _ignore_close(s: _Session) -> None:
    await s.established()
    _, thread = await s.next_message()
    await s.turn(list(s.five(thread)))
    s.ws.transport.pause_reading()  # the client's close frame is never read
    await s.hold()


async def _heartbeat_first(s: _Session) -> None:
    """A heartbeat right after connection_established, then as `good`."""
    await s.established()
    await s.send({"type": "heartbeat", "data": {"interval_s": 30}})
    while True:
        _, thread = await s.next_message()
        await s.turn(list(s.five(thread)))


async def _fragmented(s: _Session) -> None:
    """Every event sent as a message of three fragments."""
    await s.established()
    while True:
        _, thread = await s.next_message()
        for event in s.five(thread):
            text = json.dumps(event)
            third = len(text) // 3
            await s.ws.send([text[:third], text[third:2 * third], text[2 * third:]])


async def _invalid_utf8(s: _Session) -> None:
    """agent_started, then a text frame whose bytes are not UTF-8."""
    await s.established()
    _, thread = await s.next_message()
    await s.send(s.five(thread)[0])
    async with s.ws.send_context():
        s.ws.protocol.send_text(b'{"type": "agent_thinking", "reasoning": "\xff\xfe"}')
    await s.hold()


async def _flaky(s: _Session) -> None:
    await _good(s)


def _someone_elses(s: _Session, thread: str) -> list[Any]:
    """The five events of another user's turn: their run, their thread, their user."""
    events = s.five(OTHER_THREAD)
    for event in events:
        event.update(run_id=OTHER_RUN, user_id=OTHER_USER)
        if "user_id" in event["data"]:
            event["data"]["user_id"] = OTHER_USER
    return events


def _other_run(s: _Session, thread: str) -> list[Any]:
    """agent_started is the probe's, the four after it belong to another run."""
    events = s.five(thread)
    for event in events[1:]:
        event["run_id"] = OTHER_RUN
    return events


async def _slow_agent(s: _Session) -> None:
    """A healthy agent that thinks: agent_started at once, then one event every
    SLOW_AGENT_STEP_S, each stamped when it is sent."""
    await s.established()
    while True:
        _, thread = await s.next_message()
        for index in range(5):
            if index:
                await asyncio.sleep(SLOW_AGENT_STEP_S)
            await s.send(s.five(thread)[index])


async def _slow_delivery(s: _Session) -> None:
    """agent_started at once; the four events after it stamped promptly but sent
    LATE_DELIVERY_S later (a congested delivery path, not a slow agent)."""
    await s.established()
    while True:
        _, thread = await s.next_message()
        events = s.five(thread)
        await s.send(events[0])
        await asyncio.sleep(LATE_DELIVERY_S)
        await s.turn(events[1:])


MODES: dict[str, Mode] = {
    "good": _good,
    "forgetful": _forgetful,
    "flaky": _flaky,
    "ignore-close": _ignore_close,
    "close-after-first": _close_after_first,
    "out-of-order": _one_turn(lambda s, t: [s.five(t)[i] for i in (0, 1, 3, 2, 4)]),
    "duplicate": _one_turn(_duplicate),
    "invalid-json": _one_turn(lambda s, t: [s.five(t)[0], '{"type": "agent_thinking", '
                                                        '"data": {"reasoning": '],
                              ),
    "binary": _one_turn(lambda s, t: [s.five(t)[0], b"\x00\x01binary"]),
    "not-object": _one_turn(lambda s, t: [s.five(t)[0], "[1, 2, 3]"]),
    "oversized": _one_turn(lambda s, t: [s.five(t)[0], json.dumps(
        {"type": "agent_thinking", "data": {"reasoning": "x" * OVERSIZED_BYTES}})]),
    "silent": _silent,
    "no-established": _no_established,
    "close-1008": _close_1008,
    "close-1011": _close_1011,
    "agent-error": _one_turn(lambda s, t: [s.five(t)[0], s.event(
        "agent_error", t, error=SEED_ERROR, error_type="TypeError")]),
    "error-message": _one_turn(lambda s, t: [{"type": "error", "error_code": "INTERNAL",
                                              "message": "agent registry not initialised"}]),
    "missing-fields": _one_turn(_missing_fields),
    "empty-final": _one_turn(_replace(4, final_response="")),
    "boilerplate-final": _one_turn(_replace(
        4, final_response="I'm sorry, an error occurred while processing your request.")),
    "placeholder-final": _one_turn(_replace(
        4, final_response="Lorem ipsum dolor sit amet, consectetur adipiscing elit.")),
    "boilerplate-reasoning": _one_turn(_replace(1, reasoning="Thinking...")),
    "failed-status": _one_turn(_replace(4, status="failed")),
    "completed-only": _one_turn(lambda s, t: [s.five(t)[4]]),
    "slow": _one_turn(lambda s, t: list(s.five(t)), pause_s=SLOW_EVENT_S),
    "drop": _drop,
    "heartbeats-only": _heartbeats_only,
    "heartbeat-first": _heartbeat_first,
    "fragmented": _fragmented,
    "invalid-utf8": _invalid_utf8,
    "cross-talk": _one_turn(_someone_elses),
    "other-run": _one_turn(_other_run),
    "slow-agent": _slow_agent,
    "slow-delivery": _slow_delivery,
    "skewed-clock": _good,  # +SKEW_S on events and health: the offset makes it pass
    "skewed-clock-no-health": _good,  # the same, but health gives no timestamp
}
# Misbehaviours of the handshake itself (see `_process_request` / `_process_response`).
HANDSHAKE_MODES = ("reject-403", "reject-503", "not-websocket", "hang-handshake",
                   "wrong-subprotocol", "no-subprotocol")


class _Hostile:
    """The WebSocket server's hooks; counts connections for the `flaky` mode."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.flaky_count = 0

    async def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        mode = _mode(request.path)
        if mode == "reject-403":
            return ws.respond(403, "Forbidden\n")
        if mode == "reject-503":
            return ws.respond(503, '{"error": "no revision is serving"}\n')
        if mode == "not-websocket":
            return ws.respond(200, "<html>this is not a WebSocket endpoint</html>\n")
        if mode == "hang-handshake":
            await self.stop.wait()
            return ws.respond(503, "stopping\n")
        if mode == "flaky":
            self.flaky_count += 1
            if self.flaky_count % 2 == 0:
                return ws.respond(503, '{"error": "revision overloaded"}\n')
        return None

    def process_response(self, ws: ServerConnection, request: Request,
                         response: Response) -> Response:
        mode = _mode(request.path)
        if mode in ("wrong-subprotocol", "no-subprotocol"):
            del response.headers["Sec-WebSocket-Protocol"]
        if mode == "wrong-subprotocol":
            response.headers["Sec-WebSocket-Protocol"] = "graphql-ws"
        return response

    async def handler(self, ws: ServerConnection) -> None:
        mode = _mode(ws.request.path if ws.request else "")
        behaviour = MODES.get(mode, _good)
        with contextlib.suppress(ConnectionClosed, json.JSONDecodeError):
            await behaviour(_Session(ws, mode))


def _mode(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _select_subprotocol(ws: ServerConnection, offered: Any) -> Subprotocol | None:
    return next((p for p in offered if p.startswith("jwt.")), None)


# --- the HTTP side (auth login and chat page) ------------------------------------------


class _HttpHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.endswith("/auth/login"):
            self._answer(200, "application/json", json.dumps(
                {"access_token": TOKEN, "token_type": "Bearer",
                 "user": {"id": USER, "email": "probe@hostile.test"}}).encode())
        else:
            self._answer(404, "application/json", b'{"error": "not found"}')

    def do_GET(self) -> None:
        if self.path.endswith("/health"):
            self._answer(200, "application/json", json.dumps(_auth_health(self.path)).encode())
            return
        self._answer(200, "text/html; charset=utf-8", CHAT_PAGE)

    def do_HEAD(self) -> None:
        self._answer(200, "text/html; charset=utf-8", b"")

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if self.command != "HEAD"
                                               else len(CHAT_PAGE)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _auth_health(path: str) -> dict[str, Any]:
    """The auth service's health body for `/<mode>/health`: its clock is the mode's."""
    mode = path.strip("/").split("/", 1)[0]
    body: dict[str, Any] = {"status": "healthy", "service": "auth-service"}
    if mode != "skewed-clock-no-health":
        skew = SKEW_S if mode.startswith("skewed-clock") else 0.0
        body["timestamp"] = _now(skew)
    return body


class HostileServers:
    """The hostile WebSocket server and the HTTP stub, started and stopped together."""

    def __init__(self, password_file: Path | None = None) -> None:
        self.password_file = password_file
        self._loop_thread: threading.Thread | None = None
        self._http_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _HttpHandler)
        self.ws_port = 0
        self.hostile: _Hostile | None = None

    def env(self, mode: str) -> Environment:
        """An environment whose backend WebSocket is `/ws/<mode>`."""
        assert self.password_file is not None, "made without a password file"
        return hostile_env(self, mode, self.password_file)

    @property
    def ws_url(self) -> str:
        return f"http://127.0.0.1:{self.ws_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> HostileServers:
        self._http_thread = threading.Thread(target=self._http.serve_forever, args=(0.05,),
                                             name="hostile-http", daemon=True)
        self._http_thread.start()
        self._loop_thread = threading.Thread(target=asyncio.run, args=(self._main(),),
                                             name="hostile-ws", daemon=True)
        self._loop_thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile WebSocket server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._loop_thread is not None:
            self._loop_thread.join(10)
        self._http.shutdown()
        self._http.server_close()
        if self._http_thread is not None:
            self._http_thread.join(10)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.hostile = _Hostile(self._stop)
        server: Server = await serve(
            self.hostile.handler, "127.0.0.1", 0, process_request=self.hostile.process_request,
            process_response=self.hostile.process_response,
            select_subprotocol=_select_subprotocol, compression=None, ping_interval=None,
            max_size=2**20, open_timeout=30, close_timeout=0.2)
        self.ws_port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_ports(1)[0]


def with_url(env: Environment, role: str, url: str) -> Environment:
    """`env` with one service moved to `url`."""
    service = env.services[role].model_copy(update={"url": url})  # type: ignore[index]
    return env.model_copy(update={"services": {**env.services, role: service}})
