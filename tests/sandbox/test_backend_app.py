"""A backend revision: settings, health, the WebSocket golden path, builds, faults, watchdog.

In-process tests drive the app with starlette's TestClient; the auth service they validate
tokens against is always the real one, under uvicorn in its own process. The tests at the
end run revisions as real processes, as the sandbox platform does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import websockets

with warnings.catch_warnings():  # starlette 1.x prefers httpx2; httpx works the same here
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from netra_ops.errors import ConfigError
from netra_ops.sandbox.services.backend_app import (
    GOLDEN_PATH_EVENTS,
    BackendSettings,
    build_of,
    create_app,
)
from netra_ops.sandbox.services.http_serving import KEEP_ALIVE_S, POOL_IDLE_S

SECRET = "0123456789abcdef" * 4
EMAIL = "golden-path@sandbox.netra.test"
PASSWORD = "correct horse battery staple"
STALE_ERROR = (
    "TypeError: UserExecutionContext.__init__() got an unexpected keyword argument 'session_id'"
)
QUESTION = {"type": "user_message",
            "payload": {"text": "We spend $12,000 a month on gpt-4o", "thread_id": "t-1"}}


# --- processes on loopback -----------------------------------------------------------------


@dataclass
class Service:
    proc: subprocess.Popen
    url: str
    log: Path

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(code: str, env: dict[str, str], log: Path, port: int) -> Service:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env={**os.environ, **env}, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return Service(proc, f"http://127.0.0.1:{port}", log)


def _wait_healthy(service: Service, timeout: float = 60) -> list[int]:
    """Poll /health until 200; returns every status seen (503 while warming up)."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert service.proc.poll() is None, f"exited: {service.log.read_text()}"
        try:
            seen.append(httpx.get(service.url + "/health", timeout=1).status_code)
        except httpx.TransportError:
            time.sleep(0.01)
            continue
        if seen[-1] == 200:
            return seen
        time.sleep(0.01)
    pytest.fail(f"not healthy in time: {service.log.read_text()}")


@pytest.fixture(scope="module")
def auth_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("auth")
    (folder / "jwt-secret").write_text(SECRET)
    (folder / "users.json").write_text(json.dumps({EMAIL: PASSWORD}))
    port = _free_port()
    service = _spawn(
        f"from netra_ops.sandbox.services.auth_app import serve; serve('127.0.0.1', {port})",
        {"NETRA_SANDBOX_JWT_SECRET_FILE": str(folder / "jwt-secret"),
         "NETRA_SANDBOX_USERS_FILE": str(folder / "users.json")},
        folder / "auth.log", port,
    )
    try:
        _wait_healthy(service)
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def token(auth_url: str) -> str:
    response = httpx.post(auth_url + "/auth/login", json={"email": EMAIL, "password": PASSWORD})
    return response.json()["access_token"]


@pytest.fixture
def backends(tmp_path: Path, auth_url: str) -> Iterator[Any]:
    """Start revision processes: start(port_env...) -> Service; all stopped at the end."""
    started: list[Service] = []

    def start(wait: bool = True, **env: str) -> Service:
        port = _free_port()
        env = {"PORT": str(port), "K_SERVICE": "netra-backend-staging",
               "K_REVISION": f"rev-{len(started) + 1}", "AUTH_SERVICE_URL": auth_url, **env}
        code = "from netra_ops.sandbox.services.backend_app import serve; serve('127.0.0.1')"
        service = _spawn(code, env, tmp_path / f"{env['K_REVISION']}.log", port)
        started.append(service)
        if wait:
            _wait_healthy(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            service.stop()


def _settings(auth_url: str, **changes: Any) -> BackendSettings:
    return dataclasses.replace(
        BackendSettings(auth_service_url=auth_url, warmup_s=0, revision="rev-test"), **changes
    )


# --- settings and builds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "build"),
    [
        ("us-central1-docker.pkg.dev/p/netra/netra-backend:develop-long-lived", "fixed"),
        ("netra-backend:main-2a41f9c", "stale"),
        ("netra-backend:hotfix-stale", "stale"),
        ("netra-backend:develop-crash", "crash"),
        ("netra-backend", "fixed"),
        ("registry:5000/netra-backend@sha256:abc", "fixed"),
    ],
)
def test_the_image_tag_decides_the_build(image: str, build: str) -> None:
    assert build_of(image) == build


