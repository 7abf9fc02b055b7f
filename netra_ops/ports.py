"""Free loopback ports: for a sandbox beside the default one, a Locust master, a test server.

A port is free when binding it succeeds; the ports are bound together (so they are
distinct) and released at once, so another process could still take one before it is used:
callers that start a server on it report a taken port clearly.

The ports are drawn at random from below the kernel's ephemeral range
(`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 by default). The kernel gives every
outgoing connection a source port from that range, and `bind(port 0)` too: a port taken
from it can be handed to a client connection of any process in the instant between being
released here and being bound by the server, and on a busy machine (a test suite opening
thousands of connections) that happened. Below the range only a process that asks for that
exact port can take it. Where the range cannot be read, the kernel picks (`bind(port 0)`).
"""

from __future__ import annotations

import random
import socket
from contextlib import ExitStack
from pathlib import Path

__all__ = ["free_ports"]

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 20000  # above the ports services commonly listen on (5432, 6379, 8080, ...)
_ATTEMPTS = 200


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that nothing listens on (bound together, then released)."""
    pool = _pool_below_ephemeral_range()
    if pool is None or len(pool) < count * 4:
        return _kernel_ports(count, host)
    with ExitStack() as stack:
        found: list[int] = []
        for port in random.sample(pool, min(len(pool), count + _ATTEMPTS)):
            sock = stack.enter_context(socket.socket())
            try:
                sock.bind((host, port))
            except OSError:
                continue
            found.append(port)
            if len(found) == count:
                return found
    return _kernel_ports(count, host)


def _pool_below_ephemeral_range() -> list[int] | None:
    """The ports from LOWEST_PORT up to the kernel's ephemeral range, or None if unknown."""
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return list(range(LOWEST_PORT, low)) if low > LOWEST_PORT else None


def _kernel_ports(count: int, host: str) -> list[int]:
    """`count` distinct ports the kernel picks (from its ephemeral range)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
