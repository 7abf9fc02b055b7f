"""Runbook 03's fix (seed Phase 2): the drift's sync plan, deployed, and the drift read again.

    fix = plan_fix(env, drift)    # no plan when the configuration could not be read
    fix = apply_fix(env, fix, image=image, execute=execute)
    fix.drift_now                 # the reading the verdict judges: after a real deploy, again

A deploy is made only when the plan changes something (or an `image` is named); with
`execute=False` it is a plan, and the drift is not read again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from netra_ops import probe
from netra_ops.config import Environment
from netra_ops.deploy.change import ChangeResult
from netra_ops.deploy.release import deploy, release_image

__all__ = ["ConfigFix", "apply_fix", "plan_fix"]


@dataclass(frozen=True)
class ConfigFix:
    """A drift, the plan that ends it (None: the configuration could not be read), the
    deploy that applied it (None: none was needed) and the drift read after a real deploy."""

    drift: probe.DriftResult
    plan: probe.SyncPlan | None
    change: ChangeResult | None = None
    after: probe.DriftResult | None = None

    @property
    def changes(self) -> list[str] | None:
        """The keys the plan changes (None without a plan)."""
        return [c.key for c in self.plan.changes] if self.plan is not None else None

    @property
    def status(self) -> str:
        """The deploy's status, `nothing to do`, or `not planned` (no plan)."""
        if self.change is not None:
            return self.change.status
        return "nothing to do" if self.plan is not None else "not planned"

    @property
    def drift_now(self) -> probe.DriftResult:
        """The newest reading: after the deploy when there was one, else the first."""
        return self.after or self.drift

    def cannot_fix(self) -> list[str]:
        """What a deploy cannot fix, and why (secret values, unresolvable references)."""
        skipped = self.plan.skipped if self.plan is not None else ()
        return [f"cannot be fixed by a deploy: {why}" for why in skipped]

    def outcome(self) -> str:
        """Why nothing was deployed ("" when a deploy was made or planned)."""
        if self.change is not None:
            return ""
        if self.plan is None:
            return "no plan: the configuration could not be read"
        return "no deploy needed"

    def after_note(self) -> str:
        """Said when the drift was not read again ("" when it was)."""
        return "" if self.after is not None else "nothing deployed: the reading above stands"

    def sync_figures(self) -> dict[str, Any]:
        """What a record keeps of the fix: `sync.status`, and the deploy's `audit` entry."""
        audit = {"audit": self.change.audit.to_dict()} if self.change is not None else {}
        return {"sync.status": self.status, **audit}

    def after_figures(self) -> dict[str, Any]:
        """What a record keeps of the second reading (none without one): `drift_after.` each
        state's count and the revision read."""
        if self.after is None:
            return {}
        counts = {f"drift_after.{state}": n for state, n in self.after.counts.items()}
        return {**counts, "drift_after.revision": self.after.revision}

    def plan_frame(self) -> pd.DataFrame | None:
        """The plan's changes, one a row (None without a plan)."""
        return self.plan.to_frame() if self.plan is not None else None

    def change_frame(self) -> pd.DataFrame | None:
        """The deploy's plan and outcome (None without a deploy)."""
        return self.change.to_frame() if self.change is not None else None

    def after_frame(self) -> pd.DataFrame | None:
        """The second reading, one key a row (None without one)."""
        return self.after.to_frame() if self.after is not None else None


def plan_fix(env: Environment, drift: probe.DriftResult) -> ConfigFix:
    """The plan that ends `drift`; none when the configuration could not be read."""
    return ConfigFix(drift, probe.sync_plan(env, drift) if drift.error is None else None)


def apply_fix(env: Environment, fix: ConfigFix, *, image: str = "",
              execute: bool = False) -> ConfigFix:
    """Deploy the plan when it changes something or `image` is named: `image`, else the image
    that serves now, else the release image, with the plan's env vars. After a real deploy
    the drift is read again (as strictly as the first reading)."""
    if fix.plan is None or not (fix.plan.needed or image):
        return fix
    target = image or fix.plan.image or release_image(env)
    change = deploy(env, target, env_vars=fix.plan.env_vars(), execute=execute)
    after = probe.config_drift(env, strict=fix.drift.strict) if change.executed else None
    return replace(fix, change=change, after=after)
