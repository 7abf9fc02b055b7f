"""Runbook 05's load (seed 3.3) on either engine, and what its record keeps of it.

    run = run_performance_load(env, engine="netra-ops", users=10, duration_s=300)
    record_each(run.figures())          # load, load.turns, load.aborted, load.timing
    ended = after_settling(10.0)        # memory watched after the load ends

`engine = "locust"` runs the same golden-path users in a Locust subprocess (closed model,
`processes` workers); any other engine is netra-ops in this process, with the abort
threshold (turn error rate above `abort_error_rate` for `abort_for_s`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from netra_ops.config import Environment
from netra_ops.load.engine import run_load
from netra_ops.load.frames import errors_by_class
from netra_ops.load.locust_runner import run_locust
from netra_ops.load.performance import timing_figures
from netra_ops.load.thresholds import Threshold
from netra_ops.load.users import TurnPlan
from netra_ops.probe.event_timing import DEFAULT_ANSWER_BUDGET_S

__all__ = ["ENGINES", "PerformanceRun", "after_settling", "run_performance_load"]

ENGINES = ("netra-ops", "locust")


@dataclass(frozen=True)
class PerformanceRun:
    """A finished load: its turns (`samples`), when it started and ended, why it stopped
    early (`aborted`, netra-ops only) and the netra-ops engine's own record."""

    engine: str
    samples: pd.DataFrame = field(repr=False)
    started: datetime
    loaded: datetime
    aborted: str | None = None
    load_record: dict[str, Any] | None = field(default=None, repr=False)

    def figures(self) -> dict[str, Any]:
        """What the record keeps: `load` (the netra-ops engine's record; Locust has none),
        `load.turns`, `load.aborted` and `load.timing` (`timing_figures`)."""
        own = {"load": self.load_record} if self.load_record is not None else {}
        return {**own, "load.turns": len(self.samples), "load.aborted": self.aborted,
                "load.timing": timing_figures(self.samples)}

    def error_counts(self) -> dict[str, int]:
        """Failed turns by error class (`errors_by_class`), as the record keeps them."""
        errors = errors_by_class(self.samples)
        return {str(row.error_class): int(row.count) for row in errors.itertuples()}

    def describe(self) -> str:
        """How many turns in how long, and why the run stopped early if it did (Markdown)."""
        seconds = (self.loaded - self.started).total_seconds()
        stopped = f"; **stopped early:** {self.aborted}" if self.aborted else ""
        return f"**{len(self.samples)} turns** in {seconds:.1f} s{stopped}"


def run_performance_load(env: Environment, *, engine: str = "netra-ops",
                         model: str = "closed", users: int = 10, duration_s: float = 300.0,
                         rate: float = 0.0, processes: int = 1,
                         answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S,
                         abort_error_rate: float = 0.05,
                         abort_for_s: float = 30.0) -> PerformanceRun:
    """Run the load on `engine` (see the module docstring); `rate` 0 means no open-model
    rate (the closed model's users at once)."""
    started = datetime.now(UTC)
    if engine == "locust":
        locust = run_locust(env, users=users, duration_s=duration_s, processes=processes,
                            plan=TurnPlan(answer_budget_s=answer_budget_s))
        return PerformanceRun(engine, locust.samples, started, datetime.now(UTC))
    result = run_load(env, model=model, users=users, duration_s=duration_s, rate=rate or None,
                      answer_budget_s=answer_budget_s,
                      thresholds=[Threshold("error_rate", ">", abort_error_rate,
                                            for_s=abort_for_s)])
    aborted = result.aborted.reason if result.aborted else None
    return PerformanceRun(engine, result.samples, started, datetime.now(UTC), aborted,
                          result.to_record())


def after_settling(settle_s: float) -> datetime:
    """Wait `settle_s` (the service settles after the load) and return the time (UTC)."""
    time.sleep(settle_s)
    return datetime.now(UTC)
