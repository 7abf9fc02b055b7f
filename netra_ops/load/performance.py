"""The verdict of a performance validation (seed 3.3): load, timing, memory and CPU, judged.

`performance_checks` turns what a load run measured (its samples frame, from either engine)
and what Cloud Monitoring saw during it (memory and CPU per revision) into verdict rows
(`netra_ops.checks.Check`):

- the run completed (no abort threshold stopped it);
- user success rate > 95 % (seed Business 1) and turn error rate < 5 % (seed Primary 5);
- the seed's "< 2 s response times under normal load" (Phase 5, final validation) is the
  service's responsiveness: p95 of the time to the first agent event (the first response
  the user sees) under `response_budget_ms` (2 s). The whole answer is judged against its
  own budget, as the probes judge it (DESIGN, "Decisions an on-call engineer can trust"):
  p95 of the time to `agent_completed` within `answer_budget_s` (30 s): a real agent thinks
  for seconds. Both from when each turn was due. Each turn's delivery latencies are judged
  in the turn (its error class); their p95 is reported (`timing_figures`);
- memory < 3 Gi average and < 3.5 Gi peak, CPU < 80 % average (seed "Technical Health"),
  through the environment's success criteria;
- no memory leak (seed 3.3) on each revision that served the load: `no leak` passes, `leak`
  fails; `inconclusive` (a window too short or too noisy to tell) is not verified, not
  failed, and named in `not_verified` (never silently ok): a leak is judged over time by
  07_monitoring and the 24 h watch, and a healthy build is not failed because a few
  seconds of memory could not decide (DESIGN: inconclusive means watch longer).

Cloud Monitoring publishes late: when it answered but had no point of the window at all
(`netra_ops.load.resources`), the memory, CPU and leak rows say `no data yet` (`NO_DATA_YET`)
and are not verified, not failed; `not_verified` names them for the record. When it could
not be read (`monitoring_error`), they fail, saying why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd

from netra_ops.checks import Check
from netra_ops.config import Environment
from netra_ops.display import format_condition
from netra_ops.load.frames import TIMING_COLUMNS
from netra_ops.metrics.criteria import criteria_checks, criteria_table, evaluate_criteria
from netra_ops.probe.event_timing import DEFAULT_ANSWER_BUDGET_S

__all__ = [
    "DEFAULT_RESPONSE_BUDGET_MS",
    "INCONCLUSIVE",
    "NO_DATA_YET",
    "RESOURCE_CRITERIA",
    "not_verified",
    "performance_checks",
    "timing_figures",
]

RESOURCE_CRITERIA = ("memory_average", "memory_peak", "cpu_average")
"""The environment's success criteria judged on Cloud Monitoring during the load."""
DEFAULT_RESPONSE_BUDGET_MS = 2000.0
"""The seed's "< 2 s response times": p95 of the time to the first agent event."""
NO_DATA_YET = "no data yet"
INCONCLUSIVE = "inconclusive"
"""The value of a Monitoring row when Monitoring had no point of the window yet."""

_MAX_ERROR_RATE = 0.05
_RESOURCE_METRICS = ("memory_bytes", "memory_utilization", "cpu_utilization")
_LAGGING = ("not verified: Cloud Monitoring had no point of the window yet (it publishes "
            "minutes late; 07_monitoring watches memory over time, or raise monitoring_wait_s)")


def timing_figures(samples: pd.DataFrame) -> dict[str, float | None]:
    """p95 of the first event, the delivery and the answer (`first_event_p95_ms`,
    `delivery_p95_ms`, `answer_p95_ms`) over the turns that measured them (None: none)."""
    return {f"{name.removesuffix('_ms')}_p95_ms": _p95(samples[name])
            for name in TIMING_COLUMNS}


