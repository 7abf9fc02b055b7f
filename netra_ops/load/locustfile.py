"""The golden-path load scenario as a Locust test: the file `locust -f` runs (issue 7 part 3).

Each Locust user is one virtual user of the closed model, the blocking twin of the engine's
(`netra_ops.load.users.VirtualUser`): it logs in once as the environment's test user, holds
one WebSocket to the backend (subprotocol `jwt.<token>`) and sends turns one after the
other, each a `user_message` answered by the five golden-path events. Login, connection and
turn, and the verdict on each, are the probe layer's own (`login`, `open_connection`,
`agent_turn`), the error classes the engine's (`netra_ops.load.samples`): only the I/O
differs. Locust runs users as gevent greenlets, so the WebSocket is websocket-client's
(plain sockets, which gevent's monkey-patching makes cooperative) behind `GeventConnection`,
which looks like the `websockets.sync` connection the probe's steps expect; HTTP goes
through the probe's `fetch`, whose sockets are patched the same way. (Importing the probe
layer under gevent, grpc and asyncio included, is harmless: tested with `--processes`.)

Per turn the user fires a Locust request event (type `WS`, name `turn`; the login and the
connect fire their own, named `login` and `connect`) and appends one JSON line to a file of
its process, `turns-<host>-<pid>.jsonl` in the results folder: the samples frame is read
back from those lines (`netra_ops.load.locust_runner`), Locust's own counts check it.

Configuration comes from environment variables only (`LocustSettings`): the environment
(name or file), the test user's password (never on a command line or in a file), the results
folder, the think time, and the turn's message and time bounds. At exit the master (or the
single process) writes Locust's final request counts beside its CSV files.

Imported as a library module (pytest, Jupyter, the runner) this file defines only the pure
parts: the `GoldenPathUser` class exists only when Locust itself loads the file, because
importing Locust monkey-patches the whole process with gevent.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TypeVar

import websocket
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosedError,
    InvalidHandshake,
    InvalidStatus,
    ProtocolError,
)
from websockets.frames import Close as CloseFrame
from websockets.http11 import Response

from netra_ops.config import Environment, load_environment
from netra_ops.errors import ConfigError
from netra_ops.load.samples import (
    ClockAnchor,
    Sample,
    auth_error_class,
    golden_events,
    open_error_class,
    turn_error_class,
    turn_timing,
)
from netra_ops.load.users import UNUSABLE_AFTER, TurnPlan
from netra_ops.probe._transport.connections import Opened, open_connection
from netra_ops.probe._transport.drivers import (
    USER_AGENT,
    BlockingDriver,
    Connect,
    Deadline,
    Link,
    Steps,
)
from netra_ops.probe.auth import AuthResult, AuthToken, login
from netra_ops.probe.event_timing import ClockOffset
from netra_ops.probe.golden_path_run import agent_turn

__all__ = [
    "CONNECT_REQUEST",
    "ENV_ANSWER_BUDGET_S",
    "ENV_CONNECT_TIMEOUT_S",
    "ENV_ENVIRONMENT",
    "ENV_EVENT_BUDGET_MS",
    "ENV_MESSAGE",
    "ENV_PASSWORD",
    "ENV_RESULTS_DIR",
    "ENV_THINK_TIME_S",
    "ENV_TURN_TIMEOUT_S",
    "FINAL_COUNTS_SUFFIX",
    "FINAL_REPORTS_WAIT_S",
    "LOGIN_REQUEST",
    "REQUEST_TYPE",
    "RESULTS_GLOB",
    "TURN_REQUEST",
    "GeventConnection",
    "GeventDriver",
    "LocustSettings",
    "TurnRecord",
    "TurnsFile",
    "VirtualUser",
    "run_steps_blocking",
]

ENV_ENVIRONMENT = "NETRA_OPS_LOCUST_ENV"
ENV_PASSWORD = "NETRA_OPS_LOCUST_PASSWORD"
ENV_RESULTS_DIR = "NETRA_OPS_LOCUST_RESULTS_DIR"
ENV_THINK_TIME_S = "NETRA_OPS_LOCUST_THINK_TIME_S"
ENV_TURN_TIMEOUT_S = "NETRA_OPS_LOCUST_TURN_TIMEOUT_S"
ENV_EVENT_BUDGET_MS = "NETRA_OPS_LOCUST_EVENT_BUDGET_MS"
ENV_ANSWER_BUDGET_S = "NETRA_OPS_LOCUST_ANSWER_BUDGET_S"
ENV_CONNECT_TIMEOUT_S = "NETRA_OPS_LOCUST_CONNECT_TIMEOUT_S"
ENV_MESSAGE = "NETRA_OPS_LOCUST_MESSAGE"
REQUEST_TYPE = "WS"
TURN_REQUEST = "turn"
CONNECT_REQUEST = "connect"
LOGIN_REQUEST = "login"
RESULTS_GLOB = "turns-*.jsonl"
FINAL_REPORTS_WAIT_S = 10.0  # how long the master waits for its workers to quit
FINAL_COUNTS_SUFFIX = "_final_counts.json"  # beside the --csv files, written at exit
_CLOSE_TIMEOUT_S = 1.0
_PLAN_VARIABLES = {"turn_timeout_s": ENV_TURN_TIMEOUT_S, "event_budget_ms": ENV_EVENT_BUDGET_MS,
                   "answer_budget_s": ENV_ANSWER_BUDGET_S,
                   "connect_timeout_s": ENV_CONNECT_TIMEOUT_S}
T = TypeVar("T")


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class LocustSettings:
    """What a Locust worker needs, carried in environment variables (`ENV_*`): the target
    environment (a name or a file), the test user's password, the results folder, the
    think time between turns, and each turn's message and time bounds (`plan`, the
    engine's `TurnPlan`)."""

    environment: str
    password: str = field(repr=False)
    results_dir: Path
    think_time_s: float = 0.0
    plan: TurnPlan = field(default_factory=TurnPlan)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> LocustSettings:
        """The settings in `environ`; ConfigError names the variables missing or malformed."""
        required = (ENV_ENVIRONMENT, ENV_PASSWORD, ENV_RESULTS_DIR)
        missing = [name for name in required if not environ.get(name)]
        if missing:
            raise ConfigError(f"the netra-ops locustfile needs the environment variables "
                              f"{', '.join(missing)} (docs/locust.md says what each holds)")
        default = TurnPlan()
        plan = replace(default, message=environ.get(ENV_MESSAGE) or default.message, **{
            name: _number(environ, variable, getattr(default, name))
            for name, variable in _PLAN_VARIABLES.items()})
        return cls(environ[ENV_ENVIRONMENT], environ[ENV_PASSWORD],
                   Path(environ[ENV_RESULTS_DIR]),
                   _number(environ, ENV_THINK_TIME_S, cls.think_time_s), plan)

    def environ(self, *, with_password: bool = True) -> dict[str, str]:
        """These settings as environment variables (the password only if asked for)."""
        values = {ENV_ENVIRONMENT: self.environment, ENV_RESULTS_DIR: str(self.results_dir),
                  ENV_THINK_TIME_S: repr(self.think_time_s),
                  **{variable: repr(float(getattr(self.plan, name)))
                     for name, variable in _PLAN_VARIABLES.items()}}
        if self.plan.message != TurnPlan().message:
            values[ENV_MESSAGE] = self.plan.message
        return {**values, ENV_PASSWORD: self.password} if with_password else values

    def load_environment(self) -> Environment:
        """The target environment, its test user's password read from `ENV_PASSWORD`."""
        env = load_environment(self.environment)
        credentials = env.credentials.model_copy(update={"password": f"env:{ENV_PASSWORD}"})
        return env.model_copy(update={"credentials": credentials})


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={text!r} must not be negative")
    return value


