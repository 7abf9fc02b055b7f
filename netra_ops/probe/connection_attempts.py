"""WebSocket connection success rate and reconnection time (seed "Technical 3", 4.1).

`connection_rate(env, n=20)` logs in once, then opens `n` WebSocket connections one after
the other, each up to `connection_established`, and closes each. It reports the success
rate against the seed's criterion (> 95%) and rollback trigger (< 50%), connect and
reconnection latency percentiles (reconnection: from the start of closing one connection to
`connection_established` on the next, with the same token, as a browser reconnects), and the
failures by kind. `connection_rate` and `connection_rate_async` take their defaults from
`ConnectionRateOptions`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from netra_ops.config import Environment, load_environment
from netra_ops.errors import NetraOpsError
from netra_ops.probe._options import shows_options
from netra_ops.probe._transport.connections import (
    STEP_TIMEOUT_S,
    Step,
    close_quietly,
    login_steps,
    open_connection,
)
from netra_ops.probe._transport.drivers import Deadline, Steps, run_steps, run_steps_async

__all__ = [
    "CONNECTION_CRITERION",
    "CONNECTION_TRIGGER",
    "ConnectAttempt",
    "ConnectionRateOptions",
    "ConnectionRateResult",
    "connection_rate",
    "connection_rate_async",
]

CONNECTION_CRITERION = 0.95  # seed "Technical 3": > 95% WebSocket connection rate
CONNECTION_TRIGGER = 0.50  # seed 4.1: roll back when < 50% of connections succeed


@dataclass(frozen=True)
class ConnectAttempt:
    """One connection attempt: connect-to-established time, reconnection time, failure."""

    number: int
    ok: bool
    connect_ms: float | None
    reconnect_ms: float | None
    failure: str | None
    error: str | None


@dataclass(frozen=True)
class ConnectionRateResult:
    """WebSocket connection success over `n` attempts (seed: criterion > 95%, rollback
    trigger < 50%). `rate` is over the attempts made; `ok` needs all `n` made and the rate
    above the criterion. `state` is `ok`, `below_criterion`, `trigger` or `inconclusive`.
    """

    ok: bool
    environment: str
    started_at: datetime
    n: int
    attempts: tuple[ConnectAttempt, ...]
    rate: float | None
    criterion: float
    trigger: float
    state: str
    login_ms: float | None
    connect_p50_ms: float | None
    connect_p95_ms: float | None
    reconnect_p50_ms: float | None
    reconnect_p95_ms: float | None
    failures: dict[str, int]
    elapsed_ms: float
    error: str | None

    @property
    def succeeded(self) -> int:
        """How many attempts reached `connection_established`."""
        return sum(a.ok for a in self.attempts)

    def to_frame(self) -> pd.DataFrame:
        """One row per attempt."""
        return pd.DataFrame([asdict(a) for a in self.attempts],
                            columns=["number", "ok", "connect_ms", "reconnect_ms", "failure",
                                     "error"])

    def summary(self) -> dict[str, Any]:
        """The figures of the run as one flat dict (for `record()` and tables)."""
        return {key: value for key, value in asdict(self).items() if key != "attempts"}


@dataclass(frozen=True)
class ConnectionRateOptions:
    """The options of `connection_rate` and `connection_rate_async` (`n` may be passed by
    position), with their one set of defaults. `timeout_s` bounds the whole run,
    `connect_timeout_s` each connection."""

    n: int = 20
    timeout_s: float = 60.0
    connect_timeout_s: float = STEP_TIMEOUT_S
    criterion: float = CONNECTION_CRITERION
    trigger: float = CONNECTION_TRIGGER


class _RateKeywords(TypedDict, total=False):
    timeout_s: float
    connect_timeout_s: float
    criterion: float
    trigger: float


@shows_options(ConnectionRateOptions)
def connection_rate(env: Environment | str = "sandbox", n: int = ConnectionRateOptions.n,
                    **keywords: Unpack[_RateKeywords]) -> ConnectionRateResult:
    """Open `n` authenticated WebSocket connections in turn and report how many reached
    `connection_established`, within `timeout_s` in total."""
    plan = _RatePlan.of(env, ConnectionRateOptions(n=n, **keywords))
    return run_steps(_rate_steps(plan))


@shows_options(ConnectionRateOptions)
async def connection_rate_async(env: Environment | str = "sandbox",
                                n: int = ConnectionRateOptions.n,
                                **keywords: Unpack[_RateKeywords]) -> ConnectionRateResult:
    """The async twin of `connection_rate` (same steps, asyncio I/O)."""
    plan = _RatePlan.of(env, ConnectionRateOptions(n=n, **keywords))
    return await run_steps_async(_rate_steps(plan))


@dataclass(frozen=True)
class _RatePlan:
    env: Environment
    options: ConnectionRateOptions

    @classmethod
    def of(cls, env: Environment | str, options: ConnectionRateOptions) -> _RatePlan:
        environment = load_environment(env)
        if options.n < 1:
            raise NetraOpsError(f"connection_rate needs n >= 1 attempts, got {options.n}")
        return cls(environment, options)


def _rate_steps(plan: _RatePlan) -> Steps[ConnectionRateResult]:
    started_at, started = datetime.now(UTC), time.perf_counter()
    options = plan.options
    deadline = Deadline.after(options.timeout_s)
    token, login_step, _ = yield from login_steps(plan.env, deadline)
    if token is None:
        return _rate_result(plan, started_at, started, [], login_step, login_step.detail)
    attempts: list[ConnectAttempt] = []
    closing_started: float | None = None
    for number in range(1, options.n + 1):
        if deadline.remaining() <= 0.05:
            break
        attempt_deadline = Deadline.after(deadline.cap(options.connect_timeout_s))
        opened = yield from open_connection(plan.env, attempt_deadline, token,
                                            close_timeout_s=1.0)
        established = time.perf_counter()
        connect_ms = sum(s.ms or 0.0 for s in opened.steps) if opened.ok else None
        reconnect_ms = ((established - closing_started) * 1000
                        if opened.ok and closing_started is not None else None)
        attempts.append(ConnectAttempt(number, opened.ok, connect_ms, reconnect_ms,
                                       opened.failure, opened.error))
        closing_started = None
        if opened.link is not None:
            closing_started = time.perf_counter()
            yield from close_quietly(opened.link, deadline.cap(1.0))
    return _rate_result(plan, started_at, started, attempts, login_step, None)


def _rate_result(plan: _RatePlan, started_at: datetime, started: float,
                 attempts: list[ConnectAttempt], login_step: Step,
                 login_error: str | None) -> ConnectionRateResult:
    options = plan.options
    made = len(attempts)
    succeeded = sum(a.ok for a in attempts)
    rate = succeeded / made if made else None
    state = ("inconclusive" if rate is None else "trigger" if rate < options.trigger
             else "below_criterion" if rate <= options.criterion else "ok")
    failures = dict(Counter(a.failure for a in attempts if a.failure))
    connect = [a.connect_ms for a in attempts if a.connect_ms is not None]
    reconnect = [a.reconnect_ms for a in attempts if a.reconnect_ms is not None]
    ok = state == "ok" and made == options.n
    error = login_error and f"login failed: {login_error}"
    if error is None and not ok:
        error = _rate_error(options, made, succeeded, rate, failures)
    return ConnectionRateResult(
        ok=ok, environment=plan.env.name, started_at=started_at, n=options.n,
        attempts=tuple(attempts), rate=rate, criterion=options.criterion,
        trigger=options.trigger,
        state=state, login_ms=login_step.ms, connect_p50_ms=_percentile(connect, 50),
        connect_p95_ms=_percentile(connect, 95), reconnect_p50_ms=_percentile(reconnect, 50),
        reconnect_p95_ms=_percentile(reconnect, 95), failures=failures,
        elapsed_ms=(time.perf_counter() - started) * 1000, error=error)


def _rate_error(options: ConnectionRateOptions, made: int, succeeded: int, rate: float | None,
                failures: dict[str, int]) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in
                      sorted(failures.items(), key=lambda kv: -kv[1]))
    text = (f"{succeeded}/{made} connections established ({(rate or 0):.0%}; criterion "
            f"> {options.criterion:.0%}, rollback trigger < {options.trigger:.0%})")
    if made < options.n:
        text += (f"; deadline of {options.timeout_s:g} s reached after {made}/{options.n} "
                 "attempts")
    return f"{text}; failures: {kinds}" if kinds else text


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None
