"""The panel's logic without a browser: snapshot, actions, two-step changes, journal, watch.

One private sandbox for the module; the tests run in order and each leaves the
develop-long-lived build serving 100% when it ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netra_ops.cloud import pinned_image
from netra_ops.config import Environment
from netra_ops.deploy import deploy, read_service
from netra_ops.errors import ConfigError
from netra_ops.record import recorded, verify_incident
from netra_ops.sandbox.scenarios import image_with_tag
from netra_ops.ui import (
    ActionOutcome,
    PendingChange,
    WatchRun,
    cancel_change,
    control_panel,
    execute_change,
    golden_path_action,
    interactive,
    journal_entries,
    plan_deploy,
    plan_rollback,
    record_value,
)
from netra_ops.ui.marks import marked

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def stale_image(env: Environment) -> str:
    assert env.release.image
    return image_with_tag(env.release.image, "main-stale")


def test_marks_say_the_state_in_words() -> None:
    assert marked(True, "healthy", "unhealthy") == "✔ healthy"
    assert marked(False, "healthy", "unhealthy: HTTP 503") == "✖ unhealthy: HTTP 503"


def test_outside_a_kernel_the_panel_is_a_snapshot(env: Environment) -> None:
    assert not interactive()
    panel = control_panel(env, incident="INC-ui")
    assert not panel.live and panel.widget is None
    assert recorded()["ui.snapshot"]["healthy"] is True
    checks = panel.checks()
    assert [c.name for c in checks] == ["backend healthy", "auth healthy", "frontend healthy",
                                        "backend traffic on Ready revisions"]
    assert all(c.ok for c in checks)
    page = panel._repr_html_()
    assert page.count("✔ healthy") == 3 and "▶ serving" in page and "100%" in page
    assert page.count("data:image/png;base64,") == 2
    assert set(panel.snapshot.charts.pngs) == {"error_rate", "memory"}
    assert all(png.startswith(b"\x89PNG") for png in panel.snapshot.charts.pngs.values())
    with pytest.raises(ConfigError, match="refresh_s"):
        control_panel(env, refresh_s=0)


def test_a_down_service_is_said_in_words(env: Environment) -> None:
    services = dict(env.services)
    services["auth"] = services["auth"].model_copy(update={"url": "http://127.0.0.1:9"})
    broken = env.model_copy(update={"services": services})
    state = control_panel(broken).snapshot.state
    assert state.tile("auth").health.startswith("✖ unhealthy: ")
    assert not {c.name: c.ok for c in state.checks()}["auth healthy"]


def test_golden_path_action_is_recorded_and_journaled(env: Environment,
                                                      tmp_path: Path) -> None:
    outcome = golden_path_action(env)
    assert outcome.ok and outcome.outcome == "passed", outcome.summary
    assert outcome.summary.startswith("✔ golden path passed in ")
    stored = record_value(outcome.record_name, outcome.record_value(), incident="INC-ui",
                          environment=str(env.source), outputs_dir=tmp_path)
    assert recorded()["ui.golden_path"] == stored and stored["outcome"] == "passed"
    entries = journal_entries("INC-ui", tmp_path)
    assert [e["name"] for e in entries] == ["ui.golden_path"]
    assert entries[0]["value"]["at"] == outcome.started_at.isoformat()
    assert verify_incident(tmp_path / "INC-ui").ok


def test_nothing_to_confirm_is_said_without_asking(env: Environment) -> None:
    refused = plan_rollback(env)
    assert isinstance(refused, ActionOutcome) and refused.outcome == "refused"
    assert "no revision of" in refused.summary and "to roll back to" in refused.summary
    empty = plan_deploy(env, "  ")
    assert isinstance(empty, ActionOutcome) and empty.outcome == "refused"
    assert env.release.image
    assert deploy(env, env.release.image, execute=True).status == "done"  # now by digest
    same = plan_deploy(env, env.release.image)
    assert isinstance(same, ActionOutcome) and same.outcome == "unchanged"
    locked = env.model_copy(update={"allow_changes": False})
    refused = plan_deploy(locked, stale_image(env))
    assert isinstance(refused, ActionOutcome) and "not allow-listed" in refused.summary
    assert read_service(env).serving_image == pinned_image(env, env.release.image)


def test_deploy_and_rollback_change_only_when_confirmed(env: Environment) -> None:
    first = read_service(env).serving_revision
    planned = plan_deploy(env, stale_image(env))
    assert isinstance(planned, PendingChange)
    assert planned.message.startswith(f"Deploy {stale_image(env)} (netra-backend-staging")
    assert planned.message.endswith("Confirm?") and "then 100% to it once Ready" in planned.message
    assert read_service(env).serving_revision == first  # planning changed nothing
    declined = cancel_change(planned)
    assert declined.outcome == "cancelled" and read_service(env).serving_revision == first
    deployed = execute_change(env, planned)
    assert deployed.outcome == "done", deployed.summary
    second = read_service(env).serving_revision
    assert second != first and deployed.details["new_revision"] == second

    back = plan_rollback(env)
    assert isinstance(back, PendingChange) and back.target == first
    assert f"traffic: {second} 100% -> {first} 100%" in back.message
    done = execute_change(env, back)
    assert done.outcome == "done" and done.summary.startswith("✔ rollback done")
    assert read_service(env).serving == {first: 100}
    assert json.loads(json.dumps(done.record_value()))["serving_after"] == {first: 100}


def test_a_confirmation_of_a_stale_plan_changes_nothing(env: Environment) -> None:
    state = read_service(env)
    other = next(r.name for r in state.revisions if r.name != state.serving_revision)
    stale_plan = PendingChange("rollback", env.name, state.name, ("traffic: ...",),
                               {other: 100}, target=other)
    outcome = execute_change(env, stale_plan)
    assert outcome.outcome == "refused" and "review it again" in outcome.summary
    assert read_service(env).serving == state.serving


def test_watch_runs_tick_by_tick_until_stopped(env: Environment) -> None:
    run = WatchRun(env, interval_s=0.5)
    tick = run.next_tick()
    assert tick is not None and tick.number == 1
    run.stop()
    assert run.next_tick() is None
    run.close()
    outcome = run.outcome()
    assert outcome.record_name == "ui.watch" and outcome.outcome == "stopped"
    assert outcome.details["ticks"] == 1 and outcome.details["decision"] == tick.decision.action
