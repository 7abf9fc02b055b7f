"""The supervisor: up, status, logs and down with the real sandbox processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

import httpx
import psutil
import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from netra_ops import sandbox
from netra_ops.cloud import read_service
from netra_ops.cloud.builds import serves_image
from netra_ops.config import Environment, load_environment
from netra_ops.errors import (
    ConfigError,
    PortInUseError,
    SandboxError,
    SandboxNotRunningError,
    SandboxStartError,
)
from netra_ops.sandbox.runtime.state import StatePaths

pytestmark = pytest.mark.sandbox

MakeEnv = Callable[[], Environment]
Alive = Callable[[int, float | None], bool]


def _recorded(env: Environment) -> dict[str, dict[str, float]]:
    record = json.loads(StatePaths.of(env).sandbox_json.read_text())
    processes: dict[str, dict[str, float]] = record["processes"]
    return processes


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- the shared sandbox (read-only use) ---------------------------------------------------


def test_the_shared_sandbox_is_running_and_healthy(sandbox_env: Environment) -> None:
    current = sandbox.status(sandbox_env)
    assert current.running and current.detail == ""
    assert {p.role for p in current.processes} == {"platform"}
    assert all(p.alive for p in current.processes)
    # the serving revision: other modules stage scenarios on this sandbox and put "fixed" back
    serving = {t["revision"] for t in current.traffic if t["percent"] == 100}
    (revision,) = [r for r in current.revisions if r["name"] in serving]
    assert revision["state"] == "ready"
    # the fixed build, by its tag or by the digest the tag names (as Cloud Run reports it,
    # which a module before this one on the same worker may have left)
    fixed = sandbox_env.release.image
    assert fixed.endswith(":develop-long-lived")
    assert serves_image(sandbox_env, read_service(sandbox_env), fixed), revision["image"]
    assert revision["env"]["AUTH_SERVICE_URL"] == sandbox_env.auth.url
    assert {t["percent"] for t in current.traffic} == {100}
    assert sandbox.require_running(sandbox_env).running
    text = current.describe()
    assert "running since" in text and revision["name"] in text and sandbox_env.auth.url in text
    frame = current.to_frame()
    assert list(frame["kind"]).count("process") == 1 and "revision" in set(frame["kind"])
    with httpx.Client(trust_env=False) as client:
        assert client.get(sandbox_env.auth.url + "/health").status_code == 200
        assert client.get(sandbox_env.frontend.url + "/").status_code == 200
        assert client.get(sandbox_env.backend.url + "/health").status_code == 200


def test_up_is_idempotent(sandbox_env: Environment) -> None:
    before = _recorded(sandbox_env)
    started = time.monotonic()
    again = sandbox.up(sandbox_env)
    assert time.monotonic() - started < 30  # no start-up waited for (generous: busy machine)
    assert again.running and _recorded(sandbox_env) == before


def test_requests_through_the_router_are_logged(sandbox_env: Environment) -> None:
    serving = sandbox.status(sandbox_env).traffic[0]["revision"]
    with httpx.Client(trust_env=False) as client:
        client.get(sandbox_env.backend.url + "/health?probe=1")
    last = json.loads(sandbox.logs(sandbox_env, "requests", 1))
    assert (last["path"], last["status"], last["revision"]) == ("/health", 200, serving)
    assert last["url"].endswith("/health?probe=1")


def test_a_bad_token_is_closed_with_1008_by_the_real_backend(sandbox_env: Environment) -> None:
    with connect(sandbox_env.backend.websocket_url, subprotocols=["jwt.not-a-token"],
                 proxy=None) as ws:
        assert json.loads(ws.recv())["error_code"] == "AUTH_FAILED"
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_logs_by_role_and_by_revision(sandbox_env: Environment) -> None:
    assert "auth-service" in sandbox.logs(sandbox_env, "auth", 200)
    assert sandbox.logs(sandbox_env, "platform", 200).strip()
    revision = sandbox.status(sandbox_env).revisions[0]["name"]
    assert revision in sandbox.logs(sandbox_env, revision, 200)
    assert len(sandbox.logs(sandbox_env, "platform", 3).splitlines()) <= 3
    with pytest.raises(SandboxError, match=r"auth, frontend, platform, requests, or a revision"):
        sandbox.logs(sandbox_env, "database")


def test_secrets_never_reach_argv_env_values_or_logs(sandbox_env: Environment) -> None:
    paths = StatePaths.of(sandbox_env)
    secrets = [paths.jwt_secret.read_text().strip(), paths.test_user_password.read_text().strip()]
    for pid in (p.pid for p in sandbox.status(sandbox_env).processes):
        process = psutil.Process(pid)
        exposed = " ".join(process.cmdline()) + " ".join(process.environ().values())
        assert not any(secret in exposed for secret in secrets)
    logs = "".join(p.read_text() for p in paths.logs_dir.rglob("*.log*"))
    assert not any(secret in logs for secret in secrets)


# --- sandboxes of their own ---------------------------------------------------------------


def test_up_status_down_round_trip_survives_a_killed_platform(
    make_sandbox_env: MakeEnv, process_alive: Alive
) -> None:
    env = make_sandbox_env()
    assert not sandbox.status(env).running
    started = sandbox.up(env)
    assert started.running
    processes = _recorded(env)
    revision_pids = [r["pid"] for r in (*started.revisions, *started.other_revisions)]
    assert len(revision_pids) == 3  # backend, auth and frontend
    assert set(processes) == {"platform"}
    assert all(process_alive(int(p["pid"]), p["create_time"]) for p in processes.values())

    os.kill(int(processes["platform"]["pid"]), signal.SIGKILL)
    # each watches its parent every second; a busy machine may take longer
    assert _wait_until(lambda: not any(process_alive(p, None) for p in revision_pids), 30), \
        "the revisions did not exit after their platform died"
    broken = sandbox.status(env)
    assert not broken.running and "platform is not running" in broken.detail
    assert f"start it with: netra-ops sandbox up --env {env.source}" in broken.describe()
    with pytest.raises(SandboxNotRunningError, match=f"sandbox up --env {env.source}"):
        sandbox.require_running(env)

    stopped = sandbox.down(env)
    assert stopped == []  # every revision (auth and frontend too) exited with its platform
    assert not any(process_alive(int(p["pid"]), p["create_time"]) for p in processes.values())
    assert env.sandbox is not None
    assert all(_port_free(port) for port in env.sandbox.ports.values())
    assert not sandbox.status(env).running
    assert sandbox.down(env) == []


def test_up_cleans_stale_state_and_never_kills_a_reused_pid(
    make_sandbox_env: MakeEnv, process_alive: Alive
) -> None:
    env = make_sandbox_env()
    paths = StatePaths.of(env)
    paths.root.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stale = {"processes": {
            "platform": {"pid": bystander.pid, "create_time": 1.0, "port": 1},  # reused pid
            "auth": {"pid": 999_999_999, "create_time": 1.0, "port": 2},  # gone
        }}
        paths.sandbox_json.write_text(json.dumps(stale))
        assert sandbox.down(env) == []
        paths.sandbox_json.write_text(json.dumps(stale))

        started = sandbox.up(env)
        assert started.running and process_alive(bystander.pid, None)
        assert int(_recorded(env)["platform"]["pid"]) != bystander.pid
        sandbox.down(env)
        assert process_alive(bystander.pid, None)
    finally:
        bystander.kill()
        bystander.wait()


def test_a_taken_port_is_named_before_anything_starts(make_sandbox_env: MakeEnv) -> None:
    env = make_sandbox_env()
    assert env.sandbox is not None
    port = env.sandbox.ports["backend"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(PortInUseError) as taken:
            sandbox.up(env)
    message = str(taken.value)
    assert f"port {port} on 127.0.0.1 (backend" in message
    assert f"pid {os.getpid()}" in message
    assert f"change [sandbox.ports] backend in {env.source}" in message
    assert not StatePaths.of(env).sandbox_json.exists()


def test_a_backend_that_cannot_start_fails_up_and_leaves_nothing(
    make_sandbox_env: MakeEnv, tmp_path_factory: pytest.TempPathFactory, process_alive: Alive
) -> None:
    env = make_sandbox_env()
    assert env.source is not None and env.sandbox is not None
    text = env.source.read_text().replace(":develop-long-lived", ":crash-on-start")
    env.source.write_text(text)
    crashing = load_environment(env.source)
    with pytest.raises(SandboxStartError) as failed:
        sandbox.up(crashing)
    message = str(failed.value)
    assert "backend revision" in message and "failed to start" in message
    assert "exited with code 1" in message
    assert not StatePaths.of(env).sandbox_json.exists()
    assert all(_port_free(port) for port in env.sandbox.ports.values())
    leftovers = [p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
                 if str(StatePaths.of(env).root) in " ".join(p.info["cmdline"] or [])]
    assert not [pid for pid in leftovers if process_alive(pid, None)]


def test_only_sandbox_environments_can_be_started() -> None:
    staging = load_environment("staging")
    for call in (sandbox.up, sandbox.down, sandbox.status):
        with pytest.raises(ConfigError, match="only a sandbox environment"):
            call(staging)
