"""The secrets a runbook needs, resolved before it runs: every missing one named at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from netra_ops.config import load_environment
from netra_ops.errors import SecretError
from netra_ops.record import run_notebook
from netra_ops.record.secret_needs import needed_secrets, require_secrets

STAGING = load_environment("staging")
PASSWORD = "NETRA_STAGING_TEST_PASSWORD"
UNSET = (PASSWORD, "NETRA_STAGING_POSTGRES_URL", "NETRA_STAGING_REDIS_URL")


@pytest.fixture
def no_staging_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("runbook", "parameters", "needs"), [
    ("01_preflight", {}, []),
    ("02_deploy", {}, []),
    ("02_deploy", {"rollout_steps": [10, 100]}, ["the test user's password"]),
    ("03_config_sync", {}, ["[dependencies] postgres", "[dependencies] redis"]),
    ("04_golden_path_validation", {}, ["the test user's password"]),
    ("07_monitoring", None, ["the test user's password"]),
    ("00_incident_summary", {}, []),
])
def test_what_each_runbook_needs(runbook: str, parameters: dict[str, object] | None,
                                 needs: list[str]) -> None:
    assert [what for _, what in needed_secrets(STAGING, runbook, parameters)] == needs


def test_every_missing_secret_is_named_with_the_runbooks_that_need_it(
        no_staging_secrets: None) -> None:
    with pytest.raises(SecretError) as raised:
        require_secrets(STAGING, [("04_golden_path_validation", {}), ("03_config_sync", {}),
                                  ("07_monitoring", {})])
    message = str(raised.value)
    assert message.startswith("missing secrets: ")
    assert ("the test user's password for 04_golden_path_validation, 07_monitoring "
            f"(environment variable {PASSWORD} is not set)") in message
    assert "NETRA_STAGING_POSTGRES_URL" in message and "nothing was run" in message
    assert "\n" not in message


def test_nothing_is_said_when_the_secrets_resolve(no_staging_secrets: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD, "correct-horse-battery-staple")
    require_secrets(STAGING, [("04_golden_path_validation", {}), ("01_preflight", {})])


def test_a_runbook_missing_a_secret_stops_before_its_record(no_staging_secrets: None,
                                                           tmp_path: Path) -> None:
    """Before: the run started, 04's login cell raised (exit 3), and the scrubber turned
    the error into "[REDACTED] variable ... is not set"."""
    with pytest.raises(SecretError, match=f"environment variable {PASSWORD} is not set"):
        run_notebook("04_golden_path_validation", environment="staging", incident="INC-1",
                     outputs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
