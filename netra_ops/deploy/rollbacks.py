"""Rolling back what a shipment changed, service by service (runbook 06, seed 4.2-4.3).

    plan = plan_rollbacks(env, services, shipped=shipped_by_02)   # frontend first, auth last
    done = roll_back(env, plan, execute=execute)                  # rollback + known-bad mark
    validation = validate_rollback_to(env, done.backend_target, execute=execute, ...)
    others = rolled_back_checks(env, done, execute=execute)       # auth and frontend
    outcome = done.outcome(validation, golden_path(env), watched_s)

Which services: those named, else every service the shipment created a revision for
(02's `shipped`), else the backend. For each: from the revision the shipment created (the
backend's may be named), to the newest known good revision of that service (the backend's
may be named; else the newest Ready one neither known bad nor rolled back from). The
revision of the service to blame (the one 02 says failed, else the backend, which seed
4.1's triggers watch) is then marked known bad on its service; the others only went back
with the release. The frontend goes back first and auth last, each before what it needs.

The golden path where traffic now is is reported, not judged: in the seed's story the
previous build is the stale one, so a correct rollback may land where the path is broken.
That, or a target not known good, is escalated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from netra_ops import probe
from netra_ops.checks import Check
from netra_ops.cloud import ServiceState, read_service
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy.change import ChangeResult
from netra_ops.deploy.release import DEPLOY_ORDER, RollbackTarget, rollback
from netra_ops.deploy.rollback_steps import (
    changes_frame,
    mark_rolled_back_from,
    rollback_choice,
    rolled_back_from,
)
from netra_ops.deploy.verify import Checks, verify
from netra_ops.errors import ConfigError

__all__ = ["RollbackOutcome", "Rollbacks", "ServiceRollback", "plan_rollbacks", "roll_back",
           "rolled_back_checks"]


@dataclass(frozen=True)
class ServiceRollback:
    """One service's rollback: the state before, the revision rolled back from (`suspect`)
    and the target, and whether that revision is to blame (`blamed`: it is marked known bad;
    otherwise it goes back only with the release); once made, the change and the known-bad
    mark (None: not marked)."""

    role: ServiceRole
    before: ServiceState
    suspect: str | None
    target: RollbackTarget
    blamed: bool = True
    change: ChangeResult | None = None
    mark: ChangeResult | None = None

    def row(self) -> dict[str, Any]:
        """From, to, why, and (once made) the rollback's and the mark's status."""
        return {"service": self.role, "serving_before": self.before.serving_revision,
                "rolled_back_from": self.suspect, "target": self.target.revision,
                "known_good": self.target.known_good, "reason": self.target.reason,
                "status": self.change.status if self.change else "not made",
                "known_bad_mark": self.mark.status if self.mark else
                "not marked" if self.blamed else "not marked: back with the release"}


@dataclass(frozen=True)
class Rollbacks:
    """The services to roll back (or rolled back), the frontend first and auth last."""

    services: tuple[ServiceRollback, ...]

    @property
    def backend(self) -> ServiceRollback | None:
        """The backend's rollback, if it is one of them."""
        return next((s for s in self.services if s.role == "backend"), None)

    @property
    def backend_target(self) -> RollbackTarget | None:
        """Where the backend goes back to (None: it is not rolled back)."""
        return self.backend.target if self.backend else None

    @property
    def status(self) -> str:
        """The first rollback that did not complete (`failed`, `deadline_exceeded`), else
        `done` (one moved traffic), `planned` or `unchanged`; `not made` before
        `roll_back`."""
        statuses = [s.change.status for s in self.services if s.change is not None]
        failing = [status for status in statuses
                   if status not in ("done", "planned", "unchanged")]
        if failing or not statuses:
            return failing[0] if failing else "not made"
        return next((s for s in ("done", "planned") if s in statuses), "unchanged")

    def plan_figures(self) -> dict[str, Any]:
        """What 06 records of the plan: the services, and the backend's revision before,
        revision rolled back from, target, whether known good and why (None when the
        backend is not rolled back), every service's row under `rollbacks`."""
        backend = self.backend
        return {"services": [s.role for s in self.services],
                "revision_before": backend.before.serving_revision if backend else None,
                "rolled_back_from": backend.suspect if backend else None,
                "rollback_target": backend.target.revision if backend else None,
                "rollback_target_known_good": backend.target.known_good if backend else None,
                "rollback_target_reason": backend.target.reason if backend else None,
                "rollbacks": {s.role: s.row() for s in self.services}}

    def change_figures(self) -> dict[str, Any]:
        """What 06 records of the rollbacks made: the status, the backend's known-bad mark,
        every service's row under `rollbacks`, and the audit entries."""
        backend = self.backend
        mark = backend.mark if backend else None
        return {"rollback_status": self.status,
                "known_bad_mark": mark.status if mark else "not marked",
                "rollbacks": {s.role: s.row() for s in self.services},
                "audit": [c.audit.to_dict() for s in self.services
                          for c in (s.change, s.mark) if c is not None]}

    def describe(self) -> str:
        """Each service's target, and why, for a reader (Markdown)."""
        return "\n".join(f"- **{s.role}**: from `{s.suspect}` to `{s.target.revision}`: "
                         f"{s.target.reason}." for s in self.services)

    def to_frame(self) -> pd.DataFrame:
        """One row per service."""
        return pd.DataFrame([s.row() for s in self.services])

    def changes_frame(self) -> pd.DataFrame:
        """The plans of the rollbacks and marks made, one table."""
        return changes_frame(*(c for s in self.services for c in (s.change, s.mark)))

    def change_checks(self) -> tuple[Check, ...]:
        """The verdict's rows of the rollbacks themselves: each completed (or was planned)."""
        return tuple(Check(f"{s.role}: rollback", s.change.ok, s.change.error or (
            f"{s.change.status}: " + ("; ".join(s.change.plan) or "nothing to change")))
            for s in self.services if s.change is not None)

    def outcome(self, validation: Checks, path: probe.GoldenPathResult,
                watched_s: float) -> RollbackOutcome:
        """What the rollbacks found (see `RollbackOutcome`)."""
        backend = self.backend
        others = tuple(s for s in self.services if s.role != "backend")
        return RollbackOutcome(backend.suspect if backend else None, self.backend_target,
                               validation, path, watched_s, others)