def test_settings_are_read_from_the_environment() -> None:
    settings = BackendSettings.from_environ({
        "PORT": "9090", "K_SERVICE": "svc", "K_REVISION": "svc-00002",
        "NETRA_SANDBOX_IMAGE": "x/netra-backend:main-1", "AUTH_SERVICE_URL": "http://a:1/",
        "ENVIRONMENT": "staging", "WEBSOCKET_HEARTBEAT_INTERVAL": "2.5",
        "NETRA_SANDBOX_PARENT_PID": "123", "NETRA_FAULT_HTTP_ERROR_RATE": "0.25",
        "NETRA_FAULT_LATENCY_MS": "40", "NETRA_FAULT_CRASH_ON_START": "false",
        "NETRA_FAULT_DROP_EVENT": "tool_completed", "NETRA_FAULT_MEMORY_GROWTH_KB": "64",
        "NETRA_FAULT_SEED": "7", "WEBSOCKET_CONNECTION_TIMEOUT": "360",
        "NETRA_REHEARSAL_TIME_SCALE": "60",
    })
    assert settings == BackendSettings(
        port=9090, service="svc", revision="svc-00002", image="x/netra-backend:main-1",
        auth_service_url="http://a:1", environment="staging", heartbeat_interval_s=2.5,
        parent_pid=123, http_error_rate=0.25, latency_ms=40, crash_on_start=False,
        drop_event="tool_completed", memory_growth_kb=64, fault_seed=7,
        connection_timeout_s=360, time_scale=60,
    )
    assert settings.idle_close_after_s == 6
    assert settings.heartbeat_every_s == pytest.approx(2.5 / 60)
    assert settings.build == "stale" and settings.version == "main-1"
    assert BackendSettings.from_environ({}).heartbeat_interval_s == 15
    assert BackendSettings.from_environ({}).idle_close_after_s == 900  # the app's default


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PORT", "http", "must be a whole number"),
        ("PORT", "70000", "from 1 to 65535"),
        ("NETRA_FAULT_HTTP_ERROR_RATE", "1.5", "from 0 to 1"),
        ("NETRA_FAULT_HTTP_ERROR_RATE", "lots", "from 0 to 1"),
        ("NETRA_FAULT_CRASH_ON_START", "maybe", "1/true/yes/on"),
        ("NETRA_FAULT_DROP_EVENT", "agent_dancing", "agent_started, agent_thinking"),
        ("AUTH_SERVICE_URL", "auth:8081", "must start with http://"),
        ("WEBSOCKET_HEARTBEAT_INTERVAL", "0", "from 0.01"),
        ("NETRA_FAULT_MEMORY_GROWTH_KB", "-1", "at least 0"),
        ("WEBSOCKET_CONNECTION_TIMEOUT", "0", "from 1"),
        ("NETRA_REHEARSAL_TIME_SCALE", "0.5", "from 1 to 3600"),
    ],
)
def test_invalid_settings_name_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=name) as error:
        BackendSettings.from_environ({name: value})
    assert says in str(error.value)


# --- health --------------------------------------------------------------------------------


def test_health_reports_the_revision(auth_url: str) -> None:
    with TestClient(create_app(_settings(auth_url))) as client:
        for path in ("/health", "/health/ready"):
            response = client.get(path)
            body = response.json()
            assert response.status_code == 200
            assert body["status"] == "healthy" and body["revision"] == "rev-test"
            assert body["build"] == "fixed" and body["version"] == "develop-long-lived"
            assert body["checks"] == {"agent": "ok", "auth_service": "configured"}
            assert body["timestamp"].endswith("Z")
        assert client.head("/health").status_code == 200


def test_health_is_503_while_warming_up(auth_url: str) -> None:
    with TestClient(create_app(_settings(auth_url, warmup_s=30))) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["checks"]["agent"] == "starting"


# --- the WebSocket golden path -------------------------------------------------------------


def _turn(ws: Any, message: dict[str, Any] = QUESTION, count: int = 5) -> list[dict[str, Any]]:
    ws.send_json(message)
    return [ws.receive_json() for _ in range(count)]


