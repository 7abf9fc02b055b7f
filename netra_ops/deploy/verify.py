"""Deployment verification (seed 1.3) and rollback validation (seed 4.3), as check tables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from netra_ops.config import Environment
from netra_ops.deploy.service import ServiceState, read_service
from netra_ops.metrics.logs import log_entries, request_log_filter
from netra_ops.probe.golden_path import websocket_connect
from netra_ops.probe.health import health, wait_healthy

__all__ = [
    "Check",
    "Checks",
    "checks_verdict_table",
    "count_server_errors",
    "validate_rollback",
    "verify",
]


@dataclass(frozen=True)
class Check:
    """One verification: what was checked, the outcome, and the evidence."""

    name: str
    ok: bool
    detail: str
    seconds: float | None = None


@dataclass(frozen=True)
class Checks:
    """A list of checks with the service state they were made against."""

    title: str
    checks: tuple[Check, ...]
    state: ServiceState

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    def to_frame(self) -> pd.DataFrame:
        """One row per check."""
        return pd.DataFrame([{"check": c.name, "ok": c.ok, "detail": c.detail,
                              "seconds": c.seconds} for c in self.checks])

    def verdict_table(self) -> pd.DataFrame:
        """The checks in the shape `netra_ops.record.verdict` takes."""
        return checks_verdict_table((c.name, c.ok, c.detail) for c in self.checks)


def checks_verdict_table(checks: Iterable[tuple[str, bool, str]]) -> pd.DataFrame:
    """(name, ok, detail) triples as verdict rows: the criterion is that the check passes."""
    return pd.DataFrame([{"criterion": name, "value": "pass" if ok else "fail",
                          "threshold": "pass", "passed": ok, "detail": detail}
                         for name, ok, detail in checks],
                        columns=["criterion", "value", "threshold", "passed", "detail"])


def verify(env: Environment, expected_image: str | None = None, *,
           websocket: bool = True) -> Checks:
    """Seed 1.3: the image that really serves (through traffic statuses, not the
    template), health returning 200 with valid JSON, and a WebSocket connection."""
    state = read_service(env)
    checks = [_image_check(state, expected_image)]
    answer = health(env.backend.url, path=env.backend.health_path)
    checks.append(Check("health 200 with valid JSON", answer.ok,
                        answer.error or f"revision {answer.revision}",
                        answer.latency_ms / 1000))
    if websocket:
        connected = websocket_connect(env)
        checks.append(Check("WebSocket connects", connected.ok,
                            connected.error or "connection_established",
                            (connected.connect_ms or 0) / 1000))
    return Checks("deployment verification (seed 1.3)", tuple(checks), state)


def _image_check(state: ServiceState, expected: str | None) -> Check:
    serving = state.serving_image
    detail = f"{state.serving_revision} serves {serving}"
    if state.template_image != serving:
        detail += f" (template names {state.template_image})"
    return Check("serving image", serving is not None and expected in (None, serving),
                 detail if expected in (None, serving) else f"expected {expected}; {detail}")


def validate_rollback(env: Environment, revision: str | None = None, *,
                      within_s: float = 120.0, since: datetime | None = None) -> Checks:
    """Seed 4.3: health 200 within 2 minutes (from `revision` when given), login works,
    and no 5xx in the request logs since `since` (default: the last 5 minutes)."""
    started = datetime.now(UTC)
    answer = wait_healthy(env.backend.url, path=env.backend.health_path, within_s=within_s,
                          expect_revision=revision)
    waited = (datetime.now(UTC) - started).total_seconds()
    checks = [Check(f"health 200 within {within_s:g} s", answer.ok,
                    answer.error or f"revision {answer.revision} healthy", waited)]
    login = websocket_connect(env)
    checks.append(Check("authentication works", login.login_ms is not None
                        and login.failed_step != "login", login.error or "login ok",
                        (login.login_ms or 0) / 1000))
    window_start = since or started - timedelta(minutes=5)
    errors = count_server_errors(env, window_start)
    checks.append(Check("no 5xx in request logs", errors == 0,
                        f"{errors} responses with status >= 500 since {window_start:%H:%M:%S}Z"))
    return Checks("rollback validation (seed 4.3)", tuple(checks), read_service(env))


def count_server_errors(env: Environment, since: datetime) -> int:
    """Request-log entries of the backend with status >= 500 since `since`."""
    query = request_log_filter(env, since, "httpRequest.status>=500")
    return len(log_entries(env, query, limit=10_000))
