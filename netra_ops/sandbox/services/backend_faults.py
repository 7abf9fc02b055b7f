"""Faults a backend revision injects on purpose, from its `NETRA_FAULT_*` variables.

- Error rate: that fraction of HTTP requests (health included) and of WebSocket handshakes
  is answered 500, from the very first request on. The schedule is error diffusion, not a
  random draw: after n requests round(n x rate) have failed (±1 in any window), so a new
  revision cannot answer its first dozens of requests 200 by luck. `NETRA_FAULT_SEED` only
  shifts where in the cycle the errors fall (seed 0: rounding, as above).
- Latency: added before every HTTP response and before every agent event.
- Memory growth: this many KiB are allocated, touched and kept per HTTP request and per agent
  turn, so the process's resident memory really grows (a leak you can watch and roll back).
- Steady memory growth: this many KiB per second, whatever the traffic (a leak that reaches a
  memory trigger within a rehearsal). Either growth stops at `MEMORY_GROWTH_CAP_BYTES` retained,
  to protect the machine the sandbox runs on.
- Reported memory (`NETRA_FAULT_MEMORY_REPORT_FACTOR`, default 1): each retained byte shows
  FACTOR times in the process's resident memory (RSS, what the platform's sampler and
  Monitoring read). The extra (FACTOR - 1) x retained bytes are SYNTHETIC: one small shared
  buffer (a memfd of `SYNTHETIC_BLOCK_BYTES`) mapped again and again, resident in the page
  tables but not in RAM, so a leak can be reported past 3.5 GiB on any machine. /health
  shows `memory.synthetic_bytes` and the revision logs a WARNING saying so at start.
- Dropped event: handled by the WebSocket session (an event type that is never sent).
- Echoed secrets: the agent's final answer ends with a debug line carrying the connection's
  bearer token and the values of the named environment variables (a build that leaks
  secrets into its responses; the records must not keep them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mmap
import os
import random
from collections.abc import Sequence

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ErrorSchedule", "FaultInjector", "HttpFaultMiddleware", "SyntheticMemory"]

_PAGE = 4096
MEMORY_GROWTH_CAP_BYTES = 2 * 1024**3
"""The most the memory-growth faults retain (2 GiB): a rehearsal never exhausts the host."""
SYNTHETIC_BLOCK_BYTES = 4 * 1024**2
"""The shared buffer the synthetic memory maps again and again (the only RAM it costs)."""
SYNTHETIC_CAP_BYTES = 8 * 1024**3
"""The most synthetic memory reported (8 GiB: past any sandbox memory limit)."""
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
        memory_report_factor: float = 1.0,
    ) -> None:
        self.http_error_rate = http_error_rate
        self.latency_s = latency_ms / 1000
        self.memory_growth_bytes = memory_growth_kb * 1024
        self.steady_growth_bytes_per_s = memory_growth_kb_per_s * 1024
        self._retained = 0
        self.echo_secrets = tuple(echo_secrets)
        self._errors = ErrorSchedule(http_error_rate, seed)
        self._ballast: list[bytearray] = []
        self._synthetic = SyntheticMemory(memory_report_factor - 1)

    @property
    def retained_bytes(self) -> int:
        """Bytes kept alive so far by the memory-growth fault."""
        return self._retained

    @property
    def synthetic_bytes(self) -> int:
        """Resident bytes reported on top of the retained ones (not real RAM; see module)."""
        return self._synthetic.mapped_bytes

    @property
    def memory_report_factor(self) -> float:
        """How many times each retained byte shows in the reported memory."""
        return 1 + self._synthetic.factor

    def close(self) -> None:
        """Release the synthetic memory's mappings (the retained ballast goes with the app)."""
        self._synthetic.close()

    def leaked_secrets(self, token: str) -> str:
        """The debug line the echo fault adds to an answer ("" without the fault)."""
        if not self.echo_secrets:
            return ""
        values = "; ".join(f"{name}={os.environ.get(name, '')}" for name in self.echo_secrets)
        return f"\n\n[debug] Authorization: Bearer {token}; {values}"

    def should_fail_http(self) -> bool:
        """Whether this HTTP request (or WebSocket handshake) gets an injected 500."""
        return self._errors.next_fails()

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
        self._synthetic.follow(self._retained)