def _check_golden_events(events: list[dict[str, Any]], thread_id: str = "t-1") -> None:
    assert [e["type"] for e in events] == list(GOLDEN_PATH_EVENTS)
    assert len({e["run_id"] for e in events}) == 1
    for event in events:
        assert {"run_id", "thread_id", "user_id", "agent_name", "timestamp", "data"} <= set(event)
        assert event["thread_id"] == thread_id
    started, thinking, executing, completed, done = (e["data"] for e in events)
    assert {"user_id", "thread_id", "timestamp"} <= set(started)
    assert len(thinking["reasoning"]) > 10
    assert events[2]["tool_name"] and isinstance(executing["parameters"], dict)
    assert events[3]["tool_name"] == events[2]["tool_name"]
    assert completed["results"]["savings_usd"] > 0
    assert completed["execution_time_ms"] >= 0 and "duration" in completed
    assert done["status"] == "completed" and len(done["final_response"]) > 20


def test_a_turn_sends_the_five_events_in_order(auth_url: str, token: str) -> None:
    with TestClient(create_app(_settings(auth_url))) as client, client.websocket_connect(
        "/ws", subprotocols=[f"jwt.{token}"]
    ) as ws:
        hello = ws.receive_json()
        assert ws.accepted_subprotocol == f"jwt.{token}"
        assert hello["type"] == "connection_established"
        assert hello["data"]["golden_path_events"] == list(GOLDEN_PATH_EVENTS)
        events = _turn(ws)
    _check_golden_events(events)
    assert events[0]["user_id"] == hello["data"]["user_id"]
    assert "$12,000" in events[4]["data"]["final_response"]


