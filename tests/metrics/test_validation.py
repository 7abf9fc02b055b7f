"""Runbook 04's figures and verdict from constructed golden-path runs (pure: no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from netra_ops.config import load_environment
from netra_ops.metrics import last_answer, validation_checks, validation_figures
from netra_ops.probe import GoldenPathResult, HealthResult, ServiceChecks

ENV = load_environment(Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHECKLIST = pd.DataFrame([{"item": "login works", "passed": True, "evidence": "200 in 40 ms"},
                          {"item": "multiple turns", "passed": False, "evidence": "turn 2 lost"}])


def _run(ok: bool = True, *, first_ms: float = 120.0, answer_ms: float = 4000.0,
         status: int | None = None, error: str | None = None) -> GoldenPathResult:
    return GoldenPathResult(ok, "sandbox", T0, "thread-1", "hello", 500.0,
                            final_response="cut the tokens" if ok else None, error=error,
                            http_status=status, first_event_ms=first_ms, answer_ms=answer_ms,
                            clock_offset_ms=1.5)


def _services(*codes: int) -> ServiceChecks:
    return ServiceChecks({f"s{n}": HealthResult("http://x", code < 500, code, 5.0, True, "ok",
                                                None, None, None, None, T0)
                          for n, code in enumerate(codes)})


def test_the_figures_are_the_records_04_keeps_in_order() -> None:
    runs = [_run(), _run(False, status=502, error="backend 502")]
    figures = validation_figures(runs, [_services(200, 503), _services(200)])
    assert list(figures) == [
        "pass_rate", "event_latency_p95_ms", "event_latency_max_ms", "first_event_max_ms",
        "answer_max_s", "timing_failures", "clock_offsets_ms", "events_delivered",
        "events_expected", "missing_events", "http_5xx_count"]
    assert figures["pass_rate"] == 0.5 and figures["http_5xx_count"] == 2  # 503 + the 502
    assert figures["clock_offsets_ms"] == [1.5, 1.5] and figures["answer_max_s"] == 4.0


def test_the_verdict_judges_criteria_budgets_and_the_checklist() -> None:
    runs = [_run(first_ms=700.0, answer_ms=31_000.0)]
    checks = validation_checks(ENV, runs, [_services(200)], CHECKLIST, event_budget_ms=500.0,
                               answer_budget_s=30.0)
    by_name = {c.name: c for c in checks}
    assert [c.name for c in checks][:3] == ["agent_events", "event_latency", "no_server_errors"]
    assert by_name["agent_events"].ok and by_name["no_server_errors"].ok
    assert by_name["agent_events"].detail == "all runs delivered the five events"
    first = by_name["first event within the event budget of the send"]
    assert (first.ok, first.value, first.threshold) == (False, 700.0, "<= 500 ms")
    assert not by_name["answer within its budget"].ok
    assert by_name["login works"].ok and by_name["login works"].row()["value"] == "pass"
    assert not by_name["multiple turns"].ok and by_name["multiple turns"].detail == "turn 2 lost"


def test_the_answer_shown_is_the_last_runs() -> None:
    assert last_answer([_run(False, error="no agent_completed"), _run()]) == "cut the tokens"
    assert last_answer([_run(False, error="timeout")]) == "no final response: timeout"
