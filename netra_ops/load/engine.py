"""The load engine: golden-path virtual users in a closed or an open model.

    result = run_load("sandbox", users=10, duration_s=300)                  # the seed's 3.3
    result = run_load(env, model="open", rate=50, users=64, duration_s=60,
                      thresholds=[Threshold("error_rate", ">", 0.05, for_s=30)])
    result.percentiles(); result.throughput(); result.errors(); result.aborted

A run has three phases. Setup: every user logs in and opens its WebSocket (16 at a time);
a user that cannot is reported in `setup_errors` and tries again on its first turn. The
measured period of `duration_s`: closed-model users send turn after turn; in the open model
a dispatcher makes turns due on the arrival schedule and hands them to the pool's free
connections through a FIFO queue (each turn's latency from when it was due). Meanwhile a
monitor evaluates the thresholds every `eval_interval_s` and updates the progress display.
The end: no new turn starts; turns in flight get `graceful_stop_s` to finish (none after an
abort: they are cut off and counted as `interrupted`); connections are closed.

`run_load_async` runs in the caller's event loop (a Jupyter kernel's included).
`run_load` is its blocking twin: it runs the async engine on an event loop of its own in a
worker thread (so it works whether or not the calling thread runs a loop) while the calling
thread draws the progress; Ctrl-C / a kernel interrupt stops the run, then re-raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import pandas as pd

from netra_ops.config import Environment, load_environment
from netra_ops.load.config import LoadConfig, arrival_offsets
from netra_ops.load.frames import samples_frame
from netra_ops.load.live import LiveRun
from netra_ops.load.progress import (
    NoProgress,
    Progress,
    ProgressArg,
    ProgressSnapshot,
    make_progress,
)
from netra_ops.load.result import LoadResult
from netra_ops.load.samples import Sample
from netra_ops.load.thresholds import ThresholdBreach, ThresholdWatch
from netra_ops.load.users import Attempt, VirtualUser

__all__ = ["RECONNECT_BACKOFF_S", "LoadRun", "run_blocking", "run_load", "run_load_async"]

logger = logging.getLogger("netra_ops.load")
T = TypeVar("T")
_SETUP_CONCURRENCY = 16
_SETUP_ROUNDS = 3  # the setup may last 3 x (login + connect) timeouts, however many users
RECONNECT_BACKOFF_S = 0.25
"""Seconds a user waits before reconnecting after a failed turn (no reconnect storm)."""
_TICK_S = 0.25
_CLOSE_ALL_S = 5.0


async def run_load_async(env: Environment | str = "sandbox", config: LoadConfig | None = None,
                         *, progress: ProgressArg = "auto", stop: threading.Event | None = None,
                         **options: Any) -> LoadResult:
    """Run a load test against `env` (see the module docstring); `options` are fields of
    `LoadConfig` (model, users, duration_s, rate, thresholds, ...) replacing `config`'s.
    Setting `stop` ends the run early (as its end: turns in flight may finish). Never
    raises for what the target does; bad options raise ConfigError."""
    settings = LoadConfig.of(config, options)
    environment = load_environment(env)
    reporter = make_progress(progress, interval_s=settings.log_interval_s)
    return await LoadRun(environment, settings, reporter, stop).execute()


def run_load(env: Environment | str = "sandbox", config: LoadConfig | None = None, *,
             progress: ProgressArg = "auto", **options: Any) -> LoadResult:
    """The blocking twin of `run_load_async`, for notebook cells, papermill and scripts."""
    settings = LoadConfig.of(config, options)
    return run_blocking(
        lambda shown, stop: run_load_async(env, settings, progress=shown, stop=stop),
        settings, progress)


def run_blocking(start: Callable[[Progress, threading.Event], Awaitable[T]],
                 settings: LoadConfig, progress: ProgressArg) -> T:
    """Run `start(progress, stop)` (a run's coroutine) on an event loop of its own in a
    worker thread while this thread draws the progress; Ctrl-C / a kernel interrupt sets
    `stop`, waits for the run's end (within `graceful_stop_s` and the close), re-raises."""
    reporter = make_progress(progress, interval_s=settings.log_interval_s)
    relay = _Relay()
    shown: Progress = reporter if isinstance(reporter, NoProgress) else relay
    stop = threading.Event()
    worker = _Worker(lambda: start(shown, stop))
    worker.start()
    try:
        while not worker.finished(timeout_s=_TICK_S):
            relay.forward(reporter)
    except KeyboardInterrupt:
        stop.set()
        worker.finished(timeout_s=settings.graceful_stop_s + _CLOSE_ALL_S + 5.0)
        raise
    relay.forward(reporter)
    return worker.result()


@dataclass
class _Relay:
    """A Progress that keeps what it is told for another thread to `forward`."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _events: list[tuple[str, Any]] = field(default_factory=list)

    def start(self, description: str, duration_s: float) -> None:
        self._put("start", (description, duration_s))

    def update(self, snapshot: ProgressSnapshot) -> None:
        self._put("update", snapshot)

    def close(self, summary: str) -> None:
        self._put("close", summary)

    def forward(self, target: Progress) -> None:
        """Pass on what arrived since the last call (only the latest update)."""
        with self._lock:
            events, self._events = self._events, []
        latest = next((i for i in range(len(events) - 1, -1, -1) if events[i][0] == "update"),
                      None)
        for index, (kind, value) in enumerate(events):
            if kind == "start":
                target.start(*value)
            elif kind == "update" and index == latest:
                target.update(value)
            elif kind == "close":
                target.close(value)

    def _put(self, kind: str, value: Any) -> None:
        with self._lock:
            self._events.append((kind, value))


class _Worker(Generic[T]):
    """Runs a coroutine on a fresh event loop in a daemon thread. (`finished` waits on an
    event, not `Thread.join`: after a KeyboardInterrupt inside `join`, Python 3.11 reports
    the thread as ended while it still runs.)"""

    def __init__(self, make: Callable[[], Awaitable[T]]) -> None:
        self._make = make
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netra-ops-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finished(self, timeout_s: float) -> bool:
        return self._done.wait(timeout_s)

    def result(self) -> T:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _run(self) -> None:
        async def main() -> T:
            return await self._make()

        try:
            with asyncio.Runner() as runner:
                self._result = runner.run(main())
        except BaseException as exc:  # handed to the calling thread
            self._error = exc
        finally:
            self._done.set()


class LoadRun:
    """One load run: its users, tasks, live record and thresholds. A subclass may make
    other users (`make_user`), describe itself (`describe`) and drive its users its own way
    (`_start_tasks`, `_finish`): the session mode (`netra_ops.load.sessions`)."""

    def __init__(self, env: Environment, config: LoadConfig, progress: Progress,
                 stop: threading.Event | None) -> None:
        self.env = env
        self.config = config
        self.progress = progress
        run_id = uuid.uuid4().hex[:8]
        self.users = [self.make_user(index, f"load-{run_id}-{index}")
                      for index in range(config.users)]
        self.watch = ThresholdWatch(config.thresholds)
        self.live = LiveRun(config.duration_s, self.watch.max_window_s)
        self.stopping = asyncio.Event()
        self.aborted: ThresholdBreach | None = None
        self.queue: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
        self.idle = 0
        self.max_queued = 0
        self.stopped_at = 0.0
        self.stop = stop

    def make_user(self, index: int, thread_id: str) -> VirtualUser:
        """The run's user number `index`, talking in thread `thread_id`."""
        return VirtualUser(self.env, index, self.config.plan, thread_id)

    def describe(self) -> str:
        """What the run does, for the progress display."""
        return self.config.describe()

    async def execute(self) -> LoadResult:
        tasks: list[asyncio.Task[None]] = []
        graceful = False
        try:
            setup_errors = await self._setup()
            self.live.begin()
            self.progress.start(f"{self.describe()} against {self.env.name}",
                                self.config.duration_s)
            tasks = [*self._start_tasks(), asyncio.create_task(self._monitor())]
            await self._measured_period()
            interrupted = await self._finish(tasks[:-1])
            graceful = True
        finally:
            await self._teardown(tasks, graceful)
        result = self._result(setup_errors, interrupted)
        self.progress.close(result.summary())
        return result

    # --- phases ---------------------------------------------------------------------------

    async def _setup(self) -> Counter[str]:
        """Connect every user (16 at a time, within `_SETUP_ROUNDS` connect timeouts in
        all); those that could not try again on their first turn."""
        gate = asyncio.Semaphore(_SETUP_CONCURRENCY)
        failures: Counter[str] = Counter()

        async def connect(user: VirtualUser) -> None:
            async with gate:
                error_class, error = await user.connect()
            if error_class is not None:
                failures[error_class] += 1
                logger.warning("load user %d could not connect before the run (%s): %s",
                               user.index, error_class, error)

        tasks = [asyncio.create_task(connect(user)) for user in self.users]
        try:
            _, late = await asyncio.wait(
                tasks, timeout=_SETUP_ROUNDS * 2 * self.config.connect_timeout_s)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if late:
            failures["timeout"] += len(late)
            logger.warning("%d load users were not connected when the setup's time was up; "
                           "they try again on their first turn", len(late))
        return failures

    def _start_tasks(self) -> list[asyncio.Task[None]]:
        if self.config.model == "closed":
            return [asyncio.create_task(self._closed_user(user)) for user in self.users]
        workers = [asyncio.create_task(self._open_worker(user)) for user in self.users]
        return [asyncio.create_task(self._dispatch()), *workers]

    async def _measured_period(self) -> None:
        remaining = self.live.start + self.config.duration_s - time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), max(remaining, 0.0))
        self.stopping.set()
        self.stopped_at = time.perf_counter()

    async def _finish(self, tasks: list[asyncio.Task[None]]) -> int:
        """Let turns in flight end (not after an abort); the count of those cut off."""
        if self.config.model == "open":
            for _ in self.users:
                self.queue.put_nowait(None)
        if self.aborted is None and tasks:
            await asyncio.wait(tasks, timeout=self.config.graceful_stop_s)
        for task in tasks:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # a bug: the probe layer reports, never raises
                logger.error("a load user stopped early: %s", outcome, exc_info=outcome)
        return self.live.pending

    async def _teardown(self, tasks: list[asyncio.Task[None]], graceful: bool) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if graceful:
            closing = asyncio.gather(*(user.close() for user in self.users),
                                     return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing, _CLOSE_ALL_S)
        await asyncio.gather(*(user.abort() for user in self.users), return_exceptions=True)

    # --- the two models -------------------------------------------------------------------

    async def _closed_user(self, user: VirtualUser) -> None:
        end = self.live.start + self.config.duration_s
        while not self.stopping.is_set() and time.perf_counter() < end:
            key = self.live.due(time.perf_counter())
            attempt = await user.turn()
            self.live.done(key, attempt)
            pause = self.config.think_time_s
            if not user.connected and attempt.sample.events == 0:
                pause = max(pause, RECONNECT_BACKOFF_S)
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), pause)

    async def _dispatch(self) -> None:
        warned = False
        for offset in arrival_offsets(self.config):
            due = self.live.start + offset
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.stopping.is_set():
                return
            self.queue.put_nowait((due, self.live.due(due)))
            waiting = self.waiting
            self.max_queued = max(self.max_queued, waiting)
            if waiting and not warned:
                warned = True
                logger.warning("all %d connections are busy: turns wait for one (their "
                               "latency includes the wait); raise users= if the server is "
                               "not the bottleneck", len(self.users))

    @property
    def waiting(self) -> int:
        """Open-model turns due that no free connection will take right away."""
        return max(0, self.queue.qsize() - self.idle)

    async def _open_worker(self, user: VirtualUser) -> None:
        while True:
            self.idle += 1
            try:
                item = await self.queue.get()
            finally:
                self.idle -= 1
            if item is None:
                return
            due, key = item
            now = time.perf_counter()
            if now - due > self.config.wait_limit_s:
                self.live.done(key, _gave_up(user, due, now, self.config.wait_limit_s))
                continue
            self.live.done(key, await user.turn(due))

    # --- monitoring -----------------------------------------------------------------------

    async def _monitor(self) -> None:
        next_eval = self.live.start + self.config.eval_interval_s
        while True:
            await asyncio.sleep(_TICK_S)
            now = time.perf_counter()
            if now >= next_eval and not self.stopping.is_set():
                next_eval = now + self.config.eval_interval_s
                self._evaluate(now)
            if self.stop is not None and self.stop.is_set() and not self.stopping.is_set():
                logger.warning("load test stopped on request")
                self.stopping.set()
            if not isinstance(self.progress, NoProgress):  # a snapshot costs a pass over 5 s
                self.live.queued = self.waiting
                self.progress.update(self.live.snapshot(now))

    def _evaluate(self, now: float) -> None:
        at_s = now - self.live.start
        for breach in self.watch.evaluate(at_s, lambda span: self.live.window(now, span)):
            logger.warning("load test: %s", breach.reason)
            if breach.threshold.abort and self.aborted is None:
                self.aborted = breach
                self.stopping.set()

    def _result(self, setup_errors: Counter[str], interrupted: int) -> LoadResult:
        live = self.live
        last = max((sample.ended for sample in live.samples), default=self.stopped_at)
        started = _utc(live.anchor.wall_ns)
        ended = _utc(live.anchor.wall_ns_of(max(last, self.stopped_at)))
        return LoadResult(
            environment=self.env.name, config=self.config,
            samples=samples_frame(live.samples, live.anchor, model=self.config.model),
            started_at=started, ended_at=ended, aborted=self.aborted,
            breaches=tuple(self.watch.breaches), interrupted=interrupted,
            setup_errors=dict(setup_errors), error_examples=dict(live.examples),
            max_queued=self.max_queued)


def _utc(wall_ns: int) -> datetime:
    stamp: datetime = pd.Timestamp(wall_ns, unit="ns", tz="UTC")  # a datetime, to the ns
    return stamp


def _gave_up(user: VirtualUser, due: float, now: float, limit_s: float) -> Attempt:
    """A turn that waited too long for a connection: a timeout that was never sent."""
    number = user.turns
    user.turns += 1
    return Attempt(Sample(user.index, number, due, now, now, False, "timeout", 0),
                   f"waited {now - due:.1f} s for a free connection (max_wait_s "
                   f"{limit_s:g}): every connection of the pool was busy")
