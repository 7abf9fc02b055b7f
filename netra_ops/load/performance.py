"""The verdict of a performance validation (seed 3.3): load, memory and CPU, judged.

`performance_checks` turns what a load run measured (its samples frame, from either engine)
and what Cloud Monitoring saw during it (memory and CPU per revision) into
`netra_ops.record.verdict` rows:

- the run completed (no abort threshold stopped it);
- user success rate > 95 % (seed Business 1) and turn error rate < 5 % (seed Primary 5);
- agent responses: p95 of the turn latency within the budget (2 s by default);
- memory < 3 Gi average and < 3.5 Gi peak, CPU < 80 % average (seed "Technical Health"),
  through the environment's success criteria;
- no memory leak (seed 3.3) on each revision that served the load: `no leak` passes;
  `leak` and `inconclusive` do not (never silently ok).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from netra_ops.config import Environment
from netra_ops.metrics.criteria import criteria_table, evaluate_criteria, verdict_rows

__all__ = ["RESOURCE_CRITERIA", "performance_checks"]

RESOURCE_CRITERIA = ("memory_average", "memory_peak", "cpu_average")
"""The environment's success criteria judged on Cloud Monitoring during the load."""

_MAX_ERROR_RATE = 0.05


def performance_checks(env: Environment, samples: pd.DataFrame, *, aborted: str | None,
                       monitoring: pd.DataFrame, leaks: pd.DataFrame,
                       revisions: Iterable[str], start: datetime, end: datetime,
                       budget_ms: float = 2000.0) -> pd.DataFrame:
    """Verdict rows for a load run (see the module docstring). `aborted` is the abort
    reason or None; `revisions` the ones that served the load (their leak rows count)."""
    turns = len(samples)
    ok_share = float(samples["ok"].mean()) if turns else None
    p95 = float(samples["latency_ms"].quantile(0.95)) if turns else None
    rows = [
        _row("load ran to the end", "aborted" if aborted else "completed", "completed",
             aborted is None, aborted or f"{turns} turns"),
        _row("turn error rate < 5% (seed Primary 5)", None if ok_share is None
             else 1 - ok_share, f"< {_MAX_ERROR_RATE:g}",
             ok_share is not None and 1 - ok_share < _MAX_ERROR_RATE, _errors_detail(samples)),
        _row(f"agent response p95 < {budget_ms:g} ms", p95, f"< {budget_ms:g}",
             p95 is not None and p95 < budget_ms, "latency from each turn's scheduled start"),
    ]
    success = verdict_rows(evaluate_criteria(env, {"golden_path_pass_rate": ok_share},
                                             names=["user_success_rate"]))
    names = [n for n in RESOURCE_CRITERIA if any(c.name == n for c in env.success_criteria)]
    resources = verdict_rows(criteria_table(env, monitoring, names, start=start, end=end))
    return pd.concat([pd.DataFrame(rows), success, resources, _leak_rows(leaks, revisions)],
                     ignore_index=True)


def _row(criterion: str, value: object, threshold: str, passed: bool,
         detail: str) -> dict[str, object]:
    return {"criterion": criterion, "value": value, "threshold": threshold,
            "passed": bool(passed), "detail": detail}


def _errors_detail(samples: pd.DataFrame) -> str:
    failed = samples.loc[~samples["ok"], "error_class"].fillna("other").value_counts()
    if failed.empty:
        return "no failed turns"
    return ", ".join(f"{name}: {count}" for name, count in failed.items())


def _leak_rows(leaks: pd.DataFrame, revisions: Iterable[str]) -> pd.DataFrame:
    wanted = list(revisions)
    chosen = leaks[leaks["revision"].isin(wanted)]
    missing = [r for r in wanted if r not in set(chosen["revision"])]
    rows = [_row(f"no memory leak: {row['revision']}", row["verdict"], "no leak",
                 row["verdict"] == "no leak", row["reason"])
            for row in chosen.to_dict(orient="records")]
    rows += [_row(f"no memory leak: {name}", "no data", "no leak", False,
                  "no memory samples of this revision in the window") for name in missing]
    return pd.DataFrame(rows, columns=["criterion", "value", "threshold", "passed", "detail"])
