"""The frontend chat page: URLs injected safely, health, and the golden path it drives."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

with warnings.catch_warnings():  # starlette 1.x prefers httpx2; httpx works the same here
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from netra_ops.errors import ConfigError
from netra_ops.sandbox.services import frontend_app
from netra_ops.sandbox.services.backend_app import GOLDEN_PATH_EVENTS
from netra_ops.sandbox.services.frontend_app import create_app

SECRET = "0123456789abcdef" * 4
EMAIL = "golden-path@sandbox.netra.test"
PASSWORD = "correct horse battery staple"
AUTH, BACKEND = "http://127.0.0.1:18081", "http://127.0.0.1:18080"
_CONFIG = re.compile(r'<script id="netra-config" type="application/json">(.*?)</script>', re.S)


def _config_of(page: str) -> dict[str, str]:
    match = _CONFIG.search(page)
    assert match, "the page carries no config"
    return json.loads(match.group(1))


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(auth_url=AUTH + "/", backend_url=BACKEND)) as test_client:
        yield test_client


def test_the_page_carries_the_service_urls(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert _config_of(response.text) == {"auth_url": AUTH, "backend_url": BACKEND}


def test_the_page_walks_the_golden_path(client: TestClient) -> None:
    page = client.get("/").text
    assert "/auth/login" in page and '"jwt." + token' in page
    assert 'type: "user_message"' in page and '.replace(/^http/, "ws") + "/ws"' in page
    for event in GOLDEN_PATH_EVENTS:
        assert f'data-event="{event}"' in page
    assert 'role="status"' in page and 'aria-live="polite"' in page
    assert "innerHTML" not in page  # server text is only ever set as text
    assert "__NETRA_CONFIG__" not in page


def test_head_answers_without_a_body(client: TestClient) -> None:
    response = client.head("/")
    assert response.status_code == 200 and response.content == b""


def test_health_is_json(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "healthy" and body["service"] == "frontend"
    assert body["auth_url"] == AUTH and body["backend_url"] == BACKEND


def test_a_url_cannot_break_out_of_the_script() -> None:
    hostile = "http://x.test/</script><script>alert(1)</script>"
    with TestClient(create_app(auth_url=hostile, backend_url=BACKEND)) as client:
        page = client.get("/").text
    assert "<script>alert(1)" not in page
    assert _config_of(page)["auth_url"] == hostile


def test_urls_must_be_http() -> None:
    with pytest.raises(ConfigError, match="auth_url must start with http"):
        create_app(auth_url="127.0.0.1:18081", backend_url=BACKEND)


def test_serve_without_urls_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETRA_SANDBOX_AUTH_URL", raising=False)
    with pytest.raises(ConfigError, match="NETRA_SANDBOX_AUTH_URL is not set"):
        frontend_app.serve("127.0.0.1", 1)


# --- the real page against the real services ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[str]:
    """Auth, one backend revision and the frontend as processes; yields the frontend URL."""
    (tmp_path / "jwt-secret").write_text(SECRET)
    (tmp_path / "users.json").write_text(json.dumps({EMAIL: PASSWORD}))
    ports = {role: _free_port() for role in ("auth", "backend", "frontend")}
    urls = {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}
    env = {
        "NETRA_SANDBOX_JWT_SECRET_FILE": str(tmp_path / "jwt-secret"),
        "NETRA_SANDBOX_USERS_FILE": str(tmp_path / "users.json"),
        "NETRA_SANDBOX_ALLOWED_ORIGINS": urls["frontend"],
        "AUTH_SERVICE_URL": urls["auth"],
        "NETRA_SANDBOX_AUTH_URL": urls["auth"],
        "NETRA_SANDBOX_BACKEND_URL": urls["backend"],
    }
    procs = []
    try:
        for role, port in ports.items():
            module = "backend_app" if role == "backend" else f"{role}_app"
            code = (f"from netra_ops.sandbox.services.{module} import serve; "
                    f"serve('127.0.0.1', {port})")
            with (tmp_path / f"{role}.log").open("wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", code], env={**os.environ, **env},
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                ))
        for url in urls.values():
            _wait_healthy(url)
        yield urls["frontend"]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"{url} not healthy in time")


async def _chat_like_the_page(config: dict[str, str], origin: str) -> list[dict]:
    """What the page's script does: log in, connect with jwt.<token>, send user_message."""
    async with httpx.AsyncClient() as client:
        preflight = await client.options(
            config["auth_url"] + "/auth/login",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"},
        )
        assert preflight.headers["access-control-allow-origin"] == origin
        login = await client.post(config["auth_url"] + "/auth/login",
                                  json={"email": EMAIL, "password": PASSWORD},
                                  headers={"Origin": origin})
    token = login.json()["access_token"]
    ws_url = re.sub(r"^http", "ws", config["backend_url"]) + "/ws"
    async with websockets.connect(ws_url, subprotocols=[f"jwt.{token}"], origin=origin) as ws:
        messages = [json.loads(await ws.recv())]
        await ws.send(json.dumps({"type": "user_message", "payload": {
            "text": "We spend $12,000 a month on gpt-4o", "thread_id": "thread-1"}}))
        messages += [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(5)]
    return messages


def test_the_served_page_leads_to_a_real_answer(stack: str) -> None:
    page = httpx.get(stack + "/")
    assert httpx.head(stack + "/").status_code == 200

    messages = asyncio.run(_chat_like_the_page(_config_of(page.text), origin=stack))

    assert [m["type"] for m in messages] == ["connection_established", *GOLDEN_PATH_EVENTS]
    assert "$12,000" in messages[-1]["data"]["final_response"]
