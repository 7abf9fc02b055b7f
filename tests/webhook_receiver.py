"""A webhook receiver on loopback for tests: a real HTTP server in a thread that answers each
POST with the next scripted answer (a status code, or "hang") and keeps what it received.

`receiving()` starts one and stops it after the block (the schedule's and the notifier's
tests use it as a fixture; playbook tests point `--webhook` at it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "Receiver", "receiving"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class Receiver:
    """A webhook receiver on loopback; `answers` are used in order (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: list[int | str] = [200]
        self.received: list[Received] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver.received.append(Received(self.path, dict(self.headers), body))
                answer = receiver.answers.pop(0) if len(receiver.answers) > 1 \
                    else receiver.answers[0]
                if answer == "hang":
                    receiver.release.wait(30)
                    return
                self.send_response(int(answer))
                if answer == 429:
                    self.send_header("Retry-After", "7")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A running receiver, stopped (hanging answers released) after the block."""
    found = Receiver()
    found.thread.start()
    try:
        yield found
    finally:
        found.release.set()
        found.server.shutdown()
        found.server.server_close()
        found.thread.join(10)
