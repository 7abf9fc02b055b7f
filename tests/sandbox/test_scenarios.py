"""Scenario presets, and deploying them to a sandbox of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from netra_ops import sandbox
from netra_ops.config import Environment, load_environment
from netra_ops.errors import SandboxError, SandboxNotRunningError
from netra_ops.sandbox.control.scenarios import get_scenario, image_with_tag, scenario_request
from netra_ops.sandbox.runtime.state import sandbox_settings

REPOSITORY = "us-central1-docker.pkg.dev/netra-sandbox/netra/netra-backend"


def test_every_documented_scenario_exists() -> None:
    assert [s.name for s in sandbox.list_scenarios()] == [
        "fixed", "stale-build", "http-errors", "slow", "crash-on-start", "dropped-event",
        "memory-leak", "url-mismatch", "monitoring-down", "slow-delivery", "realistic",
        "slow-deploy", "wrong-auth-url"]
    assert all(s.description for s in sandbox.list_scenarios())
    with pytest.raises(SandboxError, match=r"unknown scenario 'nope'.*fixed, stale-build"):
        get_scenario("nope")


@pytest.mark.parametrize(("image", "expected"), [
    ("repo/backend:develop-long-lived", "repo/backend:main"),
    ("repo/backend", "repo/backend:main"),
    ("localhost:5000/backend:v1", "localhost:5000/backend:main"),
    ("localhost:5000/backend", "localhost:5000/backend:main"),
    ("repo/backend@sha256:abc", "repo/backend:main"),
])
def test_only_the_tag_of_the_image_changes(image: str, expected: str) -> None:
    assert image_with_tag(image, "main") == expected


def test_scenario_requests_keep_the_repository_and_set_faults() -> None:
    env = load_environment("sandbox")
    requests = {s.name: scenario_request(env, s.name) for s in sandbox.list_scenarios()}
    assert {name: r["image"].rsplit(":", 1)[1] for name, r in requests.items()} == {
        "fixed": "develop-long-lived", "stale-build": "main", "http-errors": "develop-long-lived",
        "slow": "develop-long-lived", "crash-on-start": "crash-on-start",
        "dropped-event": "develop-long-lived", "memory-leak": "develop-long-lived",
        "url-mismatch": "develop-long-lived", "monitoring-down": "develop-long-lived",
        "slow-delivery": "develop-long-lived", "realistic": "develop-long-lived",
        "slow-deploy": "develop-long-lived", "wrong-auth-url": "develop-long-lived"}
    assert all(r["image"].startswith(REPOSITORY + ":") and r["traffic"] is True
               for r in requests.values())
    assert requests["http-errors"]["env"] == {"NETRA_FAULT_HTTP_ERROR_RATE": "0.2"}
    assert requests["slow"]["env"] == {"NETRA_FAULT_LATENCY_MS": "700"}
    assert requests["dropped-event"]["env"] == {"NETRA_FAULT_DROP_EVENT": "tool_completed"}
    assert requests["memory-leak"]["env"] == {"NETRA_FAULT_MEMORY_GROWTH_KB": "512",
                                              "NETRA_FAULT_MEMORY_REPORT_FACTOR": "8"}
    assert requests["slow-delivery"]["env"] == {"NETRA_FAULT_DELIVERY_DELAY_MS": "800"}
    assert requests["url-mismatch"]["env"] == {
        "AUTH_SERVICE_URL": sandbox_settings(env).url("frontend")}
    assert requests["monitoring-down"]["env"] == {}
    wrong = requests["wrong-auth-url"]["env"]["AUTH_SERVICE_URL"]
    assert wrong.startswith("http://127.0.0.1:") and "{" not in wrong


def test_applying_to_a_stopped_sandbox_says_how_to_start_it(
    make_sandbox_env: Callable[[], Environment],
) -> None:
    env = make_sandbox_env()
    with pytest.raises(SandboxNotRunningError, match="start it with: netra-ops sandbox up"):
        sandbox.apply_scenario(env, "slow")


@pytest.fixture(scope="module")
def staged(make_sandbox_env: Callable[[], Environment]) -> Iterator[Environment]:
    """A sandbox of this module's own, started with the stale build deployed."""
    env = make_sandbox_env()
    sandbox.up(env, scenario="stale-build")
    yield env
    sandbox.down(env)


def _serving(env: Environment) -> dict[str, Any]:
    current = sandbox.status(env)
    (target,) = current.traffic
    assert target["percent"] == 100
    (revision,) = [r for r in current.revisions if r["name"] == target["revision"]]
    return dict(revision)


@pytest.mark.sandbox
def test_up_with_a_scenario_deploys_it_after_the_first_revision(staged: Environment) -> None:
    first, second = sandbox.status(staged).revisions[:2]
    assert first["image"].endswith(":develop-long-lived")
    assert _serving(staged)["name"] == second["name"]
    assert second["image"] == f"{REPOSITORY}:main"
    with httpx.Client(trust_env=False) as client:
        health = client.get(staged.backend.url + "/health").json()
    assert health["revision"] == second["name"]


@pytest.mark.sandbox
def test_a_crash_on_start_deploy_fails_and_traffic_stays(staged: Environment) -> None:
    before = _serving(staged)["name"]
    revision = sandbox.apply_scenario(staged, "crash-on-start")
    assert revision["state"] == "failed"
    assert "exited with code 1" in revision["reason"]
    assert _serving(staged)["name"] == before


@pytest.mark.sandbox
def test_fault_scenarios_deploy_revisions_with_their_env(staged: Environment) -> None:
    slow = sandbox.apply_scenario(staged, "slow")
    assert slow["state"] == "ready" and slow["env"]["NETRA_FAULT_LATENCY_MS"] == "700"
    assert slow["env"]["AUTH_SERVICE_URL"] == staged.auth.url  # the base env is kept
    assert _serving(staged)["name"] == slow["name"]

    wrong = sandbox.apply_scenario(staged, "wrong-auth-url")
    assert wrong["env"]["AUTH_SERVICE_URL"] != staged.auth.url
    assert "NETRA_FAULT_LATENCY_MS" not in wrong["env"]  # scenarios do not accumulate

    fixed = sandbox.apply_scenario(staged, "fixed")
    assert fixed["image"] == f"{REPOSITORY}:develop-long-lived"
    assert not any(key.startswith("NETRA_FAULT_") for key in fixed["env"])
    assert fixed["env"]["AUTH_SERVICE_URL"] == staged.auth.url
    assert _serving(staged)["name"] == fixed["name"]
