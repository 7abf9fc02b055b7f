"""Health probe (seed 1.3, 4.3 and Primary 1: "Health endpoint returns 200 with valid JSON")."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd

from netra_ops.probe._text import describe_exception

__all__ = ["HealthResult", "health", "wait_healthy"]


@dataclass(frozen=True)
class HealthResult:
    """What one health request saw. `ok` means 200, and a healthy JSON body when expected."""

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

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([asdict(self)])


def health(
    url: str,
    *,
    path: str = "/health",
    method: str = "GET",
    expect_json: bool = True,
    timeout_s: float = 5.0,
) -> HealthResult:
    """Ask `url + path` whether the service is healthy; never raises for a bad answer.

    `expect_json=False` (the frontend) only requires a 2xx status. `method="HEAD"` asks
    without a body, as the seed's `curl -I` does.
    """
    target = url.rstrip("/") + path
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        response = httpx.request(method, target, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return _unreachable(target, started, checked_at, exc)
    latency_ms = (time.perf_counter() - started) * 1000
    body = _json_body(response) if method != "HEAD" else None
    return _judge(target, response.status_code, body, latency_ms, checked_at,
                  expect_json and method != "HEAD")


def _unreachable(target: str, started: float, checked_at: datetime,
                 exc: Exception) -> HealthResult:
    latency_ms = (time.perf_counter() - started) * 1000
    return HealthResult(target, False, None, latency_ms, False, None, None, None, None,
                        describe_exception(exc), checked_at)


def _json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _judge(target: str, code: int, body: dict[str, Any] | None, latency_ms: float,
           checked_at: datetime, expect_json: bool) -> HealthResult:
    status = _field(body, "status")
    error = None
    if expect_json and body is None:
        error = f"HTTP {code}: body is not a JSON object"
    elif expect_json and status != "healthy":
        error = f"HTTP {code}: status is {status!r}, not 'healthy'"
    elif not 200 <= code < 300 or (expect_json and code != 200):
        error = f"HTTP {code}"
    return HealthResult(target, error is None, code, latency_ms, body is not None, status,
                        _field(body, "service"), _field(body, "version"),
                        _field(body, "revision"), error, checked_at)


def _field(body: dict[str, Any] | None, key: str) -> str | None:
    value = (body or {}).get(key)
    return None if value is None else str(value)


def wait_healthy(
    url: str,
    *,
    within_s: float = 120.0,
    path: str = "/health",
    interval_s: float = 0.25,
    expect_revision: str | None = None,
) -> HealthResult:
    """Poll until the service answers healthy (seed 4.3: "200 within 2 minutes").

    With `expect_revision`, healthy also means the answer came from that revision (the
    health body's `revision`), which is how a rollback is seen to serve. Returns the last
    answer; its `ok` says whether the wait succeeded, `error` why not.
    """
    deadline = time.monotonic() + within_s
    while True:
        result = health(url, path=path, timeout_s=min(5.0, max(within_s, 0.1)))
        wrong = expect_revision is not None and result.revision != expect_revision
        if result.ok and not wrong:
            return result
        if time.monotonic() + interval_s > deadline:
            why = (f"serving revision {result.revision}, not {expect_revision}" if result.ok
                   else result.error)
            return replace(result, ok=False, error=f"not healthy within {within_s:g} s: {why}")
        time.sleep(interval_s)
