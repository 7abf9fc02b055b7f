"""One guarded way to change a Cloud Run service: plan, refuse or apply, wait, audit.

Every change (deploy, traffic split, rollback) goes through `apply_change`: it reads the
service, computes the plan, and without `execute=True` returns the plan having changed
nothing. With it, the environment must be allow-listed (`allow_changes = true`); the
service is patched through Google's Cloud Run client, the long-running operation is waited
on up to a deadline, and an audit entry records before and after. When the deadline passes
first, traffic is pinned back to what served before, so a late revision cannot take it.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd
from google.api_core import exceptions as gexc
from google.api_core.future.polling import DEFAULT_POLLING
from google.cloud import run_v2

from netra_ops.cloud import (
    AuditEntry,
    ServiceState,
    api_errors,
    append_audit,
    read_service,
    service_name,
    services_client,
)
from netra_ops.config import Environment
from netra_ops.errors import ChangesNotAllowedError

__all__ = ["ChangeResult", "apply_change", "pin_traffic"]

Planner = Callable[[ServiceState], list[str]]
Mutator = Callable[[run_v2.Service, ServiceState], None]
_POLLING = DEFAULT_POLLING.with_delay(initial=0.1, maximum=2.0, multiplier=1.5)
_REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION


@dataclass(frozen=True)
class ChangeResult:
    """What a change did: its plan, status, the service before and after, the audit entry.

    status: `planned` (dry run), `unchanged` (nothing to do), `done`, `failed`,
    `deadline_exceeded`.
    """

    action: str
    status: str
    executed: bool
    plan: tuple[str, ...]
    before: ServiceState
    after: ServiceState | None
    duration_s: float
    error: str | None
    audit: AuditEntry

    @property
    def ok(self) -> bool:
        """True unless the change was attempted and did not complete."""
        return self.status in ("planned", "unchanged", "done")

    @property
    def new_revision(self) -> str | None:
        """The revision the change created, if any."""
        if self.after is None or self.after.latest_created == self.before.latest_created:
            return None
        return self.after.latest_created

    @property
    def serving_after(self) -> str | None:
        """The revision that serves after the change (the one before, when the service was
        not read again)."""
        return (self.after or self.before).serving_revision

    def to_frame(self) -> pd.DataFrame:
        """The plan, one line a row, with the outcome."""
        return pd.DataFrame({"action": self.action, "step": list(self.plan) or ["(nothing)"],
                             "status": self.status})


def apply_change(env: Environment, action: str, planner: Planner, mutate: Mutator, *,
                 execute: bool, deadline_s: float) -> ChangeResult:
    """Plan with `planner`; with `execute=True` apply `mutate` to the service and wait."""
    if execute and not env.allow_changes:
        raise ChangesNotAllowedError(
            f"environment {env.name} (project {env.project}) is not allow-listed for changes; "
            f"set allow_changes = true in {env.source or 'its file'} if you mean it, or run "
            "without execute to see the plan")
    before = read_service(env)
    plan = tuple(planner(before))
    if not plan or not execute:
        status = "unchanged" if not plan else "planned"
        return _finish(env, action, status, False, plan, before, None, 0.0, None)
    started = time.monotonic()
    status, error = _patch_and_wait(env, before, mutate, deadline_s)
    after = read_service(env)
    return _finish(env, action, status, True, plan, before, after,
                   time.monotonic() - started, error)


def _patch_and_wait(env: Environment, before: ServiceState, mutate: Mutator,
                    deadline_s: float) -> tuple[str, str | None]:
    client = services_client(env)
    with api_errors(env, "updating the service"):
        service = client.get_service(name=service_name(env))
        mutate(service, before)
        try:
            client.update_service(service=service).result(timeout=deadline_s,
                                                          polling=_POLLING)
        except concurrent.futures.TimeoutError:
            pin_traffic(env, before.serving)
            return "deadline_exceeded", (
                f"not ready within the deadline of {deadline_s:g} s; traffic kept on "
                f"{_split_text(before.serving)}")
        except gexc.GoogleAPICallError as exc:
            return "failed", f"{type(exc).__name__}: {exc.message}"
    return "done", None


def pin_traffic(env: Environment, split: Mapping[str, int]) -> None:
    """Send traffic to exactly these revisions (short name -> percent) and wait briefly."""
    if not split:
        return
    client = services_client(env)
    service = client.get_service(name=service_name(env))
    set_revision_targets(service, split)
    client.update_service(service=service).result(timeout=60, polling=_POLLING)


def set_revision_targets(service: run_v2.Service, split: Mapping[str, int]) -> None:
    """Replace the service's traffic with REVISION targets."""
    del service.traffic[:]
    service.traffic.extend(run_v2.TrafficTarget(type_=_REVISION, revision=name, percent=pct)
                           for name, pct in split.items())


def _finish(env: Environment, action: str, status: str, executed: bool, plan: tuple[str, ...],
            before: ServiceState, after: ServiceState | None, duration_s: float,
            error: str | None) -> ChangeResult:
    entry = append_audit(AuditEntry(
        action=action, environment=env.name, project=env.project, service=before.name,
        executed=executed, outcome=status, plan=plan, before=before.summary(),
        after=after.summary() if after else None, error=error))
    return ChangeResult(action, status, executed, plan, before, after, duration_s, error, entry)


def _split_text(split: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in split.items()) or "no revision"
