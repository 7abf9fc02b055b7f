"""environments/production.toml ships read-only: every change is refused with
ChangesNotAllowedError before any call to Google, and the probes still work (failed results
with reasons, here where production does not answer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netra_ops import deploy
from netra_ops.config import find_environment_file, load_environment
from netra_ops.doctor import changing_runbooks
from netra_ops.errors import ChangesNotAllowedError
from netra_ops.probe import check_dependencies, check_services, golden_path, login

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "us-central1-docker.pkg.dev/netra-production/netra/netra-backend:develop-long-lived"


def test_production_ships_read_only_and_says_so() -> None:
    path = find_environment_file("production")
    env = load_environment("production")
    assert (env.kind, env.project, env.allow_changes) == ("gcp", "netra-production", False)
    assert env.release.image is None  # the image is named on purpose when a change is made
    text = path.read_text()
    assert "READ-ONLY" in text and "allow_changes = false" in text
    assert env.credentials.password == "env:NETRA_PRODUCTION_TEST_PASSWORD"
    staging = load_environment("staging")
    assert [r.name for r in env.rollback_triggers] == [r.name for r in staging.rollback_triggers]
    assert [c.name for c in env.success_criteria] == [c.name for c in staging.success_criteria]


@pytest.mark.parametrize("change", ["deploy", "config_sync", "set_traffic", "rollback",
                                    "rollback_to"])
def test_every_change_is_refused_before_any_call(change: str,
                                                 offline_google: dict[str, str]) -> None:
    """With no credentials anywhere, any call to Google would fail on credentials first:
    ChangesNotAllowedError proves the guard comes before the network."""
    env = load_environment("production")
    calls = {
        "deploy": lambda: deploy.deploy(env, IMAGE, execute=True),
        "config_sync": lambda: deploy.deploy(env, IMAGE, env_vars={"ENVIRONMENT": "production"},
                                             execute=True),
        "set_traffic": lambda: deploy.set_traffic(env, {"r-1": 50, "r-2": 50}, execute=True),
        "rollback": lambda: deploy.rollback(env, execute=True),
        "rollback_to": lambda: deploy.rollback(env, "netra-backend-production-00001-abc",
                                               execute=True),
    }
    with pytest.raises(ChangesNotAllowedError) as refused:
        calls[change]()
    message = str(refused.value)
    assert "production" in message and "not allow-listed" in message
    assert f"set allow_changes = true in {find_environment_file('production')}" in message


def test_rehearsal_staging_refuses_production(offline_google: dict[str, str]) -> None:
    with pytest.raises(ChangesNotAllowedError, match="sandbox only"):
        deploy.serve_for_rehearsal(load_environment("production"), "main")


def test_probes_against_production_give_failed_results_with_reasons(
        production_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_PRODUCTION_TEST_PASSWORD", "not-a-real-password")
    env = load_environment(production_copy)
    services = check_services(env, timeout_s=2)
    assert not services.ok
    assert all("connection refused" in (r.error or "") for r in services.results.values())
    run = golden_path(env, timeout_s=2)
    assert not run.ok and "connection refused" in (run.error or "")
    assert not login(env, timeout_s=2).ok
    stores = check_dependencies(env, timeout_s=2)
    assert not stores.ok
    assert all("NETRA_PRODUCTION_" in (s.error or "") for s in stores.stores)


def test_the_changing_runbooks_are_those_that_take_execute() -> None:
    """doctor's list of runbooks that refuse to change anything on a read-only environment
    is the list of runbooks that pass `execute` on to a change."""
    takes_execute = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if "execute=execute" in code:
            takes_execute.add(path.stem)
    assert takes_execute == set(changing_runbooks())
