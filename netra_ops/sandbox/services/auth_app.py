"""The sandbox's auth service: log in, refresh and validate HS256 JWTs.

Wire shapes follow Netra's auth service (DESIGN.md, "The sandbox", item 1):

- `GET|HEAD /health` -> `{status, service:"auth-service", version, timestamp,
  uptime_seconds, environment}`
- `POST /auth/login {email, password}` -> 200 tokens, 401 bad credentials, 422 bad request
- `POST /auth/refresh {refresh_token}` -> 200 a new access token, 401 if not a valid one
- `POST /auth/validate {token}` (or `Authorization: Bearer`) -> 200 `{valid: true, user_id,
  email, permissions, expires_at}` or 200 `{valid: false, error}`

Access tokens live 15 minutes, refresh tokens 7 days. A user's id is stable per email.
"""

from __future__ import annotations

import hmac
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from netra_ops.errors import ConfigError
from netra_ops.sandbox.services.http_serving import server_options
from netra_ops.sandbox.services.service_logging import log_config, rfc3339_now

__all__ = [
    "ACCESS_TOKEN_TTL_S",
    "AUDIENCE",
    "ISSUER",
    "PERMISSIONS",
    "REFRESH_TOKEN_TTL_S",
    "create_app",
    "serve",
    "user_id_for",
]

ISSUER = "netra-auth-service"
AUDIENCE = "netra-platform"
ACCESS_TOKEN_TTL_S = 15 * 60
REFRESH_TOKEN_TTL_S = 7 * 24 * 3600
PERMISSIONS = ("chat", "read", "write")
SERVICE_NAME = "auth-service"
_USER_NAMESPACE = uuid.UUID("6f1c5b3e-4d0a-5c7e-9a51-0b7a2e9d4c11")
_MIN_SECRET_BYTES = 32


def user_id_for(email: str) -> str:
    """The stable user id of an email address (a UUID5, case-insensitive in the email)."""
    return str(uuid.uuid5(_USER_NAMESPACE, email.strip().lower()))


