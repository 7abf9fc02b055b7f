"""Runbooks 01, 02 and 03 headless on a sandbox of this module's own: the seed's "Service
URL mismatch" fails 03 naming both URLs; migrations in the release fail 01 until they are
acknowledged, and 02's risk table shows the acknowledgement. (02 with the mismatch, on the
`realistic` scenario: test_playbook_url_mismatch.py.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from runbook_records import run_runbook

from netra_ops import sandbox
from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
MIGRATION = "netra_backend/app/alembic/versions/0002_add_session_table.py"


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)


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


def test_release_migrations_need_acknowledgement_and_02_shows_it(
        env: Environment, tmp_path: Path) -> None:
    sandbox.apply_scenario(env, "fixed")
    assert env.preflight.repository is not None
    remote, local = tmp_path / "netra.git", tmp_path / "netra"
    git(tmp_path, "clone", "-q", "--bare", str(env.preflight.repository), str(remote))
    git(tmp_path, "clone", "-q", "-b", "develop-long-lived", str(remote), str(local))
    git(local, "branch", "-q", "main", "origin/main")
    (local / MIGRATION).write_text('"""Add the session table."""\nrevision = "0002"\n')
    git(local, "add", "-A")
    git(local, "-c", "user.name=n", "-c", "user.email=n@netra.test", "commit", "-qm",
        "add the session table")
    git(local, "push", "-q", "origin", "develop-long-lived")

    code, refused, _ = run_runbook(env, tmp_path, "INC-db", "01_preflight",
                                   f"repository={local}")
    assert code == 1 and refused["records"]["verdict.failed"] == [
        "database migrations acknowledged"]
    assert f"added {MIGRATION}" in refused["failing_cell"]["evalue"]
    assert refused["records"]["compared_refs"] == (
        f"origin/develop-long-lived vs origin/main (fetched from {remote})")
    assert refused["records"]["commits_ahead"] == 56

    code, acknowledged, _ = run_runbook(env, tmp_path, "INC-db", "01_preflight",
                                        f"repository={local}", "acknowledge_migrations=true")
    assert code == 0, acknowledged["failing_cell"]
    review = acknowledged["records"]["migrations"]
    assert review["acknowledged"] is True and review["files"] == [f"added {MIGRATION}"]

    code, deployed, _ = run_runbook(env, tmp_path, "INC-db", "02_deploy")
    assert code == 0, deployed["failing_cell"]
    assert deployed["records"]["urls.ok"] is True
    risks = {row["risk"]: row["state"] for row in deployed["records"]["risks"]}
    assert risks["Database migrations"] == "acknowledged"
