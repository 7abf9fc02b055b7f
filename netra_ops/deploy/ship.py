"""Ship a release to all three services (seed 1.2-1.3): auth, backend, frontend, in order.

    shipment = ship(env, release_images(env), execute=True)
    shipment.to_frame()        # per service: image by digest, before -> after, verified
    shipment.checks()          # the verdict's rows, each named for its service
    shipment.decision()        # continue / rollback (what was shipped) / fail

Each service in `DEPLOY_ORDER` (auth first: the backend needs it; the frontend last: it
needs both) is deployed by digest (`deploy`: the tag resolved through Artifact Registry)
with the memory, CPU, request timeout and concurrency its `[services.ROLE]` sets, then
verified before the next one starts: its new revision Ready and serving all traffic, the
digest serving, health 200 through the service's URL, and those resources read back from
the serving revision; the backend also takes a WebSocket connection and its service URLs
are checked against Cloud Run's (`probe.service_urls`; `url_decision` decides with them).
The first service that fails stops the chain: the shipment names
it, and lists what was already shipped (new revisions), which is what a rollback undoes,
service by service (`rollback(env, role=...)`, runbook 06).

With `rollout` (`RolloutOptions`), the backend's new revision gets traffic in steps
(`netra_ops.deploy.rollout`): it starts with none, each step is watched for the rollback
triggers, and only at 100 % is it verified as above. A firing trigger sends traffic back to
the revision before and stops the chain (decision `rollback`); data that cannot decide holds
the split and stops it (`hold`). Auth and the frontend ship at once, as without it.

Without `execute=True` every service's plan is shown and nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from netra_ops.checks import Check
from netra_ops.cloud import ServiceState, read_service
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy.change import ChangeResult, refuse_unless_allowed
from netra_ops.deploy.release import DEPLOY_ORDER, deploy, release_images
from netra_ops.deploy.rollout import Rollout, RolloutOptions, roll_out
from netra_ops.deploy.url_decision import url_decision, with_url_checks
from netra_ops.deploy.verify import Checks, change_checks, deploy_decision, verify
from netra_ops.errors import (
    ApiUnreachableError,
    ChangesNotAllowedError,
    ConfigError,
    DeployError,
)
from netra_ops.probe.url_consistency import ServiceUrls, service_urls

__all__ = ["ServiceShipment", "Shipment", "read_services", "services_frame", "ship"]

_RESOURCES = ("memory", "cpu", "timeout_s", "concurrency")


@dataclass(frozen=True)
class ServiceShipment:
    """One service of a shipment: the image asked for, the change (None when it could not
    be made: `error` says why) and its verification (None when not verified); the backend's
    includes the service URLs (`urls`, seed: "Service URL mismatch")."""

    role: ServiceRole
    asked: str
    change: ChangeResult | None
    checks: Checks | None
    error: str | None = None
    urls: ServiceUrls | None = None
    rollout: Rollout | None = None

    @property
    def ok(self) -> bool:
        """True when the change completed (or was planned), its rollout (if any) reached
        100 %, and every check passed."""
        return (self.error is None and self.change is not None and self.change.ok
                and not self.rollout_stopped and (self.checks is None or self.checks.ok))

    @property
    def rollout_stopped(self) -> bool:
        """True when a gradual rollout was made and stopped before 100 %."""
        return self.rollout is not None and self.rollout.executed and not self.rollout.completed

    def decision(self) -> tuple[str, str]:
        """What this service's change and verification decide (`deploy_decision`; with the
        service URLs, `url_decision`: a mismatch the revision before had too escalates); a
        rollout that stopped decides itself (`Rollout.decision`: rollback, hold or fail)."""
        if self.rollout_stopped:
            assert self.rollout is not None
            return self.rollout.decision()
        if self.change is None or self.checks is None:
            return "fail", self.error or "not deployed"
        if self.urls is not None:
            return url_decision(self.change, self.checks, self.urls)
        return deploy_decision(self.change, self.checks)

    @property
    def new_revision(self) -> str | None:
        """The revision this shipment created for the service (Ready or not), if any."""
        return self.change.new_revision if self.change is not None else None

    @property
    def shipped(self) -> str | None:
        """The revision the shipment put in place: the one it created (Ready or not), or the
        existing one it sent the traffic back to; None when it changed nothing."""
        change = self.change
        if change is None or not change.executed:
            return None
        if change.new_revision:
            return change.new_revision
        after = change.serving_after
        moved = change.status == "done" and after != change.before.serving_revision
        return after if moved else None

    def row(self) -> dict[str, Any]:
        """The service before and after, and whether it verified: one row of the table."""
        change, checks = self.change, self.checks
        before = change.before if change else None
        after = checks.state if checks else (change.after if change else None)
        info = after.serving_info if after else None
        failing = [c.name for c in checks.checks if not c.ok] if checks else []
        return {
            "service": self.role, "asked": self.asked,
            "image": change.image if change else None,
            "status": change.status if change else "not deployed",
            "revision_before": before.serving_revision if before else None,
            "image_before": before.serving_image if before else None,
            "revision_after": info.name if info else None,
            "image_after": info.image if info else None,
            "memory": info.memory if info else None, "cpu": info.cpu if info else None,
            "timeout_s": info.timeout_s if info else None,
            "concurrency": info.concurrency if info else None,
            "verified": None if checks is None else checks.ok,
            "rollout": self.rollout.status if self.rollout is not None else None,
            "detail": self.error or (self.rollout.decision()[1] if self.rollout_stopped
                                     and self.rollout else "") or "; ".join(failing) or (
                change.error if change and change.error else ""),
        }


@dataclass(frozen=True)
class Shipment:
    """A release shipped (or planned) service by service, in deploy order: the services
    attempted (`services`), those not reached because an earlier one failed
    (`not_attempted`), whether it was executed, and the service URLs as the backend's
    verification found them (`urls`; read after the stop when the backend was not reached,
    then shown, not judged)."""

    services: tuple[ServiceShipment, ...]
    not_attempted: tuple[ServiceRole, ...] = ()
    executed: bool = False
    duration_s: float = 0.0
    stopped: str = ""
    urls: ServiceUrls | None = None
    rollout_options: RolloutOptions | None = None

    @property
    def ok(self) -> bool:
        """True when every service shipped (or was planned) and verified."""
        return not self.not_attempted and all(s.ok for s in self.services)

    @property
    def status(self) -> str:
        """The deploy's status over the services: the first that did not complete
        (`failed`, `deadline_exceeded`; `failed` too when one could not be deployed at
        all; a stopped rollout's `rolled_back`, `held` or `failed`), else `done` (a new
        revision somewhere), `unchanged` or `planned`."""
        for part in self.services:
            if part.change is None:
                return "failed"
            if not part.change.ok:
                return part.change.status
            if part.rollout_stopped and part.rollout is not None:
                return f"rollout_{part.rollout.status}"
        statuses = {s.change.status for s in self.services if s.change is not None}
        return next((s for s in ("done", "planned") if s in statuses), "unchanged")

    @property
    def verified(self) -> tuple[ServiceRole, ...]:
        """The services deployed (or found deployed) and verified, in deploy order."""
        return tuple(s.role for s in self.services if self.executed and s.ok)

    @property
    def failed(self) -> ServiceShipment | None:
        """The service that stopped the chain, if one did."""
        return next((s for s in self.services if not s.ok), None)

    @property
    def failed_role(self) -> ServiceRole | None:
        """The service that stopped an executed shipment (None: none did, or a dry run):
        the one a rollback blames (marks its revision known bad)."""
        failed = self.failed
        return failed.role if failed is not None and self.executed else None

    @property
    def shipped(self) -> dict[ServiceRole, str]:
        """Role -> the revision this shipment put in place (`ServiceShipment.shipped`):
        what a rollback undoes."""
        return {s.role: s.shipped for s in self.services if s.shipped}

    @property
    def rollout(self) -> Rollout | None:
        """The backend's gradual rollout, when one was made."""
        part = self.service("backend")
        return part.rollout if part is not None else None

    def service(self, role: ServiceRole) -> ServiceShipment | None:
        """One service's part of the shipment (None when it was not attempted)."""
        return next((s for s in self.services if s.role == role), None)

    def after(self, role: ServiceRole) -> dict[str, Any]:
        """One service's row of `to_frame()` (empty when it was not attempted)."""
        part = self.service(role)
        return part.row() if part else {}

    def resources(self, role: ServiceRole) -> dict[str, Any]:
        """What the serving revision of `role` reports it runs with: `memory`, `cpu`,
        `timeout_s`, `concurrency` (empty when the service was not attempted)."""
        row = self.after(role)
        return {key: row[key] for key in _RESOURCES if key in row}

    def verification(self, role: ServiceRole) -> Checks | None:
        """One service's verification (None when it was not verified)."""
        part = self.service(role)
        return part.checks if part else None

    def new_revision(self, role: ServiceRole) -> str | None:
        """The revision the shipment created for `role`, if any."""
        part = self.service(role)
        return part.new_revision if part else None

    def to_frame(self) -> pd.DataFrame:
        """One row per service in deploy order: image asked and by digest, change status,
        revision and image before and after, the serving revision's memory, CPU, timeout
        and concurrency read back, verified (None: not verified), what failed."""
        rows = [s.row() for s in self.services]
        rows += [{"service": role, "status": "not attempted", "detail": self.stopped}
                 for role in self.not_attempted]
        return pd.DataFrame(rows)

    def plans(self) -> pd.DataFrame:
        """Every service's plan, one step a row."""
        frames = [s.change.to_frame() for s in self.services if s.change is not None]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def checks(self) -> tuple[Check, ...]:
        """The verdict's rows: per service its change, then its checks, each named
        `role: ...`; a service not reached fails, naming the one that stopped the chain."""
        rows: list[Check] = []
        for part in self.services:
            rows += _service_checks(part)
        rows += [Check(f"{role}: deploy", False, f"not attempted: {self.stopped}")
                 for role in self.not_attempted]
        return tuple(rows)

    def decision(self) -> tuple[str, str]:
        """What the playbook does next, with the reason:

        - `rollback` when a service's new revision failed to deploy or verify, or a service
          could not be deployed after others were shipped (the reason names the service and
          lists what was shipped: what 06 rolls back);
        - `escalate` when nothing was deployed to a service whose serving revision fails
          verification (nothing to roll back from), or the backend's new revision fails only
          on service URLs the revision before had too (a rollback would not fix them): a
          human decides;
        - `fail` when the first service could not be deployed at all (netra-ops could not
          act; nothing changed);
        - `continue` otherwise (a dry run included: its reason says nothing was deployed).
        """
        failed = self.failed
        if failed is None:
            return "continue", self._continue_reason()
        shipped = _listed(self.shipped)
        if failed.change is None:
            action = "rollback" if self.shipped else "fail"
            return action, (f"{failed.role} could not be deployed: {failed.error}; "
                            f"shipped before it: {shipped}")
        action, reason = failed.decision()
        if action == "continue":  # a dry run: nothing was deployed
            return action, self._continue_reason()
        return action, f"{failed.role}: {reason}; shipped: {shipped}"

    def to_record(self) -> dict[str, Any]:
        """What the record keeps: per service the image by digest, status, revisions before
        and after, resources read back, verified; what was shipped and not attempted."""
        rows = {row["service"]: {k: v for k, v in row.items() if k != "service"}
                for row in (s.row() for s in self.services)}
        return {"status": self.status, "services": rows, "shipped": self.shipped,
                "verified": list(self.verified), "failed": self.failed_role,
                "not_attempted": list(self.not_attempted), "stopped": self.stopped or None,
                "executed": self.executed, "duration_s": round(self.duration_s, 3),
                "rollout": self.rollout.to_record() if self.rollout is not None else (
                    self.rollout_options.to_record() | {"status": "planned"}
                    if self.rollout_options is not None else None)}

    def _continue_reason(self) -> str:
        if not self.executed:
            failing = [f"{s.role}: {c.name}" for s in self.services if s.checks is not None
                       for c in s.checks.checks if not c.ok]
            gradual = (f"; the backend: {self.rollout_options.describe()}"
                       if self.rollout_options is not None else "")
            return ("dry run: nothing was deployed; " + (
                f"what serves fails {', '.join(failing)}" if failing else
                "what serves verifies") + f" ({len(self.services)} services planned){gradual}")
        shipped = ", ".join(
            f"{s.role} {s.checks.state.serving_revision} ({s.change.status})"
            for s in self.services if s.change is not None and s.checks is not None)
        if self.status == "unchanged":
            return ("unchanged: nothing to deploy, each service serves its release by digest "
                    f"and verifies: {shipped}")
        return ("every service by digest, Ready, serving its digest, health 200, resources "
                f"as configured: {shipped}")


