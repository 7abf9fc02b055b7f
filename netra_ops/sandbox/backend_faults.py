"""Faults a backend revision injects on purpose, from its `NETRA_FAULT_*` variables.

- HTTP error rate: that fraction of HTTP requests (health included) is answered 500, drawn
  from a `random.Random(NETRA_FAULT_SEED)` so a run is repeatable.
- Latency: added before every HTTP response and before every agent event.
- Memory growth: this many KiB are allocated, touched and kept per HTTP request and per agent
  turn, so the process's resident memory really grows (a leak you can watch and roll back).
- Dropped event: handled by the WebSocket session (an event type that is never sent).
"""

from __future__ import annotations

import asyncio
import logging
import random

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FaultInjector", "HttpFaultMiddleware"]

_PAGE = 4096
_LOG = logging.getLogger("netra_ops.sandbox.backend")


class FaultInjector:
    """The injected faults of one revision process (shared by HTTP and WebSocket paths)."""

    def __init__(
        self,
        *,
        http_error_rate: float = 0.0,
        latency_ms: float = 0.0,
        memory_growth_kb: int = 0,
        seed: int = 0,
    ) -> None:
        self.http_error_rate = http_error_rate
        self.latency_s = latency_ms / 1000
        self.memory_growth_bytes = memory_growth_kb * 1024
        self._rng = random.Random(seed)
        self._ballast: list[bytearray] = []

    @property
    def retained_bytes(self) -> int:
        """Bytes kept alive so far by the memory-growth fault."""
        return sum(len(chunk) for chunk in self._ballast)

    def should_fail_http(self) -> bool:
        """Draw whether this HTTP request gets an injected 500."""
        return self.http_error_rate > 0 and self._rng.random() < self.http_error_rate

    async def delay(self) -> None:
        """Wait the injected latency (no-op without the fault)."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    def grow(self) -> None:
        """Allocate and keep the per-request / per-turn memory, touching every page."""
        size = self.memory_growth_bytes
        if size <= 0:
            return
        chunk = bytearray(size)
        chunk[::_PAGE] = b"\x01" * len(range(0, size, _PAGE))
        self._ballast.append(chunk)


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
