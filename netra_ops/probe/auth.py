"""Auth probes (seed 1.3, 4.1 and 4.3): log in, refresh, validate, and the failure rate.

Each probe talks to the environment's auth service with the environment's test user (the
password resolved from its secret reference at the moment of use) and returns an
`AuthResult`: `ok`, an `outcome` from AUTH_OUTCOMES, the status code, the latency and a
short `error`. A token never appears in a result's repr, its `to_frame()` or an error text: it
travels in an `AuthToken`, whose repr hides it and which `reveal()`s it only on request.
Error texts are scrubbed of the password and the tokens sent, even if a server echoes them.

`auth_failure_rate()` makes N logins and classifies each: the seed's rollback trigger
fires when more than 10% fail. Every call has a total time bound; a bad answer from the
service is a result, never an exception (a missing secret raises SecretError). The keyword
defaults of each sync/async pair are written once, in its options object
(`AuthCallOptions`, `AuthFailureRateOptions`; see `netra_ops.probe._options`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypedDict, Unpack

import pandas as pd

from netra_ops.config import Environment, load_environment
from netra_ops.errors import ConfigError
from netra_ops.probe._options import shows_options
from netra_ops.probe._transport.http import HttpAnswer, detail_text, fetch, fetch_async, json_object
from netra_ops.secrets import resolve_secret

__all__ = [
    "AUTH_OUTCOMES",
    "LOGIN_PATH",
    "REFRESH_PATH",
    "VALIDATE_PATH",
    "AuthCallOptions",
    "AuthFailureRate",
    "AuthFailureRateOptions",
    "AuthResult",
    "AuthToken",
    "auth_failure_rate",
    "auth_failure_rate_async",
    "login",
    "login_async",
    "refresh",
    "refresh_async",
    "validate",
    "validate_async",
]

LOGIN_PATH = "/auth/login"
REFRESH_PATH = "/auth/refresh"
VALIDATE_PATH = "/auth/validate"
AUTH_OUTCOMES = ("ok", "bad_credentials", "service_error", "timeout", "unreachable")
_OUTCOME_OF_FAILURE = {"unreachable": "unreachable", "timeout": "timeout"}
_HIDDEN = "****"


class AuthToken:
    """An access token (and the refresh token that came with it), kept out of sight.

    Its repr and str never show the values, copies are the same object, and it refuses to
    be pickled. `reveal()` hands the access token to code that must send it (a WebSocket
    handshake, an `Authorization` header).
    """

    __slots__ = ("_access", "_refresh", "expires_at")

    def __init__(self, access: str, refresh: str | None = None,
                 expires_at: datetime | None = None) -> None:
        self._access = access
        self._refresh = refresh
        self.expires_at = expires_at

    def reveal(self) -> str:
        """The access token itself."""
        return self._access

    def reveal_refresh(self) -> str | None:
        """The refresh token itself, when the service gave one."""
        return self._refresh

    def __repr__(self) -> str:
        refresh = _HIDDEN if self._refresh else None
        return f"AuthToken(access={_HIDDEN}, refresh={refresh}, expires_at={self.expires_at})"

    __str__ = __repr__

    def __copy__(self) -> AuthToken:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> AuthToken:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("an AuthToken cannot be pickled: that would write the token out")


@dataclass(frozen=True)
class AuthResult:
    """One login, refresh or validate call: `ok`, `outcome` (one of AUTH_OUTCOMES), timings.

    `token` (an AuthToken, only after a successful login or refresh) is left out of the
    repr and of `to_frame()`.
    """

    step: str
    ok: bool
    outcome: str
    url: str
    status_code: int | None
    latency_ms: float
    error: str | None
    checked_at: datetime
    timeout_s: float
    user_id: str | None = None
    expires_at: datetime | None = None
    token: AuthToken | None = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """One row with every field but the token (`has_token` says whether there is one)."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "token"}
        return pd.DataFrame([{**row, "has_token": self.token is not None}])