@dataclass(frozen=True)
class _Auth:
    """The service's state: signing key, users (lower-cased email -> password), start time."""

    secret: str
    users: dict[str, str]
    environment: str
    started: float

    def check_password(self, email: str, password: str) -> bool:
        expected = self.users.get(email.strip().lower())
        matches = hmac.compare_digest((expected or "").encode(), password.encode())
        return matches and expected is not None

    def issue(self, email: str, token_type: str, ttl_s: int) -> str:
        now = int(time.time())
        claims = {
            "sub": user_id_for(email),
            "iat": now,
            "exp": now + ttl_s,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": str(uuid.uuid4()),
            "email": email.strip().lower(),
            "type": token_type,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def decode(self, token: str, token_type: str) -> dict[str, Any]:
        """The claims of a valid token; raises jwt.InvalidTokenError with the reason."""
        claims = jwt.decode(
            token,
            self.secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss", "aud", "jti", "email", "type"]},
        )
        if claims["type"] != token_type:
            raise jwt.InvalidTokenError(f"expected a {token_type} token, got {claims['type']}")
        if claims["email"] not in self.users:
            raise jwt.InvalidTokenError("the token's user no longer exists")
        return claims


def create_app(
    *,
    jwt_secret: str,
    users: dict[str, str],
    environment: str = "sandbox",
    allowed_origins: list[str] | None = None,
) -> Starlette:
    """The auth service as an ASGI app (see the module docstring for its routes)."""
    if len(jwt_secret.encode()) < _MIN_SECRET_BYTES:
        raise ConfigError(
            f"the JWT secret must be at least {_MIN_SECRET_BYTES} bytes for HS256; "
            "generate a longer one, e.g. with secrets.token_hex(32)"
        )
    auth = _Auth(
        secret=jwt_secret,
        users={email.strip().lower(): password for email, password in users.items()},
        environment=environment,
        started=time.monotonic(),
    )
    routes = [
        Route("/health", _health, methods=["GET"]),
        Route("/auth/login", _login, methods=["POST"]),
        Route("/auth/refresh", _refresh, methods=["POST"]),
        Route("/auth/validate", _validate, methods=["POST"]),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(allowed_origins or []),
            allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.auth = auth
    return app


async def _health(request: Request) -> JSONResponse:
    auth: _Auth = request.app.state.auth
    return JSONResponse(
        {
            "status": "healthy",
            "service": SERVICE_NAME,
            "version": _version(),
            "timestamp": rfc3339_now(),
            "uptime_seconds": round(time.monotonic() - auth.started, 3),
            "environment": auth.environment,
        }
    )


async def _login(request: Request) -> JSONResponse:
    body = await _json_object(request)
    if isinstance(body, JSONResponse):
        return body
    problem = _missing_strings(body, ("email", "password"))
    if problem:
        return problem
    auth: _Auth = request.app.state.auth
    email, password = body["email"].strip().lower(), body["password"]
    if not auth.check_password(email, password):
        return _error(401, "invalid_credentials", "email or password is incorrect")
    return JSONResponse(
        {
            "access_token": auth.issue(email, "access", ACCESS_TOKEN_TTL_S),
            "refresh_token": auth.issue(email, "refresh", REFRESH_TOKEN_TTL_S),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_S,
            "user": {"id": user_id_for(email), "email": email},
        }
    )


async def _refresh(request: Request) -> JSONResponse:
    body = await _json_object(request)
    if isinstance(body, JSONResponse):
        return body
    problem = _missing_strings(body, ("refresh_token",))
    if problem:
        return problem
    auth: _Auth = request.app.state.auth
    try:
        claims = auth.decode(body["refresh_token"], "refresh")
    except jwt.InvalidTokenError as exc:
        return _error(401, "invalid_refresh_token", f"refresh token rejected: {exc}")
    email = claims["email"]
    return JSONResponse(
        {
            "access_token": auth.issue(email, "access", ACCESS_TOKEN_TTL_S),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_S,
            "user": {"id": user_id_for(email), "email": email},
        }
    )


async def _validate(request: Request) -> JSONResponse:
    token = _bearer(request)
    if token is None:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        problem = _missing_strings(body, ("token",))
        if problem:
            return problem
        token = body["token"]
    auth: _Auth = request.app.state.auth
    try:
        claims = auth.decode(token, "access")
    except jwt.InvalidTokenError as exc:
        return JSONResponse({"valid": False, "error": _reason(exc)})
    return JSONResponse(
        {
            "valid": True,
            "user_id": claims["sub"],
            "email": claims["email"],
            "permissions": list(PERMISSIONS),
            "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat(),
        }
    )


def _reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "token expired"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "invalid signature"
    if isinstance(exc, jwt.DecodeError):
        return "malformed token"
    return str(exc) or type(exc).__name__


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _json_object(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(422, "invalid_json", "the request body must be a JSON object")
    if not isinstance(body, dict):
        return _error(422, "invalid_json", "the request body must be a JSON object")
    return body


def _missing_strings(body: dict[str, Any], names: tuple[str, ...]) -> JSONResponse | None:
    bad = [name for name in names if not isinstance(body.get(name), str) or not body[name]]
    if not bad:
        return None
    return _error(
        422,
        "invalid_request",
        f"missing or empty field(s): {', '.join(bad)} (each must be a non-empty string)",
        fields=bad,
    )


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "detail": message, **extra}, status_code=status)


def _version() -> str:
    try:
        return metadata.version("netra-ops")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _read_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    secret_file = _required_path(environ, "NETRA_SANDBOX_JWT_SECRET_FILE")
    users_file = _required_path(environ, "NETRA_SANDBOX_USERS_FILE")
    try:
        users = json.loads(users_file.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{users_file} is not JSON ({exc}); expected {{email: password}}"
        ) from exc
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in users.items()
    ):
        raise ConfigError(f"{users_file} must be a JSON object of email -> password strings")
    origins = environ.get("NETRA_SANDBOX_ALLOWED_ORIGINS", "")
    return {
        "jwt_secret": secret_file.read_text().strip(),
        "users": users,
        "environment": environ.get("ENVIRONMENT", "sandbox"),
        "allowed_origins": [o.strip() for o in origins.split(",") if o.strip()],
    }


def _required_path(environ: Mapping[str, str], name: str) -> Path:
    value = environ.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set; point it at the file the sandbox generated")
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{name} names {path}, which is not a readable file")
    return path


def serve(host: str, port: int) -> None:
    """Run the auth service until stopped (settings from the environment, see module doc).

    Raises ConfigError when the secret or users file is missing or malformed.
    """
    settings = _read_settings(os.environ)
    context = {"service": SERVICE_NAME, "environment": settings["environment"]}
    app = create_app(**settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=log_config(context, access_log=True),
        **server_options(),
    )

