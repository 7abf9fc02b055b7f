"""One guarded way to change a Cloud Run service: plan, refuse or apply, wait, audit.

Every change (deploy, traffic split, rollback, a mark) of any of the three services goes
through `apply_change`: it reads the service (`role`: auth, backend, frontend), computes the
plan, and without `execute=True` returns the plan having changed nothing. With it, the
environment must be allow-listed (`allow_changes = true`); the service is patched through
Google's Cloud Run client, the long-running operation is waited on up to a deadline, and an
audit entry records before and after.

Traffic is never left to chance. A change in two steps (a deploy: `mutate` creates the new
revision with traffic pinned to what serves, `settle` then moves traffic to it once it is
Ready) has traffic on a named revision at every moment, so a process killed in the middle
(a cell timeout, a run deadline, SIGTERM) leaves it on the revision that served before,
or on the new one once Ready. An audit entry `started` is written before the first patch
(with `$NETRA_OPS_AUDIT_LOG` it reaches the file at once) and names that revision. When
the deadline passes first, or the process is interrupted while it can still act (Ctrl-C,
SIGTERM in a script), traffic is pinned back to what served before, and the entry says so.
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
from netra_ops.config import Environment, ServiceRole
from netra_ops.errors import ChangesNotAllowedError

__all__ = ["ChangeResult", "apply_change", "pin_traffic", "refuse_unless_allowed",
           "set_revision_targets", "split_text"]

Planner = Callable[[ServiceState], list[str]]
Mutator = Callable[[run_v2.Service, ServiceState], bool | None]
"""Changes the Service read just before (given the state read before the change); returns
False when, as it turns out, there is nothing to update."""
_POLLING = DEFAULT_POLLING.with_delay(initial=0.1, maximum=2.0, multiplier=1.5)
_REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
_PIN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ChangeResult:
    """What a change did: its plan, status, the service before and after, the audit entry.

    status: `planned` (dry run), `unchanged` (nothing to do), `done`, `failed`,
    `deadline_exceeded`. `role` is the service changed; `image` the image a deploy put in
    the template (by digest), None for other changes.
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
    role: ServiceRole = "backend"
    image: str | None = None

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
        return pd.DataFrame({"action": self.action, "service": self.role,
                             "step": list(self.plan) or ["(nothing)"], "status": self.status})


def apply_change(env: Environment, action: str, planner: Planner, mutate: Mutator, *,
                 execute: bool, deadline_s: float, role: ServiceRole = "backend",
                 settle: Mutator | None = None) -> ChangeResult:
    """Plan with `planner`; with `execute=True` apply `mutate` to the service of `role` and
    wait, then `settle` (if given: a second update once the first is done, e.g. traffic to
    the new revision), all within `deadline_s`."""
    refuse_unless_allowed(env, execute)
    before = read_service(env, role)
    plan = tuple(planner(before))
    if not plan or not execute:
        status = "unchanged" if not plan else "planned"
        return _finish(env, role, action, status, False, plan, before, None, 0.0, None)
    _audit(env, action, "started", True, plan, before, None,
           note=f"in progress; traffic stays on {split_text(before.serving)} until it is done")
    started = time.monotonic()
    status, error = _patch_and_wait(env, role, action, plan, before, (mutate, settle),
                                    deadline_s)
    after = read_service(env, role)
    return _finish(env, role, action, status, True, plan, before, after,
                   time.monotonic() - started, error)


def refuse_unless_allowed(env: Environment, execute: bool, *, why: str = "") -> None:
    """ChangesNotAllowedError for a change (`execute`) to an environment that is not
    allow-listed: before any call to Google. `why` says what the change would do."""
    if execute and not env.allow_changes:
        raise ChangesNotAllowedError(
            f"environment {env.name} (project {env.project}) is not allow-listed for changes"
            f"{f', and {why}' if why else ''}; set allow_changes = true in "
            f"{env.source or 'its file'} if you mean it, or run without execute to see the plan")


def _patch_and_wait(env: Environment, role: ServiceRole, action: str, plan: tuple[str, ...],
                    before: ServiceState, steps: tuple[Mutator, Mutator | None],
                    deadline_s: float) -> tuple[str, str | None]:
    deadline = time.monotonic() + deadline_s
    client = services_client(env)
    name = service_name(env, role)
    try:
        with api_errors(env, f"updating service {name}"):
            for step in steps:
                if step is None:
                    continue
                service = client.get_service(name=name)
                if step(service, before) is False:
                    continue
                client.update_service(service=service).result(
                    timeout=max(deadline - time.monotonic(), 0.1), polling=_POLLING)
    except concurrent.futures.TimeoutError:
        pin_traffic(env, before.serving, role)
        return "deadline_exceeded", (
            f"not done within the deadline of {deadline_s:g} s; traffic kept on "
            f"{split_text(before.serving)}")
    except gexc.GoogleAPICallError as exc:
        return "failed", f"{type(exc).__name__}: {exc.message}"
    except BaseException:  # Ctrl-C, SIGTERM in a script: a known revision, then stop
        _pin_when_interrupted(env, role, action, plan, before)
        raise
    return "done", None


def _pin_when_interrupted(env: Environment, role: ServiceRole, action: str,
                          plan: tuple[str, ...], before: ServiceState) -> None:
    """Traffic back to what served before, and an audit entry that says so (or that it
    could not be done: the interruption is raised either way)."""
    try:
        pin_traffic(env, before.serving, role)
        note = f"interrupted; traffic pinned back to {split_text(before.serving)}"
    except Exception as exc:  # the API, too, may be out of reach
        note = f"interrupted; pinning traffic back to {split_text(before.serving)} failed: {exc}"
    _audit(env, action, "interrupted", True, plan, before, None, note=note)


def pin_traffic(env: Environment, split: Mapping[str, int], role: ServiceRole = "backend") -> None:
    """Send traffic of the service of `role` to exactly these revisions (short name ->
    percent) and wait briefly."""
    if not split:
        return
    client = services_client(env)
    service = client.get_service(name=service_name(env, role))
    set_revision_targets(service, split)
    client.update_service(service=service).result(timeout=_PIN_TIMEOUT_S, polling=_POLLING)


def set_revision_targets(service: run_v2.Service, split: Mapping[str, int]) -> None:
    """Replace the service's traffic with REVISION targets."""
    del service.traffic[:]
    service.traffic.extend(run_v2.TrafficTarget(type_=_REVISION, revision=name, percent=pct)
                           for name, pct in split.items())


def _finish(env: Environment, role: ServiceRole, action: str, status: str, executed: bool,
            plan: tuple[str, ...], before: ServiceState, after: ServiceState | None,
            duration_s: float, error: str | None) -> ChangeResult:
    entry = _audit(env, action, status, executed, plan, before, after, error)
    return ChangeResult(action, status, executed, plan, before, after, duration_s, error,
                        entry, role)


def _audit(env: Environment, action: str, outcome: str, executed: bool,
           plan: tuple[str, ...], before: ServiceState, after: ServiceState | None,
           error: str | None = None, *, note: str | None = None) -> AuditEntry:
    return append_audit(AuditEntry(
        action=action, environment=env.name, project=env.project, service=before.name,
        executed=executed, outcome=outcome, plan=plan, before=before.summary(),
        after=after.summary() if after else None, error=error, note=note))


def split_text(split: Mapping[str, int]) -> str:
    """`rev-a 90%, rev-b 10%` ("no revision" for an empty split)."""
    return ", ".join(f"{name} {pct}%" for name, pct in split.items()) or "no revision"
