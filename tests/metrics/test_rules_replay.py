"""Rollback triggers replayed on built frames: the edges of ok / pending / firing / inconclusive."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from netra_ops.config import TriggerRule
from netra_ops.metrics import (
    RuleEvaluator,
    decide,
    evaluate_rules,
    make_frame,
    replay,
    select_series,
)

T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rule(**changes: Any) -> TriggerRule:
    values: dict[str, Any] = {"name": "r", "metric": "m", "aggregation": "mean",
                              "comparison": ">", "threshold": 10.0, "window_s": 2.0,
                              "for_s": 0.0, "min_samples": 1}
    return TriggerRule(**(values | changes))


def frame(points: list[tuple[float, float]], metric: str = "m", **labels: Any
          ) -> pd.DataFrame:
    return make_frame([{"time": at(s), "metric": metric, "value": v, "source": "probe",
                        **labels} for s, v in points])


def states(rules: list[TriggerRule], data: pd.DataFrame, start: float, end: float,
           interval_s: float = 1.0) -> dict[float, str]:
    table = replay(rules, data, interval_s=interval_s, start=at(start), end=at(end))
    return {(t - T0).total_seconds(): s for t, s in zip(table["evaluated_at"], table["state"],
                                                        strict=True)}


def test_condition_goes_pending_then_fires_after_for() -> None:
    data = frame([(s, 5.0 if s < 5 else 20.0) for s in range(15)])
    seen = states([rule(window_s=1.0, for_s=3.0)], data, 0, 14)
    assert [seen[s] for s in range(5)] == ["ok"] * 5
    assert [seen[s] for s in (5, 6, 7)] == ["pending"] * 3
    assert all(seen[s] == "firing" for s in range(8, 15))


def test_a_gap_makes_the_rule_inconclusive_and_restarts_the_for_clock() -> None:
    data = frame([(s, 20.0) for s in range(0, 4)] + [(s, 20.0) for s in range(10, 16)])
    seen = states([rule(window_s=1.0, for_s=2.0)], data, 0, 15)
    assert [seen[s] for s in (0, 1, 2, 3)] == ["pending", "pending", "firing", "firing"]
    assert all(seen[s] == "inconclusive" for s in range(4, 10))
    assert [seen[s] for s in (10, 11, 12)] == ["pending", "pending", "firing"]


def test_a_single_sample_is_enough_only_when_min_samples_allows() -> None:
    data = frame([(0, 20.0)])
    assert states([rule()], data, 0, 0) == {0: "firing"}
    table = replay([rule(min_samples=2)], data, interval_s=1, start=at(0), end=at(0))
    assert list(table["state"]) == ["inconclusive"]
    assert table.loc[0, "detail"] == "1 of 2 samples needed"
    assert pd.isna(table.loc[0, "value"]) and table.loc[0, "samples"] == 1


def test_flapping_around_the_threshold_never_fires() -> None:
    data = frame([(s, 10.5 if s % 2 else 9.5) for s in range(20)])
    seen = states([rule(window_s=1.0, for_s=2.0)], data, 0, 19)
    assert set(seen.values()) == {"ok", "pending"}
    assert all(seen[s] == ("pending" if s % 2 else "ok") for s in range(20))


@pytest.mark.parametrize(("comparison", "expected"), [
    (">", "ok"), (">=", "firing"), ("<", "ok"), ("<=", "firing"),
])
def test_a_value_exactly_at_the_threshold(comparison: str, expected: str) -> None:
    data = frame([(0, 10.0), (1, 10.0)])
    assert states([rule(comparison=comparison)], data, 1, 1) == {1: expected}


def test_nan_values_are_not_samples() -> None:
    data = frame([(0, math.nan), (1, 20.0), (2, math.nan)])
    table = replay([rule(window_s=5.0, min_samples=2)], data, interval_s=1, start=at(2),
                   end=at(2))
    assert table.loc[0, "state"] == "inconclusive" and table.loc[0, "samples"] == 1
    only_nan = frame([(0, math.nan), (1, math.nan)])
    table = replay([rule(window_s=5.0)], only_nan, interval_s=1, start=at(1), end=at(1))
    assert table.loc[0, "state"] == "inconclusive"
    assert "2 NaN values ignored" in table.loc[0, "detail"]


def test_out_of_order_timestamps_give_the_same_states() -> None:
    points = [(s, 5.0 if s < 6 else 20.0) for s in range(12)]
    ordered = frame(points)
    shuffled = frame(points[::2][::-1] + points[1::2])
    shuffled_raw = pd.DataFrame({"time": [at(s) for s, _ in points[::-1]], "metric": "m",
                                 "value": [v for _, v in points[::-1]], "source": "probe"})
    rules = [rule(window_s=3.0, for_s=2.0), rule(name="last", aggregation="last")]
    expected = replay(rules, ordered, interval_s=1.0)
    pd.testing.assert_frame_equal(replay(rules, shuffled, interval_s=1.0), expected)
    evaluator = RuleEvaluator(rules)
    for moment in pd.to_datetime(expected["evaluated_at"]).unique():
        evaluator.evaluate(shuffled_raw, moment.to_pydatetime())
    latest = evaluator.evaluate(shuffled_raw, at(11))
    assert latest[1].value == 20.0  # "last" is the newest sample, not the last row


def test_no_data_is_inconclusive_with_the_reason_never_ok() -> None:
    data = frame([(0, 1.0)], metric="other")
    table = evaluate_rules([rule(metric="memory_bytes")], data, at(10),
                           unavailable={"monitoring": "connection refused"})
    assert table.loc[0, "state"] == "inconclusive"
    assert "no samples of memory_bytes" in table.loc[0, "detail"]
    assert "monitoring unavailable: connection refused" in table.loc[0, "detail"]


def test_every_sample_rules_hold_since_the_first_crossing_sample() -> None:
    """min > threshold: the condition's onset is the first sample above, not the first
    evaluation that saw the whole window above."""
    data = frame([(s / 2, 100.0 + (s if s >= 20 else 0)) for s in range(60)])  # 2 per s
    table = replay([rule(aggregation="min", threshold=105.0, window_s=2.0, for_s=3.0)], data,
                   interval_s=1.0, start=at(0), end=at(29))
    first_bad = 10.0  # sample 20: 100 + 20 > 105, at 10 s
    firing = table[table["state"] == "firing"]
    fired_at = (firing["evaluated_at"].min() - pd.Timestamp(T0)).total_seconds()
    assert fired_at - first_bad <= 3.0 + 1.0
    since = pd.Timestamp(firing["since"].iloc[0])
    assert since == pd.Timestamp(at(first_bad))


def test_groups_are_judged_apart_and_the_worst_one_reported() -> None:
    data = pd.concat([frame([(s, 1.0) for s in range(5)], revision="old"),
                      frame([(s, 50.0) for s in range(5)], revision="new")])
    table = evaluate_rules([rule(aggregation="min", group_by=["revision"])],
                           make_frame(data.to_dict("records")), at(4))
    row = table.iloc[0]
    assert (row["state"], row["group"], row["value"]) == ("firing", "revision=new", 50.0)
    assert "revision=old ok" in row["detail"]
    together = evaluate_rules([rule(aggregation="min")], make_frame(data.to_dict("records")),
                              at(4))
    assert together.loc[0, "state"] == "ok"  # one old sample masks the leak without groups


def test_a_group_that_stopped_reporting_is_named_not_judged() -> None:
    """A revision scaled to zero keeps a sample or two in the window: it must not hold the
    whole rule inconclusive. One that has just started is inconclusive: it cannot be judged."""
    per_revision = rule(group_by=["revision"], window_s=4.0, min_samples=2)
    serving = frame([(s, 1.0) for s in range(11)], revision="serving")
    stopped = frame([(0, 1.0), (1, 1.0)], revision="stopped")
    table = evaluate_rules([per_revision], make_frame(
        pd.concat([serving, stopped]).to_dict("records")), at(4.5))
    row = table.iloc[0]
    assert (row["state"], row["group"]) == ("ok", "revision=serving")
    assert "not judged, stopped reporting: revision=stopped" in row["detail"]
    started = frame([(4, 1.0)], revision="started")
    table = evaluate_rules([per_revision], make_frame(
        pd.concat([serving, stopped, started]).to_dict("records")), at(4.5))
    assert (table.loc[0, "state"], table.loc[0, "group"]) == ("inconclusive", "revision=started")
    alone = evaluate_rules([per_revision], make_frame(stopped.to_dict("records")), at(4.5))
    assert alone.loc[0, "state"] == "inconclusive"  # nothing else reports: nothing to compare


def test_mean_is_weighted_by_the_observations_behind_each_sample() -> None:
    data = make_frame([
        {"time": at(0), "metric": "rate", "value": 0.5, "count": 2, "source": "logging"},
        {"time": at(1), "metric": "rate", "value": 0.0, "count": 98, "source": "logging"},
    ])
    table = evaluate_rules([rule(metric="rate", threshold=0.05, min_samples=100)], data,
                           at(1))
    assert table.loc[0, "value"] == pytest.approx(0.01)
    assert (table.loc[0, "state"], table.loc[0, "samples"]) == ("ok", 100)


def test_a_metric_from_two_sources_is_taken_from_the_preferred_one() -> None:
    both = make_frame([
        {"time": at(0), "metric": "http_error_rate", "value": 0.2, "source": "logging"},
        {"time": at(0), "metric": "http_error_rate", "value": 0.1, "source": "monitoring"},
    ])
    assert list(select_series(both, "http_error_rate")["source"]) == ["monitoring"]
    only_logs = both[both["source"] == "logging"]
    assert list(select_series(only_logs, "http_error_rate")["value"]) == [0.2]
    pinned = evaluate_rules([rule(metric="http_error_rate", threshold=0.15,
                                  source="logging")], both, at(0))
    assert (pinned.loc[0, "state"], pinned.loc[0, "source"]) == ("firing", "logging")


def test_one_shot_evaluation_replays_the_run_up_to_honour_for() -> None:
    data = frame([(s, 20.0) for s in range(0, 31)])
    table = evaluate_rules([rule(window_s=1.0, for_s=10.0)], data, at(30), interval_s=1.0)
    assert table.loc[0, "state"] == "firing"
    assert table.loc[0, "held_s"] >= 10.0


def test_the_decision_rolls_back_only_for_live_firing_rules() -> None:
    data = frame([(s, 20.0) for s in range(5)])
    firing = rule(name="bad")
    quiet = rule(name="fine", threshold=100.0)
    dry = rule(name="dry", dry_run=True)
    blind = rule(name="blind", metric="absent")

    decision = decide(evaluate_rules([firing, quiet], data, at(4)))
    assert decision.action == "rollback" and "bad" in decision.reason
    assert list(decision.evidence["rule"]) == ["bad"]
    evidence = decision.to_record()["evidence"][0]
    assert evidence["value"] == 20.0 and evidence["window_end"].startswith("2025-01-31T12:00:04")

    assert decide(evaluate_rules([dry, quiet], data, at(4))).action == "continue"
    assert "dry" in decide(evaluate_rules([dry, quiet], data, at(4))).reason
    held = decide(evaluate_rules([quiet, blind], data, at(4)))
    assert held.action == "hold" and list(held.evidence["rule"]) == ["blind"]
    assert decide(evaluate_rules([], data, at(4))).action == "hold"


def test_late_data_is_judged_up_to_its_newest_sample_within_max_lateness() -> None:
    # Monitoring shows points a minute late: at t = 100 s the newest point is from t = 40 s.
    # A 5 s window ending at t sees nothing; ending at the data's horizon it sees the
    # crossing, and for_s is counted in the data's time (held 5 s, not 65 s).
    data = frame([(s, 20.0 if s >= 35 else 5.0) for s in range(41)])
    slow = rule(aggregation="min", window_s=5.0, for_s=10.0)
    now = [r.state for r in RuleEvaluator([slow]).evaluate(data, at(100))]
    assert now == ["inconclusive"]
    late = RuleEvaluator([slow], max_lateness_s=90.0)
    found = late.evaluate(data, at(100))[0]
    assert (found.state, found.window_end, found.held_s) == ("pending", at(40), 5.0)
    assert "60 s late" in found.detail
    fired = RuleEvaluator([slow], max_lateness_s=90.0).evaluate(
        frame([(s, 20.0 if s >= 35 else 5.0) for s in range(46)]), at(105))[0]
    assert fired.state == "firing" and fired.window_end == at(45)
    # Older than max_lateness_s is missing data, not late data: inconclusive, never ok.
    stale = RuleEvaluator([slow], max_lateness_s=30.0).evaluate(data, at(100))[0]
    assert stale.state == "inconclusive" and stale.window_end == at(100)


def test_an_expected_group_without_samples_is_inconclusive_not_passed_on_the_others() -> None:
    # A new revision Monitoring does not show yet: the old one's memory is no evidence of it.
    per_revision = rule(group_by=["revision"], window_s=4.0)
    old = make_frame(frame([(s, 1.0) for s in range(5)], revision="old").to_dict("records"))
    assert RuleEvaluator([per_revision]).evaluate(old, at(4))[0].state == "ok"
    waiting = RuleEvaluator([per_revision], expect={"revision": "new"}).evaluate(old, at(4))[0]
    assert (waiting.state, waiting.group) == ("inconclusive", "revision=new")
    assert "no samples of revision=new" in waiting.detail and "revision=old ok" in waiting.detail
    both = make_frame(pd.concat([frame([(s, 1.0) for s in range(5)], revision="old"),
                                 frame([(4, 2.0)], revision="new")]).to_dict("records"))
    judged = RuleEvaluator([per_revision], expect={"revision": "new"}).evaluate(both, at(4))[0]
    assert judged.state == "ok"
    ungrouped = RuleEvaluator([rule()], expect={"revision": "new"}).evaluate(old, at(4))[0]
    assert ungrouped.state == "ok"  # a rule not grouped by revision judges all samples
