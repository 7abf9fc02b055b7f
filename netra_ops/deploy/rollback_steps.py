"""Runbook 06's steps around `rollback` for one service (seed 4.2-4.3): from which revision,
to which, the known-bad mark, the validation (`netra_ops.deploy.rollbacks` does them for
each service a shipment changed).

    suspect = rolled_back_from(before, from_revision, deployed=new_revision_of_02)
    target = rollback_choice(before, to_revision, avoid=[suspect])
    change = rollback(env, to_revision=target.revision, execute=execute)
    marked = mark_rolled_back_from(env, suspect, target, change, execute=execute)
    validation = validate_rollback_to(env, target, execute=execute, within_s=120, quiet_s=300)
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from netra_ops.cloud import ServiceState
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy.change import ChangeResult
from netra_ops.deploy.marks import mark_revision
from netra_ops.deploy.release import RollbackTarget, choose_rollback_target
from netra_ops.deploy.verify import Checks, validate_rollback

__all__ = [
    "changes_frame",
    "mark_rolled_back_from",
    "quiet_window_s",
    "rollback_choice",
    "rolled_back_from",
    "validate_rollback_to",
]


def rolled_back_from(state: ServiceState, named: str = "",
                     deployed: str | None = None) -> str | None:
    """The revision rolled back from: `named`, else the one this incident's deploy created
    (`deployed`), else the one serving now."""
    return named or deployed or state.serving_revision


def rollback_choice(state: ServiceState, to_revision: str = "",
                    avoid: Iterable[str | None] = ()) -> RollbackTarget:
    """`to_revision` when named (known good as the service records it, or not), else the
    newest known-good revision not in `avoid` (`choose_rollback_target`)."""
    if to_revision:
        return RollbackTarget(to_revision, to_revision in state.known_good,
                              "named by to_revision")
    return choose_rollback_target(state, avoid=[name for name in avoid if name])


def mark_rolled_back_from(env: Environment, suspect: str | None, target: RollbackTarget,
                          change: ChangeResult, *, role: ServiceRole = "backend",
                          execute: bool) -> ChangeResult | None:
    """Mark the revision rolled back from known bad on the service of `role`, unless there
    is none, it is the target, or the rollback failed (None then)."""
    if not suspect or suspect == target.revision or not change.ok:
        return None
    return mark_revision(env, suspect, "bad", role=role, execute=execute)


def changes_frame(*changes: ChangeResult | None) -> pd.DataFrame:
    """The plans of the changes made (None: not made), one table."""
    return pd.concat([c.to_frame() for c in changes if c is not None], ignore_index=True)


def quiet_window_s(quiet_s: float, execute: bool) -> float:
    """How long the validation watches the logs for 5xx: `quiet_s` after a real rollback;
    a plan does not wait."""
    return quiet_s if execute else 0.0


def validate_rollback_to(env: Environment, target: RollbackTarget | None, *, execute: bool,
                         within_s: float, quiet_s: float) -> Checks:
    """Seed 4.3 after the rollback: health from the backend's target revision (any revision
    for a plan, or when the backend was not rolled back) within `within_s`, then
    `quiet_window_s` of logs without a 5xx."""
    revision = target.revision if execute and target is not None else None
    return validate_rollback(env, revision=revision, within_s=within_s,
                             quiet_s=quiet_window_s(quiet_s, execute))
