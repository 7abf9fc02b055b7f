"""Auth probes: against the real sandbox auth service, and against a hostile one.

The sandbox tests log in, refresh and validate with the sandbox's generated test user, and
measure the failure rate with the right password, a wrong one and a closed port. The
hostile tests (tests/probe/hostile_http.py) check each failure class, the time bound, and
that neither the password nor a token shows in a result, a frame or an error text.
"""

from __future__ import annotations

import asyncio
import copy
import pickle
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile_http import FAKE_ACCESS_TOKEN, FAKE_REFRESH_TOKEN, HostileHttpServer, no_leaks

from netra_ops.config import Credentials, Environment, load_environment
from netra_ops.errors import ConfigError, SecretError
from netra_ops.probe.auth import (
    AUTH_OUTCOMES,
    AuthResult,
    auth_failure_rate,
    auth_failure_rate_async,
    login,
    login_async,
    refresh,
    refresh_async,
    validate,
    validate_async,
)
from netra_ops.secrets import resolve_secret

BOUND_S = 1.0
SLACK_S = 2.0  # scheduling on a busy machine; ignoring the bound costs far more (a hang: forever)
PASSWORD = "hostile-test-password-4f9e"
MakeEnv = Callable[[str], Environment]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pointed(env: Environment, *, auth_url: str | None = None,
             password_file: Path | None = None) -> Environment:
    """The environment with another auth URL and/or another password file."""
    update: dict[str, object] = {}
    if auth_url is not None:
        services = dict(env.services)
        services["auth"] = env.auth.model_copy(update={"url": auth_url})
        update["services"] = services
    if password_file is not None:
        update["credentials"] = Credentials(email=env.credentials.email,
                                            password=f"file:{password_file}")
    return env.model_copy(update=update)


def _shown(result: AuthResult) -> str:
    """Everything a person could see of a result: repr, str, frame, error."""
    return f"{result!r}\n{result}\n{result.to_frame().to_string()}\n{result.error}"


# --- against the real sandbox -------------------------------------------------------------

@pytest.mark.sandbox
def test_login_refresh_validate_on_the_sandbox(sandbox_env: Environment) -> None:
    first = login(sandbox_env)
    assert first.ok and first.outcome == "ok" and first.status_code == 200, first.error
    assert first.token is not None and first.user_id and first.expires_at is not None
    checked = validate(sandbox_env, first.token)
    assert checked.ok and checked.user_id == first.user_id, checked.error
    renewed = refresh(sandbox_env, first.token)
    assert renewed.ok and renewed.token is not None, renewed.error
    assert renewed.token.reveal() != first.token.reveal()
    assert validate(sandbox_env, renewed.token).ok
    for result in (first, checked, renewed):
        shown = _shown(result)
        assert first.token.reveal() not in shown and renewed.token.reveal() not in shown
        assert resolve_secret(sandbox_env.credentials.password) not in shown


@pytest.mark.sandbox
def test_refresh_and_validate_log_in_when_given_no_token(sandbox_env: Environment) -> None:
    assert refresh(sandbox_env).ok
    assert validate(sandbox_env).ok


@pytest.mark.sandbox
def test_a_forged_token_is_rejected(sandbox_env: Environment) -> None:
    token = login(sandbox_env).token
    assert token is not None
    forged = type(token)(token.reveal()[:-4] + "AAAA")
    result = validate(sandbox_env, forged)
    assert not result.ok and result.outcome == "bad_credentials"
    assert result.error == "token rejected: invalid signature"


@pytest.mark.sandbox
def test_failure_rate_is_zero_on_a_healthy_sandbox(sandbox_env: Environment) -> None:
    rate = auth_failure_rate(sandbox_env, attempts=20)
    assert rate.ok and rate.error is None
    assert (rate.attempts, rate.failures, rate.failure_rate) == (20, 0, 0.0)
    assert rate.counts == {"ok": 20, "bad_credentials": 0, "service_error": 0, "timeout": 0,
                           "unreachable": 0}
    assert rate.latency_p50_ms is not None and rate.latency_p95_ms is not None
    assert 0 < rate.latency_p50_ms <= rate.latency_p95_ms <= (rate.latency_max_ms or 0)
    frame = rate.to_frame()
    assert len(frame) == 20 and list(frame["attempt"]) == list(range(1, 21))
    assert set(frame["outcome"]) == {"ok"}


