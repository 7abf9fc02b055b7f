"""On the `realistic` scenario (see test_playbook_realistic.py): a leaking build is rolled
back to the known-good fix by a trigger on Monitoring data that arrives 60 s late.

The fix is staged and marked known good as 07 marks it after a clean watch (that story is
test_playbook_realistic.py's), so this module's sandbox starts where that one ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playbook_runs import REALISTIC_SHORT, outcome, play, records, runbooks

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import mark_revision, read_service, serve_for_rehearsal

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    yield module_sandbox_env


def test_realistic_leak_rolled_back_to_the_known_good_fix_on_late_monitoring_data(
        env: Environment, tmp_path: Path) -> None:
    serve_for_rehearsal(env, "develop-long-lived")  # realistic already serves the fix
    fix = read_service(env).serving_revision
    assert fix is not None
    assert mark_revision(env, fix, "good", execute=True).ok
    # The leak crosses the rehearsal's 256 MiB in ~30 s; Monitoring shows it 60 s later.
    # The rule's 10 s window ends at the newest point (max_lateness_s), so it fires instead
    # of staying inconclusive until settle_s runs out.
    done, index = play(env, tmp_path, "INC-real-leak", "memory-leak", *REALISTIC_SHORT,
                       "07_monitoring.duration_s=60")
    outcome(done, "ROLLED BACK")
    assert records(index, "02_deploy")["revision_before"] == fix  # the scenario kept it
    assert runbooks(index)[4:6] == ["07_monitoring", "06_rollback"]
    watched = records(index, "07_monitoring")
    assert watched["decision"] == "rollback", watched["decision.reason"]
    assert watched["first_firing"]["rule"] == "memory_high"
    assert watched["watch.settled_evaluations"] == 0
    back = records(index, "06_rollback")
    assert (back["rollback_target"], back["serving_revision"]) == (fix, fix)
    assert back["rollback_target_known_good"] is True and back["golden_path_ok"] is True
    assert back["rolled_back_from"] in read_service(env).known_bad
