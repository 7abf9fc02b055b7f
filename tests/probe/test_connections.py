"""WebSocket connection success rate and reconnection time, on the sandbox and a hostile
backend: the rate, the seed's criterion (> 95%) and trigger (< 50%), failures by kind."""

from __future__ import annotations

import time

import pytest
from hostile_ws import HostileServers, closed_port, with_url

from netra_ops.config import Environment
from netra_ops.errors import NetraOpsError
from netra_ops.probe.connection_attempts import connection_rate, connection_rate_async


@pytest.mark.sandbox
def test_the_sandbox_accepts_every_connection(sandbox_env: Environment) -> None:
    result = connection_rate(sandbox_env, n=10)
    assert result.ok, result.error
    assert result.rate == 1.0 and result.state == "ok" and result.succeeded == 10
    assert result.failures == {}
    assert result.connect_p50_ms is not None and result.connect_p95_ms is not None
    assert 0 < result.connect_p50_ms <= result.connect_p95_ms < 2000  # seed SLA: connect < 2 s
    frame = result.to_frame()
    assert list(frame["number"]) == list(range(1, 11)) and frame["ok"].all()
    assert frame["reconnect_ms"].isna().tolist() == [True] + [False] * 9
    assert result.reconnect_p50_ms is not None and result.reconnect_p50_ms > 0
    assert result.summary()["rate"] == 1.0


@pytest.mark.sandbox
@pytest.mark.anyio
async def test_the_async_twin_on_the_sandbox(sandbox_env: Environment) -> None:
    result = await connection_rate_async(sandbox_env, n=4)
    assert result.ok and result.rate == 1.0, result.error


def test_half_the_connections_rejected_is_below_the_criterion_but_not_a_trigger(
        hostile: HostileServers) -> None:
    result = connection_rate(hostile.env("flaky"), n=10, timeout_s=5)
    assert not result.ok
    assert result.rate == 0.5 and result.state == "below_criterion"
    assert result.failures == {"http_error": 5}
    assert result.error is not None and "5/10 connections established (50%" in result.error
    failed = result.to_frame().query("not ok")
    assert failed["error"].str.contains("HTTP 503").all()


@pytest.mark.parametrize(("mode", "kind"), [
    ("reject-503", "http_error"),
    ("close-1008", "auth_rejected"),
    ("close-1011", "server_error"),
    ("no-subprotocol", "handshake"),
    ("invalid-json", "ok"),  # the handshake is fine: garbage comes only after a message
])
def test_failures_are_classified(hostile: HostileServers, mode: str, kind: str) -> None:
    result = connection_rate(hostile.env(mode), n=3, timeout_s=5)
    if kind == "ok":
        assert result.ok, result.error
        return
    assert result.rate == 0.0 and result.state == "trigger"
    assert result.failures == {kind: 3}
    assert result.error is not None and f"3 {kind}" in result.error


def test_refused_connections(hostile: HostileServers) -> None:
    env = with_url(hostile.env("good"), "backend", f"http://127.0.0.1:{closed_port()}")
    result = connection_rate(env, n=3, timeout_s=5)
    assert result.failures == {"refused": 3} and result.state == "trigger"


def test_the_total_bound_holds_when_every_handshake_hangs(hostile: HostileServers) -> None:
    started = time.perf_counter()
    result = connection_rate(hostile.env("hang-handshake"), n=50, timeout_s=1.0,
                             connect_timeout_s=0.3)
    assert time.perf_counter() - started < 1.6
    assert not result.ok and 2 <= len(result.attempts) < 50
    assert set(result.failures) == {"timeout"}
    assert result.error is not None and "deadline of 1 s reached after" in result.error


def test_a_login_failure_is_inconclusive(hostile: HostileServers) -> None:
    env = with_url(hostile.env("good"), "auth", f"http://127.0.0.1:{closed_port()}")
    result = connection_rate(env, n=3, timeout_s=2)
    assert not result.ok and result.rate is None and result.state == "inconclusive"
    assert result.attempts == ()
    assert result.error is not None and result.error.startswith("login failed:")


def test_n_must_be_positive(hostile: HostileServers) -> None:
    with pytest.raises(NetraOpsError, match="n >= 1"):
        connection_rate(hostile.env("good"), n=0)
