"""Chat session timeouts: Cloud Run's request timeout against the app's
WEBSOCKET_CONNECTION_TIMEOUT, and the heartbeat against both; judged on values, then read
through Google's Cloud Run client from a real sandbox.

The sandbox test that shortens the request timeout puts it back (with the fixed build and
the expected configuration) whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.deploy import deploy, release_image
from netra_ops.probe import SessionTimeouts, session_timeouts

REQUEST = "Cloud Run request timeout > app connection timeout"
HEARTBEAT = "heartbeat interval well under both timeouts"
SOURCES = {"WEBSOCKET_CONNECTION_TIMEOUT": "the serving revision",
           "WEBSOCKET_HEARTBEAT_INTERVAL": "the serving revision"}


AFFINITY = "session affinity on"
HTTP2 = "end-to-end HTTP/2 off"


def values(request: float | None, app: float | None, beat: float | None, *,
           affinity: bool = True, http2: bool = False) -> SessionTimeouts:
    return SessionTimeouts("staging", "netra-backend-staging", "us-central1", "netra-staging",
                           "netra-backend-staging-00042", request, app, beat, SOURCES,
                           session_affinity=affinity, http2=http2)


def test_the_seeds_values_on_cloud_runs_longest_timeout_pass() -> None:
    checks = values(3600, 360, 15).checks
    assert [(c.name, c.ok, c.skipped) for c in checks] == [
        (REQUEST, True, False), (HEARTBEAT, True, False), (AFFINITY, True, False),
        (HTTP2, True, False)]
    assert (checks[0].value, checks[0].threshold) == (3600, "> 360")


def test_cloud_runs_default_timeout_cuts_the_apps_360_s_and_names_both_and_the_fix() -> None:
    result = values(300, 360, 15)
    request, heartbeat, *_ = result.checks
    assert not result.ok and not request.ok and heartbeat.ok
    assert "request timeout 300 s" in request.detail
    assert "WEBSOCKET_CONNECTION_TIMEOUT=360 s" in request.detail
    assert "sessions are cut at 300 s" in request.detail
    assert request.fix == ("gcloud run services update netra-backend-staging --timeout=720 "
                           "--region=us-central1 --project=netra-staging")


def test_a_heartbeat_not_well_under_the_shorter_timeout_fails_with_the_variable() -> None:
    request, heartbeat, *_ = values(3600, 360, 150).checks
    assert request.ok and not heartbeat.ok
    assert "WEBSOCKET_HEARTBEAT_INTERVAL=150 s" in heartbeat.detail
    assert "shorter timeout 360 s" in heartbeat.detail
    assert heartbeat.threshold == "<= 120"
    assert heartbeat.fix.startswith("set WEBSOCKET_HEARTBEAT_INTERVAL=15 in [expected_env]")


def test_affinity_off_and_http2_on_go_against_googles_websocket_guidance() -> None:
    checks = {c.name: c for c in values(3600, 360, 15, affinity=False, http2=True).checks}
    assert not checks[AFFINITY].ok and not checks[HTTP2].ok
    assert (checks[AFFINITY].value, checks[HTTP2].value) == ("off", "on")
    assert checks[AFFINITY].fix == ("gcloud run services update netra-backend-staging "
                                    "--session-affinity --region=us-central1 "
                                    "--project=netra-staging")
    assert "--no-use-http2" in checks[HTTP2].fix


def test_unknown_values_are_not_judged() -> None:
    checks = values(3600, None, None).checks[:2]
    assert all(c.skipped and c.ok for c in checks)
    assert "WEBSOCKET_CONNECTION_TIMEOUT is unknown" in checks[0].detail


@pytest.fixture()
def env(sandbox_env: Environment) -> Iterator[Environment]:
    """The shared sandbox, back on the environment's request timeout and the fixed build."""
    yield sandbox_env
    deploy(sandbox_env, release_image(sandbox_env), timeout_s=sandbox_env.backend.timeout_s,
           session_affinity=True, execute=True)
    sandbox.apply_scenario(sandbox_env, "fixed")


@pytest.mark.sandbox
def test_the_sandbox_serves_consistent_timeouts_until_the_request_timeout_is_cut(
    env: Environment,
) -> None:
    consistent = session_timeouts(env)
    assert consistent.ok, consistent.checks
    assert (consistent.request_timeout_s, consistent.connection_timeout_s,
            consistent.heartbeat_interval_s) == (env.backend.timeout_s, 360, 15)
    assert consistent.sources == SOURCES
    assert consistent.figures()["revision"] == consistent.revision is not None
    assert (consistent.session_affinity, consistent.http2) == (True, False)

    cut = deploy(env, release_image(env), timeout_s=300, execute=True)
    assert cut.status == "done", cut
    result = session_timeouts(env)
    assert result.revision == cut.new_revision
    request = result.checks[0]
    assert not result.ok and not request.ok
    assert "request timeout 300 s" in request.detail and "=360 s" in request.detail
    assert list(result.to_frame()["passed"]) == [False, True, True, True]

    off = deploy(env, release_image(env), session_affinity=False, execute=True)
    assert off.status == "done" and "session affinity: on -> off" in off.plan, off.plan
    assert session_timeouts(env).session_affinity is False


@pytest.mark.sandbox
def test_cloud_run_out_of_reach_is_a_failed_result(sandbox_env: Environment) -> None:
    from netra_ops.sandbox.ephemeral import free_ports

    closed = sandbox_env.model_copy(update={
        "api_endpoint": f"http://127.0.0.1:{free_ports(1)[0]}"})
    result = session_timeouts(closed)
    assert result.error is not None and result.error.startswith("ApiUnreachableError: ")
    [check] = result.checks
    assert not check.ok and "could not read the service" in check.detail
