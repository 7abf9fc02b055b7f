"""Named ways to break (or fix) the sandbox's backend, each a deploy of a new revision.

A scenario is an image tag and a few env vars, applied over the environment's expected
configuration: the image's repository is the one of `[sandbox] initial_image`, only the tag
changes. Applying one POSTs a revision to the platform's admin API, as a deploy would; a
revision that fails to start (`crash-on-start`) is reported, and traffic stays where it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from netra_ops.config import Environment
from netra_ops.errors import SandboxError
from netra_ops.sandbox.revisions import free_port
from netra_ops.sandbox.state import not_running_error, sandbox_settings

__all__ = [
    "SCENARIOS",
    "Scenario",
    "apply_scenario",
    "get_scenario",
    "image_with_tag",
    "list_scenarios",
    "scenario_request",
]

FIXED_TAG = "develop-long-lived"
CLOSED_PORT = "{closed_port}"


@dataclass(frozen=True)
class Scenario:
    """A preset deploy: what it stages, the image tag, and the env vars it sets."""

    name: str
    description: str
    tag: str = FIXED_TAG
    env: Mapping[str, str] = field(default_factory=dict)

    def image(self, initial_image: str) -> str:
        """The scenario's image: the initial image's repository with this tag."""
        return image_with_tag(initial_image, self.tag)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("fixed", "The fixed build, no faults: all five agent events and an answer."),
    Scenario("stale-build", "The seed's stale build (tag main): agent_started, then "
             "agent_error with the session_id TypeError; no agent_completed.", tag="main"),
    Scenario("http-errors", "20% of HTTP requests answered 500.",
             env={"NETRA_FAULT_HTTP_ERROR_RATE": "0.2"}),
    Scenario("slow", "700 ms added before every HTTP response and every agent event.",
             env={"NETRA_FAULT_LATENCY_MS": "700"}),
    Scenario("crash-on-start", "A build that exits at start: the revision fails, traffic "
             "stays on the previous one.", tag="crash-on-start"),
    Scenario("dropped-event", "tool_completed is never sent.",
             env={"NETRA_FAULT_DROP_EVENT": "tool_completed"}),
    Scenario("memory-leak", "512 KiB retained per request and per agent turn.",
             env={"NETRA_FAULT_MEMORY_GROWTH_KB": "512"}),
    Scenario("wrong-auth-url", "AUTH_SERVICE_URL points at a closed loopback port: "
             "WebSocket auth fails.", env={"AUTH_SERVICE_URL": f"http://127.0.0.1:{CLOSED_PORT}"}),
)}


def list_scenarios() -> list[Scenario]:
    """Every scenario, in a stable order."""
    return list(SCENARIOS.values())


def get_scenario(name: str) -> Scenario:
    """The scenario of that name; SandboxError lists the valid ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise SandboxError(
            f"unknown scenario {name!r}; scenarios are: {', '.join(SCENARIOS)}"
        ) from None


def image_with_tag(image: str, tag: str) -> str:
    """`image` with its tag replaced (a registry port is not a tag; a digest is dropped)."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository.rsplit(":", 1)[0]
    return f"{repository}:{tag}"


def scenario_request(env: Environment, name: str) -> dict[str, Any]:
    """The admin API body (`POST /_sandbox/revisions`) that stages a scenario."""
    scenario = get_scenario(name)
    settings = sandbox_settings(env)
    values = {key: value.replace(CLOSED_PORT, str(free_port(settings.host)))
              for key, value in scenario.env.items()}
    return {"image": scenario.image(settings.initial_image), "env": values, "traffic": True}


def apply_scenario(env: Environment, name: str) -> dict[str, Any]:
    """Deploy a scenario to the running sandbox; the new Revision (state ready or failed)."""
    body = scenario_request(env, name)
    settings = sandbox_settings(env)
    url = f"{settings.url('api')}/_sandbox/revisions"
    try:
        with httpx.Client(trust_env=False, timeout=settings.startup_timeout_s + 10) as client:
            response = client.post(url, json=body)
    except httpx.TransportError as exc:
        raise not_running_error(env, f"the admin API at {url} did not answer: {exc}") from None
    if response.status_code not in (201, 422):
        raise SandboxError(
            f"applying scenario {name}: the admin API answered {response.status_code}: "
            f"{response.text[:300]}"
        )
    revision: dict[str, Any] = response.json()
    return revision
