"""The WebSocket probes against a hostile backend: every misbehaviour is a failed result with
a clear reason, returned within the probe's time bound, leaving no socket, thread or task."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hostile_ws import OTHER_USER, TOKEN, USER, HostileServers, hostile_servers
from websockets.sync.client import connect

from netra_ops.probe.golden_path_run import (
    GoldenPathResult,
    agent_turn,
    golden_path,
    golden_path_async,
    websocket_connect,
    websocket_connect_async,
)

BOUND_S = 0.8  # the probes' timeout_s in these tests
# `slow` spends 600 ms of its own sending its five events: at 0.8 s a busy machine's login
# and handshake left too little to receive agent_completed, and the error led with that
SLOW_BOUND_S = 2.0
SLACK_S = 0.6  # scheduling on a busy 2-core machine
BUDGET_MS = 100.0  # the hostile `slow` mode sends an event every 120 ms

# mode, the step that fails, what the error must say
CASES = [
    ("reject-403", "connect", "handshake answered HTTP 403 Forbidden"),
    ("reject-503", "connect", "HTTP 503 Service Unavailable: {\"error\": \"no revision is"),
    ("not-websocket", "connect", "handshake answered HTTP 200"),
    ("hang-handshake", "connect", "no handshake answer within"),
    ("wrong-subprotocol", "connect", "unsupported subprotocol: graphql-ws"),
    ("no-subprotocol", "connect", "without echoing the offered subprotocol"),
    ("no-established", "handshake", "no connection_established message within"),
    ("close-1008", "handshake", "AUTH_FAILED: token rejected"),
    ("close-1011", "handshake", "closed by the server: 1011 internal error"),
    ("close-after-first", "agent", "closed by the server: 1001 going away (last event: "
                                   "agent_started"),
    ("out-of-order", "agent", "tool_completed arrived before its tool_executing"),
    ("duplicate", "agent", "duplicated events: tool_executing x2"),
    ("invalid-json", "agent", "invalid JSON frame"),
    ("binary", "agent", "binary frame of 8 bytes"),
    ("not-object", "agent", "message without a 'type'"),
    ("oversized", "agent", "the probe closed the connection: 1009 a message exceeded the 4 MiB"),
    ("silent", "agent", "no agent_completed within"),
    ("heartbeats-only", "agent", "heartbeats/pongs ignored"),
    ("agent-error", "agent", "agent_error: TypeError: UserExecutionContext.__init__() got an "
                             "unexpected keyword argument 'session_id'"),
    ("error-message", "agent", "error: INTERNAL: agent registry not initialised"),
    ("missing-fields", "agent", "agent_started without user_id, thread_id, timestamp"),
    ("empty-final", "agent", "agent_completed without final_response"),
    ("boilerplate-final", "agent", "final response is an apology or error text"),
    ("placeholder-final", "agent", "final response is placeholder text"),
    ("boilerplate-reasoning", "agent", "boilerplate reasoning 'Thinking...'"),
    ("failed-status", "agent", "status is 'failed', not 'completed'"),
    ("completed-only", "agent", "missing events: agent_started, agent_thinking"),
    ("slow", "agent", "events delivered later than 100 ms after their own timestamp: "
                      "agent_started 1"),  # all stamped at once, then sent 120 ms apart
    ("cross-talk", "agent", "(the thread the probe sent): 'probe-someone-else' in agent_started"),
    ("other-run", "agent", "run_id is not the probe's own 'run_1' (agent_started's): "
                           "'run_someone_else' in agent_thinking, tool_executing"),
    ("drop", "agent", "connection dropped without a close frame"),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServers]:
    with hostile_servers(tmp_path_factory.mktemp("hostile")) as servers:
        yield servers


def _client_sockets(servers: HostileServers) -> list[object]:
    """This process's sockets connected to the hostile WebSocket port (the client side)."""
    return [c for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == servers.ws_port]


def _client_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "recv_events" in t.name
            or "keepalive" in t.name]


def _bound(mode: str) -> float:
    return SLOW_BOUND_S if mode == "slow" else BOUND_S


def _assert_failed_clearly(result: GoldenPathResult, step: str, expected: str,
                           elapsed_s: float, bound_s: float = BOUND_S) -> None:
    assert not result.ok
    assert result.failed_step == step, result.error
    assert result.error is not None and expected in result.error, result.error
    assert TOKEN not in repr(result) and TOKEN not in result.error
    assert elapsed_s < bound_s + SLACK_S
    assert result.elapsed_ms is not None and result.elapsed_ms / 1000 <= elapsed_s