# --- websocket-client behind the probe's connection surface ----------------------------


@contextmanager
def _translated() -> Iterator[None]:
    """websocket-client's exceptions as the `websockets` ones the probe's steps judge."""
    try:
        yield
    except websocket.WebSocketTimeoutException:
        raise TimeoutError("no frame in time") from None
    except websocket.WebSocketConnectionClosedException:
        raise ConnectionClosedError(None, None) from None
    except websocket.WebSocketException as exc:
        raise ProtocolError(str(exc) or type(exc).__name__) from None


class GeventConnection:
    """A websocket-client connection with the `websockets.sync` surface the probe's steps
    use (`send`, `recv(timeout=)`, `close`, `subprotocol`, `close_timeout`), raising the
    `websockets` exceptions they judge. Blocking I/O: cooperative once gevent has patched
    the socket module (as Locust does), plain blocking elsewhere."""

    def __init__(self, ws: websocket.WebSocket, close_timeout: float) -> None:
        self.ws = ws
        self.subprotocol: str | None = ws.getsubprotocol()
        self.close_timeout = close_timeout

    @classmethod
    def connect(cls, op: Connect) -> GeventConnection:
        """Open the WebSocket of a probe's `Connect` step (its timeout bounds the TCP
        connect and the handshake); failures raise as the sync probe's would."""
        try:
            ws = websocket.create_connection(
                op.url, timeout=max(op.timeout_s, 0.001), subprotocols=list(op.subprotocols),
                header=[f"User-Agent: {USER_AGENT}"], enable_multithread=False,
                skip_utf8_validation=True)  # decoded below, in C, not byte by byte in Python
        except websocket.WebSocketBadStatusException as exc:
            raise _invalid_status(exc) from None
        except websocket.WebSocketTimeoutException:
            raise TimeoutError(f"no handshake answer within {op.timeout_s:.3g} s") from None
        except websocket.WebSocketException as exc:
            raise InvalidHandshake(str(exc) or type(exc).__name__) from None
        return cls(ws, op.close_timeout_s)

    def send(self, text: str) -> None:
        """Send one text frame."""
        with _translated():
            self.ws.send(text)

    def recv(self, timeout: float | None = None) -> str | bytes:
        """The next text (str) or binary (bytes) frame within `timeout` seconds; a close
        frame raises ConnectionClosedError with its code."""
        with _translated():
            self.ws.settimeout(None if timeout is None else max(timeout, 0.0001))
            opcode, frame = self.ws.recv_data_frame()
        data: bytes = frame.data
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ConnectionClosedError(_close_frame(data), None)
        if opcode != websocket.ABNF.OPCODE_TEXT:
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("a text frame that is not UTF-8") from None

    def close(self) -> None:
        """Close, waiting at most `close_timeout` for the server's close frame."""
        try:
            self.ws.close(timeout=self.close_timeout)
        except (OSError, websocket.WebSocketException):
            self.ws.shutdown()


