"""Cloud Logging as a long frame (source `logging`): rates computed from request logs.

Error and auth-failure rates come from `httpRequest.status`, never from severity. Per step
of `step_s` (windows (end - (k+1)·step, end - k·step], as Monitoring's) and revision:

- `http_error_rate`, `http_5xx_rate`: share of the backend's requests answered 4xx/5xx or
  5xx; count: the requests. `http_5xx_count`: how many were 5xx.
- `health_5xx_rate`: share of requests to the backend's health path answered 5xx.
- `auth_failure_rate`: share of the auth service's requests answered 401 or 403 (only when
  the auth service's request log is present: the sandbox's auth service has none).
- `error_log_entries`: entries with severity ERROR or worse that are not request-log
  entries (what the seed's `gcloud logging tail ... severity>=ERROR` shows besides 5xx),
  one row per step, zero included.

`error_entries()` lists those entries themselves.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from google.api_core import exceptions as gexc

from netra_ops.config import Environment
from netra_ops.errors import ApiUnreachableError, ConfigError
from netra_ops.metrics.frames import Reading, bucket_ends, make_frame, step_count
from netra_ops.metrics.logs import log_entries
from netra_ops.metrics.monitoring import default_step_s

__all__ = ["REQUEST_LOG", "error_entries", "logging_reading", "window_filter"]

logger = logging.getLogger("netra_ops.metrics.log_metrics")
REQUEST_LOG = "run.googleapis.com%2Frequests"
_SEVERE = ("ERROR", "CRITICAL", "ALERT", "EMERGENCY")
_AUTH_REFUSED = (401, 403)


def window_filter(env: Environment, service: str, start: datetime, end: datetime,
                  extra: str = "") -> str:
    """Entries of one Cloud Run service with start < timestamp <= end, AND `extra`."""
    parts = ['resource.type="cloud_run_revision"',
             f'resource.labels.service_name="{service}"',
             f'timestamp>"{start.isoformat()}"', f'timestamp<="{end.isoformat()}"']
    if extra:
        parts.append(f"({extra})")
    return " AND ".join(parts)


def logging_reading(env: Environment, start: datetime, end: datetime, *,
                    step_s: float | None = None, limit: int = 20_000) -> Reading:
    """Request-log rates and ERROR entries of the backend (and auth service) in (start, end]."""
    step = step_s or default_step_s(env)
    request_log = f'logName="projects/{env.project}/logs/{REQUEST_LOG}"'
    try:
        backend = _entries(env, window_filter(env, env.backend.name, start, end,
                                              f"{request_log} OR severity>=ERROR"), limit)
        auth = _entries(env, window_filter(env, env.auth.name, start, end, request_log), limit)
    except (ApiUnreachableError, ConfigError) as exc:
        return Reading.failed("logging", start, end, str(exc))
    except gexc.GoogleAPICallError as exc:
        return Reading.failed("logging", start, end,
                              f"Cloud Logging cannot be read ({exc.message})")
    requests = backend[backend["log"] == "requests"]
    rows = _request_rows(requests, env.backend.health_path, end, step)
    rows += _auth_rows(auth[auth["log"] == "requests"], env.auth.name, end, step)
    rows += _error_rows(backend[backend["log"] != "requests"], start, end, step)
    return Reading("logging", start, end, make_frame(rows))


def error_entries(env: Environment, start: datetime, end: datetime,
                  limit: int = 200) -> pd.DataFrame:
    """The backend's entries with severity ERROR or worse in (start, end], newest first."""
    return log_entries(env, window_filter(env, env.backend.name, start, end,
                                          "severity>=ERROR"), limit=limit, newest_first=True)


def _entries(env: Environment, filter_: str, limit: int) -> pd.DataFrame:
    entries = log_entries(env, filter_, limit=limit)
    if len(entries) >= limit:
        logger.warning("Cloud Logging returned %d entries, the limit: rates cover only the "
                       "oldest part of the window; shorten the window or raise the limit",
                       limit)
    return entries


def _steps(frame: pd.DataFrame, end: datetime, step_s: float) -> pd.DataFrame:
    out = frame.copy()
    out["step"] = bucket_ends(out["time"], end, step_s) if not out.empty else []
    out["status"] = pd.to_numeric(out["status"], errors="coerce")
    return out


def _request_rows(requests: pd.DataFrame, health_path: str, end: datetime,
                  step_s: float) -> list[dict[str, Any]]:
    frame = _steps(requests, end, step_s)
    frame["health"] = frame["url"].map(lambda u: _path(u) == health_path) \
        if not frame.empty else []
    rows: list[dict[str, Any]] = []
    for (step, revision), group in frame.groupby(["step", "revision"], dropna=False):
        status = group["status"].dropna()
        if status.empty:
            continue
        base = {"time": step, "source": "logging", "revision": _label(revision)}
        total = float(len(status))
        server = float((status >= 500).sum())
        rows += [
            {**base, "metric": "http_error_rate", "value": float((status >= 400).sum()) / total,
             "count": total},
            {**base, "metric": "http_5xx_rate", "value": server / total, "count": total},
            {**base, "metric": "http_5xx_count", "value": server, "count": 1.0},
        ]
        health = group.loc[group["health"], "status"].dropna()
        if not health.empty:
            rows.append({**base, "metric": "health_5xx_rate",
                         "value": float((health >= 500).mean()), "count": float(len(health))})
    return rows


def _auth_rows(requests: pd.DataFrame, service: str, end: datetime,
               step_s: float) -> list[dict[str, Any]]:
    frame = _steps(requests, end, step_s)
    rows = []
    for step, group in frame.groupby("step"):
        status = group["status"].dropna()
        if not status.empty:
            rows.append({"time": step, "metric": "auth_failure_rate", "source": "logging",
                         "service": service, "count": float(len(status)),
                         "value": float(status.isin(_AUTH_REFUSED).mean())})
    return rows


def _error_rows(entries: pd.DataFrame, start: datetime, end: datetime,
                step_s: float) -> list[dict[str, Any]]:
    severe = _steps(entries[entries["severity"].isin(_SEVERE)], end, step_s)
    counts = severe.groupby("step").size() if not severe.empty else pd.Series(dtype=float)
    steps = [pd.Timestamp(end) - pd.Timedelta(seconds=k * step_s)
             for k in range(step_count(start, end, step_s))]
    return [{"time": step, "metric": "error_log_entries", "source": "logging", "count": 1.0,
             "value": float(counts.get(step, 0))} for step in steps]


def _path(url: Any) -> str:
    text = str(url or "")
    return urlsplit(text).path if "://" in text else text.split("?", 1)[0]


def _label(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) \
        else str(value)