@pytest.mark.parametrize(("mode", "step", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sync_probe_fails_clearly_within_its_bound(hostile: HostileServers, mode: str,
                                                   step: str, expected: str) -> None:
    started = time.perf_counter()
    result = golden_path(hostile.env(mode), timeout_s=_bound(mode), event_budget_ms=BUDGET_MS)
    _assert_failed_clearly(result, step, expected, time.perf_counter() - started, _bound(mode))
    assert _client_sockets(hostile) == [] and _client_threads() == []


@pytest.mark.anyio
@pytest.mark.parametrize(("mode", "step", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_async_probe_fails_the_same_way(hostile: HostileServers, mode: str, step: str,
                                              expected: str) -> None:
    tasks = asyncio.all_tasks()
    started = time.perf_counter()
    result = await golden_path_async(hostile.env(mode), timeout_s=_bound(mode),
                                     event_budget_ms=BUDGET_MS)
    _assert_failed_clearly(result, step, expected, time.perf_counter() - started, _bound(mode))
    await asyncio.sleep(0)  # an aborted transport closes on the next loop iteration
    assert _client_sockets(hostile) == []
    assert asyncio.all_tasks() <= tasks


def test_a_good_backend_passes(hostile: HostileServers) -> None:
    result = golden_path(hostile.env("good"), timeout_s=BOUND_S, event_budget_ms=BUDGET_MS)
    assert result.ok, result.error
    assert result.report is not None and result.report.ok
    assert result.checks_frame()["ok"].all()
    assert result.user_id == USER and result.timing_ok
    identity = result.checks_frame().query("check == 'identity'")
    assert list(identity["event"]) == ["run_id", "thread_id", "user_id"]


def _assert_someone_elses_answer_fails(result: GoldenPathResult) -> None:
    """Both values of each wrong field are named: the probe's own and the one received."""
    assert not result.ok and result.failed_step == "agent"
    assert result.error is not None
    assert result.error.startswith(f"thread_id is not the probe's own {result.thread_id!r}")
    assert "'probe-someone-else' in agent_started" in result.error
    failed = result.checks_frame().query("check == 'identity' and not ok").set_index("event")
    assert list(failed.index) == ["thread_id", "user_id"]
    assert repr(USER) in failed.loc["user_id", "detail"]
    assert repr(OTHER_USER) in failed.loc["user_id", "detail"]


def test_another_users_answer_fails_naming_the_fields_and_both_values(
        hostile: HostileServers) -> None:
    _assert_someone_elses_answer_fails(golden_path(hostile.env("cross-talk"), timeout_s=BOUND_S,
                                                   event_budget_ms=BUDGET_MS))


@pytest.mark.anyio
async def test_another_users_answer_fails_the_async_probe_too(hostile: HostileServers) -> None:
    _assert_someone_elses_answer_fails(await golden_path_async(
        hostile.env("cross-talk"), timeout_s=BOUND_S, event_budget_ms=BUDGET_MS))


def test_refused_connection_fails_at_connect(hostile: HostileServers) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = hostile.env("good")
    backend = env.backend.model_copy(update={"url": f"http://127.0.0.1:{port}"})
    env = env.model_copy(update={"services": {**env.services, "backend": backend}})
    result = golden_path(env, timeout_s=BOUND_S)
    assert not result.ok and result.failed_step == "connect"
    assert result.error is not None and "refused" in result.error.lower()


def test_a_server_that_ignores_the_close_costs_only_the_close_reserve(
        hostile: HostileServers) -> None:
    started = time.perf_counter()
    result = golden_path(hostile.env("ignore-close"), timeout_s=BOUND_S,
                         event_budget_ms=BUDGET_MS)
    assert result.ok, result.error
    assert time.perf_counter() - started < BOUND_S
    assert _client_sockets(hostile) == [] and _client_threads() == []


@pytest.mark.anyio
async def test_cancelling_the_async_probe_leaves_nothing_behind(
        hostile: HostileServers) -> None:
    tasks = asyncio.all_tasks()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(golden_path_async(hostile.env("silent"), timeout_s=30), 0.3)
    await asyncio.sleep(0)
    assert _client_sockets(hostile) == []
    assert asyncio.all_tasks() <= tasks


def test_websocket_connect_reports_the_rejection(hostile: HostileServers) -> None:
    result = websocket_connect(hostile.env("close-1008"), timeout_s=BOUND_S)
    assert not result.ok and result.failed_step == "handshake"
    assert result.error is not None and "AUTH_FAILED" in result.error
    assert websocket_connect(hostile.env("good"), timeout_s=BOUND_S).ok


@pytest.mark.anyio
async def test_websocket_connect_async(hostile: HostileServers) -> None:
    result = await websocket_connect_async(hostile.env("reject-503"), timeout_s=BOUND_S)
    assert not result.ok and result.http_status == 503


def test_agent_turn_runs_on_the_callers_connection_and_leaves_it_open(
        hostile: HostileServers, tmp_path: Path) -> None:
    env = hostile.env("good")
    with connect(env.backend.websocket_url, subprotocols=[f"jwt.{TOKEN}"]) as ws:  # type: ignore[list-item]
        assert "connection_established" in str(ws.recv(timeout=2))
        first = agent_turn(ws, "We spend $18,500 a month.", thread_id="t", timeout_s=BOUND_S)
        second = agent_turn(ws, "Cut it by half.", thread_id="t", timeout_s=BOUND_S)
        assert first.ok and second.ok, (first.error, second.error)
        assert second.final_response is not None and "18,500" in second.final_response
        assert ws.close_code is None
