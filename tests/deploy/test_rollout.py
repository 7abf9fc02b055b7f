"""Gradual rollout of the backend: its options checked, then (against a sandbox of this
module's own, the tests in order) a healthy build goes 10 -> 50 -> 100, a build answering
half its requests 500 is stopped at 10 % with traffic back, and data that cannot decide
holds the split. Traffic is read back through Google's Cloud Run client.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

from netra_ops.cloud import audit_trail, service_name
from netra_ops.config import Environment
from netra_ops.deploy import (
    RolloutOptions,
    health_checks_for,
    read_service,
    roll_out,
    rollout_options,
    ship,
)
from netra_ops.errors import ConfigError
from netra_ops.metrics import override_rules

BAD_BUILD = {"NETRA_FAULT_HTTP_ERROR_RATE": "0.5"}
# A rehearsal's scale: health 5xx held 5 s over a 10 s window (the seed: 2 minutes over 1).
FAST = {"health_5xx": {"for_s": 5.0, "window_s": 10.0}}


@pytest.mark.parametrize(("steps", "message"), [
    ([50, 10, 100], "strictly ascending"),
    ([10, 10, 100], "strictly ascending"),
    ([0, 100], "0 < p <= 100"),
    ([10, 150], "0 < p <= 100"),
    ([10.5, 100], "whole percents"),
    ([True, 100], "whole percents"),
    ([10, 50], "must end at 100"),
    ("10,50,100", "a list of percents"),
])
def test_bad_steps_are_refused_naming_what_is_wrong(steps: Any, message: str) -> None:
    with pytest.raises(ConfigError, match="rollout_steps") as caught:
        rollout_options(steps)
    assert message in str(caught.value)


def test_no_steps_is_no_rollout_and_bad_times_are_refused() -> None:
    assert rollout_options([]) is None and rollout_options(None) is None
    assert rollout_options([100]) == RolloutOptions(steps=(100,))
    with pytest.raises(ConfigError, match="interval_s > 0"):
        rollout_options([10, 100], interval_s=0)
    with pytest.raises(ConfigError, match="step_s=-1"):
        rollout_options([10, 100], step_s=-1)


def test_enough_health_checks_reach_a_small_share() -> None:
    assert [health_checks_for(p) for p in (10, 50, 100)] == [20, 4, 2]
    assert health_checks_for(1, 1) == 100 and health_checks_for(100, 1) == 1




@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def options(env: Environment, *, settle_s: float = 30.0) -> RolloutOptions:
    return RolloutOptions(steps=(10, 50, 100), step_s=3.0, interval_s=1.0, settle_s=settle_s,
                          rules=tuple(override_rules(env.rollback_triggers, FAST)),
                          golden_path_runs=2)


def traffic(env: Environment) -> dict[str, int]:
    """The backend's traffic as Cloud Run reports it, through Google's own client."""
    client = run_v2.ServicesClient(transport="rest", credentials=AnonymousCredentials(),
                                   client_options={"api_endpoint": env.api_endpoint})
    service = client.get_service(name=service_name(env))
    return {status.revision: status.percent for status in service.traffic_statuses}


def rollout_entries(since: int) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.note) for e in audit_trail()[since:] if e.action == "rollout"]


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_healthy_build_goes_10_50_100_then_is_verified(env: Environment) -> None:
    before = read_service(env).serving_revision
    started = len(audit_trail())
    shipment = ship(env, execute=True, deadline_s=300, rollout=options(env), show=False)
    assert shipment.ok, shipment.to_frame().to_dict("records")
    rollout = shipment.rollout
    assert rollout is not None and rollout.completed and rollout.status == "completed"
    new = shipment.new_revision("backend")
    assert (rollout.new_revision, rollout.previous_revision) == (new, before)
    steps = rollout.to_frame()
    assert list(steps["percent"]) == [10, 50, 100]
    assert list(steps["decision"]) == ["continue"] * 3, steps["reason"].tolist()
    assert list(steps["health_checks_per_tick"]) == [20, 4, 2]
    assert [s.split for s in rollout.steps] == [{new: 10, before: 90}, {new: 50, before: 50},
                                                {new: 100}]
    assert {"health_5xx", "memory_high"} <= set(rollout.attributed)
    assert {"websocket_connection_success", "auth_failure_rate"} <= set(rollout.shared)
    assert traffic(env) == {new: 100}
    assert shipment.verified == ("auth", "backend", "frontend")
    assert shipment.decision()[0] == "continue"
    outcomes = [outcome for outcome, _ in rollout_entries(started)]
    assert outcomes == ["started", "started", "started", "done"]
    json.dumps(shipment.to_record())  # what 02 records


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_bad_build_stops_at_10_percent_with_traffic_back(env: Environment) -> None:
    before = read_service(env).serving_revision
    assert before is not None
    shipment = ship(env, env_vars={"backend": BAD_BUILD}, execute=True, deadline_s=300,
                    rollout=options(env), show=False)
    rollout = shipment.rollout
    assert rollout is not None and rollout.status == "rolled_back"
    new = shipment.new_revision("backend")
    assert [(s.percent, s.action, s.firing) for s in rollout.steps] == [
        (10, "rollback", "health_5xx")]
    assert rollout.steps[0].split == {new: 10, before: 90}
    evidence = rollout.to_record()["steps"][0]["evidence"]
    assert [(e["rule"], e["state"], e["source"]) for e in evidence] == [
        ("health_5xx", "firing", "logging")]  # the new revision's own request logs
    assert evidence[0]["value"] > 0.3  # its share of 5xx, not diluted by the 90 %
    assert traffic(env) == {before: 100}  # back, read through Google's client
    assert rollout.final_split == {before: 100} and rollout.sent_back
    action, reason = shipment.decision()
    assert action == "rollback" and "at the 10% step: health_5xx fired" in reason
    assert shipment.status == "rollout_rolled_back"
    assert shipment.shipped == {"backend": new}  # what 06 rolls back and marks known bad
    assert shipment.not_attempted == ("frontend",)
    assert "rollout 10%" in {c.name.removeprefix("backend: ") for c in shipment.checks()}


@pytest.mark.sandbox
@pytest.mark.slow
def test_data_that_cannot_decide_holds_the_split(env: Environment) -> None:
    before = read_service(env).serving_revision
    assert before is not None
    observability = f"{env.api_endpoint}/_sandbox/observability"
    httpx.put(observability, json={"monitoring": {"fault": "unavailable"}}).raise_for_status()
    try:
        started = len(audit_trail())
        shipment = ship(env, env_vars={"backend": {"NETRA_FAULT_HTTP_ERROR_RATE": None}},
                        execute=True, deadline_s=300, rollout=options(env, settle_s=3.0),
                        show=False)
    finally:
        httpx.put(observability, json={}).raise_for_status()
    rollout = shipment.rollout
    assert rollout is not None and rollout.status == "held"
    new = shipment.new_revision("backend")
    assert [(s.percent, s.action) for s in rollout.steps] == [(10, "hold")]
    action, reason = shipment.decision()
    assert action == "hold" and "memory_high" in reason and "nothing rolled back" in reason
    assert traffic(env) == {new: 10, before: 90}  # pinned where it was, nobody rolled back
    assert read_service(env).known_bad == ()
    assert shipment.not_attempted == ("frontend",)
    assert rollout_entries(started)[-1][0] == "held"

    # A deadline that leaves less than a step: no step is started, the split stays.
    late = roll_out(env, new, before, options(env), execute=True, deadline_s=1.0, show=False)
    assert late.steps == () and late.decision()[0] == "hold"
    assert "deadline of 1 s" in late.decision()[1]
    assert traffic(env) == {new: 10, before: 90}