def read_services(env: Environment) -> dict[ServiceRole, ServiceState]:
    """Every service of the environment as Cloud Run reports it, in deploy order."""
    return {role: read_service(env, role) for role in DEPLOY_ORDER if role in env.services}


def services_frame(states: Mapping[ServiceRole, ServiceState]) -> pd.DataFrame:
    """One row per service: the serving revision, its image, memory, CPU, request timeout
    and concurrency (as its Revision resource reports them), its share of traffic, and
    whether traffic is pinned to named revisions."""
    rows = []
    for role, state in states.items():
        info = state.serving_info
        rows.append({"service": role, "revision": info.name if info else None,
                     "image": info.image if info else None,
                     "percent": info.percent if info else 0,
                     "memory": info.memory if info else None, "cpu": info.cpu if info else None,
                     "timeout_s": info.timeout_s if info else None,
                     "concurrency": info.concurrency if info else None,
                     "pinned": not state.traffic_latest, "known": state.known(info.name)
                     if info else ""})
    return pd.DataFrame(rows)


def ship(env: Environment, images: Mapping[ServiceRole, str] | None = None, *,
         env_vars: Mapping[ServiceRole, Mapping[str, str | None]] | None = None,
         execute: bool = False, deadline_s: float = 900.0,
         health_checks: int = 5, rollout: RolloutOptions | None = None,
         show: bool = True) -> Shipment:
    """Deploy `images` (role -> image; default: the release's, `release_images`) to their
    services in deploy order, each by digest with its resources, timeout and concurrency
    from the environment file, each verified before the next; `env_vars` per role (a value
    of None removes a variable). The first failure stops the chain. `deadline_s` is for
    the whole shipment (a rollout's steps included): each service gets what is left. With
    `rollout`, the backend's new revision gets traffic in its steps (each watched, the
    watch shown live unless `show` is False). A dry run without `execute`."""
    refuse_unless_allowed(env, execute)
    wanted = _images(env, images)
    started = time.monotonic()
    done: list[ServiceShipment] = []
    stopped, rest = "", 0
    for position, role in enumerate(wanted):
        left = deadline_s - (time.monotonic() - started)
        if left <= 0:
            stopped, rest = f"the deadline of {deadline_s:g} s passed before {role}", position
            break
        part = _ship_one(env, role, wanted[role], dict((env_vars or {}).get(role) or {}),
                         execute=execute, deadline_s=left, health_checks=health_checks,
                         rollout=(rollout, show) if rollout and role == "backend" else None)
        done.append(part)
        if execute and not part.ok:
            stopped, rest = f"{role} failed: {_why(part)}", position + 1
            break
    else:
        rest = len(wanted)
    urls = next((p.urls for p in done if p.urls is not None), None) or service_urls(env)
    return Shipment(tuple(done), tuple(list(wanted)[rest:]), execute,
                    time.monotonic() - started, stopped, urls, rollout)