def _invalid_status(exc: websocket.WebSocketBadStatusException) -> InvalidStatus:
    reason = exc.status_message or ""
    body = exc.resp_body if isinstance(exc.resp_body, bytes) else b""
    return InvalidStatus(Response(exc.status_code, reason, Headers(exc.resp_headers or {}), body))


def _close_frame(data: bytes) -> CloseFrame:
    if len(data) < 2:
        return CloseFrame(1005, "")  # no status code in the close frame
    return CloseFrame(int.from_bytes(data[:2], "big"), data[2:].decode("utf-8", "replace"))


def run_steps_blocking(steps: Steps[T]) -> T:
    """Perform a probe's steps (`netra_ops.probe._transport.drivers`) with `fetch` and
    websocket-client: blocking, so cooperative under gevent. Unlike `run_steps`, a
    connection the steps return open stays open for the caller; on an exception (a
    greenlet killed mid-step) every connection still open here is closed."""
    driver = GeventDriver()
    try:
        return driver.drive(steps)
    except BaseException:
        for link in driver.links:
            link.connection.close_timeout = 0.0
            link.connection.close()
        raise
    finally:
        steps.close()


class GeventDriver(BlockingDriver):
    """The probes' blocking driver with websocket-client connections (gevent-friendly)."""

    def connect(self, op: Connect) -> Any:
        return GeventConnection.connect(op)


# --- one virtual user, and the file of its process's turns -----------------------------


