"""Session longevity runs: chat users who hold one connection for minutes, idle between turns.

    from netra_ops.load import ThinkTime, run_sessions

    result = run_sessions("sandbox", users=20, duration_s=1800,
                          think=ThinkTime("lognormal", mean_s=90, cap_s=600), seed=7)
    result.drops()                 # drops by cause: app idle close, Cloud Run timeout, ...
    result.held_past_app_timeout   # sessions that outlived WEBSOCKET_CONNECTION_TIMEOUT
    result.latency_after_idle()    # turn latency after long idle stretches
    result.checks(drop_budget=0.01)
    sessions_chart(result)         # live sessions and drops over time

The load engine's run (`netra_ops.load.engine.LoadRun`: setup, measured period, thresholds,
progress, the end) with `SessionUser`s (`netra_ops.load.session_user`): each sends a turn,
stays idle for a think time answering heartbeats, and goes again, for `duration_s`; a
dropped connection is reconnected at once. The run's turns are load samples like any other
(`result.load`); the sessions are `result.sessions`, one row per connection.

On the sandbox a revision's `NETRA_REHEARSAL_TIME_SCALE` runs the app's heartbeat, its idle
timeout and Cloud Run's request timeout that many times faster, and `connection_established`
says so: think times are divided by the same scale, so a 30 min story runs in 30 s, and the
result states the scale it ran at.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

from netra_ops.config import Environment, load_environment
from netra_ops.load.engine import LoadRun, run_blocking
from netra_ops.load.progress import Progress, ProgressArg, make_progress
from netra_ops.load.session_config import SessionConfig
from netra_ops.load.session_result import SessionResult
from netra_ops.load.session_user import SessionUser
from netra_ops.load.users import VirtualUser

__all__ = ["run_sessions", "run_sessions_async"]


async def run_sessions_async(env: Environment | str = "sandbox",
                             config: SessionConfig | None = None, *,
                             progress: ProgressArg = "auto", stop: threading.Event | None = None,
                             **options: Any) -> SessionResult:
    """Run a session longevity test against `env` (see the module docstring); `options`
    are fields of `SessionConfig` (think, silent_users, missed_heartbeats, time_scale, ...)
    or of its `LoadConfig` (users, duration_s, seed, ...). Never raises for what the target
    does; bad options raise ConfigError."""
    settings = SessionConfig.of(config, options)
    environment = load_environment(env)
    reporter = make_progress(progress, interval_s=settings.load.log_interval_s)
    run = _SessionRun(environment, settings, reporter, stop)
    load = await run.execute()
    return SessionResult.of(load, settings, run.session_users, run.live.anchor,
                             run.stopped_at)


def run_sessions(env: Environment | str = "sandbox", config: SessionConfig | None = None, *,
                 progress: ProgressArg = "auto", **options: Any) -> SessionResult:
    """The blocking twin of `run_sessions_async`, for notebook cells, papermill, scripts."""
    settings = SessionConfig.of(config, options)
    return run_blocking(
        lambda shown, stop: run_sessions_async(env, settings, progress=shown, stop=stop),
        settings.load, progress)


class _SessionRun(LoadRun):
    """A load run whose users hold sessions: turn, idle with heartbeats, turn again."""

    def __init__(self, env: Environment, config: SessionConfig, progress: Progress,
                 stop: threading.Event | None) -> None:
        self.sessions = config  # make_user needs it: set before the run makes its users
        super().__init__(env, config.load, progress, stop)

    def make_user(self, index: int, thread_id: str) -> VirtualUser:
        return SessionUser(self.env, index, self.config.plan, thread_id, self.sessions)

    def describe(self) -> str:
        return self.sessions.describe()

    @property
    def session_users(self) -> list[SessionUser]:
        """The run's users, as the session users they are."""
        return [user for user in self.users if isinstance(user, SessionUser)]

    def _start_tasks(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._session(user)) for user in self.session_users]

    async def _measured_period(self) -> None:
        """The setup's objects (users, connections) live for the whole run: frozen out of
        the cyclic collector meanwhile, whose full passes over 10,000 sessions' objects
        otherwise stall the loop (bench/session_capacity.py: a third of the CPU)."""
        gc.freeze()
        try:
            await super()._measured_period()
        finally:
            gc.unfreeze()

    async def _finish(self, tasks: list[asyncio.Task[None]]) -> int:
        """Idle users stop at once (their sessions are held to the end); turns in flight
        get the run's graceful stop."""
        for task, user in zip(tasks, self.session_users, strict=True):
            if user.idling:
                task.cancel()
        return await super()._finish(tasks)

    async def _session(self, user: SessionUser) -> None:
        end = self.live.start + self.config.duration_s
        if self.sessions.staggered_start:
            await user.idle_until(min(time.perf_counter() + user.think_s(), end))
        while not self.stopping.is_set() and time.perf_counter() < end:
            key = self.live.due(time.perf_counter())
            self.live.done(key, await user.turn())
            if self.stopping.is_set():
                return
            await user.idle_until(min(time.perf_counter() + user.think_s(), end))
