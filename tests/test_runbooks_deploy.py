"""Runbooks 01 (preflight), 02 (deploy) and 06 (rollback) run headless against a sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netra_ops.cloud import pinned_image
from netra_ops.config import Environment
from netra_ops.deploy import read_service, read_services

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def run(env: Environment, outputs: Path, runbook: str,
        *params: str) -> tuple[int, dict[str, Any]]:
    args = [sys.executable, "-m", "netra_ops", "run", runbook, "--env", str(env.source),
            "--incident", "INC-358", "--outputs", str(outputs)]
    for param in params:
        args += ["-p", param]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    record = max((outputs / "INC-358").glob(f"*-{runbook}"))
    summary = json.loads((record / "summary.json").read_text())
    assert done.returncode == summary["exit_code"], done.stdout + done.stderr
    return done.returncode, summary


def test_preflight_sees_the_rehearsal_repository(env: Environment, tmp_path: Path) -> None:
    code, summary = run(env, tmp_path, "01_preflight")
    assert code == 0, summary["failing_cell"]
    assert summary["records"]["commits_ahead"] == 55
    assert summary["records"]["gates_passed"] is True


def test_deploy_dry_run_then_deploy_rollback_and_redeploy(
        env: Environment, tmp_path: Path) -> None:
    assert env.sandbox is not None
    repo = env.sandbox.initial_image.rsplit(":", 1)[0]
    first = read_service(env).serving_revision

    code, dry = run(env, tmp_path, "02_deploy", f"image={repo}:main")
    assert code == 0 and dry["records"]["deploy_status"] == "planned"
    assert read_service(env).serving_revision == first

    before = {role: state.serving_revision for role, state in read_services(env).items()}
    code, stale = run(env, tmp_path, "02_deploy", f"image={repo}:main", "execute=true")
    assert code == 0, stale["failing_cell"]
    records = stale["records"]
    assert records["deploy_status"] == "done" and records["decision"] == "continue"
    assert records["serving_image"] == f"{repo}:main"  # a tag nothing built: deployed by tag
    assert records["revision_before"] == first
    assert records["services_verified"] == ["auth", "backend", "frontend"]
    assert set(records["shipped"]) == {"auth", "backend", "frontend"}  # tags -> digests
    assert records["backend_resources"] == {"memory": "4Gi", "cpu": "4", "timeout_s": 3600.0,
                                            "concurrency": 80}
    assert [r["service"] for r in records["services_before"]] == ["auth", "backend",
                                                                  "frontend"]

    code, back = run(env, tmp_path, "06_rollback", "execute=true", "quiet_s=2")
    assert code == 0, back["failing_cell"]
    assert back["records"]["services"] == ["frontend", "backend", "auth"]  # all 02 shipped
    assert back["records"]["rollback_target"] == first
    assert back["records"]["rolled_back_from"] == records["new_revision"]
    assert back["records"]["quiet_s"] == 2 and back["records"]["rollback_validated"] is True
    assert read_service(env).known_bad == (records["new_revision"],)
    assert back["records"]["serving_revision"] == first
    assert back["records"]["rollback_to_serving_s"] < 3
    assert {role: state.serving_revision for role, state in read_services(env).items()} == before

    code, fixed = run(env, tmp_path, "02_deploy", "execute=true", "build=none")
    assert code == 0, fixed["failing_cell"]
    assert fixed["records"]["serving_image"] == pinned_image(env, f"{repo}:develop-long-lived")