@dataclass(frozen=True)
class TurnRecord:
    """One turn attempted (a `Sample`, perf_counter times) and why it failed."""

    sample: Sample
    error: str | None = None

    @property
    def service_ms(self) -> float:
        """From the send (or the start of a failed reconnect) to the end, in ms."""
        return (self.sample.ended - self.sample.started) * 1000.0


class VirtualUser:
    """One user of the closed model, the blocking twin of `netra_ops.load.users.VirtualUser`
    (same steps, same samples, same rules): log in once, hold a WebSocket, send turns on
    it; reconnect after a turn that left the connection unusable, log in again after the
    backend rejected the token. `on_login` and `on_connect` see every attempt (Locust
    reports them as requests of their own)."""

    def __init__(self, env: Environment, index: int, plan: TurnPlan, thread_id: str, *,
                 on_login: Callable[[AuthResult], None] | None = None,
                 on_connect: Callable[[Opened], None] | None = None) -> None:
        self.env = env
        self.index = index
        self.plan = plan
        self.thread_id = thread_id
        self.on_login = on_login
        self.on_connect = on_connect
        self.turns = 0
        self._token: AuthToken | None = None
        self._user_id: str | None = None
        self.clock: ClockOffset | None = None
        self._link: Link | None = None

    @property
    def connected(self) -> bool:
        """Whether the user holds an established connection."""
        return self._link is not None

    def connect(self) -> tuple[str | None, str | None]:
        """Log in (once; then read the server's clock offset) and open the WebSocket up to
        `connection_established`; (error class, error text), both None on success."""
        if self._token is None:
            result = login(self.env, timeout_s=self.plan.connect_timeout_s)
            if self.on_login is not None:
                self.on_login(result)
            if result.token is None:
                return auth_error_class(result) or "auth", f"login: {result.error}"
            self._token, self._user_id, self.clock = result.token, result.user_id, None
        deadline = Deadline.after(self.plan.connect_timeout_s)
        opened = run_steps_blocking(open_connection(self.env, deadline, self._token.reveal(),
                                                    close_timeout_s=_CLOSE_TIMEOUT_S,
                                                    estimate_clock=self.clock is None))
        self.clock = opened.clock or self.clock
        if self.on_connect is not None:
            self.on_connect(opened)
        if opened.link is None:
            error_class = open_error_class(opened) or "connect"
            if error_class == "auth":
                self._token = None  # expired or revoked: log in again next time
            return error_class, f"{opened.failed_step}: {opened.error}"
        self._link = opened.link
        return None, None

    def turn(self) -> TurnRecord:
        """One turn, due now: reconnect if needed, send, judge."""
        scheduled = time.perf_counter()
        number = self.turns
        self.turns += 1
        if self._link is None:
            error_class, error = self.connect()
            if error_class is not None:
                return TurnRecord(Sample(self.index, number, scheduled, scheduled,
                                         time.perf_counter(), False, error_class, 0), error)
        assert self._link is not None
        started = time.perf_counter()
        result = agent_turn(self._link.connection, self.plan.message, thread_id=self.thread_id,
                            timeout_s=self.plan.turn_timeout_s,
                            event_budget_ms=self.plan.event_budget_ms,
                            answer_budget_s=self.plan.answer_budget_s, user_id=self._user_id,
                            clock=self.clock)
        ended = time.perf_counter()
        report = result.report
        if report.end in UNUSABLE_AFTER:  # the engine's rule
            self.close()
        return TurnRecord(Sample(self.index, number, scheduled, started, ended, report.ok,
                                 turn_error_class(report), golden_events(report),
                                 *turn_timing(report, started)), report.error)

    def close(self, timeout_s: float = _CLOSE_TIMEOUT_S) -> None:
        """Close the connection (waiting at most `timeout_s` for the close handshake)."""
        link, self._link = self._link, None
        if link is not None:
            link.connection.close_timeout = timeout_s
            link.connection.close()


