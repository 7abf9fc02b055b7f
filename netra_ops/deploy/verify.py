"""Deployment verification (seed 1.3) and rollback validation (seed 4.3), as check rows,
and what a failed verification decides (`deploy_decision`: the new revision itself failed to
deploy or verify, so roll back). `change_checks` are a runbook's verdict rows: the change
itself, then each check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from netra_ops.checks import Check
from netra_ops.cloud import ServiceState, read_service, serves_image
from netra_ops.config import Environment, Service, ServiceRole, memory_bytes
from netra_ops.deploy.change import ChangeResult
from netra_ops.metrics.logs import log_entries, request_log_filter
from netra_ops.probe.golden_path_run import websocket_connect
from netra_ops.probe.health_endpoint import HealthResult, health, wait_healthy
from netra_ops.probe.services import check_services

__all__ = [
    "Checks",
    "change_checks",
    "count_server_errors",
    "deploy_decision",
    "resources_check",
    "validate_rollback",
    "verify",
]


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


def change_checks(change: ChangeResult, checks: Checks) -> tuple[Check, ...]:
    """Verdict rows: the change itself completed (or was planned), then every check."""
    outcome = Check(change.action, change.ok, change.error or f"{change.status}: "
                    + ("; ".join(change.plan) or "nothing to change"))
    return (outcome, *checks.checks)


def verify(env: Environment, expected_image: str | None = None, *,
           role: ServiceRole = "backend", new_revision: str | None = None,
           resources: bool = False, websocket: bool | None = None,
           health_checks: int = 5) -> Checks:
    """Seed 1.3 for the service of `role`: `new_revision` (when given) Ready and serving all
    traffic; the image that really serves (through traffic statuses, not the template);
    health returning 200 (with valid JSON, but for the frontend's page) through the
    service's URL to each of `health_checks` requests (one lucky answer from a build that
    fails half its requests is not a verification); with `resources`, the serving
    revision's memory, CPU, timeout and concurrency as the environment file sets them, read
    back from the Revision resource; and for the backend (`websocket`, default: the
    backend) a WebSocket connection. A revision that reports its image by digest (as Cloud
    Run does) serves `expected_image` given by tag when that is the digest the tag names
    now (`cloud.serves_image`)."""
    state = read_service(env, role)
    checks = [] if new_revision is None else [_ready_check(state, new_revision)]
    checks.append(_image_check(env, state, expected_image))
    checks.append(_health_check(env, role, state, max(health_checks, 1)))
    if resources:
        checks.append(resources_check(state, env.services[role]))
    if websocket if websocket is not None else role == "backend":
        connected = websocket_connect(env)
        checks.append(Check("WebSocket connects", connected.ok,
                            connected.error or "connection_established",
                            seconds=(connected.connect_ms or 0) / 1000))
    title = "deployment verification (seed 1.3)"
    return Checks(title if role == "backend" else f"{role} {title}", tuple(checks), state)


def _ready_check(state: ServiceState, revision: str) -> Check:
    info = state.revision(revision)
    serving = state.serving == {revision: 100}
    detail = (f"{revision} Ready, serving 100%" if info.ready and serving else
              f"{revision} {'Ready' if info.ready else 'not Ready: ' + info.reason}; traffic: "
              + (", ".join(f"{n} {p}%" for n, p in state.serving.items()) or "none"))
    return Check("Ready and serving all traffic", info.ready and serving, detail)


def _health_check(env: Environment, role: ServiceRole, state: ServiceState,
                  count: int) -> Check:
    service = env.services[role]
    url = service.url or state.uri
    answers = [health(url, path=service.health_path, expect_json=role != "frontend")
               for _ in range(count)]
    bad = [a for a in answers if not a.ok]
    answered = f" (revision {answers[-1].revision})" if answers[-1].revision else ""
    detail = (f"{count - len(bad)} of {count} answers 200 from {url}; first failure: "
              f"{bad[0].error}" if bad else f"{count} of {count} answers 200 from {url}"
              + answered)
    what = "with valid JSON " if role != "frontend" else ""
    return Check(f"health 200 {what}({count} of {count})", not bad, detail,
                 seconds=max(a.latency_ms for a in answers) / 1000)


def resources_check(state: ServiceState, service: Service) -> Check:
    """The serving revision's memory, CPU, request timeout and concurrency (as its Revision
    resource reports them) against what the environment file sets for the service."""
    info = state.serving_info
    wanted = (f"{service.memory}, {service.cpu:g} CPU, timeout {service.timeout_s} s, "
              f"concurrency {service.concurrency}")
    name = f"resources read back ({wanted})"
    if info is None:
        return Check(name, False, "no revision serves")
    got = (f"{info.memory or '?'}, {info.cpu or '?'} CPU, timeout {info.timeout_s:g} s, "
           f"concurrency {info.concurrency}")
    same = (_quantity(memory_bytes, info.memory) == service.memory_limit_bytes
            and _quantity(_cores, info.cpu) == service.cpu
            and info.timeout_s == service.timeout_s and info.concurrency == service.concurrency)
    return Check(name, same, f"{info.name} runs with {got}" + ("" if same else
                                                              f"; expected {wanted}"))


def _quantity(parse: Callable[[str], float], text: str) -> float | None:
    try:
        return parse(text)
    except ValueError:
        return None


def _cores(text: str) -> float:
    """Cores of a Cloud Run CPU limit: "4", "0.5", "4000m"."""
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def deploy_decision(change: ChangeResult, checks: Checks) -> tuple[str, str]:
    """What the playbook does after a deploy, with the reason:

    - `rollback` when the new revision itself failed to deploy or verify (not Ready,
      deadline passed, wrong image serving, health not 200);
    - `escalate` when nothing needed deploying (`unchanged`: the image already serves with
      this configuration) but what serves fails verification: there is no new revision to
      roll back from, a human decides;
    - `continue` otherwise (a dry run included: its reason says nothing was deployed).
    """
    failed = [c for c in checks.checks if not c.ok]
    found = "; ".join(f"{c.name}: {c.detail}" for c in failed)
    if change.executed and change.status in ("failed", "deadline_exceeded"):
        revision = change.new_revision or "the new revision"
        return "rollback", f"{revision} failed to deploy ({change.status}): {change.error}"
    if change.executed and failed:
        return "rollback", "the new revision failed verification: " + found
    if change.status == "unchanged":
        serving = checks.state.serving_revision
        said = f"unchanged: nothing to deploy, the image already serves ({serving})"
        if failed:
            return "escalate", (f"{said}, and it fails verification: {found}; no new "
                                "revision to roll back from, a human decides")
        return "continue", f"{said}; " + "; ".join(c.detail for c in checks.checks)
    if failed:
        return "continue", ("dry run: nothing was deployed; the serving revision fails "
                            + ", ".join(c.name for c in failed))
    return "continue", f"{change.status}: " + ("; ".join(c.detail for c in checks.checks))


def _image_check(env: Environment, state: ServiceState, expected: str | None) -> Check:
    serving = state.serving_image
    detail = f"{state.serving_revision} serves {serving}"
    if state.template_image != serving:
        detail += f" (template names {state.template_image})"
    if expected is None or serving is None:
        return Check("serving image", serving is not None, detail)
    if serving == expected:
        return Check("serving image", True, detail)
    if serves_image(env, state, expected):
        return Check("serving image", True, f"{detail}: the digest {expected} names now")
    return Check("serving image", False, f"expected {expected}; {detail}")


def validate_rollback(env: Environment, revision: str | None = None, *,
                      within_s: float = 120.0, since: datetime | None = None,
                      quiet_s: float = 300.0, poll_s: float = 5.0) -> Checks:
    """Seed 4.3, separate from the golden path: health 200 within `within_s` (2 minutes;
    from `revision` when given), basic authentication works (a login and an authenticated
    WebSocket connection), the service dependencies answer (auth and frontend health), and
    no 5xx in the request logs for `quiet_s` (5 minutes in the seed; shorter in rehearsals),
    watched from `since` (default: when the validation started) until `quiet_s` has passed,
    ending early at the first 5xx."""
    started = datetime.now(UTC)
    answer = wait_healthy(env.backend.url, path=env.backend.health_path, within_s=within_s,
                          expect_revision=revision)
    waited = (datetime.now(UTC) - started).total_seconds()
    checks = [Check(f"health 200 within {within_s:g} s", answer.ok,
                    answer.error or f"revision {answer.revision} healthy", seconds=waited)]
    login = websocket_connect(env)
    checks.append(Check("authentication works", login.login_ms is not None
                        and login.failed_step != "login", login.error or "login ok",
                        seconds=(login.login_ms or 0) / 1000))
    checks.append(_dependencies_check(env))
    checks.append(_quiet_check(env, since or started, quiet_s, poll_s))
    return Checks("rollback validation (seed 4.3)", tuple(checks), read_service(env))


def _dependencies_check(env: Environment) -> Check:
    services = check_services(env)
    others = {role: r for role, r in services.results.items() if role != "backend"}
    failing = [f"{role}: {_why(r)}" for role, r in others.items() if not r.ok]
    return Check("service dependencies reachable", not failing,
                 "; ".join(failing) or ", ".join(f"{role} healthy" for role in others))


def _why(result: HealthResult) -> str:
    return result.error or f"HTTP {result.status_code}"


def _quiet_check(env: Environment, since: datetime, quiet_s: float, poll_s: float) -> Check:
    """No 5xx in the request logs from `since` until `quiet_s` after it: every `poll_s` a
    health request (so the window has traffic to judge), then the logs are read."""
    until = since + timedelta(seconds=quiet_s)
    while True:
        health(env.backend.url, path=env.backend.health_path)  # traffic the logs can show
        errors = count_server_errors(env, since)
        now = datetime.now(UTC)
        if errors or now >= until:
            break
        time.sleep(max(min(poll_s, (until - now).total_seconds()), 0.0))
    watched = (min(now, until) - since).total_seconds()
    name = f"no 5xx in request logs for {quiet_s:g} s"
    return Check(name, errors == 0 and now >= until,
                 f"{errors} responses with status >= 500 in {watched:.0f} s watched from "
                 f"{since:%H:%M:%S}Z", seconds=watched)


def count_server_errors(env: Environment, since: datetime) -> int:
    """Request-log entries of the backend with status >= 500 since `since`."""
    query = request_log_filter(env, since, "httpRequest.status>=500")
    return len(log_entries(env, query, limit=10_000))
