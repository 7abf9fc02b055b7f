"""Faults a backend revision injects on purpose, from its `NETRA_FAULT_*` variables.

- HTTP error rate: that fraction of HTTP requests (health included) is answered 500, drawn
  from a `random.Random(NETRA_FAULT_SEED)` so a run is repeatable.
- Latency: added before every HTTP response and before every agent event.
- Memory growth: this many KiB are allocated, touched and kept per HTTP request and per agent
  turn, so the process's resident memory really grows (a leak you can watch and roll back).
- Steady memory growth: this many KiB per second, whatever the traffic (a leak that reaches a
  memory trigger within a rehearsal). Either growth stops at `MEMORY_GROWTH_CAP_BYTES` retained,
  to protect the machine the sandbox runs on.
- Dropped event: handled by the WebSocket session (an event type that is never sent).
- Echoed secrets: the agent's final answer ends with a debug line carrying the connection's
  bearer token and the values of the named environment variables (a build that leaks
  secrets into its responses; the records must not keep them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Sequence

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FaultInjector", "HttpFaultMiddleware"]

_PAGE = 4096
MEMORY_GROWTH_CAP_BYTES = 2 * 1024**3
"""The most the memory-growth faults retain (2 GiB): a rehearsal never exhausts the host."""
_STEADY_TICK_S = 0.25
_LOG = logging.getLogger("netra_ops.sandbox.backend")


class FaultInjector:
    """The injected faults of one revision process (shared by HTTP and WebSocket paths)."""

    def __init__(
        self,
        *,
        http_error_rate: float = 0.0,
        latency_ms: float = 0.0,
        memory_growth_kb: int = 0,
        memory_growth_kb_per_s: int = 0,
        echo_secrets: Sequence[str] = (),
        seed: int = 0,
    ) -> None:
        self.http_error_rate = http_error_rate
        self.latency_s = latency_ms / 1000
        self.memory_growth_bytes = memory_growth_kb * 1024
        self.steady_growth_bytes_per_s = memory_growth_kb_per_s * 1024
        self._retained = 0
        self.echo_secrets = tuple(echo_secrets)
        self._rng = random.Random(seed)
        self._ballast: list[bytearray] = []

    @property
    def retained_bytes(self) -> int:
        """Bytes kept alive so far by the memory-growth fault."""
        return self._retained

    def leaked_secrets(self, token: str) -> str:
        """The debug line the echo fault adds to an answer ("" without the fault)."""
        if not self.echo_secrets:
            return ""
        values = "; ".join(f"{name}={os.environ.get(name, '')}" for name in self.echo_secrets)
        return f"\n\n[debug] Authorization: Bearer {token}; {values}"

    def should_fail_http(self) -> bool:
        """Draw whether this HTTP request gets an injected 500."""
        return self.http_error_rate > 0 and self._rng.random() < self.http_error_rate

    async def delay(self) -> None:
        """Wait the injected latency (no-op without the fault)."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    def grow(self) -> None:
        """Allocate and keep the per-request / per-turn memory, touching every page."""
        self._retain(self.memory_growth_bytes)

    async def grow_steadily(self) -> None:
        """Retain `steady_growth_bytes_per_s` every second until cancelled (no-op without it)."""
        if self.steady_growth_bytes_per_s <= 0:
            return
        while True:
            await asyncio.sleep(_STEADY_TICK_S)
            self._retain(int(self.steady_growth_bytes_per_s * _STEADY_TICK_S))

    def _retain(self, size: int) -> None:
        size = min(size, MEMORY_GROWTH_CAP_BYTES - self._retained)
        if size <= 0:
            return
        chunk = bytearray(size)
        chunk[::_PAGE] = b"\x01" * len(range(0, size, _PAGE))
        self._ballast.append(chunk)
        self._retained += size


class HttpFaultMiddleware:
    """ASGI middleware applying latency, memory growth and the error rate to HTTP requests."""

    def __init__(self, app: ASGIApp, faults: FaultInjector) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, injecting faults into HTTP requests only."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.faults.grow()
        await self.faults.delay()
        if not self.faults.should_fail_http():
            await self.app(scope, receive, send)
            return
        _LOG.error(
            "request failed: internal error on %s %s",
            scope["method"],
            scope["path"],
            extra={"fields": {"path": scope["path"], "status": 500, "fault": "http_error_rate"}},
        )
        response = JSONResponse(
            {"error": "internal_error", "detail": "internal server error (injected fault)"},
            status_code=500,
        )
        await response(scope, receive, send)