def plan_rollbacks(env: Environment, services: Sequence[str] = (), *,
                   shipped: Mapping[str, str | None] | None = None, to_revision: str = "",
                   from_revision: str = "", blamed: str | None = None) -> Rollbacks:
    """Which services to roll back (`services`, else those `shipped` names with a new
    revision, as 02 records it, else the backend) and, per service, from which revision
    (`from_revision` for the backend, else the one the shipment created, else the serving
    one) to which (`to_revision` for the backend, else `choose_rollback_target`). Only the
    revision of the service to blame is marked known bad: `blamed` (the one 02 says failed),
    else the backend (seed 4.1's triggers watch it); the others go back with the release.
    ConfigError for a service the environment does not have."""
    unknown = sorted(set(services) - set(env.services))
    if unknown:
        raise ConfigError(f"no service {', '.join(unknown)} in environment {env.name}; its "
                          f"services are {', '.join(env.services)}; name some of them in "
                          "`services`, or none for every service 02 shipped")
    chosen = set(services) or {role for role, name in (shipped or {}).items() if name}
    plans = []
    for role in reversed(DEPLOY_ORDER):
        if role not in (chosen or {"backend"}):
            continue
        before = read_service(env, role)
        backend = role == "backend"
        suspect = rolled_back_from(before, from_revision if backend else "",
                                   (shipped or {}).get(role))
        target = rollback_choice(before, to_revision if backend else "", avoid=[suspect])
        plans.append(ServiceRollback(role, before, suspect, target,
                                     blamed=role == (blamed or "backend")))
    return Rollbacks(tuple(plans))


def roll_back(env: Environment, plan: Rollbacks, *, execute: bool) -> Rollbacks:
    """Each planned rollback made (traffic pinned to its target) and, for the service to
    blame, its revision rolled back from marked known bad on its service; a plan of each
    without `execute`. A failed
    rollback does not stop the others (each service is put back on its own)."""
    done = []
    for part in plan.services:
        change = rollback(env, to_revision=part.target.revision, role=part.role,
                          execute=execute)
        mark = mark_rolled_back_from(env, part.suspect, part.target, change, role=part.role,
                                     execute=execute) if part.blamed else None
        done.append(replace(part, change=change, mark=mark))
    return Rollbacks(tuple(done))


def rolled_back_checks(env: Environment, rollbacks: Rollbacks, *, execute: bool,
                       health_checks: int = 3) -> tuple[Check, ...]:
    """Rows for the services other than the backend (the backend's seed 4.3 validation is
    `validate_rollback_to`): the target Ready and serving all traffic (with `execute`), and
    health 200 through the service's URL."""
    rows: list[Check] = []
    for part in rollbacks.services:
        if part.role == "backend":
            continue
        checks = verify(env, role=part.role, websocket=False, health_checks=health_checks,
                        new_revision=part.target.revision if execute else None)
        rows += [Check(f"{part.role}: {c.name}", c.ok, c.detail, seconds=c.seconds)
                 for c in checks.checks if c.name != "serving image"]
    return tuple(rows)


@dataclass(frozen=True)
class RollbackOutcome:
    """Where the rollback went and what it found: the backend's (from `rolled_back_from` to
    `target`; None when the backend was not rolled back), the validation (judged), the
    golden path where traffic now is (reported), `watched_s` of logs without a 5xx, and the
    other services rolled back (`others`)."""

    rolled_back_from: str | None
    target: RollbackTarget | None
    validation: Checks
    path: probe.GoldenPathResult
    watched_s: float
    others: tuple[ServiceRollback, ...] = ()

    @property
    def escalate(self) -> bool:
        """True when the golden path is broken where traffic is, or a target is not known
        good: a human decides what next."""
        targets = [self.target, *(o.target for o in self.others if o.role != "backend")]
        return not self.path.ok or not all(t.known_good for t in targets if t is not None)

    @property
    def reason(self) -> str:
        """The decision's reason, in one sentence."""
        serving = self.validation.state.serving_revision
        verdict = "passed" if self.validation.ok else "failed"
        backend = (f"rolled back from {self.rolled_back_from} to {serving} ({self._known()}; "
                   if self.target is not None else f"the backend kept {serving} (")
        others = "".join(f"; {o.role} rolled back from {o.suspect} to {o.target.revision} "
                         f"({'known good' if o.target.known_good else 'not known good'})"
                         for o in self.others if o.role != "backend")
        return (f"{backend}seed 4.3 {verdict}, no 5xx watched {self.watched_s:g} s){others}; "
                f"the golden path {self._works()}")

    def describe(self) -> str:
        """The outcome for a reader (Markdown)."""
        serving = self.validation.state.serving_revision
        then = "; escalated: the fix needs another attempt." if not self.path.ok else "."
        known = f" ({self._known()})" if self.target is not None else ""
        return f"**The golden path {self._works()}**: `{serving}`{known}{then}"

    def _works(self) -> str:
        return "works there" if self.path.ok else f"is broken there ({self.path.error})"

    def _known(self) -> str:
        return "known good" if self.target and self.target.known_good else "not known good"
