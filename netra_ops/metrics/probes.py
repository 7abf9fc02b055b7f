"""Probe results as a long frame (source `probe`): one row per observation, count 1.

- from a HealthResult: `health_ok_rate` (1 healthy: 200 with valid JSON, else 0),
  `health_5xx_rate` (1 for a 5xx answer, else 0) and `health_latency_ms`; the last two only
  when the service answered;
- from a GoldenPathResult: `golden_path_pass_rate` (1 when the whole path worked),
  `websocket_connection_success_rate` (1 connected up to `connection_established`, 0 not;
  no row when login failed), `auth_failure_rate` (1 login or WebSocket refused: 401/403,
  AUTH_FAILED, close 1008; 0 accepted; no row when the auth service did not answer) and
  `event_latency_ms` per event: its delivery latency (arrival minus the event's own
  timestamp, clock offset corrected; the seed's "events delivered < 500 ms", not how long
  the agent thought), label `event`, time = send + arrival; none where not measured.

Health rows carry the answering `revision` (the health body's). A probe that could not
reach its target gives no 5xx, connection or auth sample: nothing was measured.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pandas as pd

from netra_ops.metrics.frames import make_frame
from netra_ops.probe.golden_path_run import GOLDEN_PATH_EVENTS, GoldenPathResult
from netra_ops.probe.health_endpoint import HealthResult

__all__ = ["probe_frame"]

_AUTH_REFUSED = (401, 403)
_AUTH_FAILURE_MARKS = ("AUTH_FAILED", "1008")


def probe_frame(results: Iterable[HealthResult | GoldenPathResult]) -> pd.DataFrame:
    """The long frame of probe results (health checks and golden-path runs)."""
    rows: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, HealthResult):
            rows += _health_rows(result)
        elif isinstance(result, GoldenPathResult):
            rows += _golden_path_rows(result)
        else:
            raise TypeError(f"probe_frame() takes HealthResult and GoldenPathResult, "
                            f"not {type(result).__name__}")
    return make_frame(rows)


def _row(time: Any, metric: str, value: float, **labels: Any) -> dict[str, Any]:
    return {"time": time, "metric": metric, "value": value, "count": 1.0,
            "source": "probe", **labels}


def _health_rows(result: HealthResult) -> list[dict[str, Any]]:
    at, revision = result.checked_at, result.revision
    rows = [_row(at, "health_ok_rate", float(result.ok), revision=revision)]
    if result.status_code is not None:
        rows.append(_row(at, "health_5xx_rate", float(result.status_code >= 500),
                         revision=revision))
        rows.append(_row(at, "health_latency_ms", result.latency_ms, revision=revision))
    return rows


def _golden_path_rows(result: GoldenPathResult) -> list[dict[str, Any]]:
    at = result.started_at
    rows = [_row(at, "golden_path_pass_rate", float(result.ok))]
    auth = _auth_failure(result)
    if auth is not None:
        rows.append(_row(at, "auth_failure_rate", auth))
    if result.failed_step != "login":
        connected = result.failed_step not in ("connect", "handshake")
        rows.append(_row(at, "websocket_connection_success_rate", float(connected)))
    deliveries = result.report.timing.deliveries if result.report is not None else ()
    for event in deliveries:
        if event.type in GOLDEN_PATH_EVENTS and event.delivery_ms is not None:
            rows.append(_row(at + timedelta(milliseconds=event.received_ms),
                             "event_latency_ms", event.delivery_ms, event=event.type))
    return rows


def _auth_failure(result: GoldenPathResult) -> float | None:
    """1 refused, 0 accepted, None when authentication was never judged."""
    if result.failed_step == "login":
        return 1.0 if result.http_status in _AUTH_REFUSED else None
    if result.failed_step == "connect" and result.http_status in _AUTH_REFUSED:
        return 1.0
    if result.failed_step == "handshake" and any(
            mark in (result.error or "") for mark in _AUTH_FAILURE_MARKS):
        return 1.0
    return 0.0
