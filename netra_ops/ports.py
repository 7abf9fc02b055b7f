"""Free loopback ports: for a sandbox beside the default one, a Locust master, a test server.

A port is free when binding it succeeds; the ports are bound together (so they are
distinct) and released at once, so another process could still take one before it is used:
callers that start a server on it report a taken port clearly.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack

__all__ = ["free_ports"]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that nothing listens on (bound together, then released)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
