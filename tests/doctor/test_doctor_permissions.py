"""The permission checks against a private sandbox whose granted permissions the tests narrow
(`PUT /_sandbox/iam`): the failing rows name what is missing and the role that grants it,
and the listed permissions are exactly enough for the runbooks' Cloud Run calls."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from google.api_core import exceptions as gexc

from netra_ops import deploy
from netra_ops.cloud import projects_client
from netra_ops.config import Environment, load_environment
from netra_ops.doctor import REQUIREMENTS, changing_runbooks, doctor
from netra_ops.doctor.permissions import held_on_project, held_on_service
from netra_ops.probe import config_drift

pytestmark = [pytest.mark.sandbox]
DoctorCli = Callable[..., subprocess.CompletedProcess[str]]
ALL = [r.permission for r in REQUIREMENTS]


def grant(env: Environment, permissions: Sequence[str] | None) -> None:
    """What the sandbox's principal holds from now on (None: everything)."""
    body = {"granted_permissions": None if permissions is None else list(permissions)}
    with httpx.Client(trust_env=False, timeout=10) as client:
        client.put(f"{env.api_endpoint}/_sandbox/iam", json=body).raise_for_status()


@pytest.fixture
def env(module_sandbox_env: Environment) -> Iterator[Environment]:
    """The module's sandbox; every permission granted again after each test."""
    yield module_sandbox_env
    grant(module_sandbox_env, None)


def test_missing_permissions_are_named_with_their_runbooks_and_roles(env: Environment) -> None:
    missing = {"run.services.update", "logging.logEntries.list", "monitoring.timeSeries.list"}
    grant(env, [p for p in ALL if p not in missing])
    report = doctor(env)
    assert not report.ok
    assert {c.name for c in report.failed} == {f"permission {p}" for p in missing}
    update = report.check("permission run.services.update")
    assert update.detail == ("missing; needed by 02_deploy, 03_config_sync, 06_rollback, "
                             "07_monitoring (with execute=true); granted by roles/run.developer")
    assert ("gcloud projects add-iam-policy-binding netra-sandbox --member=PRINCIPAL "
            "--role=roles/run.developer") in update.fix
    logs = report.check("permission logging.logEntries.list")
    assert "06_rollback, 07_monitoring" in logs.detail and "roles/logging.viewer" in logs.fix
    metrics = report.check("permission monitoring.timeSeries.list")
    assert "05_performance, 07_monitoring" in metrics.detail
    assert "roles/monitoring.viewer" in metrics.detail
    held = [r.permission for r in REQUIREMENTS if r.permission not in missing]
    assert all(report.check(f"permission {p}").status == "pass" for p in held)
    assert report.check("Cloud Run API").status == "pass"  # run.services.get is held


def test_the_cli_exits_1_and_prints_the_failing_rows(env: Environment, tmp_path: Path,
                                                     doctor_cli: DoctorCli) -> None:
    grant(env, [p for p in ALL if p != "run.revisions.get"])
    done = doctor_cli("--env", str(env.source), folder=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("FAIL "))
    assert "permission run.revisions.get" in row and "03_config_sync" in row
    assert "--role=roles/run.viewer" in done.stdout
    assert done.stdout.splitlines()[-1].endswith("1 fail, 0 skipped")


def test_without_run_services_get_the_api_row_says_which_permission(env: Environment) -> None:
    grant(env, [p for p in ALL if p != "run.services.get"])
    row = doctor(env).check("Cloud Run API")
    assert row.status == "fail" and "run.services.get" in row.detail
    assert "grant roles/run.viewer" in row.fix


def test_a_read_only_environment_needs_no_change_permission(env: Environment,
                                                            tmp_path: Path) -> None:
    assert env.source is not None
    text = env.source.read_text()
    assert "allow_changes = true" in text
    readonly = tmp_path / "readonly.toml"
    readonly.write_text(text.replace("allow_changes = true", "allow_changes = false"))
    grant(env, [r.permission for r in REQUIREMENTS if not r.changes])
    report = doctor(readonly)
    assert report.ok, report.to_text()
    for requirement in REQUIREMENTS:
        row = report.check(f"permission {requirement.permission}")
        assert row.status == ("skipped" if requirement.changes else "pass")
    assert "not needed while allow_changes = false" in report.check(
        "permission run.services.update").detail
    changes = report.check("changes").detail
    assert "read-only" in changes and "ChangesNotAllowedError" in changes
    assert ", ".join(changing_runbooks()) in changes


def test_the_listed_permissions_are_enough_for_the_runbooks_cloud_run_calls(
        env: Environment) -> None:
    """The sandbox refuses every Cloud Run call whose permission is not granted, so the
    runbooks' reads, a deploy and a rollback succeeding on exactly REQUIREMENTS proves the
    list complete for Cloud Run; without run.operations.get the deploy cannot be waited on."""
    grant(env, ALL)
    before = deploy.read_service(env)
    assert config_drift(env).error is None
    change = deploy.deploy(env, before.serving_image or "", env_vars={"DOCTOR_PROBE": "1"},
                           execute=True, deadline_s=60)
    assert change.status == "done", change.error
    assert deploy.rollback(env, execute=True).status == "done"
    grant(env, [p for p in ALL if p != "run.operations.get"])
    blind = deploy.deploy(env, before.serving_image or "", env_vars={"DOCTOR_PROBE": "2"},
                          execute=True, deadline_s=60)
    assert blind.status == "failed" and "run.operations.get" in (blind.error or "")


def test_resource_manager_answers_from_the_same_granted_set(env: Environment) -> None:
    grant(env, ["logging.logEntries.list", "run.services.get"])
    asked = ["logging.logEntries.list", "monitoring.timeSeries.list"]
    assert held_on_project(env, asked) == {"logging.logEntries.list"}
    assert held_on_service(env, ["run.services.get", "run.services.update"]) == {
        "run.services.get"}
    grant(env, None)
    assert held_on_project(env, asked) == set(asked)
    client = projects_client(env)
    with pytest.raises(gexc.Forbidden, match="sandbox emulates project 'netra-sandbox'"):
        client.test_iam_permissions(resource="projects/someone-else", permissions=asked)
    with pytest.raises(gexc.BadRequest, match="not valid"):
        client.test_iam_permissions(resource="projects/netra-sandbox", permissions=["bogus"])


def test_an_environment_file_is_loaded_by_path_as_the_cli_does(env: Environment) -> None:
    assert env.source is not None
    by_path = doctor(str(env.source))
    assert by_path.ok and by_path.source == str(load_environment(env.source).source)
