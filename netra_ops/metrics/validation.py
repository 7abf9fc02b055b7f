"""Runbook 04's golden-path validation (seed 3.1-3.2): its runs, its figures, its verdict.

    results = validation_runs(env, 5, message=..., event_budget_ms=500, answer_budget_s=30)
    figures = validation_figures(results, [services_before, services_after])   # recorded
    validation_checks(env, results, services, checklist, event_budget_ms=500,
                      answer_budget_s=30)                                     # the verdict

The verdict: the environment's success criteria `agent_events`, `event_latency` and
`no_server_errors`; the first event and the whole answer each within its own budget (the
slowest run); each item of the seed's 3.2 checklist (the conversation's evidence).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from netra_ops import probe
from netra_ops.checks import Check
from netra_ops.config import Environment
from netra_ops.display import format_cell, format_condition
from netra_ops.metrics.criteria import criteria_checks, evaluate_criteria

__all__ = [
    "VALIDATION_CRITERIA",
    "delivery_table",
    "last_answer",
    "validation_checks",
    "validation_figures",
    "validation_runs",
]

VALIDATION_CRITERIA = ("agent_events", "event_latency", "no_server_errors")
"""The environment's success criteria the validation judges."""

log = logging.getLogger(__name__)


def validation_runs(env: Environment, runs: int, **options: Any) -> list[probe.GoldenPathResult]:
    """`runs` golden-path runs one after the other (`options` as `probe.golden_path` takes
    them), each logged as it ends."""
    results = []
    for number in range(1, runs + 1):
        result = probe.golden_path(env, **options)
        results.append(result)
        log.info("run %d/%d: %s", number, runs, "ok" if result.ok else result.error)
    return results


def delivery_table(results: Sequence[probe.GoldenPathResult]) -> pd.DataFrame:
    """Each event's delivery latency (ms) per run, the events in the order they must come
    (an empty cell: the event never came)."""
    events = probe.runs_frame(results)
    table = events.pivot(index="event", columns="run",
                         values="delivery_ms").reindex(probe.GOLDEN_PATH_EVENTS)
    table.attrs["unit"] = "ms"  # how `netra_ops.display` shows its cells
    return table


def last_answer(results: Sequence[probe.GoldenPathResult]) -> str:
    """The final response of the last run, or why there is none."""
    if not results:
        return "no final response: no run"
    last = results[-1]
    return last.final_response or f"no final response: {last.error}"


def _server_errors(results: Sequence[probe.GoldenPathResult],
                  services: Sequence[probe.ServiceChecks]) -> int:
    """Responses with a 5xx status: the services' health answers and the runs'."""
    return sum(s.server_errors for s in services) + sum(r.server_error for r in results)


def validation_figures(results: Sequence[probe.GoldenPathResult],
                       services: Sequence[probe.ServiceChecks]) -> dict[str, Any]:
    """What the validation records, by name: pass rate, delivery latency (p95, max), first
    event and answer (slowest), timing failures, clock offsets, events delivered and
    expected, missing events and `http_5xx_count`."""
    summary = probe.summarize_runs(results)
    named = ("pass_rate", "event_latency_p95_ms", "event_latency_max_ms", "first_event_max_ms",
             "answer_max_s", "timing_failures")
    counted = ("events_delivered", "events_expected", "missing_events")
    return {**{name: summary.get(name) for name in named},
            "clock_offsets_ms": [r.clock_offset_ms for r in results],
            **{name: summary.get(name) for name in counted},
            "http_5xx_count": _server_errors(results, services)}


def validation_checks(env: Environment, results: Sequence[probe.GoldenPathResult],
                      services: Sequence[probe.ServiceChecks], checklist: pd.DataFrame, *,
                      event_budget_ms: float, answer_budget_s: float) -> tuple[Check, ...]:
    """The verdict's rows (see the module docstring); `checklist` is the conversation's
    3.2 checklist (item, passed, evidence)."""
    summary = probe.summarize_runs(results)
    errors = _server_errors(results, services)
    failures = "; ".join(summary.get("errors", ()))
    slowest = format_cell(summary.get("event_latency_max_ms"), "ms")
    criteria = evaluate_criteria(env, {
        "golden_path_pass_rate": summary.get("pass_rate"),
        "event_latency_p95_ms": summary.get("event_latency_p95_ms"),
        "http_5xx_count": errors,
    }, names=VALIDATION_CRITERIA, details={
        "agent_events": failures or "all runs delivered the five events",
        "event_latency": f"slowest delivery {slowest} after the event's own timestamp",
        "no_server_errors": f"{errors} responses with status >= 500",
    })
    return (*criteria_checks(criteria), *_timing_checks(summary, event_budget_ms,
                                                        answer_budget_s),
            *_checklist_checks(checklist))


def _timing_checks(summary: dict[str, Any], event_budget_ms: float,
                   answer_budget_s: float) -> tuple[Check, ...]:
    first_ms, answer_s = summary.get("first_event_max_ms"), summary.get("answer_max_s")
    return (
        Check("first event within the event budget of the send",
              first_ms is not None and first_ms <= event_budget_ms,
              "slowest run, ms from the send", value=first_ms, unit="ms",
              threshold=format_condition("<=", event_budget_ms, "ms")),
        Check("answer within its budget", answer_s is not None and answer_s <= answer_budget_s,
              "slowest agent_completed, s from the send", value=answer_s, unit="s",
              threshold=format_condition("<=", answer_budget_s, "s")),
    )


def _checklist_checks(checklist: pd.DataFrame) -> tuple[Check, ...]:
    """Each 3.2 checklist item as a pass/fail check with its evidence."""
    return tuple(Check(row["item"], bool(row["passed"]), row["evidence"])
                 for row in checklist.to_dict(orient="records"))