class ErrorSchedule:
    """Which requests fail, for an error rate: error diffusion, exact from the first request.

    After n requests, floor(n x rate + phase) have failed: any window of N consecutive
    requests holds N x rate errors, rounded up or down. Seed 0 uses phase 0.5 (rounding);
    another seed a phase drawn from it, so different seeds fail different requests.
    """

    def __init__(self, rate: float, seed: int = 0) -> None:
        self.rate = rate
        self._phase = 0.5 if seed == 0 else random.Random(seed).random()
        self._requests = 0
        self._failed = 0

    def next_fails(self) -> bool:
        """Count one request; whether it is one of the failing ones."""
        if self.rate <= 0:
            return False
        self._requests += 1
        fails = int(self._requests * self.rate + self._phase) > self._failed
        self._failed += fails
        return fails


class SyntheticMemory:
    """Resident memory that is reported, not used: one memfd block mapped many times.

    Linux counts every mapping of a shared page in the process's RSS, so mapping the same
    `SYNTHETIC_BLOCK_BYTES` again and again raises the reported RSS by that much each time
    while RAM holds the block once. `follow(retained)` keeps `factor x retained` mapped (in
    whole blocks, at most `SYNTHETIC_CAP_BYTES`).
    """

    def __init__(self, factor: float) -> None:
        self.factor = max(0.0, factor)
        self._fd: int | None = None
        self._maps: list[mmap.mmap] = []

    @property
    def mapped_bytes(self) -> int:
        """Bytes mapped (and reported resident) so far."""
        return len(self._maps) * SYNTHETIC_BLOCK_BYTES

    def follow(self, retained: int) -> None:
        """Map blocks until `factor x retained` bytes (whole blocks, capped) are mapped."""
        target = min(int(retained * self.factor), SYNTHETIC_CAP_BYTES)
        while self.mapped_bytes + SYNTHETIC_BLOCK_BYTES <= target:
            self._maps.append(mmap.mmap(self._block(), SYNTHETIC_BLOCK_BYTES,
                                        flags=mmap.MAP_SHARED | mmap.MAP_POPULATE,
                                        prot=mmap.PROT_READ))

    def close(self) -> None:
        """Unmap every block and close the buffer."""
        for mapping in self._maps:
            mapping.close()
        self._maps.clear()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _block(self) -> int:
        if self._fd is None:
            fd = os.memfd_create("netra-synthetic-memory")
            os.ftruncate(fd, SYNTHETIC_BLOCK_BYTES)
            os.pwrite(fd, b"\x01" * SYNTHETIC_BLOCK_BYTES, 0)  # pages exist: mapping them counts
            self._fd = fd
        return self._fd


class HttpFaultMiddleware:
    """ASGI middleware applying latency, memory growth and the error rate to HTTP requests,
    and the error rate to WebSocket handshakes (one schedule for both)."""

    def __init__(self, app: ASGIApp, faults: FaultInjector) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, injecting faults into HTTP requests and handshakes."""
        if scope["type"] == "websocket":
            if self.faults.should_fail_http():
                await _refuse_handshake(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.faults.grow()
        await self.faults.delay()
        if not self.faults.should_fail_http():
            await self.app(scope, receive, send)
            return
        _log_injected_error(scope, scope["method"])
        response = JSONResponse(_ERROR_BODY, status_code=500)
        await response(scope, receive, send)


_ERROR_BODY = {"error": "internal_error", "detail": "internal server error (injected fault)"}


def _log_injected_error(scope: Scope, method: str) -> None:
    _LOG.error(
        "request failed: internal error on %s %s",
        method,
        scope["path"],
        extra={"fields": {"path": scope["path"], "status": 500, "fault": "http_error_rate"}},
    )


async def _refuse_handshake(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a WebSocket handshake with HTTP 500, as a failing server does."""
    _log_injected_error(scope, "GET")
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1011})  # the server answers 403
        return
    body = json.dumps(_ERROR_BODY).encode()
    await send({"type": "websocket.http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "websocket.http.response.body", "body": body})
