"""A minimal chat server for bench/session_capacity.py: enough Netra for the clients, so
that the server is not what limits the sessions a client holds.

One process, one asyncio loop, two ports on loopback:

- HTTP (`--http-port`, raw asyncio streams, one request per connection): `POST /auth/login`
  answers any credentials with a JWT-shaped token whose `sub` is a new user id (each login
  its own user), `GET /health` with the server's `timestamp` (the clients read their clock
  offset from it);
- WebSocket (`--ws-port`, `websockets`, no compression, no pings): `/ws` with the subprotocol
  `jwt.<token>` (echoed); `connection_established` stating `heartbeat_interval_s`,
  `connection_timeout_s` and `time_scale` 1; a `{"type": "heartbeat"}` after
  `--heartbeat-s` without a message to the client; each `user_message` answered at once by
  the five golden-path events, in the probe's shapes (the user's own run, thread and user,
  a substantive answer). Pongs are read and dropped. No idle timeout is enforced: the
  clients answer heartbeats.

Run by the benchmark as a subprocess: `python bench/session_server.py --http-port P
--ws-port Q [--heartbeat-s 15]`; it prints `ready` once both ports listen.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

_USERS = itertools.count()
_ANSWER = ("Route 60% of the 3 million daily tokens to a smaller model for routine prompts: "
           "that should save about $4,800 a month without hurting answer quality.")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _token(user: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'sub': user, 'iat': int(time.time())})}.bench"


def _subject(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                       if line.lower().startswith("content-length:")), 0)
        if length:
            await reader.readexactly(length)
        if method == "POST" and path == "/auth/login":
            user = f"bench-user-{next(_USERS)}"
            body: dict[str, Any] = {"access_token": _token(user), "token_type": "Bearer",
                                    "expires_in": 86400, "user": {"id": user}}
        elif path == "/health":
            body = {"status": "healthy", "service": "bench", "timestamp": _now()}
        else:
            body = {"error": "not found"}
        data = json.dumps(body).encode()
        status = "200 OK" if "error" not in body else "404 Not Found"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        pass
    finally:
        writer.close()


class _Session:
    """One client connection: heartbeats when quiet, five events per user message."""

    def __init__(self, ws: ServerConnection, heartbeat_s: float) -> None:
        self.ws = ws
        self.heartbeat_s = heartbeat_s
        self.user = _subject(str(ws.subprotocol)[4:])
        self.last_out = time.monotonic()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))
        self.last_out = time.monotonic()

    async def heartbeats(self) -> None:
        while True:
            quiet = time.monotonic() - self.last_out
            if quiet < self.heartbeat_s:
                await asyncio.sleep(self.heartbeat_s - quiet)
                continue
            await self.send({"type": "heartbeat", "timestamp": _now(),
                             "data": {"interval_s": self.heartbeat_s}})

    async def turn(self, message: dict[str, Any]) -> None:
        payload = message.get("payload") or {}
        thread = payload.get("thread_id") or "thread-bench"
        top = {"run_id": f"run_{uuid.uuid4().hex[:16]}", "thread_id": thread,
               "user_id": self.user, "agent_name": "bench_advisor"}
        results = {"monthly_saving_usd": 4800, "share_routed": 0.6}
        for kind, extra, data in (
            ("agent_started", {}, {"user_id": self.user, "thread_id": thread,
                                   "timestamp": _now(), "status": "started"}),
            ("agent_thinking", {}, {"reasoning": "Comparing the monthly spend with the "
                                                 "daily token volume per model."}),
            ("tool_executing", {"tool_name": "cost_analyzer"},
             {"tool_name": "cost_analyzer", "parameters": {"tokens_per_day": 3_000_000}}),
            ("tool_completed", {"tool_name": "cost_analyzer", "results": results},
             {"tool_name": "cost_analyzer", "results": results, "execution_time_ms": 1.0,
              "duration": 1.0}),
            ("agent_completed", {"status": "completed"},
             {"status": "completed", "final_response": _ANSWER, "duration_ms": 2.0}),
        ):
            await self.send({"type": kind, **top, "timestamp": _now(), **extra, "data": data})


async def _ws(ws: ServerConnection, heartbeat_s: float) -> None:
    session = _Session(ws, heartbeat_s)
    await session.send({"type": "connection_established", "timestamp": _now(), "data": {
        "connection_id": uuid.uuid4().hex[:16], "user_id": session.user,
        "golden_path_events": ["agent_started", "agent_thinking", "tool_executing",
                               "tool_completed", "agent_completed"],
        "heartbeat_interval_s": heartbeat_s, "connection_timeout_s": 360.0,
        "time_scale": 1.0}})
    beats = asyncio.create_task(session.heartbeats())
    try:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "user_message":
                await session.turn(message)
    except Exception:  # a client that went away: nothing to tell it
        pass
    finally:
        beats.cancel()


def _select(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    return next((p for p in offered if p.startswith("jwt.")), None)


async def main(http_port: int, ws_port: int, heartbeat_s: float) -> None:
    http = await asyncio.start_server(_http, "127.0.0.1", http_port, backlog=4096)
    async with http, serve(lambda ws: _ws(ws, heartbeat_s), "127.0.0.1", ws_port,
                           select_subprotocol=_select, compression=None, ping_interval=None,
                           max_size=2**20, backlog=4096):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--heartbeat-s", type=float, default=15.0)
    args = parser.parse_args()
    asyncio.run(main(args.http_port, args.ws_port, args.heartbeat_s))
