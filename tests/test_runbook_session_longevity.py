"""The session longevity runbook (09) executed headless by papermill against the sandbox, at a
rehearsal time scale of 60 with Cloud Run's 3600 s request timeout: sessions outlive the
app's 360 s, the one silent user is closed when the app says, the verdict passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runbook_records import charts, run_runbook

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import deploy, release_image

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
RUNBOOK = "09_session_longevity"
SCALE = "NETRA_REHEARSAL_TIME_SCALE"


@pytest.fixture()
def env(sandbox_env: Environment) -> Iterator[Environment]:
    """The shared sandbox at time scale 60; afterwards as the environment has it."""
    done = deploy(sandbox_env, release_image(sandbox_env), env_vars={SCALE: "60"},
                  timeout_s=3600, execute=True)
    assert done.status in ("done", "unchanged"), done
    yield sandbox_env
    deploy(sandbox_env, release_image(sandbox_env), timeout_s=sandbox_env.backend.timeout_s,
           env_vars={SCALE: None}, execute=True)
    sandbox.apply_scenario(sandbox_env, "fixed")


def test_sessions_outlive_the_apps_timeout_and_the_verdict_passes(
        env: Environment, tmp_path: Path) -> None:
    code, summary, record = run_runbook(
        env, tmp_path, "INC-sessions", RUNBOOK, "users=3", "silent_users=1", "duration_s=9",
        "think_distribution=fixed", "think_mean_s=480", "missed_heartbeats=8")
    assert code == 0, summary["failing_cell"]
    records = summary["records"]
    sessions = records["sessions"]
    assert (sessions["time_scale"], sessions["time_scale_source"]) == (
        60, "connection_established")
    assert sessions["held_past_app_timeout"] >= 2 and sessions["unexpected_drops"] == 0
    assert sessions["drops"]["app_idle_close"] >= 1
    assert records["session_timeouts"]["request_timeout_s"] == 3600
    assert records["verdict.passed"] is True
    assert charts(record, f"{RUNBOOK}.ipynb") == 1
