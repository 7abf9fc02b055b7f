"""What the panel's buttons do, without the buttons: probe, plan a change, make it.

Every action ends in an `ActionOutcome`: what was done, whether it worked, one line for
the screen (marked with a symbol, never colour alone) and the details a record keeps under
a stable name (`ui.golden_path`, `ui.deploy`, `ui.rollback`, `ui.watch`).

Deploy and rollback are two steps. `plan_deploy` / `plan_rollback` ask the library for the
dry-run plan (nothing changes) and return a `PendingChange` whose `message` says what will
change; only `execute_change` on that pending change, after the person confirmed it, makes
the change, and only if the service still serves what the message said (otherwise nothing
changes and the outcome asks to review again). An environment that is not allow-listed for
changes is refused at the planning step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from netra_ops.config import Environment
from netra_ops.deploy import (
    ChangeResult,
    deploy,
    read_service,
    rollback,
    rollback_target,
    split_text,
)
from netra_ops.errors import DeployError
from netra_ops.probe import GoldenPathResult, golden_path
from netra_ops.ui.marks import BAD, OK, WARN

__all__ = [
    "ActionOutcome",
    "PendingChange",
    "cancel_change",
    "execute_change",
    "golden_path_action",
    "plan_deploy",
    "plan_rollback",
    "split_text",
]


@dataclass(frozen=True)
class ActionOutcome:
    """The end of one action: `outcome` is a word (passed, failed, done, refused, cancelled,
    unchanged, started, stopped, error), `summary` the line shown on screen."""

    action: str
    ok: bool
    outcome: str
    summary: str
    started_at: datetime
    duration_s: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def record_name(self) -> str:
        """The stable name this action is recorded under: `ui.<action>`."""
        return f"ui.{self.action}"

    def record_value(self) -> dict[str, Any]:
        """What the record keeps: time, outcome, duration, the screen line and details."""
        return {"at": self.started_at.isoformat(), "outcome": self.outcome, "ok": self.ok,
                "duration_s": round(self.duration_s, 3), "summary": self.summary,
                **self.details}


@dataclass(frozen=True)
class PendingChange:
    """A deploy or rollback that was planned and waits for an explicit confirmation."""

    action: str
    environment: str
    service: str
    plan: tuple[str, ...]
    serving_before: dict[str, int]
    image: str | None = None
    target: str | None = None
    planned_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def message(self) -> str:
        """What will change, in the words of the plan, ending with the question."""
        verb = "Roll back" if self.action == "rollback" else f"Deploy {self.image}"
        short = self.service.rsplit("/", 1)[-1]
        return f"{verb} ({short} in {self.environment}): {'; '.join(self.plan)}. Confirm?"

    def details(self) -> dict[str, Any]:
        """The pending change as record details."""
        return {"environment": self.environment, "plan": list(self.plan),
                "serving_before": dict(self.serving_before), "image": self.image,
                "target": self.target}


def golden_path_action(env: Environment, *, timeout_s: float = 45.0) -> ActionOutcome:
    """Run the golden-path probe once (login, WebSocket, the five agent events)."""
    started_at, started = datetime.now(UTC), time.monotonic()
    result = golden_path(env, timeout_s=timeout_s)
    return ActionOutcome("golden_path", result.ok, "passed" if result.ok else "failed",
                         _golden_path_line(result), started_at, time.monotonic() - started,
                         _golden_path_details(env, result))


def _golden_path_line(result: GoldenPathResult) -> str:
    if result.ok:
        return (f"{OK} golden path passed in {result.elapsed_ms or 0.0:.0f} ms: all 5 agent "
                f"events, agent_completed after "
                f"{result.latency_ms('agent_completed') or 0.0:.0f} ms")
    missing = f" (missing {', '.join(result.missing)})" if result.report and result.missing \
        else ""
    return f"{BAD} golden path failed at {result.failed_step}: {result.error}{missing}"


def _golden_path_details(env: Environment, result: GoldenPathResult) -> dict[str, Any]:
    return {"environment": env.name, "failed_step": result.failed_step,
            "error": result.error, "missing_events": list(result.missing),
            "elapsed_ms": result.elapsed_ms, "thread_id": result.thread_id}


def plan_rollback(env: Environment, to_revision: str | None = None
                  ) -> PendingChange | ActionOutcome:
    """The rollback's plan to confirm, or an outcome when there is nothing to confirm
    (no earlier Ready revision, already there, changes not allowed)."""
    started_at, started = datetime.now(UTC), time.monotonic()
    try:
        target = to_revision or rollback_target(read_service(env))
        planned = rollback(env, to_revision=target)
    except DeployError as exc:
        return _outcome("rollback", "refused", f"{BAD} rollback refused: {exc}", started_at,
                        started, environment=env.name)
    return _pending_or_outcome(env, planned, started_at, started, target=target)


def plan_deploy(env: Environment, image: str) -> PendingChange | ActionOutcome:
    """The deploy's plan to confirm, or an outcome when there is nothing to confirm."""
    started_at, started = datetime.now(UTC), time.monotonic()
    image = image.strip()
    if not image:
        return _outcome("deploy", "refused", f"{BAD} deploy refused: give the image to "
                        "deploy (e.g. REGISTRY/netra-backend:TAG)", started_at, started,
                        environment=env.name)
    try:
        planned = deploy(env, image)
    except DeployError as exc:
        return _outcome("deploy", "refused", f"{BAD} deploy refused: {exc}", started_at,
                        started, environment=env.name, image=image)
    return _pending_or_outcome(env, planned, started_at, started, image=image)


