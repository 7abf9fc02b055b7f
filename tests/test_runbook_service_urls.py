"""Runbook 03 headless on a sandbox of this module's own: the seed's "Service URL mismatch"
fails it naming both URLs. (02 with the mismatch, on the `realistic` scenario:
test_playbook_url_mismatch.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runbook_records import run_runbook

from netra_ops import sandbox
from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def test_url_mismatch_fails_03_naming_both_urls(env: Environment, tmp_path: Path) -> None:
    staged = sandbox.apply_scenario(env, "url-mismatch")
    code, ran, _ = run_runbook(env, tmp_path, "INC-url", "03_config_sync")
    assert code == 1
    failed = ran["records"]["verdict.failed"]
    assert "AUTH_SERVICE_URL names the auth service" in failed
    message = ran["failing_cell"]["evalue"]
    assert (f"AUTH_SERVICE_URL names the auth service: value {env.frontend.url} vs threshold "
            f"{env.auth.url}") in message
    assert f"{staged['name']} (100%) has AUTH_SERVICE_URL={env.frontend.url}" in message
    assert ran["records"]["urls.ok"] is False
    assert ran["records"]["urls.mismatches"] == [
        {"variable": "AUTH_SERVICE_URL", "revision": staged["name"],
         "configured": env.frontend.url, "cloud_run": env.auth.url}]
