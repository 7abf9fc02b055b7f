"""The Phase 2 runbook (03_config_sync) executed headless by papermill against the sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runbook_records import run_runbook as run_records_runbook

from netra_ops import sandbox
from netra_ops.cloud import read_service
from netra_ops.config import Environment
from netra_ops.deploy import deploy

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
RUNBOOK = "03_config_sync"


def run_runbook(env: Environment, outputs: Path, incident: str, *params: str,
                extra_env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Path]:
    """03 as a user runs it, without this machine's store URLs unless `extra_env` sets them."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("NETRA_POSTGRES_URL", "NETRA_REDIS_URL")}
    return run_records_runbook(env, outputs, incident, RUNBOOK, *params,
                               environ={**environ, **(extra_env or {})})


@pytest.fixture()
def env(sandbox_env: Environment) -> Iterator[Environment]:
    yield sandbox_env
    sandbox.apply_scenario(sandbox_env, "fixed")


def test_clean_sandbox_passes_with_real_dependencies(env: Environment, tmp_path: Path) -> None:
    stores = {"NETRA_POSTGRES_URL": "postgresql://postgres:pg-pass-6620@127.0.0.1:5432/postgres",
              "NETRA_REDIS_URL": "redis://127.0.0.1:6379/0"}
    code, summary, record = run_runbook(env, tmp_path, "INC-clean", extra_env=stores)
    assert code == 0, summary["failing_cell"]
    records = summary["records"]
    assert records["drift.match"] == len(env.expected_env) and records["drift.different"] == 0
    assert records["sync.status"] == "nothing to do"
    assert records["dependencies.postgres.state"] == "ok"
    assert records["dependencies.redis.state"] == "ok"
    assert records["dependencies.postgres.query_ms"] < 100
    assert records["postgres_latency_ms"] == records["dependencies.postgres.query_ms"]
    assert records["dependencies.not_configured"] == []
    assert records["urls.ok"] is True and records["urls.mismatches"] == []
    for path in record.iterdir():
        assert "pg-pass-6620" not in path.read_text(errors="replace"), path.name


def test_wrong_auth_url_and_a_short_request_timeout_fail_then_execute_fixes_the_url(
        env: Environment, tmp_path: Path) -> None:
    """The drifted URL, and Cloud Run's default 300 s request timeout under the app's 360 s
    (issue 22): the dry run fails on both, naming both timeouts and the gcloud fix."""
    sandbox.apply_scenario(env, "wrong-auth-url")
    image = read_service(env).serving_image  # the scenario's own (the shared sandbox's tag)
    assert image and deploy(env, image, timeout_s=300, execute=True).status == "done"
    code, dry, _ = run_runbook(env, tmp_path, "INC-drift")
    assert code == 1
    assert dry["records"]["drift.drifted_keys"] == ["AUTH_SERVICE_URL"]
    assert dry["records"]["sync.status"] == "planned"
    assert dry["records"]["dependencies.not_configured"] == ["postgres", "redis"]
    assert (dry["records"]["sessions.request_timeout_s"],
            dry["records"]["sessions.connection_timeout_s"]) == (300, 360)
    failing = dry["failing_cell"]
    assert failing["ename"] == "VerdictFailed" and dry["records"]["verdict.failed"] == [
        "configuration drift (seed 2.1)", "AUTH_SERVICE_URL names the auth service",
        "Cloud Run request timeout > app connection timeout"]
    assert ("request timeout 300 s, before the app's WEBSOCKET_CONNECTION_TIMEOUT=360 s"
            in failing["evalue"]), failing["evalue"]
    assert f"fix: gcloud run services update {env.backend.name} --timeout=720" in (
        failing["evalue"])

    restored = deploy(env, image, timeout_s=env.backend.timeout_s, execute=True)
    assert restored.status == "done", restored
    code, fixed, _ = run_runbook(env, tmp_path, "INC-fix", "execute=true")
    assert code == 0, fixed["failing_cell"]
    assert fixed["records"]["sync.status"] == "done"
    assert fixed["records"]["drift_after.different"] == 0
    assert fixed["records"]["drift_after.revision"] != fixed["records"]["drift.revision"]
    assert fixed["records"]["urls.ok"] is True  # read after the fix
