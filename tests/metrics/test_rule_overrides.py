"""Rule overrides: a rehearsal's scale applied to the environment's rules, validated, stated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netra_ops.config import load_environment
from netra_ops.errors import ConfigError
from netra_ops.metrics import override_rules, revision_rules

SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"


@pytest.fixture(scope="module")
def rules() -> list[Any]:
    return list(load_environment(str(SANDBOX_TOML)).rollback_triggers)


def test_an_override_changes_only_the_named_rule_and_says_so(rules: list[Any]) -> None:
    changed = override_rules(rules, {"memory_high": {"threshold": 268435456, "for_s": 10}})
    by_name = {r.name: r for r in changed}
    memory = by_name["memory_high"]
    assert (memory.threshold, memory.for_s) == (268435456, 10)
    assert memory.window_s == next(r for r in rules if r.name == "memory_high").window_s
    assert "overridden for this run: threshold 3758096384.0 -> 268435456" in memory.description
    assert [r for r in changed if r.name != "memory_high"] == [
        r for r in rules if r.name != "memory_high"]
    assert next(r for r in rules if r.name == "memory_high").threshold == 3758096384


def test_no_overrides_is_the_rules_unchanged(rules: list[Any]) -> None:
    assert override_rules(rules, {}) == rules
    assert override_rules(rules, None) == rules


@pytest.mark.parametrize(("overrides", "message"), [
    ({"memory_hgih": {"threshold": 1}}, "unknown rules 'memory_hgih'; the environment's rules"),
    ({"memory_high": {"treshold": 1}}, "rule_overrides['memory_high'] is invalid: treshold"),
    ({"memory_high": {"for_s": -1}}, "for_s: Input should be greater than or equal to 0"),
    ({"memory_high": {"threshold": "high"}}, "threshold: Input should be a valid number"),
    ({"memory_high": {"metric": "cpu"}}, "may not change metric"),
    ({"memory_high": {}}, "must be a non-empty table"),
])
def test_bad_overrides_say_what_is_wrong(rules: list[Any], overrides: dict[str, Any],
                                         message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        override_rules(rules, overrides)


def test_revision_rules_judge_the_new_revision_on_its_own_labelled_samples(
        rules: list[Any]) -> None:
    judged = {r.name: r for r in revision_rules(rules, "netra-00002-new")}
    health = judged["health_5xx"]  # the request logs name the revision of a 500 too
    assert (health.where, health.source) == ({"revision": "netra-00002-new"}, "logging")
    memory = judged["memory_high"]  # Monitoring only: no source to choose
    assert (memory.where, memory.source) == ({"revision": "netra-00002-new"}, None)
    assert "judged on revision netra-00002-new only" in memory.description
    by_name = {r.name: r for r in rules}
    for name in ("websocket_connection_success", "auth_failure_rate"):  # nothing to attribute
        assert judged[name] is by_name[name]
    assert by_name["health_5xx"].where == {}  # the environment's rules are unchanged