def _images(env: Environment, images: Mapping[ServiceRole, str] | None
            ) -> dict[ServiceRole, str]:
    """The images to ship, in deploy order; ConfigError for a role the environment lacks."""
    chosen = dict(release_images(env) if images is None else images)
    unknown = sorted(set(chosen) - set(env.services))
    if unknown:
        raise ConfigError(f"environment {env.name} has no service {', '.join(unknown)}; its "
                          f"services are {', '.join(env.services)}")
    return {role: chosen[role].strip() for role in DEPLOY_ORDER if role in chosen}


def _ship_one(env: Environment, role: ServiceRole, image: str,
              env_vars: Mapping[str, str | None], *, execute: bool, deadline_s: float,
              health_checks: int,
              rollout: tuple[RolloutOptions, bool] | None = None) -> ServiceShipment:
    started = time.monotonic()
    gradual = rollout is not None and execute
    try:
        change = _deploy(env, role, image, env_vars, execute=execute, deadline_s=deadline_s,
                         send_traffic=not gradual)
        if gradual and change.ok and not (change.new_revision
                                          and change.before.serving_revision):
            # nothing new to roll out, or nothing served before: as without a rollout
            change = _deploy(env, role, image, env_vars, execute=execute,
                             deadline_s=deadline_s - (time.monotonic() - started))
    except (ChangesNotAllowedError, ApiUnreachableError):
        raise  # nothing can be shipped: said at once
    except DeployError as exc:  # no such image or service, a release known bad
        return ServiceShipment(role, image, None, None, str(exc))
    made = None
    if gradual and rollout is not None and change.ok and change.new_revision:
        previous = change.before.serving_revision or ""
        made = roll_out(env, change.new_revision, previous, rollout[0], execute=True,
                        deadline_s=deadline_s - (time.monotonic() - started), show=rollout[1])
        if not made.completed:  # what serves now, shown; the rollout decides
            return ServiceShipment(role, image, change, verify(
                env, role=role, health_checks=health_checks), rollout=made)
    checks = verify(env, change.image if execute else None, role=role,
                    new_revision=change.new_revision if execute else None,
                    resources=execute, health_checks=health_checks)
    if role != "backend":
        return ServiceShipment(role, image, change, checks)
    urls = service_urls(env)  # the URLs the backend is configured with, against Cloud Run's
    return ServiceShipment(role, image, change, with_url_checks(checks, urls), urls=urls,
                           rollout=made)


