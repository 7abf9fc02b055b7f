"""The sandbox auth service: login, refresh, validate, health, CORS, and the real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

with warnings.catch_warnings():  # starlette 1.x prefers httpx2; httpx works the same here
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from netra_ops.errors import ConfigError
from netra_ops.sandbox.services import auth_app
from netra_ops.sandbox.services.auth_app import create_app, user_id_for

SECRET = "0123456789abcdef" * 4
EMAIL = "golden-path@sandbox.netra.test"
PASSWORD = "correct horse battery staple"
ORIGIN = "http://127.0.0.1:18082"


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(jwt_secret=SECRET, users={EMAIL: PASSWORD}, allowed_origins=[ORIGIN])
    with TestClient(app) as test_client:
        yield test_client


def _login(client: TestClient | httpx.Client) -> dict:
    response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def _claims(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="netra-platform")


def test_health_answers_get_and_head(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "healthy"
    assert body["service"] == "auth-service"
    assert body["environment"] == "sandbox"
    assert body["uptime_seconds"] >= 0
    assert body["timestamp"].endswith("Z") and body["version"]
    head = client.head("/health")
    assert head.status_code == 200 and head.content == b""


def test_login_returns_tokens_with_the_netra_claims(client: TestClient) -> None:
    body = _login(client)

    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["user"] == {"id": user_id_for(EMAIL), "email": EMAIL}
    access, refresh = _claims(body["access_token"]), _claims(body["refresh_token"])
    assert access["iss"] == "netra-auth-service" and access["aud"] == "netra-platform"
    assert access["type"] == "access" and access["email"] == EMAIL
    assert access["sub"] == user_id_for(EMAIL)
    assert access["exp"] - access["iat"] == 900
    assert refresh["type"] == "refresh"
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600
    assert access["jti"] != refresh["jti"]


def test_user_id_is_stable_per_email(client: TestClient) -> None:
    first = _login(client)["user"]["id"]
    again = client.post("/auth/login", json={"email": EMAIL.upper(), "password": PASSWORD})
    assert again.json()["user"]["id"] == first
    assert uuid.UUID(first).version == 5
    assert user_id_for("someone@else.test") != first


@pytest.mark.parametrize(
    ("email", "password"), [(EMAIL, "wrong password"), ("nobody@sandbox.netra.test", PASSWORD)]
)
def test_bad_credentials_are_401(client: TestClient, email: str, password: str) -> None:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"


@pytest.mark.parametrize(
    ("body", "missing"),
    [({"email": EMAIL}, ["password"]), ({}, ["email", "password"]),
     ({"email": EMAIL, "password": 42}, ["password"])],
)
def test_missing_fields_are_422_with_the_field_names(
    client: TestClient, body: dict, missing: list[str]
) -> None:
    response = client.post("/auth/login", json=body)
    assert response.status_code == 422
    assert response.json()["fields"] == missing
    assert "missing or empty" in response.json()["detail"]


def test_a_body_that_is_not_a_json_object_is_422(client: TestClient) -> None:
    for content in (b"email=x", b"[1, 2]"):
        response = client.post("/auth/login", content=content)
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_json"


def test_refresh_gives_a_new_access_token(client: TestClient) -> None:
    tokens = _login(client)

    response = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 200
    fresh = response.json()["access_token"]
    assert _claims(fresh)["type"] == "access" and fresh != tokens["access_token"]
    assert client.post("/auth/validate", json={"token": fresh}).json()["valid"] is True


def test_refresh_refuses_an_access_token(client: TestClient) -> None:
    tokens = _login(client)
    response = client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401
    assert "expected a refresh token" in response.json()["detail"]


def test_validate_accepts_a_valid_token_in_body_or_header(client: TestClient) -> None:
    token = _login(client)["access_token"]

    by_body = client.post("/auth/validate", json={"token": token}).json()
    by_header = client.post("/auth/validate", headers={"Authorization": f"Bearer {token}"})

    assert by_body["valid"] is True
    assert by_body["user_id"] == user_id_for(EMAIL) and by_body["email"] == EMAIL
    assert by_body["permissions"] == ["chat", "read", "write"]
    assert by_body["expires_at"].startswith(time.strftime("%Y-", time.gmtime()))
    assert by_header.json() == by_body


def _forged(**changes: object) -> str:
    now = int(time.time())
    claims = {"sub": user_id_for(EMAIL), "iat": now, "exp": now + 900,
              "iss": "netra-auth-service", "aud": "netra-platform", "jti": "x",
              "email": EMAIL, "type": "access"}
    secret = str(changes.pop("secret", SECRET))
    claims.update(changes)
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"exp": -10}, "token expired"),
        ({"secret": "another-secret-of-enough-length-0123456789"}, "invalid signature"),
        (None, "malformed token"),
        ({"type": "refresh"}, "expected a access token, got refresh"),
        ({"aud": "someone-else"}, "Audience doesn't match"),
        ({"email": "gone@sandbox.netra.test"}, "the token's user no longer exists"),
    ],
)
def test_validate_reports_why_a_token_is_invalid(
    client: TestClient, changes: dict[str, object] | None, error: str
) -> None:
    """Tokens are forged when the test runs (at collection they could expire before it)."""
    if changes is None:
        token = "not-a-jwt"
    elif changes.get("exp") == -10:
        token = _forged(exp=int(time.time()) - 10)
    else:
        token = _forged(**changes)
    response = client.post("/auth/validate", json={"token": token})
    assert response.status_code == 200
    assert response.json() == {"valid": False, "error": error}


def test_validate_without_a_token_is_422(client: TestClient) -> None:
    assert client.post("/auth/validate", json={}).status_code == 422


def test_cors_lets_the_frontend_page_log_in(client: TestClient) -> None:
    preflight = client.options(
        "/auth/login",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    other = client.options(
        "/auth/login",
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert other.status_code == 400


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        create_app(jwt_secret="short", users={})


def test_serve_without_its_files_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETRA_SANDBOX_JWT_SECRET_FILE", raising=False)
    with pytest.raises(ConfigError, match="NETRA_SANDBOX_JWT_SECRET_FILE is not set"):
        auth_app.serve("127.0.0.1", 1)


# --- the real server ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The auth service under uvicorn in its own process: (base URL, log file)."""
    (tmp_path / "jwt-secret").write_text(SECRET + "\n")
    (tmp_path / "users.json").write_text(json.dumps({EMAIL: PASSWORD}))
    env = {**os.environ, "NETRA_SANDBOX_JWT_SECRET_FILE": str(tmp_path / "jwt-secret"),
           "NETRA_SANDBOX_USERS_FILE": str(tmp_path / "users.json"),
           "NETRA_SANDBOX_ALLOWED_ORIGINS": ORIGIN, "ENVIRONMENT": "sandbox-test"}
    port, log = _free_port(), tmp_path / "auth.log"
    code = f"from netra_ops.sandbox.services.auth_app import serve; serve('127.0.0.1', {port})"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited: {log.read_text()}"
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"server not healthy in time: {log.read_text()}")


def test_the_real_server_logs_in_and_validates(auth_server: tuple[str, Path]) -> None:
    url, log = auth_server
    with httpx.Client(base_url=url, timeout=5) as client:
        health = client.get("/health").json()
        tokens = _login(client)
        valid = client.post("/auth/validate", json={"token": tokens["access_token"]}).json()
        refused = client.post("/auth/login", json={"email": EMAIL, "password": "nope"})

    assert health["environment"] == "sandbox-test"
    assert valid["valid"] is True and valid["user_id"] == tokens["user"]["id"]
    assert refused.status_code == 401
    time.sleep(0.2)  # let the access log reach the file
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert any("POST /auth/login" in line["message"] for line in lines)
    assert all({"severity", "message", "timestamp"} <= set(line) for line in lines)
    text = log.read_text()
    assert tokens["access_token"] not in text and PASSWORD not in text