@pytest.mark.sandbox
def test_wrong_password_fails_every_login_as_bad_credentials(sandbox_env: Environment,
                                                             tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    rate = auth_failure_rate(_pointed(sandbox_env, password_file=wrong), attempts=20)
    assert not rate.ok and rate.failure_rate == 1.0
    assert rate.counts["bad_credentials"] == 20
    assert rate.error == ("20 of 20 logins failed (100%, above 10%): 20 bad_credentials; "
                          "first error: HTTP 401: email or password is incorrect")
    assert "not-the-password" not in rate.to_frame().to_string() + repr(rate)


@pytest.mark.sandbox
def test_a_closed_auth_port_is_unreachable(sandbox_env: Environment) -> None:
    port = _closed_port()
    env = _pointed(sandbox_env, auth_url=f"http://127.0.0.1:{port}")
    rate = auth_failure_rate(env, attempts=3, timeout_s=BOUND_S)
    assert rate.counts["unreachable"] == 3 and rate.failure_rate == 1.0
    result = rate.results[0]
    assert result.error is not None and result.error.startswith(
        f"ConnectError: connection refused by 127.0.0.1:{port} (nothing listens there) "
        "(is the sandbox running?")


@pytest.mark.sandbox
@pytest.mark.anyio
async def test_async_twins_on_the_sandbox(sandbox_env: Environment) -> None:
    tasks = asyncio.all_tasks()
    first = await login_async(sandbox_env)
    assert first.ok and first.token is not None, first.error
    assert (await validate_async(sandbox_env, first.token)).ok
    assert (await refresh_async(sandbox_env, first.token)).ok
    rate = await auth_failure_rate_async(sandbox_env, attempts=5)
    assert rate.ok and rate.counts["ok"] == 5
    assert asyncio.all_tasks() <= tasks


def test_a_missing_password_file_raises_a_clear_error(tmp_path: Path) -> None:
    env = _pointed(load_environment("sandbox"), password_file=tmp_path / "absent")
    with pytest.raises(SecretError, match="does not exist"):
        login(env)


def test_no_attempts_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="at least 1 attempt"):
        auth_failure_rate("sandbox", attempts=0)


# --- against a hostile auth service ---------------------------------------------------------

@pytest.fixture(scope="module")
def server() -> Iterator[HostileHttpServer]:
    with HostileHttpServer(interval_s=0.2) as hostile:
        yield hostile


@pytest.fixture
def clean(server: HostileHttpServer) -> Iterator[None]:
    with no_leaks(server):
        yield


@pytest.fixture(scope="module")
def password_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "password"
    path.write_text(PASSWORD)
    return path


@pytest.fixture
def hostile_env(server: HostileHttpServer, password_file: Path) -> MakeEnv:
    """`hostile_env("auth-401")`: an environment whose auth service is that behaviour."""
    base = load_environment("sandbox")

    def make(route: str) -> Environment:
        return _pointed(base, auth_url=f"{server.url}/{route}", password_file=password_file)

    return make


# route -> (outcome, exact error of a login)
LOGIN_CASES: dict[str, tuple[str, str]] = {
    "auth-401": ("bad_credentials", "HTTP 401: email or password is incorrect"),
    "auth-no-token": ("service_error", "HTTP 200 without an access_token"),
    "auth-500-html": ("service_error", "HTTP 500: 500 Internal Server Error"),
    "auth-hang": ("timeout", "Timeout: no response headers within 1 s"),
    "reset-at-once": ("service_error",
                      "ConnectionReset: the server reset the connection before answering"),
    "html-502": ("service_error", "HTTP 502: 502 Bad Gateway"),
    "json-list": ("service_error", "HTTP 200: body is a JSON array, not an object"),
    "truncated": ("service_error", "ProtocolError: body truncated: the server closed the "
                                   "connection after 22 of 100 bytes (HTTP 200)"),
    "moved": ("service_error", "HTTP 301 to /healthy"),
    "drip": ("timeout", r"Timeout: body incomplete after 1 s \(HTTP 200, \d of 62 bytes "
                        r"received\)"),
}
REGEX_CASES = {"drip"}


