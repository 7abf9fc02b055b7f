"""The decision of a rule table: a firing trigger rolls back whatever the other rules' states
(early in a watch some rules always lack samples), and what a playbook is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from netra_ops.config import load_environment
from netra_ops.metrics import (
    RuleEvaluator,
    decide,
    evaluate_rules,
    first_rollback,
    make_frame,
    playbook_decision,
    rules_frame,
    run_watch,
)

SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"
T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def points(metric: str, value: float, seconds: range) -> list[dict[str, object]]:
    return [{"time": at(s), "metric": metric, "value": value, "source": "probe",
             "revision": "r2"} for s in seconds]


@pytest.fixture(scope="module")
def seed_rules() -> list:
    return list(load_environment(SANDBOX_TOML).rollback_triggers)


def test_a_firing_seed_trigger_rolls_back_while_the_other_rules_lack_samples(
        seed_rules: list) -> None:
    # health answers 5xx for 200 s (fires after 2 min); 3 logins, 2 connections (too few
    # for auth_failure_rate's 10 and websocket's 5); no memory sample at all
    data = make_frame(points("health_5xx_rate", 1.0, range(0, 201, 5))
                      + points("auth_failure_rate", 0.0, range(190, 201, 5))
                      + points("websocket_connection_success_rate", 1.0, range(195, 201, 5)))
    table = evaluate_rules(seed_rules, data, at(200), interval_s=5.0)
    states = dict(zip(table["rule"], table["state"], strict=True))
    assert states == {"health_5xx": "firing", "websocket_connection_success": "inconclusive",
                      "auth_failure_rate": "inconclusive", "memory_high": "inconclusive"}
    decision = decide(table)
    assert decision.action == "rollback", decision.reason
    assert decision.reason.startswith("firing: health_5xx")
    assert list(decision.evidence["rule"]) == ["health_5xx"]


def test_firing_wins_over_inconclusive_and_pending_at_every_tick_of_a_watch() -> None:
    rules = load_environment(SANDBOX_TOML).rollback_triggers
    fast = [r.model_copy(update={"for_s": 0.0}) if r.name == "health_5xx" else r for r in rules]
    slow_memory = [r.model_copy(update={"threshold": 1.0}) if r.name == "memory_high" else r
                   for r in fast]
    data = make_frame(points("health_5xx_rate", 1.0, range(0, 31, 5))
                      + points("memory_bytes", 2.0, range(0, 31, 5)))
    evaluator = RuleEvaluator(slow_memory)
    for second in range(5, 31, 5):  # each tick of a 30 s watch
        table = rules_frame(evaluator.evaluate(data, at(second), {}))
        states = set(table["state"])
        assert {"firing", "inconclusive", "pending"} <= states, states
        assert decide(table).action == "rollback", (second, decide(table).reason)


def test_a_dry_run_firing_rule_with_inconclusive_ones_holds(seed_rules: list) -> None:
    dry = [r.model_copy(update={"dry_run": True, "for_s": 0.0}) if r.name == "health_5xx" else r
           for r in seed_rules]
    data = make_frame(points("health_5xx_rate", 1.0, range(0, 61, 5)))
    decision = decide(evaluate_rules(dry, data, at(60)))
    assert decision.action == "hold"
    assert "dry-run rules firing (not acted on): health_5xx" in decision.reason


def test_the_watch_decision_is_the_first_rollback_among_its_ticks(seed_rules: list) -> None:
    data = make_frame(points("health_5xx_rate", 1.0, range(0, 61, 5)))
    fast = [r.model_copy(update={"for_s": 0.0}) for r in seed_rules]
    held = decide(evaluate_rules(fast, make_frame([]), at(0)))
    fired = decide(evaluate_rules(fast, data, at(60)))
    assert (held.action, fired.action) == ("hold", "rollback")
    assert first_rollback([held, fired, held]) is fired


def criteria(*rows: tuple[str, object, bool, str]) -> pd.DataFrame:
    return pd.DataFrame([{"criterion": name, "value": value, "passed": passed, "state": state,
                          "comparison": "<", "threshold": 0.01}
                         for name, value, passed, state in rows])


def test_a_missed_criterion_escalates_and_never_rolls_back(seed_rules: list) -> None:
    data = make_frame(points("health_5xx_rate", 0.0, range(0, 301, 5))
                      + points("auth_failure_rate", 0.0, range(0, 301, 5))
                      + points("websocket_connection_success_rate", 1.0, range(0, 301, 5))
                      + points("memory_bytes", 1e8, range(0, 301, 5)))
    clean = decide(evaluate_rules(seed_rules, data, at(300), interval_s=5.0))
    assert clean.action == "continue", clean.reason
    missed = criteria(("error_rate_primary", 0.04, False, "fail"),
                      ("database_latency", None, False, "no data"))
    action, reason = playbook_decision(clean, missed)
    assert action == "escalate"
    assert "error_rate_primary 0.04" in reason and "database_latency" not in reason
    assert playbook_decision(clean, criteria(("database_latency", None, False, "no data"))) \
        == ("continue", clean.reason)
    fired = decide(evaluate_rules([r.model_copy(update={"for_s": 0.0}) for r in seed_rules],
                                  make_frame(points("health_5xx_rate", 1.0, range(0, 61, 5))),
                                  at(60)))
    assert playbook_decision(fired, missed)[0] == "rollback"
    held = decide(evaluate_rules(seed_rules, make_frame([]), at(0)))
    assert playbook_decision(held, missed)[0] == "hold"


def test_an_inconclusive_watch_goes_on_up_to_its_limit_then_holds() -> None:
    env = load_environment(SANDBOX_TOML)
    blind = load_environment(SANDBOX_TOML).rollback_triggers[0].model_copy(
        update={"name": "blind", "metric": "absent", "for_s": 0.0, "window_s": 1.0})
    result = run_watch(env, [blind], duration_s=0.2, interval_s=0.1, probe=lambda e: [],
                       sources=(), settle_s=0.3, show=False)
    assert (len(result.ticks), result.settled_ticks) == (6, 3)  # 3 planned, 3 past them
    assert result.decision.action == "hold"
    assert result.decision.reason.startswith("inconclusive: blind no value")
    sure = run_watch(env, [blind.model_copy(update={"min_samples": 1})], duration_s=0.2,
                     interval_s=0.1, probe=lambda e: [], sources=(), settle_s=0.0, show=False)
    assert (len(sure.ticks), sure.settled_ticks) == (3, 0)  # no limit: no extra ticks
