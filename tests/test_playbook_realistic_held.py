"""On the `realistic` scenario (see test_playbook_realistic.py): a trigger on Logging data
that arrives 5 s late fires within a watch, and with Monitoring down the playbook holds
(HELD), rolling nothing back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playbook_runs import REALISTIC_SHORT, outcome, play, records, runbooks

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import read_service, serve_for_rehearsal
from netra_ops.metrics import override_rules, run_watch

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    yield module_sandbox_env


def test_realistic_trigger_on_late_logging_data_fires(env: Environment) -> None:
    # Half the answers are 500s; Logging shows them 5 s late. health_5xx (from Logging, the
    # preferred source) fires within the watch while memory_high (Monitoring, a minute late)
    # has no samples of the new revision yet: a firing trigger decides.
    serve_for_rehearsal(env, "develop-long-lived", {"NETRA_FAULT_HTTP_ERROR_RATE": "0.5"})
    rules = override_rules(env.rollback_triggers,
                           {"health_5xx": {"window_s": 10.0, "for_s": 0.0, "min_samples": 1}})
    result = run_watch(env, rules, duration_s=20, interval_s=2, probe=_health_only,
                       stop_on_rollback=True, settle_s=10, max_lateness_s=180, show=False)
    assert result.decision.action == "rollback", result.decision.reason
    firing = result.table[result.table["state"] == "firing"]
    assert list(firing["rule"]) == ["health_5xx"] and firing.iloc[0]["source"] == "logging"


def test_realistic_monitoring_down_holds(env: Environment, tmp_path: Path) -> None:
    # The fix serves (02 finds nothing to deploy: "unchanged", and verifies what serves by
    # digest); Monitoring is down: memory_high stays inconclusive, 07 holds after settle_s.
    done, index = play(env, tmp_path, "INC-real-held", "monitoring-down",
                       *REALISTIC_SHORT)
    outcome(done, "HELD")
    assert "06_rollback" not in runbooks(index)
    deployed = records(index, "02_deploy")
    assert deployed["deploy_status"] == "unchanged" and deployed["decision"] == "continue"
    assert deployed["decision.reason"].startswith("unchanged: nothing to deploy")
    watched = records(index, "07_monitoring")
    assert watched["decision"] == "hold", watched["decision.reason"]
    assert "memory_high" in watched["decision.reason"]
    assert "monitoring" in watched["watch.unavailable"]
    assert read_service(env).serving == {deployed["revision_before"]: 100}  # the fix stays


def _health_only(env: Environment) -> list[Any]:
    from netra_ops.probe import health

    return [health(env.backend.url, path=env.backend.health_path)]