def _pending_or_outcome(env: Environment, planned: ChangeResult, started_at: datetime,
                        started: float, *, image: str | None = None,
                        target: str | None = None) -> PendingChange | ActionOutcome:
    action = planned.action
    serving = split_text(planned.before.serving)
    if planned.status == "unchanged":
        return _outcome(action, "unchanged", f"{OK} {action}: nothing to change, "
                        f"{serving} already serves", started_at, started,
                        environment=env.name, image=image, target=target)
    if not env.allow_changes:
        return _outcome(action, "refused", f"{BAD} {action} refused: environment "
                        f"{env.name} is not allow-listed for changes (allow_changes in "
                        f"{env.source or 'its file'}); the plan was: {'; '.join(planned.plan)}",
                        started_at, started, environment=env.name, plan=list(planned.plan))
    return PendingChange(action, env.name, planned.before.name, planned.plan,
                         dict(planned.before.serving), image=image, target=target)


def execute_change(env: Environment, pending: PendingChange) -> ActionOutcome:
    """Make the confirmed change, if the service still serves what the plan said."""
    started_at, started = datetime.now(UTC), time.monotonic()
    try:
        now = read_service(env).serving
        if now != pending.serving_before:
            return _outcome(pending.action, "refused", f"{WARN} {pending.action} not made: "
                            f"the service changed since the plan ("
                            f"{split_text(pending.serving_before)} then, {split_text(now)} "
                            "now); review it again", started_at, started, **pending.details())
        change = (rollback(env, to_revision=pending.target, execute=True)
                  if pending.action == "rollback" else
                  deploy(env, pending.image or "", execute=True))
    except DeployError as exc:
        return _outcome(pending.action, "error", f"{BAD} {pending.action} failed: {exc}",
                        started_at, started, **pending.details())
    return _outcome(pending.action, change.status, _change_line(change), started_at, started,
                    **pending.details(), error=change.error, new_revision=change.new_revision,
                    serving_after=change.after.serving if change.after else None)


def _change_line(change: ChangeResult) -> str:
    after = split_text(change.after.serving if change.after else change.before.serving)
    if change.status == "done":
        return f"{OK} {change.action} done in {change.duration_s:.2f} s: traffic now {after}"
    return f"{BAD} {change.action} {change.status}: {change.error}; traffic now {after}"


def cancel_change(pending: PendingChange) -> ActionOutcome:
    """The person declined the change: nothing was changed."""
    return ActionOutcome(pending.action, True, "cancelled",
                         f"{OK} {pending.action} cancelled: nothing changed "
                         f"({split_text(pending.serving_before)} still serves)",
                         datetime.now(UTC), 0.0, pending.details())


def _outcome(action: str, outcome: str, summary: str, started_at: datetime, started: float,
             **details: Any) -> ActionOutcome:
    ok = outcome in ("done", "unchanged", "passed", "cancelled")
    return ActionOutcome(action, ok, outcome, summary, started_at,
                         time.monotonic() - started, details)