@pytest.mark.parametrize("route", sorted(LOGIN_CASES))
def test_login_failures_are_classified(hostile_env: MakeEnv, clean: None, route: str) -> None:
    outcome, error = LOGIN_CASES[route]
    started = time.monotonic()
    result = login(hostile_env(route), timeout_s=BOUND_S)
    assert time.monotonic() - started < BOUND_S + SLACK_S
    assert (result.ok, result.outcome, result.token) == (False, outcome, None)
    assert result.error is not None
    assert re.fullmatch(error, result.error) if route in REGEX_CASES else result.error == error


@pytest.mark.anyio
async def test_async_login_is_bounded_too(hostile_env: MakeEnv, clean: None) -> None:
    tasks = asyncio.all_tasks()
    started = time.monotonic()
    result = await login_async(hostile_env("auth-hang"), timeout_s=BOUND_S)
    assert time.monotonic() - started < BOUND_S + SLACK_S
    assert result.outcome == "timeout"
    assert result.error == "Timeout: no response headers within 1 s"
    assert asyncio.all_tasks() <= tasks


def test_tokens_never_show(hostile_env: MakeEnv, clean: None) -> None:
    env = hostile_env("auth-ok")
    first = login(env, timeout_s=BOUND_S)
    assert first.ok and first.token is not None
    assert first.token.reveal() == FAKE_ACCESS_TOKEN
    assert first.token.reveal_refresh() == FAKE_REFRESH_TOKEN
    renewed = refresh(env, first.token, timeout_s=BOUND_S)
    assert renewed.ok and renewed.token is not None
    assert renewed.token.reveal_refresh() == FAKE_REFRESH_TOKEN
    checked = validate(env, renewed.token, timeout_s=BOUND_S)
    assert checked.ok and checked.user_id == "u-1"
    for result in (first, renewed, checked, copy.deepcopy(first)):
        shown = _shown(result) + repr(result.token) + str(result.token)
        assert FAKE_ACCESS_TOKEN not in shown and FAKE_REFRESH_TOKEN not in shown
        assert "has_token" in result.to_frame().columns
        assert "token" not in result.to_frame().columns
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(first.token)


def test_secrets_echoed_by_a_server_are_scrubbed(hostile_env: MakeEnv, clean: None) -> None:
    env = hostile_env("auth-echo")
    result = login(env, timeout_s=BOUND_S)
    assert result.outcome == "service_error"
    assert result.error is not None and PASSWORD not in result.error
    assert '"password": "****"' in result.error
    token = login(hostile_env("auth-ok"), timeout_s=BOUND_S).token
    echoed = validate(env, token, timeout_s=BOUND_S)
    assert echoed.error is not None and FAKE_ACCESS_TOKEN not in echoed.error


def test_an_expired_token_is_bad_credentials(hostile_env: MakeEnv, clean: None) -> None:
    result = validate(hostile_env("auth-expired"), timeout_s=BOUND_S)
    assert (result.ok, result.outcome) == (False, "bad_credentials")
    assert result.error == "token rejected: token expired"


def test_refresh_reports_a_failed_login(hostile_env: MakeEnv, clean: None) -> None:
    result = refresh(hostile_env("auth-401"), timeout_s=BOUND_S)
    assert (result.step, result.outcome) == ("refresh", "bad_credentials")
    assert result.error == "login failed: HTTP 401: email or password is incorrect"


def test_refresh_with_a_hanging_login_stays_within_one_bound(hostile_env: MakeEnv,
                                                             clean: None) -> None:
    started = time.monotonic()
    result = refresh(hostile_env("auth-hang"), timeout_s=BOUND_S)
    assert time.monotonic() - started < BOUND_S + SLACK_S
    assert result.outcome == "timeout"


def test_failure_rate_counts_each_class(hostile_env: MakeEnv, clean: None) -> None:
    rate = auth_failure_rate(hostile_env("auth-500-html"), attempts=4, timeout_s=BOUND_S)
    assert rate.counts == {"ok": 0, "bad_credentials": 0, "service_error": 4, "timeout": 0,
                           "unreachable": 0}
    assert set(rate.counts) == set(AUTH_OUTCOMES)
    assert rate.error == ("4 of 4 logins failed (100%, above 10%): 4 service_error; "
                          "first error: HTTP 500: 500 Internal Server Error")
    assert all(isinstance(r, AuthResult) and r.token is None for r in rate.results)
    fine = auth_failure_rate(hostile_env("auth-ok"), attempts=3, timeout_s=BOUND_S)
    assert fine.ok and fine.failure_rate == 0.0
    assert all(r.token is None for r in fine.results)
