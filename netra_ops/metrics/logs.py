"""Log entries through Cloud Logging's own client (the sandbox's emulation or Google's).

Filters use Google's logging query language; note its precedence: NOT binds tightest, then
OR, then AND (`a OR b AND c` is `(a OR b) AND c`). A filter the API refuses raises
QueryError with the API's message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from google.api_core import exceptions as gexc

from netra_ops.cloud import api_errors, logging_client
from netra_ops.config import Environment
from netra_ops.errors import QueryError

__all__ = ["LOG_COLUMNS", "log_entries", "request_log_filter"]

LOG_COLUMNS = ["time", "severity", "log", "revision", "status", "latency_ms", "method",
               "url", "message"]


def request_log_filter(env: Environment, since: datetime, extra: str = "") -> str:
    """The filter for the backend's entries since `since`, AND `extra` when given."""
    parts = ['resource.type="cloud_run_revision"',
             f'resource.labels.service_name="{env.backend.name}"',
             f'timestamp>="{since.isoformat()}"']
    if extra:
        parts.append(f"({extra})")
    return " AND ".join(parts)


def log_entries(env: Environment, filter_: str, *, limit: int = 1000,
                newest_first: bool = False) -> pd.DataFrame:
    """Entries matching `filter_` as a frame (one row each, columns LOG_COLUMNS)."""
    order = "timestamp desc" if newest_first else "timestamp asc"
    client = logging_client(env)
    with api_errors(env, "reading logs"):
        try:
            entries = client.list_entries(resource_names=[f"projects/{env.project}"],
                                          filter_=filter_, order_by=order,
                                          page_size=min(limit, 1000), max_results=limit)
            rows = [_row(entry) for entry in entries]
        except gexc.BadRequest as exc:
            raise QueryError(f"Cloud Logging refused the filter {filter_!r}: {exc.message}") \
                from None
    return pd.DataFrame(rows, columns=LOG_COLUMNS)


def _row(entry: Any) -> dict[str, Any]:
    request = entry.http_request or {}
    labels = (entry.resource.labels or {}) if entry.resource else {}
    payload = entry.payload
    message = payload.get("message", "") if isinstance(payload, dict) else str(payload or "")
    latency = request.get("latency")
    return {
        "time": entry.timestamp, "severity": entry.severity,
        "log": (entry.log_name or "").rsplit("%2F", 1)[-1],
        "revision": labels.get("revision_name"), "status": request.get("status"),
        "latency_ms": _latency_ms(latency), "method": request.get("requestMethod"),
        "url": request.get("requestUrl"), "message": message,
    }


def _latency_ms(latency: Any) -> float | None:
    if isinstance(latency, str) and latency.endswith("s"):
        return float(latency[:-1]) * 1000
    if isinstance(latency, dict):
        return (float(latency.get("seconds", 0)) + float(latency.get("nanos", 0)) / 1e9) * 1000
    return None
