"""Escalating a failed scheduled validation: a JSON POST to a webhook, bounded in time.

The payload says what failed (incident, environment, runbook, status, exit code, failing
cell, record folder), when (due, started, finished, time since the deployment), which of the
seed's escalation triggers it meets, and where the seed's communication plan stands:

- ">4 hours to restore Golden Path functionality": a validation fails 4 hours or more after
  the schedule's start (the deployment);
- "Rollback required due to critical issues": the run recorded `decision = "rollback"` (the
  monitoring runbook does when a rollback trigger fires);
- the other seed triggers (a failed deploy, security concerns) are not a validation's to see.

A `text` field makes the payload readable as-is by chat webhooks (Slack, Mattermost).

Delivery (`Webhook.post`) never raises and never blocks the schedule for long: each attempt
has a timeout, failures that may pass (no connection, timeout, HTTP 5xx, 429) are retried
with exponential backoff, other answers (a 4xx: wrong URL or token) are not, and the whole
delivery has a deadline. A webhook URL often carries its token (in the path, the query or
the user info), so it is never logged or stored whole: `display_url()` keeps the scheme, host
and port only.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from netra_ops.errors import ParameterError
from netra_ops.record.redact import scrub, scrub_json
from netra_ops.secrets import SECRET_SCHEMES, resolve_secret

__all__ = [
    "COMMUNICATION_PLAN",
    "SEED_ESCALATION_TRIGGERS",
    "WEBHOOK_ENV",
    "Delivery",
    "FailedRun",
    "Webhook",
    "display_url",
    "escalation_payload",
    "webhook_url",
]

WEBHOOK_ENV = "NETRA_OPS_WEBHOOK_URL"
"""Environment variable with the webhook URL (or a secret reference) when no option names one."""

SEED_ESCALATION_TRIGGERS = (
    "Deployment fails or times out",
    "Rollback required due to critical issues",
    ">4 hours to restore Golden Path functionality",
    "Any security or data integrity concerns",
)
"""The seed's escalation triggers (Communication Plan)."""

COMMUNICATION_PLAN = (
    (timedelta(0), "Immediate (start of deployment)",
     "Emergency deployment in progress to fix critical Golden Path failure"),
    (timedelta(hours=2), "2 Hours", "Deployment complete, running validation tests"),
    (timedelta(hours=4), "4 Hours", "Golden Path restored, monitoring performance"),
    (timedelta(hours=24), "24 Hours", "System stable, all metrics within targets"),
)
"""The seed's stakeholder updates: (time since deployment, milestone, planned update)."""

_RESTORE_WINDOW = timedelta(hours=4)
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_HTTPX_LOGGER = logging.getLogger("httpx")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
logger = logging.getLogger("netra_ops.schedule")


class _HideUrl(logging.Filter):
    """Rewrites a log record's message with `hide` (while a delivery is going)."""

    def __init__(self, hide: Callable[[str], str]) -> None:
        super().__init__()
        self._hide_text = hide

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._hide_text(record.getMessage()), None
        return True


@dataclass(frozen=True)
class FailedRun:
    """The facts of one failed scheduled run that an escalation reports."""

    incident: str
    environment: str
    runbook: str
    status: str
    exit_code: int
    record_dir: Path | None
    due: datetime
    started: datetime
    finished: datetime
    schedule_start: datetime
    phase: str
    state_file: Path
    failing_cell: Mapping[str, Any] | None = None
    records: Mapping[str, Any] | None = None
    error: str | None = None


def escalation_payload(run: FailedRun) -> dict[str, Any]:
    """The JSON body of the escalation for `run` (see the module docstring)."""
    since = run.started - run.schedule_start
    triggers = _seed_triggers(run, since)
    milestone, planned = _milestone(since)
    failing = dict(run.failing_cell or {})
    cell = {k: failing.get(k) for k in ("index", "ename", "evalue")} if failing else None
    what = run.error or (f"{cell['ename']}: {cell['evalue']}" if cell else run.status)
    payload = {
        "event": "netra_ops.validation_failed",
        "severity": "critical" if triggers else "error",
        "text": (f"[{run.incident}] scheduled validation {run.runbook} {run.status} "
                 f"(exit {run.exit_code}) on {run.environment}, "
                 f"{_hours(since)} after deployment: {what}. Record: "
                 f"{run.record_dir or 'none (the run could not start)'}"),
        "incident": run.incident,
        "environment": run.environment,
        "runbook": run.runbook,
        "status": run.status,
        "exit_code": run.exit_code,
        "record": str(run.record_dir) if run.record_dir else None,
        "failing_cell": cell,
        "error": run.error,
        "due_at": run.due.isoformat(),
        "started_at": run.started.isoformat(),
        "finished_at": run.finished.isoformat(),
        "since_deployment_s": round(since.total_seconds()),
        "phase": run.phase,
        "seed_escalation_triggers": triggers,
        "communication_plan": {"milestone": milestone, "planned_update": planned},
        "schedule_state": str(run.state_file),
    }
    return dict(scrub_json(payload, scrub))


def _seed_triggers(run: FailedRun, since: timedelta) -> list[str]:
    found = []
    if (run.records or {}).get("decision") == "rollback":
        found.append(SEED_ESCALATION_TRIGGERS[1])
    if since >= _RESTORE_WINDOW:
        found.append(SEED_ESCALATION_TRIGGERS[2])
    return found


def _milestone(since: timedelta) -> tuple[str, str]:
    """The communication plan's latest milestone at `since`: what should be true by now."""
    reached = [(name, text) for at, name, text in COMMUNICATION_PLAN if since >= at]
    return reached[-1] if reached else COMMUNICATION_PLAN[0][1:]


