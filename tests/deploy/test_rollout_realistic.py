"""A gradual rollout on the sandbox's `realistic` scenario, as staging runs: Monitoring shows
a point 60 s late, Logging 5 s, revisions take 8 s to start, agent turns 3-8 s. The first
step must not go on before the new revision's own memory samples show (memory_high waits
for them, inconclusive), and then goes on; short steps ([50, 100], 5 s) keep it short.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import RolloutOptions, read_service, ship
from netra_ops.metrics import override_rules

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    yield module_sandbox_env


def test_a_rollout_waits_for_the_new_revisions_own_late_samples(env: Environment) -> None:
    before = read_service(env).serving_revision
    sandbox.push(env, "develop-long-lived", service="backend")  # a rebuild: a new digest
    rules = override_rules(env.rollback_triggers, {"health_5xx": {"for_s": 5.0,
                                                                  "window_s": 10.0}})
    options = RolloutOptions(steps=(50, 100), step_s=5.0, interval_s=2.0, settle_s=150.0,
                             rules=tuple(rules), golden_path_runs=1)
    shipment = ship(env, execute=True, deadline_s=400, rollout=options, show=False)
    assert shipment.ok, shipment.to_frame().to_dict("records")
    rollout = shipment.rollout
    assert rollout is not None and rollout.completed
    new = shipment.new_revision("backend")
    assert rollout.previous_revision == before and read_service(env).serving == {new: 100}
    first = rollout.steps[0]
    assert first.watch is not None
    memory = first.watch.ticks[0].table.set_index("rule").loc["memory_high"]
    assert memory["state"] == "inconclusive", memory.to_dict()  # Monitoring 60 s late
    assert first.watch.settled_ticks > 0 and first.action == "continue"
    judged = first.watch.table.set_index("rule").loc["memory_high"]
    assert (judged["state"], judged["group"]) == ("ok", f"revision={new}"), judged.to_dict()
    assert [s.action for s in rollout.steps] == ["continue", "continue"]
