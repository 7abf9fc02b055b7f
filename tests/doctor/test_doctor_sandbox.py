"""`netra-ops doctor --env sandbox`: every check runs for real against the shared sandbox, and
all are green. Nothing here changes the sandbox."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from netra_ops.config import Environment
from netra_ops.doctor import REQUIREMENTS, doctor

pytestmark = [pytest.mark.sandbox]
DoctorCli = Callable[..., subprocess.CompletedProcess[str]]

EXPECTED_ROWS = ["environment file", "secrets", "credentials", "Cloud Run API",
                 "Cloud Logging API", "Cloud Monitoring API",
                 *(f"permission {r.permission}" for r in REQUIREMENTS),
                 *(f"chat session timeouts: {name}" for name in (
                     "Cloud Run request timeout > app connection timeout",
                     "heartbeat interval well under both timeouts", "session affinity on",
                     "end-to-end HTTP/2 off")),
                 "changes", "url backend", "url auth", "url frontend"]


def test_the_sandbox_is_all_green(sandbox_env: Environment) -> None:
    report = doctor(sandbox_env)
    assert [c.name for c in report.checks] == EXPECTED_ROWS
    assert {c.status for c in report.checks} == {"pass"}, report.to_text()
    assert report.ok and report.counts() == {"pass": len(EXPECTED_ROWS), "fail": 0,
                                             "skipped": 0}
    assert report.check("credentials").detail.startswith("sandbox: anonymous credentials")
    assert "latest ready revision netra-backend-staging-" in report.check("Cloud Run API").detail
    assert "request_count series" in report.check("Cloud Monitoring API").detail
    assert "allow_changes = true" in report.check("changes").detail
    for requirement in REQUIREMENTS:
        row = report.check(f"permission {requirement.permission}")
        assert row.detail == f"held; needed by {requirement.needed_by()}"


def test_the_cli_prints_the_table_and_exits_0(sandbox_env: Environment, tmp_path: Path,
                                              doctor_cli: DoctorCli) -> None:
    done = doctor_cli("--env", str(sandbox_env.source), folder=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("doctor: environment sandbox (netra-sandbox, us-central1)")
    rows = [line for line in lines if line.startswith(("PASS ", "FAIL ", "SKIPPED "))]
    assert len(rows) == len(EXPECTED_ROWS)
    assert all(row.startswith("PASS ") for row in rows)
    assert lines[-1] == f"doctor: {len(EXPECTED_ROWS)} pass, 0 fail, 0 skipped"


def test_the_cli_prints_json(sandbox_env: Environment, tmp_path: Path,
                             doctor_cli: DoctorCli) -> None:
    done = doctor_cli("--env", str(sandbox_env.source), "--json", folder=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["environment"] == "sandbox"
    assert report["counts"] == {"pass": len(EXPECTED_ROWS), "fail": 0, "skipped": 0}
    assert [c["name"] for c in report["checks"]] == EXPECTED_ROWS
    assert set(report["checks"][0]) == {"name", "status", "detail", "fix"}
    assert report["principal"].startswith("sandbox: anonymous")


def test_bad_usage_exits_2(tmp_path: Path, doctor_cli: DoctorCli) -> None:
    done = doctor_cli("--timeout", "0", folder=tmp_path)
    assert done.returncode == 2
    assert "--timeout" in done.stderr