def performance_checks(env: Environment, samples: pd.DataFrame, *, aborted: str | None,
                       monitoring: pd.DataFrame, leaks: pd.DataFrame,
                       revisions: Iterable[str | None], start: datetime, end: datetime,
                       response_budget_ms: float = DEFAULT_RESPONSE_BUDGET_MS,
                       answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S,
                       monitoring_error: str | None = None) -> tuple[Check, ...]:
    """Verdict rows for a load run (see the module docstring). `aborted` is the abort
    reason or None; `revisions` the ones that served the load (their leak rows count; None,
    no serving revision, is left out);
    `monitoring_error` why Cloud Monitoring could not be read, if it could not."""
    turns = len(samples)
    ok_share = float(samples["ok"].mean()) if turns else None
    error_rate = None if ok_share is None else 1 - ok_share
    run = (
        Check("load ran to the end", aborted is None, aborted or f"{turns} turns",
              value="aborted" if aborted else "completed", threshold="completed"),
        Check("turn error rate < 5% (seed Primary 5)",
              error_rate is not None and error_rate < _MAX_ERROR_RATE, _errors_detail(samples),
              value=error_rate, threshold=format_condition("<", _MAX_ERROR_RATE, "ratio"),
              unit="ratio"),
        *_timing_checks(samples, response_budget_ms, answer_budget_s),
    )
    success = criteria_checks(evaluate_criteria(env, {"golden_path_pass_rate": ok_share},
                                                names=["user_success_rate"]))
    names = [n for n in RESOURCE_CRITERIA if any(c.name == n for c in env.success_criteria)]
    resources = criteria_checks(criteria_table(env, monitoring, names, start=start, end=end))
    lag = monitoring_error is None and monitoring[
        monitoring["metric"].isin(_RESOURCE_METRICS)].empty
    return (*run, *success, *_lagging(resources, lag),
            *_lagging(_leak_checks(leaks, revisions), lag))


def not_verified(checks: Iterable[Check]) -> list[str]:
    """The criteria of `performance_checks` rows that could not be verified yet: Monitoring
    had no point of the window, or the leak fit could not decide."""
    return [c.name for c in checks if isinstance(c.value, str)
            and c.value in (NO_DATA_YET, INCONCLUSIVE)]


def _timing_checks(samples: pd.DataFrame, budget_ms: float,
                   answer_budget_s: float) -> tuple[Check, ...]:
    figures = timing_figures(samples)
    first, answer = figures["first_event_p95_ms"], figures["answer_p95_ms"]
    answer_s = None if answer is None else answer / 1000
    delivery = figures["delivery_p95_ms"]
    shown = "not measured" if delivery is None else f"{delivery:.0f} ms"
    first_detail = (f"from when each turn was due to its first event; "
                    f"{_counted(samples, 'first_event_ms')}; delivery p95 {shown}")
    answer_detail = (f"from when each turn was due to agent_completed; "
                     f"{_counted(samples, 'answer_ms')}")
    return (
        Check(f"first agent event p95 < {budget_ms:g} ms (seed: < 2 s response times)",
              first is not None and first < budget_ms, first_detail, value=first,
              threshold=format_condition("<", budget_ms, "ms"), unit="ms"),
        Check(f"agent answer p95 <= {answer_budget_s:g} s (its own budget)",
              answer_s is not None and answer_s <= answer_budget_s, answer_detail,
              value=answer_s, threshold=format_condition("<=", answer_budget_s, "s"), unit="s"),
    )


def _counted(samples: pd.DataFrame, column: str) -> str:
    measured = int(samples[column].notna().sum())
    what = "got an agent event" if column == "first_event_ms" else "completed"
    return f"{measured} of {len(samples)} turns {what}"


def _p95(values: pd.Series) -> float | None:
    measured = values.dropna()
    return float(measured.quantile(0.95)) if not measured.empty else None


def _lagging(checks: Iterable[Check], lag: bool) -> tuple[Check, ...]:
    """Checks without a value, when Monitoring answered but had nothing yet: not verified."""
    return tuple(replace(c, value=NO_DATA_YET, ok=True, detail=_LAGGING)
                 if lag and _no_value(c.value) else c for c in checks)


def _no_value(value: Any) -> bool:
    return (value is None or value == "no data"
            or (isinstance(value, float) and math.isnan(value)))


def _errors_detail(samples: pd.DataFrame) -> str:
    failed = samples.loc[~samples["ok"], "error_class"].fillna("other").value_counts()
    if failed.empty:
        return "no failed turns"
    return ", ".join(f"{name}: {count}" for name, count in failed.items())


def _leak_detail(row: dict[str, object]) -> str:
    reason = str(row["reason"])
    return f"not verified: {reason}" if row["verdict"] == INCONCLUSIVE else reason


def _leak_checks(leaks: pd.DataFrame,
                 revisions: Iterable[str | None]) -> tuple[Check, ...]:
    wanted = [r for r in revisions if r]
    chosen = leaks[leaks["revision"].isin(wanted)]
    missing = [r for r in wanted if r not in set(chosen["revision"])]
    fitted = tuple(Check(f"no memory leak: {row['revision']}",
                         row["verdict"] in ("no leak", INCONCLUSIVE), _leak_detail(row),
                         value=row["verdict"], threshold="no leak")
                   for row in chosen.to_dict(orient="records"))
    return fitted + tuple(Check(f"no memory leak: {name}", False,
                                "no memory samples of this revision in the window",
                                value="no data", threshold="no leak") for name in missing)