def _deploy(env: Environment, role: ServiceRole, image: str,
            env_vars: Mapping[str, str | None], *, execute: bool, deadline_s: float,
            send_traffic: bool = True) -> ChangeResult:
    service = env.services[role]
    return deploy(env, image, role=role, env_vars=env_vars, memory=service.memory,
                  cpu=service.limits["cpu"], timeout_s=service.timeout_s,
                  concurrency=service.concurrency,
                  session_affinity=service.session_affinity, deadline_s=deadline_s,
                  send_traffic=send_traffic, execute=execute)


def _service_checks(part: ServiceShipment) -> list[Check]:
    if part.change is None:
        return [Check(f"{part.role}: deploy", False, part.error or "not deployed")]
    rows = change_checks(part.change, part.checks) if part.checks else (
        Check(part.change.action, part.change.ok, part.change.error or part.change.status),)
    if part.rollout is not None and part.rollout.executed:
        rows = (rows[0], *part.rollout.checks(), *rows[1:])
    return [Check(f"{part.role}: {c.name}", c.ok, c.detail, seconds=c.seconds) for c in rows]


def _why(part: ServiceShipment) -> str:
    if part.error:
        return part.error
    if part.rollout_stopped and part.rollout is not None:
        return part.rollout.decision()[1]
    assert part.change is not None
    if not part.change.ok:
        return f"{part.change.status}: {part.change.error}"
    failing = [c for c in (part.checks.checks if part.checks else ()) if not c.ok]
    return "; ".join(f"{c.name}: {c.detail}" for c in failing)


def _listed(shipped: Mapping[ServiceRole, str]) -> str:
    return ", ".join(f"{role} ({name})" for role, name in shipped.items()) or "nothing"