def _hours(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"


def display_url(url: str) -> str:
    """`scheme://host:port/…`: the webhook URL without its path, query and user info (where
    tokens live), for logs and records."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname or "?"
    except ValueError:
        return "(hidden: not a valid URL)"
    host = f"[{host}]" if ":" in host else host
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc
    return f"{parts.scheme}://{host}{port}" + ("/…" if hidden else "")


def webhook_url(option: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL from the option, else `$NETRA_OPS_WEBHOOK_URL`, else None.

    Either may be the URL or a secret reference to it (`env:NAME`, `file:PATH`), which keeps
    the token out of the process list. ParameterError if it is not an http(s) URL.
    """
    environ = os.environ if environ is None else environ
    given = option or environ.get(WEBHOOK_ENV) or None
    if given is None:
        return None
    url = resolve_secret(given) if given.startswith(SECRET_SCHEMES) else given
    return _checked(url, "--webhook" if option else WEBHOOK_ENV)


def _checked(url: str, source: str) -> str:
    """`url` if it is an http(s) URL with a host and a valid port; ParameterError if not."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (
            parts.port is None or parts.port > 0)
    except ValueError:  # a port out of range, a malformed IPv6 host
        valid = False
    if not valid:
        raise ParameterError(f"{source}: the webhook must be an http:// or https:// URL with a "
                             f"host (got {display_url(url)!r}), e.g. "
                             f"https://hooks.example.com/services/...")
    return url


@dataclass(frozen=True)
class Delivery:
    """How posting an escalation went: delivered or not, after how many attempts, why."""

    delivered: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


class Webhook:
    """POSTs escalations to one URL with retries; `post()` returns a Delivery, never raises
    (a URL that is not http(s) with a host is a ParameterError at construction).

    `timeout_s` bounds each attempt, `attempts` their number, `deadline_s` the whole delivery
    (no attempt starts after it); backoff doubles from `backoff_s` up to `max_backoff_s`, or
    follows a 429/503 `Retry-After` of up to `max_backoff_s`. `sleep` is injectable.
    """

    def __init__(self, url: str, *, timeout_s: float = 5.0, attempts: int = 4,
                 backoff_s: float = 1.0, max_backoff_s: float = 30.0,
                 deadline_s: float = 90.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if attempts < 1 or timeout_s <= 0 or deadline_s <= 0:
            raise ParameterError("webhook attempts, timeout and deadline must be positive")
        self._url = _checked(url, "webhook")
        self.display = display_url(url)
        self.timeout_s, self.attempts, self.deadline_s = timeout_s, attempts, deadline_s
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._sleep = sleep

    def post(self, payload: Mapping[str, Any]) -> Delivery:
        """Send `payload` as JSON; see the class docstring for retries and limits."""
        deadline = time.monotonic() + self.deadline_s
        hide = _HideUrl(self._hide)
        _HTTPX_LOGGER.addFilter(hide)  # httpx logs every request's full URL at INFO
        try:
            return self._deliver(payload, deadline)
        finally:
            _HTTPX_LOGGER.removeFilter(hide)

    def _deliver(self, payload: Mapping[str, Any], deadline: float) -> Delivery:
        attempt, status = 0, None
        error: str | None = "not sent"
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while attempt < self.attempts and time.monotonic() < deadline:
                attempt += 1
                status, error, wait = self._attempt(client, payload, attempt)
                if error is None:
                    logger.info("escalation delivered to %s (HTTP %s, attempt %d)",
                                self.display, status, attempt)
                    return Delivery(True, attempt, status)
                if wait is None or attempt == self.attempts:
                    break
                logger.warning("escalation to %s failed (attempt %d of %d: %s); retrying in "
                               "%.1f s", self.display, attempt, self.attempts, error, wait)
                self._sleep(min(wait, max(0.0, deadline - time.monotonic())))
        logger.error("escalation NOT delivered to %s after %d attempt(s): %s", self.display,
                     attempt, error)
        return Delivery(False, attempt, status, error)

    def _attempt(self, client: httpx.Client, payload: Mapping[str, Any],
                 attempt: int) -> tuple[int | None, str | None, float | None]:
        """(status, error or None, seconds to wait before a retry or None for no retry)."""
        backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        try:
            response = client.post(self._url, json=payload,
                                   headers={"User-Agent": "netra-ops-schedule"})
        except httpx.TimeoutException:
            return None, f"no answer within {self.timeout_s:g} s", backoff
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:
            return None, self._hide(f"{type(exc).__name__}: {exc}"), backoff
        if response.is_success:
            return response.status_code, None, None
        if response.status_code in _RETRY_STATUSES:
            return response.status_code, f"HTTP {response.status_code}", \
                self._retry_after(response, backoff)
        return response.status_code, (f"HTTP {response.status_code}, not retried: check the "
                                      f"webhook URL and its token"), None

    def _retry_after(self, response: httpx.Response, backoff: float) -> float:
        try:
            asked = float(response.headers.get("Retry-After", ""))
        except ValueError:
            return backoff
        return min(self.max_backoff_s, max(0.0, asked))

    def _hide(self, text: str) -> str:
        """A text (an error, a log line) without any URL's path, query or user info, nor the
        webhook's secret parts wherever they appear."""
        text = _URL.sub(lambda m: display_url(m.group(0)), text)
        parts = urlsplit(self._url)
        secrets = [parts.netloc.rpartition("@")[0], parts.path, parts.query, parts.fragment]
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) > 1:
                text = text.replace(secret, "…")
        return text