class TurnsFile:
    """The turns of one process as JSON lines (`turns-<host>-<pid>.jsonl` in `folder`):
    worker, user, turn, scheduled_at, started_at, ended_at, first_event_at, answer_at (ns
    since the Unix epoch, UTC; the last two null when that event never came), ok,
    error_class, events, delivery_ms (null: not measured) and error (a short text, never a
    secret)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.worker = f"{socket.gethostname()}-{os.getpid()}"
        self.anchor = ClockAnchor(time.perf_counter(), time.time_ns())
        self._file: IO[str] | None = None

    @property
    def path(self) -> Path:
        """This process's file."""
        return self.folder / f"turns-{self.worker}.jsonl"

    def write(self, record: TurnRecord) -> None:
        """Append one turn (line-buffered: a killed process loses no finished turn)."""
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8", buffering=1)
        sample, wall = record.sample, self.anchor.wall_ns_of
        self._file.write(_encode({
            "worker": self.worker, "user": sample.user, "turn": sample.turn,
            "scheduled_at": wall(sample.scheduled), "started_at": wall(sample.started),
            "ended_at": wall(sample.ended),
            "first_event_at": _wall_or_none(wall, sample.first_event),
            "answer_at": _wall_or_none(wall, sample.answer), "ok": sample.ok,
            "error_class": sample.error_class, "events": sample.events,
            "delivery_ms": None if math.isnan(sample.delivery_ms) else sample.delivery_ms,
            "error": (record.error or "")[:300] or None,
        }) + "\n")

    def close(self) -> None:
        """Close the file (writing again reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @staticmethod
    def read(folder: Path) -> list[dict[str, Any]]:
        """Every turn written to `folder` by every process, file by file; a line cut off by
        a killed process is skipped."""
        rows = []
        for path in sorted(folder.glob(RESULTS_GLOB)):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
        return rows


def _wall_or_none(wall: Callable[[float], int], perf: float) -> int | None:
    return None if math.isnan(perf) else wall(perf)


_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


# --- the Locust user: defined only when Locust loads this file -------------------------

if "locust" in sys.modules:  # `locust -f`: Locust has monkey-patched the process already
    import itertools
    import logging

    import gevent
    from locust import User, constant, events, task
    from locust.env import Environment as LocustEnvironment
    from locust.rpc import Message
    from locust.runners import MasterRunner

    from netra_ops.load.engine import RECONNECT_BACKOFF_S  # the engine's pause

    logger = logging.getLogger("netra_ops.load.locustfile")

    class StepFailed(Exception):
        """A turn, login or connect that failed, named by its error class (Locust groups
        failures by this text)."""

    class _Worker:
        """What the users of one worker process share (made at Locust's `init` event)."""

        def __init__(self, settings: LocustSettings) -> None:
            self.settings = settings
            self.env = settings.load_environment()
            self.turns = TurnsFile(settings.results_dir)
            self.users = itertools.count()

        def user(self, **callbacks: Any) -> VirtualUser:
            index = next(self.users)
            return VirtualUser(self.env, index, self.settings.plan,
                               f"locust-{self.turns.worker}-{index}", **callbacks)

    _WORKERS: list[_Worker] = []
    _ENVIRONMENTS: list[LocustEnvironment] = []

    @events.init.add_listener
    def _on_init(environment: LocustEnvironment, **_: Any) -> None:
        _ENVIRONMENTS.append(environment)
        if isinstance(environment.runner, MasterRunner):  # the master runs no user
            _wait_for_final_reports(environment.runner)
        else:
            _WORKERS.append(_Worker(LocustSettings.from_environ()))

    def _wait_for_final_reports(runner: MasterRunner) -> None:
        """Make the master quit only once every worker has quit (or after
        FINAL_REPORTS_WAIT_S). Locust's master tells its workers to quit and is gone 0.5 s
        later (locust#1426): on a busy machine a worker's final report, with the turns of
        its last seconds, came too late for Locust's count (531 of 733 turns, once). A worker
        says it quits after it sent that report, so waiting for it makes the count whole."""
        locust_quit = runner.quit

        def quit() -> None:
            runner.stop(send_stop_to_client=False)  # no new dispatch when a worker leaves
            for client in list(runner.clients.all):
                runner.server.send_to_client(Message("quit", None, client.id))
            deadline = time.monotonic() + FINAL_REPORTS_WAIT_S
            while len(runner.clients.all) and time.monotonic() < deadline:
                gevent.sleep(0.05)
            if len(runner.clients.all):
                logger.warning("%d Locust worker(s) did not quit within %g s: Locust's own "
                               "count may miss their last turns (the samples have them)",
                               len(runner.clients.all), FINAL_REPORTS_WAIT_S)
            locust_quit()

        runner.quit = quit  # type: ignore[method-assign]

    @events.quitting.add_listener
    def _on_quitting(**_: Any) -> None:
        for worker in _WORKERS:
            worker.turns.close()

    @events.quit.add_listener
    def _on_quit(**_: Any) -> None:
        """Write Locust's final request counts beside its CSV files: Locust refreshes those
        once a second, so they may miss the last turns; at `quit` the master (or the single
        local process) has every worker's final report. Workers write none (no --csv)."""
        for environment in _ENVIRONMENTS:
            options, runner = environment.parsed_options, environment.runner
            prefix = getattr(options, "csv_prefix", None)
            if runner is None or not prefix:
                continue
            counts = [{"type": e.method, "name": e.name, "requests": e.num_requests,
                       "failures": e.num_failures} for e in runner.stats.entries.values()]
            Path(f"{prefix}{FINAL_COUNTS_SUFFIX}").write_text(json.dumps(counts))

    class GoldenPathUser(User):
        """A closed-model golden-path user: one WebSocket, turn after turn."""

        wait_time = constant(_number(os.environ, ENV_THINK_TIME_S, 0.0))

        def on_start(self) -> None:
            worker = _WORKERS[0]
            self.turns = worker.turns
            self.user = worker.user(on_login=self._report_login,
                                    on_connect=self._report_connect)
            self._setup_started = time.perf_counter()
            try:
                error_class, error = self.user.connect()
            except gevent.GreenletExit:  # the run ended while this user still set up
                self._unstarted("connect", "the run ended before this user's login and "
                                "connect were done (no turn sent): a busy machine or a slow "
                                "auth service; run longer")
                raise
            except Exception as exc:  # Locust would only log it: the user would vanish
                self._unstarted("other", f"setup failed: {type(exc).__name__}: {exc}")
                raise
            if error_class is not None:
                logger.warning("load user %d could not connect before its first turn (%s): "
                               "%s", self.user.index, error_class, error)

        def _unstarted(self, error_class: str, error: str) -> None:
            """Count a user that dies before its first turn as one failed turn (with
            why), so a run whose users never got going says so instead of 0 turns."""
            now = time.perf_counter()
            number = self.user.turns
            self.user.turns += 1
            record = TurnRecord(Sample(self.user.index, number, self._setup_started,
                                       self._setup_started, now, False, error_class, 0),
                                error)
            self.turns.write(record)
            self._fire(REQUEST_TYPE, TURN_REQUEST, 0.0, StepFailed(error_class))

        @task
        def golden_path_turn(self) -> None:
            record = self.user.turn()
            self.turns.write(record)
            sample = record.sample
            failure = None if sample.ok else StepFailed(sample.error_class or "other")
            self._fire(REQUEST_TYPE, TURN_REQUEST, record.service_ms, failure)
            if not self.user.connected and sample.events == 0:
                gevent.sleep(max(0.0, RECONNECT_BACKOFF_S - self.wait_time()))

        def on_stop(self) -> None:
            self.user.close(timeout_s=0.2)  # the worker sends its final stats after this

        def _report_login(self, result: AuthResult) -> None:
            failure = None if result.ok else StepFailed(auth_error_class(result) or "auth")
            self._fire("POST", LOGIN_REQUEST, result.latency_ms, failure)

        def _report_connect(self, opened: Opened) -> None:
            failure = None if opened.ok else StepFailed(open_error_class(opened) or "connect")
            ms = sum(step.ms or 0.0 for step in opened.steps)
            self._fire(REQUEST_TYPE, CONNECT_REQUEST, ms, failure)

        def _fire(self, kind: str, name: str, ms: float, failure: Exception | None) -> None:
            self.environment.events.request.fire(
                request_type=kind, name=name, response_time=ms, response_length=0,
                exception=failure, context={})
