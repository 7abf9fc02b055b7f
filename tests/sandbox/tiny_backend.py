"""A tiny backend revision for the platform's tests (run as a script by RevisionManager).

- `GET /health` -> 200 `{"status": "healthy", "revision"}`
- any other path -> 200 JSON echo of method, path, query, body, headers and Cloud Run env
- `/ws`: subprotocol `jwt.good` is accepted (echoed) and each text message comes back as
  `<revision>:<text>`; any other token gets an AUTH_FAILED message then close 1008. The
  client's close code is printed to the log.

The image tag decides the start: `crash` exits 1 at once; `hang` never listens.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

REVISION = os.environ.get("K_REVISION", "unknown")
IMAGE = os.environ.get("NETRA_SANDBOX_IMAGE", "")
ENV_KEYS = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "NETRA_SANDBOX_IMAGE",
            "NETRA_SANDBOX_PARENT_PID", "ENVIRONMENT", "EXTRA", "NETRA_FAULT_LATENCY_MS")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "healthy", "revision": REVISION})


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({
        "revision": REVISION, "method": request.method, "path": request.url.path,
        "query": request.url.query, "body": (await request.body()).decode(),
        "headers": dict(request.headers), "env": {k: os.environ.get(k) for k in ENV_KEYS},
    }, status_code=int(request.query_params.get("status", "200")))


async def chat(websocket: WebSocket) -> None:
    tokens = [p[4:] for p in websocket.scope.get("subprotocols", []) if p.startswith("jwt.")]
    token = tokens[0] if tokens else None
    await websocket.accept(subprotocol=f"jwt.{token}" if token else None)
    if token != "good":
        await websocket.send_json({"type": "error", "error_code": "AUTH_FAILED"})
        await websocket.close(code=1008, reason="AUTH_FAILED")
        return
    await websocket.send_json({"type": "connection_established", "revision": REVISION,
                               "authorization": websocket.headers.get("authorization")})
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{REVISION}:{text}")
    except WebSocketDisconnect as exc:
        print(f"client closed {exc.code}", flush=True)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    args = parser.parse_args()
    print(f"tiny backend {REVISION} starting with image {IMAGE}", flush=True)
    if "crash" in IMAGE:
        print("tiny backend: crash image, exiting with code 1", flush=True)
        sys.exit(1)
    if "hang" in IMAGE:
        time.sleep(60)
    parent = int(os.environ.get("NETRA_SANDBOX_PARENT_PID", "0"))
    if parent:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    app = Starlette(routes=[Route("/health", health), WebSocketRoute("/ws", chat),
                            Route("/{path:path}", echo, methods=["GET", "POST", "PUT"])])
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