@dataclass(frozen=True)
class AuthFailureRate:
    """N login attempts: how many failed and why (seed 4.1: roll back above 10%)."""

    ok: bool
    url: str
    attempts: int
    failures: int
    failure_rate: float
    threshold: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None
    error: str | None
    started_at: datetime
    results: tuple[AuthResult, ...] = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        """Attempts per outcome, every outcome named (zeros included)."""
        seen = Counter(r.outcome for r in self.results)
        return {outcome: seen[outcome] for outcome in AUTH_OUTCOMES}

    def to_frame(self) -> pd.DataFrame:
        """One row per attempt: number, outcome, ok, status code, latency, error."""
        columns = ["attempt", "outcome", "ok", "status_code", "latency_ms", "error",
                   "checked_at"]
        rows = [{"attempt": number, "outcome": r.outcome, "ok": r.ok,
                 "status_code": r.status_code, "latency_ms": r.latency_ms, "error": r.error,
                 "checked_at": r.checked_at} for number, r in enumerate(self.results, start=1)]
        return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class AuthCallOptions:
    """The keyword options of `login`, `refresh`, `validate` and their async twins, with
    their one set of defaults. `timeout_s` bounds the whole call (a login first included)."""

    timeout_s: float = 10.0


@dataclass(frozen=True)
class AuthFailureRateOptions:
    """The keyword options of `auth_failure_rate` and `auth_failure_rate_async`, with their
    one set of defaults. `timeout_s` bounds each attempt; `threshold` is the seed's 10%."""

    attempts: int = 20
    timeout_s: float = 5.0
    interval_s: float = 0.0
    threshold: float = 0.10


class _CallKeywords(TypedDict, total=False):
    timeout_s: float


class _FailureRateKeywords(TypedDict, total=False):
    attempts: int
    timeout_s: float
    interval_s: float
    threshold: float


