"""What runbook 07 reads off a finished watch (pure: built from evaluated rule tables):
the first rule seen firing, the notes for the reader, the verdict rows, the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from netra_ops.config import load_environment
from netra_ops.metrics import (
    WatchResult,
    WatchTick,
    criteria_figures,
    decide,
    decision_text,
    empty_frame,
    evaluate_criteria,
    evaluate_rules,
    make_frame,
    override_rules,
    overrides_note,
    triggers_frame,
    watch_error_entries,
)

SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"
ENV = load_environment(SANDBOX_TOML)
T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)


def _health(value: float, seconds: range) -> pd.DataFrame:
    return make_frame([{"time": T0 + timedelta(seconds=s), "metric": "health_5xx_rate",
                        "value": value, "source": "probe", "revision": "r2"} for s in seconds])


def _result(*ends: float, frame: pd.DataFrame | None = None,
            unavailable: dict[str, str] | None = None, settled: int = 0) -> WatchResult:
    data = _health(1.0, range(0, 201, 5)) if frame is None else frame
    ticks = []
    for number, end in enumerate(ends, 1):
        table = evaluate_rules(ENV.rollback_triggers, data, T0 + timedelta(seconds=end),
                               interval_s=5.0)
        ticks.append(WatchTick(number, T0 + timedelta(seconds=end), table, decide(table),
                               unavailable or {}, data))
    return WatchResult(T0, T0 + timedelta(seconds=ends[-1]), tuple(ticks), ticks[-1].decision,
                       data, unavailable or {}, settled_ticks=settled)


def test_the_first_firing_rule_is_the_first_tick_it_fired_at() -> None:
    result = _result(60.0, 150.0, 200.0)  # health 5xx held 2 min: firing from 120 s
    first = result.first_firing
    assert first is not None and first["rule"] == "health_5xx"
    assert first["at"] == pd.Timestamp(T0 + timedelta(seconds=150))
    assert _result(60.0).first_firing is None


def test_notes_say_what_the_tables_do_not_and_nothing_otherwise() -> None:
    assert _result(60.0).notes() == []
    notes = _result(60.0, unavailable={"logging": "403 denied"}, settled=2).notes()
    assert notes[0].startswith("**Watched 2 evaluation(s) past `duration_s`:**")
    assert notes[1] == "**Sources that could not be read:** `logging`: 403 denied"


def test_charts_start_at_the_oldest_sample_or_the_watch() -> None:
    assert _result(60.0).first_sample_at == pd.Timestamp(T0)
    assert _result(60.0, frame=empty_frame()).first_sample_at == T0


def test_the_verdict_rows_are_the_decision_each_rule_and_measured_criteria() -> None:
    result = _result(200.0)
    criteria = evaluate_criteria(ENV, {"http_5xx_count": 0}, names=["no_server_errors",
                                                                     "event_latency"])
    checks = result.checks(criteria)
    names = [c.name for c in checks]
    assert names[0] == "decision" and names[-1] == "no_server_errors"  # no data: left out
    decision = checks[0]
    assert (decision.ok, decision.value, decision.threshold) == (False, "rollback", "continue")
    health = next(c for c in checks if c.name == "rule health_5xx")
    assert not health.ok and health.detail.startswith("firing")
    dry = override_rules(ENV.rollback_triggers, None, dry_run=True)
    assert all(rule.dry_run for rule in dry)


def test_logging_unread_during_the_watch_means_no_error_entries_are_asked() -> None:
    unread = _result(60.0, unavailable={"logging": "unreachable"})
    assert watch_error_entries(ENV, unread).empty  # the sandbox's Logging is never called


def test_the_rules_table_and_the_overrides_say_what_runs() -> None:
    rules = override_rules(ENV.rollback_triggers, {"memory_high": {"for_s": 10}})
    table = triggers_frame(rules).set_index("rule")
    assert list(table.index) == [r.name for r in ENV.rollback_triggers]
    assert table.loc["memory_high", "for_s"] == 10
    assert "[overridden for this run" in table.loc["memory_high", "trigger (seed 4.1)"]
    assert overrides_note({}) == "" and overrides_note(None) == ""
    assert overrides_note({"memory_high": {"for_s": 10}}).endswith(
        "`memory_high`: {'for_s': 10}")


def test_decision_text_and_the_criteria_a_record_keeps() -> None:
    assert decision_text("hold", "memory_high inconclusive", title="Watch decision") == (
        "### Watch decision: **HOLD**\n\nmemory_high inconclusive")
    criteria = evaluate_criteria(ENV, {"http_5xx_count": 3}, names=["no_server_errors",
                                                                     "event_latency"])
    figures = criteria_figures(criteria)
    assert figures["http_5xx_count"] == 3 and figures["criteria_no_data"] == ["event_latency"]
    assert list(figures)[-1] == "criteria_no_data"
