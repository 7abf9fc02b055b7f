"""Health probe (seed 1.3, 4.3 and Primary 1: "Health endpoint returns 200 with valid JSON").

`health()` asks one URL once and judges the answer: status code, a JSON object with
`status: "healthy"`, latency. Every call has one total time bound (`timeout_s`, covering
connect, send, headers and body, redirects included), reads at most `max_body_bytes` and
follows at most `max_redirects` redirects; whatever the server does, the result says what
went wrong in words (see docs/hostile-http.md). `wait_healthy()` polls until healthy.
The `_async` twins do the same on asyncio; the judging is shared, only the I/O differs.
Each pair's keyword defaults are written once, in its options object (`HealthOptions`,
`WaitHealthyOptions`; see `netra_ops.probe._options`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

import pandas as pd

from netra_ops.probe._options import shows_options
from netra_ops.probe._transport.http import (
    MAX_BODY_BYTES,
    MAX_REDIRECTS,
    HttpAnswer,
    detail_text,
    fetch,
    fetch_async,
    json_object,
)

__all__ = [
    "HealthOptions",
    "HealthResult",
    "WaitHealthyOptions",
    "health",
    "health_async",
    "wait_healthy",
    "wait_healthy_async",
]

HEALTHY = "healthy"


@dataclass(frozen=True)
class HealthResult:
    """What one health request saw. `ok` means 200, and a healthy JSON body when expected.

    `error` says why not in words (`HTTP 502: body is an HTML page, not JSON`, `Timeout:
    no response headers within 2 s`, `redirect loop: /a -> /b -> /a`, ...). `json_valid`
    is true when the body was a JSON object.
    """

    url: str
    ok: bool
    status_code: int | None
    latency_ms: float
    json_valid: bool
    status: str | None
    service: str | None
    version: str | None
    revision: str | None
    error: str | None
    checked_at: datetime
    method: str = "GET"
    content_type: str | None = None
    body_bytes: int = 0
    redirects: int = 0
    retry_after_s: float | None = None
    timeout_s: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([asdict(self)])


@dataclass(frozen=True)
class HealthOptions:
    """The keyword options of `health` and `health_async`, with their one set of defaults."""

    path: str = "/health"
    method: str = "GET"
    expect_json: bool = True
    timeout_s: float = 5.0
    max_body_bytes: int = MAX_BODY_BYTES
    max_redirects: int = MAX_REDIRECTS


class _HealthKeywords(TypedDict, total=False):
    path: str
    method: str
    expect_json: bool
    timeout_s: float
    max_body_bytes: int
    max_redirects: int


@shows_options(HealthOptions)
def health(url: str, **keywords: Unpack[_HealthKeywords]) -> HealthResult:
    """Ask `url + path` whether the service is healthy; never raises for a bad answer.

    `expect_json=False` (the frontend) only requires a 2xx status. `method="HEAD"` asks
    without a body, as the seed's `curl -I` does. The whole call, redirects included,
    returns within `timeout_s`.
    """
    options = HealthOptions(**keywords)
    checked_at = datetime.now(UTC)
    answer = fetch(options.method, _join(url, options.path), timeout_s=options.timeout_s,
                   max_body_bytes=options.max_body_bytes, max_redirects=options.max_redirects)
    return _judge(_join(url, options.path), answer, options, checked_at)


@shows_options(HealthOptions)
async def health_async(url: str, **keywords: Unpack[_HealthKeywords]) -> HealthResult:
    """`health()` without blocking the event loop: the same checks and the same bound."""
    options = HealthOptions(**keywords)
    checked_at = datetime.now(UTC)
    answer = await fetch_async(options.method, _join(url, options.path),
                               timeout_s=options.timeout_s,
                               max_body_bytes=options.max_body_bytes,
                               max_redirects=options.max_redirects)
    return _judge(_join(url, options.path), answer, options, checked_at)


def _join(url: str, path: str) -> str:
    return url.rstrip("/") + path


def _judge(target: str, answer: HttpAnswer, options: HealthOptions,
           checked_at: datetime) -> HealthResult:
    """The health verdict on one answer (pure: shared by the sync and async probes)."""
    wants_json = options.expect_json and answer.method != "HEAD"
    body, problem = (None, None)
    if answer.failure is None and wants_json:
        body, problem = json_object(answer)
    error = answer.error or _problem(answer, body, problem, wants_json)
    return HealthResult(
        url=target, ok=error is None, status_code=answer.status_code,
        latency_ms=answer.elapsed_ms, json_valid=body is not None,
        status=_field(body, "status"), service=_field(body, "service"),
        version=_field(body, "version"), revision=_field(body, "revision"), error=error,
        checked_at=checked_at, method=answer.method, content_type=answer.content_type,
        body_bytes=len(answer.body), redirects=len(answer.redirects),
        retry_after_s=answer.retry_after_s, timeout_s=options.timeout_s,
    )


def _problem(answer: HttpAnswer, body: dict[str, Any] | None, problem: str | None,
             wants_json: bool) -> str | None:
    code = answer.status_code
    if not wants_json:
        return None if code is not None and 200 <= code < 300 else _status_text(answer)
    if body is None:
        return f"HTTP {code}: {problem}{_retry_text(answer)}"
    if "status" not in body:
        return f"HTTP {code}: the JSON object has no 'status' field{_retry_text(answer)}"
    if body["status"] != HEALTHY:
        return (f"HTTP {code}: status is {_shown(body['status'])}, not {HEALTHY!r}"
                f"{_retry_text(answer)}")
    return None if code == 200 else f"HTTP {code}{_retry_text(answer)}"


def _status_text(answer: HttpAnswer) -> str:
    detail = detail_text(answer, 80)
    return f"HTTP {answer.status_code}" + (f": {detail}" if detail else "") + _retry_text(answer)


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else repr(str(value))


def _retry_text(answer: HttpAnswer) -> str:
    seconds = answer.retry_after_s
    return "" if seconds is None else f" (Retry-After: {seconds:g} s)"


def _field(body: dict[str, Any] | None, key: str) -> str | None:
    value = (body or {}).get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class WaitHealthyOptions:
    """The keyword options of `wait_healthy` and `wait_healthy_async`, with their one set of
    defaults (the request's own options default as `health`'s do)."""

    within_s: float = 120.0
    path: str = HealthOptions.path
    interval_s: float = 0.25
    expect_revision: str | None = None
    attempt_timeout_s: float = 5.0
    method: str = HealthOptions.method
    expect_json: bool = HealthOptions.expect_json


class _WaitKeywords(TypedDict, total=False):
    within_s: float
    path: str
    interval_s: float
    expect_revision: str | None
    attempt_timeout_s: float
    method: str
    expect_json: bool


class _Poll:
    """The decisions of one wait: how long each attempt may take, when to stop, what to
    report (pure apart from the clock: shared by the sync and async waits)."""

    def __init__(self, options: WaitHealthyOptions) -> None:
        self.options = options
        self.deadline = time.monotonic() + options.within_s

    def attempt_timeout(self) -> float:
        """The bound of the next attempt: never past the wait's own deadline."""
        left = self.deadline - time.monotonic()
        return max(0.01, min(self.options.attempt_timeout_s, left))

    def accepts(self, result: HealthResult) -> bool:
        """Healthy, and from the expected revision when one is named."""
        return result.ok and self.options.expect_revision in (None, result.revision)

    def pause(self) -> float | None:
        """Seconds to sleep before the next attempt, or None when the wait is over."""
        if time.monotonic() + self.options.interval_s >= self.deadline:
            return None
        return self.options.interval_s

    def give_up(self, result: HealthResult) -> HealthResult:
        """The last answer, failed, saying why the wait ended."""
        why = (f"serving revision {result.revision}, not {self.options.expect_revision}"
               if result.ok else result.error)
        return replace(result, ok=False,
                       error=f"not healthy within {self.options.within_s:g} s: {why}")