@dataclass(frozen=True)
class _Call:
    """One auth request ready to send, and how to judge its answer (no I/O)."""

    step: str
    url: str
    payload: dict[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    hint: str = ""
    refresh_token: str | None = field(default=None, repr=False)

    def judge(self, answer: HttpAnswer, checked_at: datetime, timeout_s: float) -> AuthResult:
        """The result of this call from the service's answer."""
        outcome, error, body = _classify(answer)
        if outcome == "ok":
            outcome, error = _check_body(self.step, answer, body)
        if outcome == "unreachable" and self.hint:
            error = f"{error} {self.hint}"
        return AuthResult(
            step=self.step, ok=outcome == "ok", outcome=outcome, url=self.url,
            status_code=answer.status_code, latency_ms=answer.elapsed_ms,
            error=_scrub(error, self.secrets), checked_at=checked_at, timeout_s=timeout_s,
            user_id=_user_id(body), expires_at=_expires_at(body, checked_at),
            token=self._token(body, checked_at) if outcome == "ok" else None,
        )

    def _token(self, body: dict[str, Any], checked_at: datetime) -> AuthToken | None:
        access = body.get("access_token")
        if self.step == "validate" or not isinstance(access, str):
            return None
        fresh = body.get("refresh_token")
        refresh_token = fresh if isinstance(fresh, str) and fresh else self.refresh_token
        return AuthToken(access, refresh_token, _expires_at(body, checked_at))


def _classify(answer: HttpAnswer) -> tuple[str, str | None, dict[str, Any]]:
    """Outcome, error and JSON body of an answer before the step's own checks."""
    if answer.failure is not None:
        return _OUTCOME_OF_FAILURE.get(answer.failure, "service_error"), answer.error, {}
    code = answer.status_code
    detail = detail_text(answer)
    said = f": {detail}" if detail else ""
    if code in (401, 403):
        return "bad_credentials", f"HTTP {code}{said}", {}
    if code is None or not 200 <= code < 300:
        where = f" to {answer.headers['location']}" if "location" in answer.headers else ""
        return "service_error", f"HTTP {code}{where}{said}", {}
    body, problem = json_object(answer)
    if body is None:
        return "service_error", f"HTTP {code}: {problem}", {}
    return "ok", None, body


def _check_body(step: str, answer: HttpAnswer, body: dict[str, Any]) -> tuple[str, str | None]:
    code = answer.status_code
    if step != "validate":
        token = body.get("access_token")
        if isinstance(token, str) and token:
            return "ok", None
        return "service_error", f"HTTP {code} without an access_token"
    if body.get("valid") is True:
        return "ok", None
    if body.get("valid") is False:
        return "bad_credentials", f"token rejected: {body.get('error') or 'no reason given'}"
    return "service_error", f"HTTP {code} without a boolean 'valid' field"


def _user_id(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    value = body.get("user_id") or (user.get("id") if isinstance(user, dict) else None)
    return str(value) if value else None


def _expires_at(body: dict[str, Any], checked_at: datetime) -> datetime | None:
    seconds = body.get("expires_in")
    text = body.get("expires_at")
    try:
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            return checked_at + timedelta(seconds=float(seconds))
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except (ValueError, OverflowError):
        return None


def _scrub(text: str | None, secrets: Sequence[str]) -> str | None:
    if text is None:
        return None
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, _HIDDEN)
    return text


def _hint(env: Environment) -> str:
    if env.kind != "sandbox":
        return ""
    flag = "" if env.name == "sandbox" else f" --env {env.source}"
    return f"(is the sandbox running? start it with: netra-ops sandbox up{flag})"


def _login_call(env: Environment) -> _Call:
    password = resolve_secret(env.credentials.password)
    return _Call("login", env.auth.url + LOGIN_PATH,
                 {"email": env.credentials.email, "password": password}, (password,),
                 _hint(env))


def _refresh_call(env: Environment, token: AuthToken) -> _Call:
    refresh_token = token.reveal_refresh() or ""
    return _Call("refresh", env.auth.url + REFRESH_PATH, {"refresh_token": refresh_token},
                 (refresh_token, token.reveal()), _hint(env), refresh_token)


def _validate_call(env: Environment, token: AuthToken) -> _Call:
    return _Call("validate", env.auth.url + VALIDATE_PATH, {"token": token.reveal()},
                 (token.reveal(),), _hint(env))


def _send(call: _Call, timeout_s: float) -> AuthResult:
    checked_at = datetime.now(UTC)
    answer = fetch("POST", call.url, json_body=call.payload, timeout_s=timeout_s)
    return call.judge(answer, checked_at, timeout_s)


async def _send_async(call: _Call, timeout_s: float) -> AuthResult:
    checked_at = datetime.now(UTC)
    answer = await fetch_async("POST", call.url, json_body=call.payload, timeout_s=timeout_s)
    return call.judge(answer, checked_at, timeout_s)


@shows_options(AuthCallOptions)
def login(env: Environment | str = "sandbox", **keywords: Unpack[_CallKeywords]) -> AuthResult:
    """Log in as the environment's test user; `token` holds the tokens when `ok`."""
    options = AuthCallOptions(**keywords)
    return _send(_login_call(load_environment(env)), options.timeout_s)


@shows_options(AuthCallOptions)
async def login_async(env: Environment | str = "sandbox",
                      **keywords: Unpack[_CallKeywords]) -> AuthResult:
    """`login()` without blocking the event loop."""
    options = AuthCallOptions(**keywords)
    return await _send_async(_login_call(load_environment(env)), options.timeout_s)


_Builder = Callable[[Environment, AuthToken], _Call]


class _Follow:
    """A call that needs a token: use the one given, or log in first, within one bound."""

    def __init__(self, step: str, env: Environment | str, options: AuthCallOptions) -> None:
        self.step = step
        self.env = load_environment(env)
        self.timeout_s = options.timeout_s
        self.deadline = time.monotonic() + options.timeout_s

    def left(self) -> float:
        return max(0.01, self.deadline - time.monotonic())

    def needs_login(self, token: AuthToken | None) -> bool:
        """No token, or (to refresh) a token without a refresh token."""
        return token is None or (self.step == "refresh" and token.reveal_refresh() is None)

    def unusable(self, first: AuthResult) -> AuthResult:
        """The failed login reported as this step's failure."""
        return AuthResult(
            step=self.step, ok=False, outcome=first.outcome, url=first.url,
            status_code=first.status_code, latency_ms=first.latency_ms,
            error=f"login failed: {first.error}", checked_at=first.checked_at,
            timeout_s=self.timeout_s,
        )


_BUILDERS: dict[str, _Builder] = {"refresh": _refresh_call, "validate": _validate_call}


def _follow(step: str, env: Environment | str, token: AuthToken | None,
            options: AuthCallOptions) -> AuthResult:
    plan = _Follow(step, env, options)
    if plan.needs_login(token):
        first = _send(_login_call(plan.env), plan.left())
        if first.token is None:
            return plan.unusable(first)
        token = first.token
    assert token is not None
    return _send(_BUILDERS[step](plan.env, token), plan.left())


async def _follow_async(step: str, env: Environment | str, token: AuthToken | None,
                        options: AuthCallOptions) -> AuthResult:
    plan = _Follow(step, env, options)
    if plan.needs_login(token):
        first = await _send_async(_login_call(plan.env), plan.left())
        if first.token is None:
            return plan.unusable(first)
        token = first.token
    assert token is not None
    return await _send_async(_BUILDERS[step](plan.env, token), plan.left())


@shows_options(AuthCallOptions)
def refresh(env: Environment | str = "sandbox", token: AuthToken | None = None,
            **keywords: Unpack[_CallKeywords]) -> AuthResult:
    """Exchange the refresh token for a new access token (logging in first when no token
    with a refresh token is given); `timeout_s` bounds the whole call."""
    return _follow("refresh", env, token, AuthCallOptions(**keywords))


@shows_options(AuthCallOptions)
async def refresh_async(env: Environment | str = "sandbox", token: AuthToken | None = None,
                        **keywords: Unpack[_CallKeywords]) -> AuthResult:
    """`refresh()` without blocking the event loop."""
    return await _follow_async("refresh", env, token, AuthCallOptions(**keywords))


@shows_options(AuthCallOptions)
def validate(env: Environment | str = "sandbox", token: AuthToken | None = None,
             **keywords: Unpack[_CallKeywords]) -> AuthResult:
    """Ask the auth service whether an access token is valid (logging in first when no
    token is given); a rejected token is outcome `bad_credentials`."""
    return _follow("validate", env, token, AuthCallOptions(**keywords))


@shows_options(AuthCallOptions)
async def validate_async(env: Environment | str = "sandbox", token: AuthToken | None = None,
                         **keywords: Unpack[_CallKeywords]) -> AuthResult:
    """`validate()` without blocking the event loop."""
    return await _follow_async("validate", env, token, AuthCallOptions(**keywords))


class _Attempts:
    """The bookkeeping of a failure-rate run (no I/O)."""

    def __init__(self, env: Environment | str, options: AuthFailureRateOptions) -> None:
        if options.attempts < 1:
            raise ConfigError(f"auth_failure_rate needs at least 1 attempt, got "
                              f"{options.attempts}")
        self.env = load_environment(env)
        self.call = _login_call(self.env)
        self.threshold = options.threshold
        self.started_at = datetime.now(UTC)

    def summarize(self, results: list[AuthResult]) -> AuthFailureRate:
        failures = sum(not r.ok for r in results)
        rate = failures / len(results)
        latencies = sorted(r.latency_ms for r in results)
        return AuthFailureRate(
            ok=rate <= self.threshold, url=self.call.url, attempts=len(results),
            failures=failures, failure_rate=rate, threshold=self.threshold,
            latency_p50_ms=_percentile(latencies, 0.50),
            latency_p95_ms=_percentile(latencies, 0.95),
            latency_max_ms=latencies[-1], error=self._error(results, failures, rate),
            started_at=self.started_at, results=tuple(results),
        )

    def _error(self, results: list[AuthResult], failures: int, rate: float) -> str | None:
        if rate <= self.threshold:
            return None
        seen = Counter(r.outcome for r in results if not r.ok)
        kinds = ", ".join(f"{n} {outcome}" for outcome, n in seen.most_common())
        first = next(r.error for r in results if not r.ok)
        return (f"{failures} of {len(results)} logins failed ({rate:.0%}, above "
                f"{self.threshold:.0%}): {kinds}; first error: {first}")


def _percentile(ordered: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (pandas' default)."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _without_token(result: AuthResult) -> AuthResult:
    return replace(result, token=None)


@shows_options(AuthFailureRateOptions)
def auth_failure_rate(env: Environment | str = "sandbox",
                      **keywords: Unpack[_FailureRateKeywords]) -> AuthFailureRate:
    """Log in `attempts` times, one after another, and count the failures by outcome.

    `ok` while the failure rate is at most `threshold` (seed 4.1: roll back above 10%).
    Each attempt is bounded by `timeout_s`, so the whole run takes at most
    `attempts * timeout_s + (attempts - 1) * interval_s`.
    """
    options = AuthFailureRateOptions(**keywords)
    run = _Attempts(env, options)
    results = []
    for number in range(options.attempts):
        if number and options.interval_s > 0:
            time.sleep(options.interval_s)
        results.append(_without_token(_send(run.call, options.timeout_s)))
    return run.summarize(results)


@shows_options(AuthFailureRateOptions)
async def auth_failure_rate_async(env: Environment | str = "sandbox",
                                  **keywords: Unpack[_FailureRateKeywords]) -> AuthFailureRate:
    """`auth_failure_rate()` without blocking the event loop."""
    options = AuthFailureRateOptions(**keywords)
    run = _Attempts(env, options)
    results = []
    for number in range(options.attempts):
        if number and options.interval_s > 0:
            await asyncio.sleep(options.interval_s)
        results.append(_without_token(await _send_async(run.call, options.timeout_s)))
    return run.summarize(results)
