"""Doctor where nothing answers: a bad file, no credentials, credentials without a token, a
sandbox that is not running. Every finding is a row with its fix, never an exception."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as auth_exceptions

from netra_ops.config import Environment, find_environment_file, load_environment
from netra_ops.doctor import REQUIREMENTS, doctor, find_principal
from netra_ops.sandbox.ephemeral import free_ports

DoctorCli = Callable[..., subprocess.CompletedProcess[str]]
GOOGLE_ROWS = ["Cloud Run API", "Cloud Logging API", "Cloud Monitoring API",
               *(f"permission {r.permission}" for r in REQUIREMENTS)]
SERVICE_ACCOUNT = "netra-ops-doctor@netra-staging.iam.gserviceaccount.com"


def service_account_key(folder: Path) -> Path:
    """A service account key file whose token endpoint is a closed loopback port."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "netra-staging",
            "private_key_id": "0" * 40, "private_key": pem, "client_email": SERVICE_ACCOUNT,
            "client_id": "1", "token_uri": f"http://127.0.0.1:{free_ports(1)[0]}/token"}
    path = folder / "key.json"
    path.write_text(json.dumps(info))
    return path


def test_a_malformed_file_is_a_failed_row(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(find_environment_file("staging").read_text().replace(
        'region = "us-central1"', "region = us-central1"))
    report = doctor(path)
    first = report.checks[0]
    assert (first.name, first.status) == ("environment file", "fail")
    assert str(path) in first.detail and "not valid TOML" in first.detail
    assert "fix the file" in first.fix
    assert {c.status for c in report.checks[1:]} == {"skipped"}
    assert not report.ok


def test_an_unknown_environment_lists_the_known_ones() -> None:
    report = doctor("prod")
    assert report.checks[0].status == "fail"
    assert "unknown environment 'prod'" in report.checks[0].detail
    assert "production" in report.checks[0].detail


def test_production_without_credentials_fails_clearly(offline_google: dict[str, str],
                                                      production_copy: Path) -> None:
    report = doctor(production_copy, timeout_s=2)
    assert report.check("environment file").status == "pass"
    credentials = report.check("credentials")
    assert credentials.status == "fail"
    assert "credentials were not found" in credentials.detail
    assert "gcloud auth application-default login" in credentials.fix
    assert "GOOGLE_APPLICATION_CREDENTIALS" in credentials.fix
    assert all(report.check(name).status == "skipped" for name in GOOGLE_ROWS)
    changes = report.check("changes")
    assert changes.status == "pass" and "read-only (allow_changes = false)" in changes.detail
    for role in ("backend", "auth", "frontend"):
        row = report.check(f"url {role}")
        assert row.status == "fail" and "connection refused" in row.detail
    secrets = report.check("secrets")
    assert secrets.status == "fail" and "NETRA_PRODUCTION_TEST_PASSWORD" in secrets.detail
    assert report.principal is None and not report.ok


def test_the_cli_on_production_without_credentials_exits_1(
        production_copy: Path, tmp_path: Path, doctor_cli: DoctorCli) -> None:
    done = doctor_cli("--env", str(production_copy), "--json", "--timeout", "2",
                      folder=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["credentials"] == "fail" and statuses["Cloud Run API"] == "skipped"
    assert "Traceback" not in done.stderr


def test_a_key_without_a_token_names_the_service_account(
        offline_google: dict[str, str], production_copy: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_key(tmp_path)))
    principal = find_principal(load_environment(production_copy))
    assert (principal.kind, principal.email) == ("service account", SERVICE_ACCOUNT)
    assert principal.member == f"serviceAccount:{SERVICE_ACCOUNT}"
    assert "GOOGLE_APPLICATION_CREDENTIALS" in principal.source
    row = doctor(production_copy, timeout_s=2).check("credentials")
    assert row.status == "fail"
    assert row.detail.startswith(f"found service account {SERVICE_ACCOUNT}, from "
                                 "GOOGLE_APPLICATION_CREDENTIALS")
    assert "no access token" in row.detail and "sign in again" in row.fix


def test_no_credentials_is_google_auth_s_own_error(offline_google: dict[str, str],
                                                   production_copy: Path) -> None:
    with pytest.raises(auth_exceptions.DefaultCredentialsError):
        find_principal(load_environment(production_copy))


def test_a_sandbox_that_is_not_running_says_how_to_start_it(
        make_sandbox_env: Callable[[], Environment]) -> None:
    env = make_sandbox_env()
    report = doctor(env, timeout_s=2)
    start = f"netra-ops sandbox up --env {env.source}"
    assert report.check("credentials").status == "pass"
    for name in ("Cloud Run API", "Cloud Logging API", "Cloud Monitoring API",
                 "permissions on the service", "permissions on the project"):
        row = report.check(name)
        assert row.status == "fail" and start in row.fix, (name, row)
    assert all(report.check(f"permission {r.permission}").status == "skipped"
               for r in REQUIREMENTS)
    secrets = report.check("secrets")
    assert secrets.status == "fail" and "netra-ops sandbox up" in secrets.detail
    assert report.check("url backend").status == "fail"