def test_the_thread_remembers_earlier_turns(auth_url: str, token: str) -> None:
    follow_up = {"type": "user_message",
                 "payload": {"text": "What if we cut it by half?", "thread_id": "t-1"}}
    with TestClient(create_app(_settings(auth_url))) as client, client.websocket_connect(
        "/ws", headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        ws.receive_json()
        _turn(ws)
        answer = _turn(ws, follow_up)[4]["data"]["final_response"]
    assert "Earlier you said your spend is $12,000/month" in answer


@pytest.mark.parametrize(
    "message",
    [
        {"type": "chat_message", "content": "We spend $12,000 a month", "thread_id": "t-1"},
        {"type": "chat_message", "payload": {"content": "hello", "thread_id": "t-1"}},
        {"type": "start_agent", "payload": {"user_request": "help", "thread_id": "t-1"}},
    ],
)
def test_other_message_shapes_start_a_turn(
    auth_url: str, token: str, message: dict[str, Any]
) -> None:
    with TestClient(create_app(_settings(auth_url))) as client, client.websocket_connect(
        "/ws", subprotocols=["jwt-auth", f"jwt.{token}"]
    ) as ws:
        ws.receive_json()
        assert ws.accepted_subprotocol == "jwt-auth"
        _check_golden_events(_turn(ws, message))


def test_bad_messages_get_an_error_and_the_connection_stays_open(
    auth_url: str, token: str
) -> None:
    with TestClient(create_app(_settings(auth_url))) as client, client.websocket_connect(
        "/ws", subprotocols=[f"jwt.{token}"]
    ) as ws:
        ws.receive_json()
        ws.send_text("{not json")
        malformed = ws.receive_json()
        ws.send_json({"type": "dance"})
        unknown = ws.receive_json()
        ws.send_json({"type": "user_message", "payload": {"text": "  "}})
        empty = ws.receive_json()
        ws.send_json({"type": "ping"})
        pong = ws.receive_json()
    assert (malformed["type"], malformed["error_code"]) == ("error", "INVALID_JSON")
    assert unknown["error_code"] == "UNKNOWN_MESSAGE_TYPE" and "'dance'" in unknown["message"]
    assert empty["error_code"] == "INVALID_MESSAGE"
    assert pong["type"] == "pong"


def _rejection(client: TestClient, **kwargs: Any) -> tuple[dict[str, Any], int]:
    with client.websocket_connect("/ws", **kwargs) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return error, closed.value.code


def test_a_missing_or_bad_token_is_refused_with_1008(auth_url: str, token: str) -> None:
    with TestClient(create_app(_settings(auth_url))) as client:
        missing, missing_code = _rejection(client)
        forged, forged_code = _rejection(client, subprotocols=[f"jwt.{token[:-4]}AAAA"])
    assert (missing["error_code"], missing_code) == ("AUTH_FAILED", 1008)
    assert "no token" in missing["message"]
    assert (forged["error_code"], forged_code) == ("AUTH_FAILED", 1008)
    assert "invalid signature" in forged["message"]


def test_an_unreachable_auth_service_closes_with_1011(token: str) -> None:
    wrong = f"http://127.0.0.1:{_free_port()}"
    with TestClient(create_app(_settings(wrong))) as client:
        error, code = _rejection(client, subprotocols=[f"jwt.{token}"])
    assert (error["error_code"], code) == ("AUTH_SERVICE_UNAVAILABLE", 1011)
    assert wrong in error["message"]


def test_an_idle_connection_gets_heartbeats(auth_url: str, token: str) -> None:
    settings = _settings(auth_url, heartbeat_interval_s=0.2)
    with TestClient(create_app(settings)) as client, client.websocket_connect(
        "/ws", subprotocols=[f"jwt.{token}"]
    ) as ws:
        ws.receive_json()
        started = time.monotonic()
        beats = [ws.receive_json() for _ in range(2)]
        elapsed = time.monotonic() - started
    assert [b["type"] for b in beats] == ["heartbeat", "heartbeat"]
    assert 0.3 <= elapsed < 10  # the 0.2 s interval, not the default 15 s (generous: load)


def test_an_idle_connection_is_closed_at_the_apps_connection_timeout(
    auth_url: str, token: str
) -> None:
    """WEBSOCKET_CONNECTION_TIMEOUT=360 at a rehearsal time scale of 180: a client that
    answers no heartbeat is closed after 2 s with 1000 and the reason naming the setting."""
    settings = _settings(auth_url, connection_timeout_s=360, time_scale=180)
    with TestClient(create_app(settings)) as client, client.websocket_connect(
        "/ws", subprotocols=[f"jwt.{token}"]
    ) as ws:
        hello = ws.receive_json()
        started = time.monotonic()
        kinds = []
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                kinds.append(ws.receive_json()["type"])
        idle_s = time.monotonic() - started
    assert hello["data"]["connection_timeout_s"] == 2
    assert hello["data"]["heartbeat_interval_s"] == pytest.approx(15 / 180)
    assert set(kinds) == {"heartbeat"}  # heartbeats alone do not keep it open
    assert (closed.value.code, closed.value.reason) == (
        1000, "idle timeout (WEBSOCKET_CONNECTION_TIMEOUT=360s)")
    assert idle_s >= 1.5


def test_a_client_answering_heartbeats_outlives_the_connection_timeout(
    auth_url: str, token: str
) -> None:
    settings = _settings(auth_url, connection_timeout_s=360, time_scale=180)
    with TestClient(create_app(settings)) as client, client.websocket_connect(
        "/ws", subprotocols=[f"jwt.{token}"]
    ) as ws:
        ws.receive_json()
        started = time.monotonic()
        while time.monotonic() - started < 5:  # 2.5 times the 2 s timeout
            if ws.receive_json()["type"] == "heartbeat":
                ws.send_json({"type": "pong"})
        events = _turn(ws)  # still open: a turn after the idle stretch works
    assert events[-1]["type"] == "agent_completed"


def test_the_stale_build_fails_after_agent_started(
    auth_url: str, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(auth_url, image="netra-backend:main-2a41f9c")
    with TestClient(create_app(settings)) as client, client.websocket_connect(
        "/ws", subprotocols=[f"jwt.{token}"]
    ) as ws:
        ws.receive_json()
        started, error = _turn(ws, count=2)
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"  # still open
    assert started["type"] == "agent_started"
    assert error["type"] == "agent_error"
    assert error["data"] == {"error": STALE_ERROR, "error_type": "TypeError",
                             "run_id": started["run_id"]}
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info is not None and "session_id" in record.getMessage()


# --- faults --------------------------------------------------------------------------------


def test_the_dropped_event_is_never_sent(auth_url: str, token: str) -> None:
    settings = _settings(auth_url, drop_event="tool_completed")
    with TestClient(create_app(settings)) as client, client.websocket_connect(
        "/ws", subprotocols=[f"jwt.{token}"]
    ) as ws:
        ws.receive_json()
        events = _turn(ws, count=4)
    assert [e["type"] for e in events] == [
        "agent_started", "agent_thinking", "tool_executing", "agent_completed"
    ]


def test_latency_is_added_to_http_and_to_every_event(auth_url: str, token: str) -> None:
    settings = _settings(auth_url, latency_ms=50)
    with TestClient(create_app(settings)) as client:
        started = time.monotonic()
        client.get("/health")
        http_s = time.monotonic() - started
        with client.websocket_connect("/ws", subprotocols=[f"jwt.{token}"]) as ws:
            ws.receive_json()
            started = time.monotonic()
            _turn(ws)
            turn_s = time.monotonic() - started
    assert http_s >= 0.05
    assert turn_s >= 5 * 0.05


def _error_pattern(auth_url: str, seed: int, requests: int = 200) -> list[int]:
    settings = _settings(auth_url, http_error_rate=0.25, fault_seed=seed)
    with TestClient(create_app(settings)) as client:
        return [client.get("/health").status_code for _ in range(requests)]


def test_the_error_rate_holds_from_the_first_request_and_is_repeatable(auth_url: str) -> None:
    statuses = _error_pattern(auth_url, seed=0)
    assert statuses.count(500) == 50  # exactly 25% of 200
    for start in range(0, 200 - 8):  # any 8 consecutive requests: 2 errors
        assert statuses[start:start + 8].count(500) == 2, (start, statuses[:40])
    assert 500 in statuses[:4]
    assert _error_pattern(auth_url, seed=0) == statuses
    assert _error_pattern(auth_url, seed=1) != statuses


# --- real processes ------------------------------------------------------------------------


async def _ws_turn(url: str, token: str, count: int) -> tuple[dict, list[dict]]:
    ws_url = url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws_url, subprotocols=[f"jwt.{token}"]) as ws:
        hello = json.loads(await ws.recv())
        await ws.send(json.dumps(QUESTION))
        events = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(count)]
    return hello, events


