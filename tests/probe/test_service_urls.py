"""Service URLs (the seed's "Service URL mismatch") read through Google's Cloud Run client
from a real sandbox: the backend's AUTH_SERVICE_URL / FRONTEND_URL against the services'
Cloud Run URLs, and the revision its health answer names against the serving one.

Every test leaves the shared sandbox serving the fixed build with the expected configuration
(`apply_scenario(env, "fixed")` deploys the base env again, with all traffic).
"""

from __future__ import annotations

import httpx
import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import deploy, read_service, set_traffic
from netra_ops.probe import REVISION_CHECK, service_urls

pytestmark = pytest.mark.sandbox
AUTH = "AUTH_SERVICE_URL names the auth service"
FRONTEND = "FRONTEND_URL names the frontend service"


@pytest.fixture()
def env(restored_sandbox_env: Environment) -> Environment:
    """The shared sandbox, put back to the fixed build and expected env afterwards."""
    return restored_sandbox_env


def localhost(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


def with_url(env: Environment, role: str, url: str) -> Environment:
    service = env.services[role].model_copy(update={"url": url})  # type: ignore[index]
    return env.model_copy(update={"services": {**env.services, role: service}})


def test_the_fixed_sandbox_calls_its_services_at_their_cloud_run_urls(env: Environment) -> None:
    result = service_urls(env)
    assert result.ok and result.error is None, result.checks
    state = read_service(env)
    assert result.cloud_run["auth"] == (env.auth.url, localhost(env.auth.url))
    assert result.cloud_run["backend"][0] == state.uri == env.backend.url
    assert result.serving == state.serving
    assert result.health_revision == state.serving_revision
    assert [c.name for c in result.checks] == [AUTH, FRONTEND, REVISION_CHECK]
    assert all(c.ok and not c.skipped for c in result.checks)
    assert (result.checks[0].value, result.checks[0].threshold) == (env.auth.url, env.auth.url)
    frame = result.to_frame()
    assert list(frame["variable"]) == ["AUTH_SERVICE_URL", "FRONTEND_URL"]
    assert list(frame["state"]) == ["cloud run url", "cloud run url"]
    assert result.figures()["mismatches"] == []


def test_url_mismatch_names_both_urls_whose_url_it_is_and_the_fix(env: Environment) -> None:
    staged = sandbox.apply_scenario(env, "url-mismatch")
    result = service_urls(env)
    auth, frontend, answered = result.checks
    assert not result.ok and not auth.ok and frontend.ok and answered.ok
    assert (auth.value, auth.threshold) == (env.frontend.url, env.auth.url)
    assert auth.detail == (
        f"{staged['name']} (100%) has AUTH_SERVICE_URL={env.frontend.url} (that is "
        f"netra-frontend-staging's URL), but Cloud Run serves netra-auth-service at "
        f"{env.auth.url}, {localhost(env.auth.url)}")
    assert auth.fix == (f"deploy the backend with AUTH_SERVICE_URL={env.auth.url}: "
                        "03_config_sync -p execute=true sets it from [expected_env]")
    assert result.figures()["mismatches"] == [
        {"variable": "AUTH_SERVICE_URL", "revision": staged["name"],
         "configured": env.frontend.url, "cloud_run": env.auth.url}]
    assert result.mismatches[0].belongs_to == "netra-frontend-staging"


def test_other_cloud_run_urls_and_declared_domains_count_and_a_split_is_judged_per_revision(
        env: Environment) -> None:
    before = read_service(env)
    first, image = before.serving_revision, before.serving_image
    assert first is not None and image is not None
    custom = "https://app.netra.test"  # a custom domain: Cloud Run's urls do not list it
    change = deploy(env, image, env_vars={"AUTH_SERVICE_URL": localhost(env.auth.url) + "/",
                                          "FRONTEND_URL": custom}, execute=True, deadline_s=60)
    assert change.status == "done" and change.new_revision, change.error
    declared = service_urls(with_url(env, "frontend", custom))
    assert declared.ok, declared.checks
    assert list(declared.to_frame()["state"]) == ["cloud run url", "declared url"]
    assert declared.checks[0].threshold == localhost(env.auth.url)
    assert "a custom domain Cloud Run does not list" in declared.checks[1].detail

    undeclared = service_urls(env)
    assert [c.ok for c in undeclared.checks] == [True, False, True]
    assert undeclared.checks[1].detail.endswith(
        f"has FRONTEND_URL={custom}, but Cloud Run serves netra-frontend-staging at "
        f"{env.frontend.url}, {localhost(env.frontend.url)}")

    new = change.new_revision
    split = set_traffic(env, {first: 50, new: 50}, execute=True)
    assert split.status == "done", split.error
    halves = service_urls(env)
    assert halves.serving == {first: 50, new: 50}
    assert len(halves.configured) == 4  # both variables on both serving revisions
    frontend, answered = halves.checks[1], halves.checks[2]
    assert not frontend.ok and frontend.detail.startswith(f"{new} (50%) has FRONTEND_URL=")
    assert answered.ok and halves.health_revision in (first, new)
    assert answered.threshold in (f"{first} (50%) or {new} (50%)",
                                  f"{new} (50%) or {first} (50%)")


def test_a_backend_url_that_reaches_another_revision_is_caught(env: Environment) -> None:
    old = read_service(env).serving_revision
    new = sandbox.apply_scenario(env, "fixed")["name"]  # the old revision keeps running idle
    assert env.sandbox is not None
    status = httpx.get(f"{env.sandbox.url('api')}/_sandbox/status", timeout=10,
                       trust_env=False).json()
    port = next(r["port"] for r in status["revisions"] if r["name"] == old)
    direct = with_url(env, "backend", f"http://127.0.0.1:{port}")
    result = service_urls(direct)
    answered = result.checks[2]
    assert [c.ok for c in result.checks] == [True, True, False]
    assert (answered.value, answered.threshold) == (old, f"{new} (100%)")
    assert answered.detail == (
        f"{direct.backend.url}/health answered from {old}, but Cloud Run serves {new} (100%); "
        f"{direct.backend.url} is not one of Cloud Run's URLs of netra-backend-staging "
        f"({env.backend.url}, {localhost(env.backend.url)})")
    assert answered.fix.startswith("point [services.backend] url in ")
    assert answered.fix.endswith(f" at {env.backend.url}")


def test_cloud_run_out_of_reach_is_a_result_not_an_exception(sandbox_env: Environment) -> None:
    from netra_ops.sandbox.ephemeral import free_ports

    closed = sandbox_env.model_copy(update={
        "api_endpoint": f"http://127.0.0.1:{free_ports(1)[0]}"})
    result = service_urls(closed)
    assert not result.ok and result.error is not None
    assert result.error.startswith("ApiUnreachableError: ")
    assert [c.name for c in result.checks] == ["service URLs read from Cloud Run"]
    assert result.to_frame().empty