@shows_options(WaitHealthyOptions)
def wait_healthy(url: str, **keywords: Unpack[_WaitKeywords]) -> HealthResult:
    """Poll until the service answers healthy (seed 4.3: "200 within 2 minutes").

    With `expect_revision`, healthy also means the answer came from that revision (the
    health body's `revision`), which is how a rollback is seen to serve. Returns the last
    answer; its `ok` says whether the wait succeeded, `error` why not. Returns within
    `within_s` (each attempt is bounded by what is left of it).
    """
    options = WaitHealthyOptions(**keywords)
    poll = _Poll(options)
    while True:
        result = health(url, path=options.path, method=options.method,
                        expect_json=options.expect_json, timeout_s=poll.attempt_timeout())
        if poll.accepts(result):
            return result
        pause = poll.pause()
        if pause is None:
            return poll.give_up(result)
        time.sleep(pause)


@shows_options(WaitHealthyOptions)
async def wait_healthy_async(url: str, **keywords: Unpack[_WaitKeywords]) -> HealthResult:
    """`wait_healthy()` without blocking the event loop."""
    options = WaitHealthyOptions(**keywords)
    poll = _Poll(options)
    while True:
        result = await health_async(url, path=options.path, method=options.method,
                                    expect_json=options.expect_json,
                                    timeout_s=poll.attempt_timeout())
        if poll.accepts(result):
            return result
        pause = poll.pause()
        if pause is None:
            return poll.give_up(result)
        await asyncio.sleep(pause)