async def _ws_refused(url: str, token: str) -> tuple[dict, int]:
    ws_url = url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws_url, subprotocols=[f"jwt.{token}"]) as ws:
        error = json.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


def _errors(service: Service) -> list[dict[str, Any]]:
    return [line for line in service.lines() if line["severity"] == "ERROR"]


def test_real_revisions_fixed_and_stale_through_the_real_auth_service(
    backends: Any, token: str
) -> None:
    fixed = backends(NETRA_SANDBOX_IMAGE="netra-backend:develop-long-lived")
    stale = backends(NETRA_SANDBOX_IMAGE="netra-backend:main-2a41f9c")

    started = time.monotonic()
    hello, events = asyncio.run(_ws_turn(fixed.url, token, 5))
    turn_s = time.monotonic() - started
    _, failed = asyncio.run(_ws_turn(stale.url, token, 2))
    error, code = asyncio.run(_ws_refused(fixed.url, "not-a-token"))

    assert hello["type"] == "connection_established"
    _check_golden_events(events)
    assert turn_s < 10  # milliseconds of work, no stall (generous: a busy machine is slow)
    assert [e["type"] for e in failed] == ["agent_started", "agent_error"]
    assert failed[1]["data"]["error"] == STALE_ERROR
    assert (error["error_code"], code) == ("AUTH_FAILED", 1008)
    deadline = time.monotonic() + 30  # the log lines land a little after the answer
    while not _errors(stale) and time.monotonic() < deadline:
        time.sleep(0.05)
    errors = _errors(stale)
    assert len(errors) == 1 and "Traceback" in errors[0]["message"]
    assert STALE_ERROR in errors[0]["message"] and errors[0]["revision"] == "rev-2"
    for service in (fixed, stale):
        assert all({"severity", "message", "timestamp"} <= set(li) for li in service.lines())
        assert token not in service.log.read_text()


def test_a_real_revision_is_unhealthy_until_warmed_up(backends: Any) -> None:
    # 3 s of start-up work: the default 0.2 s can be over before a busy machine's first poll
    service = backends(wait=False, NETRA_SANDBOX_WARMUP_S="3")
    seen = _wait_healthy(service)
    assert 503 in seen and seen[-1] == 200
    assert seen.index(503) < seen.index(200)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"NETRA_SANDBOX_IMAGE": "netra-backend:develop-crash"}, "is a crash build"),
        ({"NETRA_FAULT_CRASH_ON_START": "1"}, "NETRA_FAULT_CRASH_ON_START is set"),
        ({"NETRA_FAULT_HTTP_ERROR_RATE": "2"}, "NETRA_FAULT_HTTP_ERROR_RATE='2'"),
    ],
)
def test_a_crashing_revision_exits_1_before_listening(
    backends: Any, env: dict[str, str], reason: str
) -> None:
    service = backends(wait=False, **env)
    assert service.proc.wait(timeout=10) == 1
    [line] = service.lines()
    assert line["severity"] == "ERROR" and reason in line["message"]
    assert line["message"].startswith("Container failed to start")


