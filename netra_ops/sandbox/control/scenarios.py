"""Named ways to break (or fix) the sandbox's backend, each a deploy of a new revision.

A scenario is an image tag and a few env vars, applied over the environment's expected
configuration: the image's repository is the one of `[sandbox] initial_image`, only the tag
changes. Applying one POSTs a revision to the platform's admin API, as a deploy would; a
revision that fails to start (`crash-on-start`) is reported, and traffic stays where it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from netra_ops.config import Environment
from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.build_api import DEFAULT_STEP_S
from netra_ops.sandbox.google.registry import service_image
from netra_ops.sandbox.runtime.revisions import (
    COLD_START_ENV,
    IMAGE_BY_DIGEST_ENV,
    STARTUP_ENV,
    free_port,
)
from netra_ops.sandbox.runtime.state import not_running_error, sandbox_settings

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
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scenario-deploy")
CLOSED_PORT = "{closed_port}"
FRONTEND_URL = "{frontend_url}"


@dataclass(frozen=True)
class Scenario:
    """A preset deploy: what it stages, the image tag, and the env vars it sets."""

    name: str
    description: str
    tag: str = FIXED_TAG
    env: Mapping[str, str] = field(default_factory=dict)
    # Env vars for the other Cloud Run services ("auth", "frontend"): each gets a revision.
    services: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # `PUT /_sandbox/observability` body (Monitoring / Logging delays), if any.
    observability: Mapping[str, Any] | None = None
    # `PUT /_sandbox/builds` body (how long an emulated Cloud Build step takes), if any.
    builds: Mapping[str, Any] | None = None

    def image(self, initial_image: str) -> str:
        """The scenario's image: the initial image's repository with this tag."""
        return image_with_tag(initial_image, self.tag)


# Cloud Run as staging runs it (netra_ops.sandbox.runtime.revisions): start-up, cold start, digests.
REALISTIC_RUN: Mapping[str, str] = {STARTUP_ENV: "8", COLD_START_ENV: "3",
                                    IMAGE_BY_DIGEST_ENV: "true"}
REALISTIC_AGENT_TURN_S = "3-8"  # NETRA_AGENT_TURN_S: seconds an agent turn takes, drawn
REALISTIC_OBSERVABILITY: Mapping[str, Any] = {"monitoring": {"delay_s": 60},
                                              "logging": {"delay_s": 5}}
REALISTIC_BUILDS: Mapping[str, Any] = {"step_s": 1.0}  # a build of the three: ~5 s
DEFAULT_BUILDS: Mapping[str, Any] = {"step_s": DEFAULT_STEP_S}

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
    Scenario("memory-leak", "512 KiB retained per request and per agent turn, reported 8 "
             "times (4 MiB: 7/8 of it synthetic, see /health memory.synthetic_bytes): past "
             "3.5 GiB after ~900 requests.",
             env={"NETRA_FAULT_MEMORY_GROWTH_KB": "512",
                  "NETRA_FAULT_MEMORY_REPORT_FACTOR": "8"}),
    Scenario("url-mismatch", "The seed's URL mismatch: AUTH_SERVICE_URL is another "
             "service's URL (the frontend's), which answers, but not as the auth service: "
             "login works, the chat's token check fails (1011).",
             env={"AUTH_SERVICE_URL": FRONTEND_URL}),
    Scenario("monitoring-down", "The fixed build, and Cloud Monitoring answers UNAVAILABLE "
             "(503) to every query.",
             observability={"monitoring": {"fault": "unavailable"}}),
    Scenario("slow-delivery", "Events reach the client 800 ms after their timestamps: the "
             "server is prompt, the delivery lags.",
             env={"NETRA_FAULT_DELIVERY_DELAY_MS": "800"}),
    Scenario("realistic", "Staging as it is: agent turns of 3-8 s, Monitoring 60 s and "
             "Logging 5 s late, images by digest, 8 s revision start-up and a 3 s cold "
             "start, on all three services; Cloud Build steps of 1 s.",
             env={**REALISTIC_RUN, "NETRA_AGENT_TURN_S": REALISTIC_AGENT_TURN_S},
             services={"auth": REALISTIC_RUN, "frontend": REALISTIC_RUN},
             observability=REALISTIC_OBSERVABILITY, builds=REALISTIC_BUILDS),
    Scenario("slow-deploy", "Revisions that take 25 s to start: a deploy with a shorter "
             "deadline exceeds it.", env={STARTUP_ENV: "25"}),
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
              .replace(FRONTEND_URL, settings.url("frontend"))
              for key, value in scenario.env.items()}
    return {"image": scenario.image(settings.initial_image), "env": values, "traffic": True}


def apply_scenario(env: Environment, name: str) -> dict[str, Any]:
    """Deploy a scenario to the running sandbox; the new Revision (state ready or failed).

    A scenario for the other services deploys a revision of each first (they all start at
    once); one with `observability` sets the Monitoring and Logging delays, one with
    `builds` how long a Cloud Build step takes (any other: the defaults).
    """
    scenario = get_scenario(name)
    body = scenario_request(env, name)
    settings = sandbox_settings(env)
    api = settings.url("api")
    url = f"{api}/_sandbox/revisions"
    try:
        with httpx.Client(trust_env=False, timeout=settings.startup_timeout_s + 10) as client:
            # always: a scenario without observability restores the defaults (no delay, no
            # fault), so scenarios do not accumulate (`fixed` after `monitoring-down`)
            _expect(name, client.put(f"{api}/_sandbox/observability",
                                     json=dict(scenario.observability or {})), (200,))
            _expect(name, client.put(f"{api}/_sandbox/builds",
                                     json=dict(scenario.builds or DEFAULT_BUILDS)), (200,))
            others = [_deploy_other(client, api, env, scenario, role)
                      for role in scenario.services]
            response = client.post(url, json=body)
            for other in others:
                _expect(name, other.result(), (201,))
    except httpx.TransportError as exc:
        raise not_running_error(env, f"the admin API at {url} did not answer: {exc}") from None
    if response.status_code not in (201, 422):
        raise SandboxError(
            f"applying scenario {name}: the admin API answered {response.status_code}: "
            f"{response.text[:300]}"
        )
    revision: dict[str, Any] = response.json()
    return revision


def _deploy_other(client: httpx.Client, api: str, env: Environment, scenario: Scenario,
                  role: str) -> Future[httpx.Response]:
    """Start deploying a revision of another service (in a thread); its answer, later."""
    settings = sandbox_settings(env)
    service = env.services[role].name  # type: ignore[index]
    body = {"image": image_with_tag(service_image(settings.initial_image, role), scenario.tag),
            "env": dict(scenario.services[role]), "traffic": True}
    return _POOL.submit(client.post, f"{api}/_sandbox/services/{service}/revisions", json=body)


def _expect(name: str, response: httpx.Response, codes: tuple[int, ...]) -> None:
    if response.status_code not in codes:
        raise SandboxError(f"applying scenario {name}: {response.request.method} "
                           f"{response.request.url.path} answered {response.status_code}: "
                           f"{response.text[:300]}")
