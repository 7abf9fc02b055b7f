"""A golden-path virtual user: log in once, hold a WebSocket, send turns on it.

Everything on the wire is the probe layer's: `login_async` for the token,
`open_connection` (handshake with the `jwt.<token>` subprotocol, `connection_established`)
for the connection, `agent_turn_async` for each turn and its judgement (the five events, in
order, with their fields and content, the user's own run, thread and user; the first event
and each delivery within the event budget, the answer within its own budget). Right after
each login the user reads the server's clock offset once, as the probes do
(`open_connection(estimate_clock=True)`: the auth service's health `timestamp`, NTP-style),
so delivery latencies are judged on the server's clock brought to ours, not assuming the
clocks agree. A user only adds what a load test needs: it keeps the connection between
turns, reconnects after a turn that left the connection unusable (closed, garbage, or a
timeout whose late events would confuse the next turn), logs in again after the backend
rejected its token, and turns each attempt into a `Sample` with its error class and timing.

The token lives in the user (an `AuthToken`, never printed) and is forgotten on `close()`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from netra_ops.config import Environment
from netra_ops.load.samples import (
    Sample,
    auth_error_class,
    golden_events,
    open_error_class,
    turn_error_class,
    turn_timing,
)
from netra_ops.probe._transport.connections import close_quietly, open_connection
from netra_ops.probe._transport.drivers import (
    AsyncDriver,  # the probes' asyncio driver: it leaves an opened connection to its caller
    Deadline,
    Link,
    run_steps_async,
)
from netra_ops.probe.auth import AuthToken, login_async
from netra_ops.probe.event_timing import DEFAULT_ANSWER_BUDGET_S, ClockOffset
from netra_ops.probe.golden_path_run import DEFAULT_MESSAGE, agent_turn_async

__all__ = ["UNUSABLE_AFTER", "Attempt", "TurnPlan", "VirtualUser"]

UNUSABLE_AFTER = frozenset({"closed", "protocol", "timeout"})
"""How a turn ended that leaves its connection unusable: the user reconnects first."""
_CLOSE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class TurnPlan:
    """What every turn of a run sends and how long it may take: `event_budget_ms` for the
    first event (from the send) and each delivery, `answer_budget_s` for `agent_completed`
    (the probes' budgets; a load's event budget is the seed's 2 s, not the probes' 500 ms),
    `turn_timeout_s` how long a turn is awaited at all."""

    message: str = DEFAULT_MESSAGE
    turn_timeout_s: float = 30.0
    event_budget_ms: float = 2000.0
    connect_timeout_s: float = 10.0
    answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S


@dataclass(frozen=True)
class Attempt:
    """One turn attempted: its sample, and the error text when it failed."""

    sample: Sample
    error: str | None


class VirtualUser:
    """One simulated user of the chat (index `index` in its run)."""

    def __init__(self, env: Environment, index: int, plan: TurnPlan, thread_id: str) -> None:
        self.env = env
        self.index = index
        self.plan = plan
        self.thread_id = thread_id
        self.turns = 0
        self._token: AuthToken | None = None
        self._user_id: str | None = None
        self.clock: ClockOffset | None = None
        self._driver: AsyncDriver | None = None
        self._link: Link | None = None
        self.established: dict[str, Any] = {}

    @property
    def connected(self) -> bool:
        """Whether the user holds an established connection."""
        return self._link is not None

    @property
    def connection(self) -> Any:
        """The established `websockets` connection, or None."""
        return None if self._link is None else self._link.connection

    async def connect(self) -> tuple[str | None, str | None]:
        """Log in (once; then read the server's clock offset) and open the WebSocket up to
        `connection_established`; (error class, error text), both None on success."""
        if self._token is None:
            login = await login_async(self.env, timeout_s=self.plan.connect_timeout_s)
            if login.token is None:
                return auth_error_class(login) or "auth", f"login: {login.error}"
            self._token, self._user_id, self.clock = login.token, login.user_id, None
        driver = AsyncDriver()
        deadline = Deadline.after(self.plan.connect_timeout_s)
        try:
            opened = await driver.drive(open_connection(
                self.env, deadline, self._token.reveal(), close_timeout_s=_CLOSE_TIMEOUT_S,
                estimate_clock=self.clock is None))
        except BaseException:  # cancelled mid-handshake: leave no socket behind
            await driver.close_all()
            raise
        self.clock = opened.clock or self.clock
        if opened.link is None:
            error_class = open_error_class(opened) or "connect"
            if error_class == "auth":
                self._token = None  # expired or revoked: log in again next time
            return error_class, f"{opened.failed_step}: {opened.error}"
        self._driver, self._link = driver, opened.link
        self.established = opened.established
        return None, None

    async def turn(self, scheduled: float | None = None) -> Attempt:
        """One turn due at `scheduled` (perf_counter; None: now, as in the closed model):
        reconnect if needed, send, judge."""
        number = self.turns
        self.turns += 1
        began = started = time.perf_counter()
        due = began if scheduled is None else scheduled
        if self._link is None:
            error_class, error = await self.connect()
            if error_class is not None:
                return Attempt(Sample(self.index, number, due, began, time.perf_counter(),
                                      False, error_class, 0), error)
            started = time.perf_counter()
        assert self._link is not None
        result = await agent_turn_async(
            self._link.connection, self.plan.message, thread_id=self.thread_id,
            timeout_s=self.plan.turn_timeout_s, event_budget_ms=self.plan.event_budget_ms,
            answer_budget_s=self.plan.answer_budget_s, user_id=self._user_id, clock=self.clock)
        ended = time.perf_counter()
        report = result.report
        if report.end in UNUSABLE_AFTER:
            await self.close()
        return Attempt(Sample(self.index, number, due, started, ended, report.ok,
                              turn_error_class(report), golden_events(report),
                              *turn_timing(report, started)), report.error)

    async def close(self) -> None:
        """Close the connection (waiting briefly for the close handshake)."""
        link, self._link, self._driver = self._link, None, None
        if link is not None:
            await run_steps_async(close_quietly(link, _CLOSE_TIMEOUT_S))

    async def drop(self) -> None:
        """Drop the connection at once, without a close handshake (the token is kept)."""
        driver, self._link, self._driver = self._driver, None, None
        if driver is not None:
            await driver.close_all()

    async def abort(self) -> None:
        """Drop the connection at once (a cancelled run) and forget the token."""
        self._token = None
        await self.drop()