def _rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def test_memory_growth_shows_in_rss(backends: Any, token: str) -> None:
    service = backends(NETRA_FAULT_MEMORY_GROWTH_KB="1024")
    before = _rss(service.proc.pid)
    with httpx.Client(base_url=service.url) as client:
        for _ in range(40):
            client.get("/health")
    after_http = _rss(service.proc.pid)
    asyncio.run(_ws_turns(service.url, token, turns=20))
    after_turns = _rss(service.proc.pid)

    mib = 1024 * 1024
    assert after_http - before >= 30 * mib
    assert after_turns - after_http >= 15 * mib


async def _ws_turns(url: str, token: str, turns: int) -> None:
    ws_url = url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws_url, subprotocols=[f"jwt.{token}"]) as ws:
        await ws.recv()
        for _ in range(turns):
            await ws.send(json.dumps(QUESTION))
            for _ in range(5):
                await asyncio.wait_for(ws.recv(), 5)


PARENT = textwrap.dedent("""
    import os, subprocess, sys, time
    port, pid_file, log = sys.argv[1], sys.argv[2], sys.argv[3]
    env = {**os.environ, "PORT": port, "NETRA_SANDBOX_PARENT_PID": str(os.getpid())}
    code = "from netra_ops.sandbox.services.backend_app import serve; serve('127.0.0.1')"
    with open(log, "wb") as out:
        child = subprocess.Popen([sys.executable, "-c", code], env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 start_new_session=True)
    open(pid_file, "w").write(str(child.pid))
    while not os.path.exists(sys.argv[4]):  # the test says when to go, however slow the start
        time.sleep(0.05)
""")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_revision_exits_when_its_parent_is_gone(tmp_path: Path, auth_url: str) -> None:
    port, pid_file, log = _free_port(), tmp_path / "child.pid", tmp_path / "child.log"
    release = tmp_path / "parent-may-exit"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(port), str(pid_file), str(log), str(release)],
        env={**os.environ, "AUTH_SERVICE_URL": auth_url}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    child_pid = None
    try:
        _wait_healthy(Service(parent, f"http://127.0.0.1:{port}", log))
        child_pid = int(pid_file.read_text())
        release.touch()
        assert parent.wait(timeout=30) == 0
        deadline = time.monotonic() + 30  # the watchdog looks every second; load may delay it
        while not _gone(child_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(child_pid), "the revision outlived its parent"
        messages = [json.loads(line)["message"] for line in log.read_text().splitlines()]
        assert any("is gone; shutting down" in m for m in messages)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child_pid is not None and not _gone(child_pid):
            psutil.Process(child_pid).kill()


def _get_health(sock: socket.socket) -> bytes:
    """One keep-alive GET /health on an open connection; the answer's status line."""
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: sandbox\r\nConnection: keep-alive\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, f"the service closed the connection; read so far: {answer!r}"
        answer += chunk
    return answer.split(b"\r\n", 1)[0]


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


@pytest.mark.parametrize("service", ["backend", "auth"])
def test_an_idle_connection_outlives_the_routers_pool(
        service: str, backends: Any, auth_url: str) -> None:
    # The router's pool reuses idle connections; a service that closed one first (uvicorn's
    # default: after 5 s, the same as httpx's pool) made the router answer a healthy
    # revision's request 503. Idle past that default, the connection still serves.
    assert POOL_IDLE_S < KEEP_ALIVE_S
    url = backends().url if service == "backend" else auth_url
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        assert _get_health(sock) == b"HTTP/1.1 200 OK"
        time.sleep(6.5)  # idle past uvicorn's default keep-alive of 5 s
        assert not _closed_by_peer(sock), f"the {service} closed an idle connection after 5 s"
        assert _get_health(sock) == b"HTTP/1.1 200 OK"
