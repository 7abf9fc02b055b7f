"""Backend revisions: one OS process each, created, watched and stopped by the platform.

A revision is what Cloud Run makes of a deploy: an immutable (image, env, limits) with a name
like `netra-backend-staging-00003-kiv`. The manager spawns `python -m netra_ops.sandbox
revision` on a free loopback port with the Cloud Run contract in its environment (`PORT`,
`K_SERVICE`, `K_REVISION`, `K_CONFIGURATION`, `NETRA_SANDBOX_IMAGE` (for an image by digest,
`REPO:TAG` of the push that made it: `locate`), `NETRA_SANDBOX_PARENT_PID`,
`NETRA_SANDBOX_BUILD` for an image whose config labels say which
build it is (`labels_of`: what the emulated Cloud Build pushed), the revision's env vars)
and waits for `/health` to answer 200:

    starting --(health 200)--------> ready --(process exits)--------------> failed
    starting --(exit or timeout)---> failed
    ready ----(stopped, or idle and scaled to zero)--------------------------> stopped

`pause(name, seconds)` freezes a ready revision's process for a while (SIGSTOP, then SIGCONT
after `seconds`, at most `MAX_PAUSE_S`): it stays "ready" and keeps its connections, but
answers nothing until it runs on, as a server stalled by a long GC pause or a starved CPU.

The service asks for traffic with rules, as Cloud Run's traffic targets: a percent for a
named revision, or for the latest ready one (`TrafficRule(100)`, the default). The rules are
resolved to the split the router uses, a list of (revision, percent) over ready revisions
summing to 100: a rule for the latest follows each new revision once it is ready, a rule
naming a revision stays pinned through later deploys. A revision that fails to start never
receives traffic: what served before keeps serving.

Every change of the service (a revision created, the rules replaced, `touch()`) bumps
`generation`; `observed_generation` catches up once the change is carried out (the new
revision ready or failed). Every change is written to `revisions.json` (pids and their
start times included), so `sandbox down` can stop revisions even when the platform itself
has died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import string
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import psutil

from netra_ops.errors import SandboxError
from netra_ops.sandbox.runtime.state import StatePaths, tail, write_json_atomic
from netra_ops.sandbox.services.backend_settings import BUILD_ENV, BUILD_LABEL
from netra_ops.sandbox.services.service_logging import rfc3339_now

__all__ = [
    "COLD_START_ENV",
    "IMAGE_BY_DIGEST_ENV",
    "MAX_PAUSE_S",
    "REVISION_COMMAND",
    "STARTUP_ENV",
    "ImageLocator",
    "Revision",
    "RevisionManager",
    "RevisionState",
    "TrafficRule",
    "TrafficTarget",
    "free_port",
    "revision_process_env",
]

RevisionState = Literal["starting", "ready", "failed", "stopped"]
ImageLocator = Callable[[str], tuple[str, str]]
"""image -> (the digest it runs, `REPO:TAG` of that build); SandboxError when the registry
has no such image (the revision then fails, as Cloud Run's would)."""
REVISION_COMMAND: tuple[str, ...] = (sys.executable, "-m", "netra_ops.sandbox", "revision")
_INHERITED_PREFIXES_DROPPED = ("NETRA_FAULT_", "NETRA_SANDBOX_", "K_")
_LOG_TAIL_LINES = 20
_STOP_GRACE_S = 5.0
MAX_PAUSE_S = 60.0
# Platform behaviour a revision asks for through its env vars (Cloud Run's, emulated):
STARTUP_ENV = "NETRA_RUN_STARTUP_S"  # seconds before the revision can be ready
COLD_START_ENV = "NETRA_RUN_COLD_START_S"  # delay of the first requests to a new instance
IMAGE_BY_DIGEST_ENV = "NETRA_RUN_IMAGE_BY_DIGEST"  # "true": reported by digest, as Cloud Run
logger = logging.getLogger("netra_ops.sandbox.revisions")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TrafficTarget:
    """A share of the service's traffic sent to one revision."""

    revision: str
    percent: int

    def to_dict(self) -> dict[str, Any]:
        """The admin API's shape: `{"revision", "percent"}`."""
        return {"revision": self.revision, "percent": self.percent}


@dataclass(frozen=True)
class TrafficRule:
    """A share of traffic the service asks for: a named revision, or the latest ready one.

    `revision=None` is Cloud Run's LATEST target: it moves to each new revision once that
    one is ready. A named revision is a REVISION target: it stays until the rules change.
    """

    percent: int
    revision: str | None = None

    @property
    def latest(self) -> bool:
        """Whether this rule follows the latest ready revision."""
        return self.revision is None

    def to_dict(self) -> dict[str, Any]:
        """`{"revision": name or null (latest), "percent"}`."""
        return {"revision": self.revision, "percent": self.percent}


@dataclass
class Revision:
    """One revision of the backend service and the process that runs it."""

    name: str
    image: str
    env: dict[str, str]
    memory_limit: str
    cpu_limit: str
    state: RevisionState = "starting"
    reason: str | None = None
    pid: int | None = None
    port: int | None = None
    created: str = field(default_factory=rfc3339_now)
    ready_at: str | None = None
    create_time: float | None = None
    transitioned_at: str = field(default_factory=rfc3339_now)
    image_digest: str | None = None
    built_as: str | None = None  # the image's build label (BUILD_LABEL), when it has one
    build: str | None = None  # REPO:TAG of the build the image (by tag or digest) is
    timeout_s: int = 300  # the request timeout of its template (Cloud Run's default)
    concurrency: int = 80  # requests an instance takes at once (Cloud Run's default)

    @property
    def startup_s(self) -> float:
        """How long the revision takes to start (`NETRA_RUN_STARTUP_S`, default 0)."""
        return _seconds(self.env.get(STARTUP_ENV))

    @property
    def cold_start_s(self) -> float:
        """The delay of its first requests (`NETRA_RUN_COLD_START_S`, default 0)."""
        return _seconds(self.env.get(COLD_START_ENV))

    @property
    def reported_image(self) -> str:
        """The image as the Cloud Run API shows it: by digest when the revision asks for
        Cloud Run's behaviour (`NETRA_RUN_IMAGE_BY_DIGEST=true`), else as deployed."""
        by_digest = self.env.get(IMAGE_BY_DIGEST_ENV, "").strip().lower() in ("1", "true")
        if by_digest and self.image_digest:
            return f"{_repository(self.image)}@{self.image_digest}"
        return self.image

    def to_dict(self) -> dict[str, Any]:
        """The admin API's Revision object (docs/sandbox-internals.md)."""
        return {
            "name": self.name, "image": self.image, "image_digest": self.image_digest,
            "build": self.build, "env": dict(self.env),
            "state": self.state, "reason": self.reason, "pid": self.pid, "port": self.port,
            "created": self.created, "ready_at": self.ready_at,
            "memory_limit": self.memory_limit, "cpu_limit": self.cpu_limit,
            "timeout_s": self.timeout_s, "concurrency": self.concurrency,
        }

    def to_record(self) -> dict[str, Any]:
        """What `revisions.json` keeps: the API shape plus the process start time."""
        return {**self.to_dict(), "create_time": self.create_time}


def revision_process_env(
    revision: Revision,
    *,
    service: str,
    parent_pid: int,
    base: Mapping[str, str],
    managed: Iterable[str] = (),
) -> dict[str, str]:
    """The environment of a revision's process: inherited basics + the Cloud Run contract.

    Nothing the revision does not declare leaks in from `base`: fault variables, sandbox
    internals and the `managed` variables (those a revision may set or remove) are dropped.
    """
    dropped = {"PORT", *managed}
    env = {k: v for k, v in base.items()
           if k not in dropped and not k.startswith(_INHERITED_PREFIXES_DROPPED)}
    env.update(revision.env)
    env.update({
        "PORT": str(revision.port), "K_SERVICE": service, "K_REVISION": revision.name,
        "K_CONFIGURATION": service, "NETRA_SANDBOX_IMAGE": revision.build or revision.image,
        "NETRA_SANDBOX_PARENT_PID": str(parent_pid), "PYTHONUNBUFFERED": "1",
    })
    if revision.built_as:
        env[BUILD_ENV] = revision.built_as
    return env


class RevisionManager:
    """Creates revision processes, routes traffic between them by rules, records both."""

    def __init__(
        self,
        *,
        service: str,
        paths: StatePaths,
        base_env: Mapping[str, str],
        host: str = "127.0.0.1",
        memory_limit: str = "512Mi",
        cpu_limit: str = "1",
        timeout_s: int = 300,
        concurrency: int = 80,
        session_affinity: bool = False,
        startup_timeout_s: float = 30.0,
        command: Sequence[str] = REVISION_COMMAND,
        max_idle: int = 3,
        locate: ImageLocator | None = None,
        labels_of: Callable[[str], Mapping[str, str]] | None = None,
        record: Path | None = None,
    ) -> None:
        self.service = service
        self.locate = locate
        self.labels_of = labels_of
        self.record = record or paths.revisions_json
        self.paths = paths
        self.base_env = dict(base_env)
        self.host = host
        self.memory_limit = memory_limit
        self.cpu_limit = cpu_limit
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.session_affinity = session_affinity  # of the revisions the platform starts
        self.startup_timeout_s = startup_timeout_s
        self.command = tuple(command)
        self.max_idle = max_idle
        self.generation = 0
        self.observed_generation = 0
        self.created = rfc3339_now()
        self.updated = self.created
        self._revisions: dict[str, Revision] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self._pauses: dict[str, asyncio.TimerHandle] = {}
        self._warming: dict[str, asyncio.Future[None]] = {}
        self._rules: tuple[TrafficRule, ...] = (TrafficRule(100),)
        self._routes: tuple[tuple[TrafficRule, str], ...] = ()
        self._traffic: tuple[TrafficTarget, ...] = ()
        self._sequence = 0
        self._closing = False
        paths.revision_logs_dir.mkdir(parents=True, exist_ok=True)

    @property
    def revisions(self) -> list[Revision]:
        """All revisions, oldest first."""
        return list(self._revisions.values())

    @property
    def traffic(self) -> tuple[TrafficTarget, ...]:
        """The current traffic split (empty until a revision is ready)."""
        return self._traffic

    @property
    def traffic_rules(self) -> tuple[TrafficRule, ...]:
        """What the service asks for (default: 100% to the latest ready revision)."""
        return self._rules

    @property
    def routes(self) -> tuple[tuple[TrafficRule, str], ...]:
        """Each rule with the revision it was resolved to when traffic last moved."""
        return self._routes

    @property
    def latest_created(self) -> Revision | None:
        """The newest revision, whatever its state."""
        return next(reversed(self._revisions.values()), None)

    @property
    def latest_ready(self) -> Revision | None:
        """The newest revision that is ready (what a rule for the latest resolves to)."""
        return next((r for r in reversed(self._revisions.values()) if r.state == "ready"),
                    None)

    @property
    def busy(self) -> Revision | None:
        """A revision still starting, if any."""
        return next((r for r in self._revisions.values() if r.state == "starting"), None)

    def get(self, name: str) -> Revision:
        """The revision of that name; SandboxError names the known ones."""
        try:
            return self._revisions[name]
        except KeyError:
            known = ", ".join(self._revisions) or "none yet"
            raise SandboxError(f"no revision {name!r} (revisions: {known})") from None

    def env_with(self, overrides: Mapping[str, str | None]) -> dict[str, str]:
        """The base env with `overrides` applied (a None value removes the variable)."""
        env = dict(self.base_env)
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def snapshot(self) -> dict[str, Any]:
        """`{"service", "revisions": [...], "traffic": [...]}` as the admin API returns it."""
        return {
            "service": self.service,
            "revisions": [r.to_dict() for r in self._revisions.values()],
            "traffic": [t.to_dict() for t in self._traffic],
        }

    async def create(
        self,
        image: str,
        env: Mapping[str, str],
        *,
        traffic: bool | Sequence[TrafficRule] = True,
        memory_limit: str | None = None,
        cpu_limit: str | None = None,
        name: str | None = None,
    ) -> Revision:
        """Start a revision and wait until it is ready or failed; `prepare` + `start`.

        A failed revision is returned (state "failed", reason with its log tail), not raised:
        a bad deploy is an outcome to report, and traffic stays where it was.
        """
        revision = self.prepare(image, env, memory_limit=memory_limit, cpu_limit=cpu_limit,
                                name=name)
        return await self.start(revision, traffic=traffic)

    def prepare(
        self,
        image: str,
        env: Mapping[str, str],
        *,
        memory_limit: str | None = None,
        cpu_limit: str | None = None,
        name: str | None = None,
        timeout_s: int | None = None,
        concurrency: int | None = None,
    ) -> Revision:
        """Record a new revision (state "starting", no process yet) and bump the generation.

        `name` is a requested revision name (a generated one otherwise); SandboxError if the
        platform is stopping or the name is taken.
        """
        if self._closing:
            raise SandboxError("the platform is stopping; no new revision can be created")
        if name is not None and name in self._revisions:
            raise SandboxError(f"a revision named {name!r} already exists")
        self._sequence += 1
        suffix = "".join(random.choices(string.ascii_lowercase, k=3))
        revision = Revision(
            name=name or f"{self.service}-{self._sequence:05d}-{suffix}", image=image,
            env=dict(env), memory_limit=memory_limit or self.memory_limit,
            cpu_limit=cpu_limit or self.cpu_limit, timeout_s=timeout_s or self.timeout_s,
            concurrency=concurrency or self.concurrency,
        )
        try:
            if self.locate is not None:
                revision.image_digest, revision.build = self.locate(image)
            if self.labels_of is not None:
                revision.built_as = self.labels_of(image).get(BUILD_LABEL)
        except SandboxError as exc:  # Cloud Run: the revision fails, traffic stays
            revision.state, revision.reason = "failed", str(exc)
        self._revisions[revision.name] = revision
        self._bump()
        self._persist()
        return revision

    async def start(
        self, revision: Revision, *, traffic: bool | Sequence[TrafficRule] = True
    ) -> Revision:
        """Start a prepared revision's process and wait until it is ready or failed.

        `traffic`: True sends 100% to the latest ready revision (this one, once ready);
        False pins the traffic to what serves now; rules replace the service's rules. Once
        the revision is ready the service's rules are applied, as they are then (a later
        change made while it started wins); if it fails, traffic stays.
        """
        try:
            rules = self._rules_for(traffic)
        except SandboxError as exc:
            self._record_failure(revision, f"not started: {exc}")
            self._observe()
            raise
        self._rules = rules
        if revision.state == "failed":  # its image could not be pulled
            self._observe()
            return revision
        await self._spawn(revision)
        await self._wait_ready(revision)
        if revision.state == "ready" and traffic is not False:
            with contextlib.suppress(SandboxError):  # a pinned revision died meanwhile
                self._apply(self._rules)
        self._observe()
        return revision

    def route(self, rules: Iterable[TrafficRule]) -> None:
        """Replace the traffic rules and move traffic now; SandboxError says what is invalid."""
        checked = self.check_rules(rules)
        resolved = self._resolve(checked)
        self._bump()
        self._apply(checked, resolved)
        self._observe()

    def set_traffic(self, targets: Iterable[TrafficTarget]) -> None:
        """Pin the traffic to named revisions; SandboxError explains what is invalid."""
        self.route([TrafficRule(t.percent, t.revision) for t in targets])

    def touch(self) -> None:
        """Bump the generation for a change that creates no revision and moves no traffic."""
        self._bump()
        self._observe()

    def check_rules(
        self, rules: Iterable[TrafficRule], *, allow_stopped: bool = False
    ) -> tuple[TrafficRule, ...]:
        """The rules without 0% shares, validated; SandboxError says what is invalid.

        Named revisions must be ready (or, with `allow_stopped`, scaled to zero: the caller
        revives them before routing).
        """
        checked = tuple(r for r in rules if r.percent != 0)
        if not checked:
            raise SandboxError("traffic must name at least one revision with a percent > 0")
        names = [r.revision or "LATEST" for r in checked]
        if len(set(names)) != len(names):
            raise SandboxError(f"traffic names a revision twice: {', '.join(names)}")
        usable = ("ready", "stopped") if allow_stopped else ("ready",)
        for rule in checked:
            if not 0 < rule.percent <= 100:
                raise SandboxError(f"traffic percent for {rule.revision or 'the latest'} "
                                   f"must be 0-100, got {rule.percent}")
            if rule.revision is not None and self.get(rule.revision).state not in usable:
                state = self.get(rule.revision).state
                raise SandboxError(f"revision {rule.revision} is {state}; only ready "
                                   "revisions can serve")
        total = sum(r.percent for r in checked)
        if total != 100:
            raise SandboxError(f"traffic percents must sum to 100, got {total}")
        return checked

    async def revive(self, name: str) -> Revision:
        """Start a revision scaled to zero again (as Cloud Run scales one up for traffic).

        Waits until it is ready or failed, like `start`; SandboxError unless it is stopped.
        """
        revision = self.get(name)
        if self._closing or revision.state != "stopped":
            raise SandboxError(f"revision {name} is {revision.state}; only a revision scaled "
                               "to zero can be started again")
        old = self._processes.get(name)
        if old is not None and old.returncode is None:
            await old.wait()
        revision.state, revision.reason, revision.ready_at = "starting", None, None
        revision.transitioned_at = rfc3339_now()
        self._warming.pop(name, None)  # a new instance starts cold
        await self._spawn(revision)
        await self._wait_ready(revision)
        return revision

    async def warm(self, revision: Revision) -> None:
        """Wait out the cold start of a revision's instance before its first requests.

        The first request to a revision with `NETRA_RUN_COLD_START_S` starts the warm-up;
        requests arriving meanwhile wait for the same one; later ones pass at once.
        """
        if revision.cold_start_s <= 0:
            return
        warming = self._warming.get(revision.name)
        if warming is None:
            warming = asyncio.ensure_future(asyncio.sleep(revision.cold_start_s))
            self._warming[revision.name] = warming
            logger.info("revision %s: cold start, %g s", revision.name, revision.cold_start_s)
        await asyncio.shield(warming)

    async def stop(self, name: str) -> None:
        """Stop one revision's process (it keeps its record, state "stopped")."""
        revision = self.get(name)
        if any(t.revision == name for t in self._traffic):
            raise SandboxError(f"revision {name} still receives traffic; move it away first")
        await self._terminate(revision)

    async def pause(self, name: str, seconds: float) -> float:
        """Freeze a ready revision's process (SIGSTOP; returns once it is stopped) and let
        it run on (SIGCONT) after `seconds` (0 < seconds <= MAX_PAUSE_S); a pause of a
        paused revision replaces the time it resumes. The resume time (`time.time()`);
        SandboxError if it cannot be paused."""
        revision = self.get(name)
        if not 0 < seconds <= MAX_PAUSE_S:
            raise SandboxError(f"a pause lasts more than 0 and at most {MAX_PAUSE_S:g} "
                               f"seconds, got {seconds:g}")
        process = self._processes.get(name)
        if revision.state != "ready" or process is None or process.returncode is not None:
            raise SandboxError(f"revision {name} is {revision.state}; only a ready revision's "
                               "process can be paused")
        previous = self._pauses.pop(name, None)
        if previous is not None:
            previous.cancel()
        os.kill(process.pid, signal.SIGSTOP)
        loop = asyncio.get_running_loop()
        self._pauses[name] = loop.call_later(seconds, self._resume, name)
        await _stopped(process.pid)
        logger.info("revision %s: paused for %g s (pid %s stopped)", name, seconds, process.pid)
        return time.time() + seconds

    def _resume(self, name: str) -> None:
        """Let a paused revision's process run on (SIGCONT); no-op if it is not paused."""
        handle = self._pauses.pop(name, None)
        if handle is None:
            return
        handle.cancel()
        process = self._processes.get(name)
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)
            logger.info("revision %s: resumed (pid %s)", name, process.pid)

    async def stop_all(self) -> None:
        """Stop every revision process (platform shutdown)."""
        self._closing = True
        await asyncio.gather(*(self._terminate(r) for r in self.revisions))
        for task in list(self._watchers):
            task.cancel()
        self._persist()

    # -- traffic ---------------------------------------------------------------------------
    def _rules_for(self, traffic: bool | Sequence[TrafficRule]) -> tuple[TrafficRule, ...]:
        if traffic is True:
            return (TrafficRule(100),)
        if traffic is False:
            return tuple(TrafficRule(p, n) for n, p in _merge(self._routes)) or self._rules
        return self.check_rules(traffic)

    def _resolve(self, rules: Sequence[TrafficRule]) -> tuple[tuple[TrafficRule, str], ...]:
        latest = self.latest_ready
        routes = []
        for rule in rules:
            if rule.revision is None and latest is None:
                raise SandboxError("no revision is ready to take the latest revision's share")
            name = rule.revision or (latest.name if latest else "")
            if self.get(name).state != "ready":
                raise SandboxError(f"revision {name} is {self.get(name).state}; only ready "
                                   "revisions can serve")
            routes.append((rule, name))
        return tuple(routes)

    def _apply(self, rules: tuple[TrafficRule, ...],
               routes: tuple[tuple[TrafficRule, str], ...] | None = None) -> None:
        routes = self._resolve(rules) if routes is None else routes
        self._rules, self._routes = rules, routes
        self._traffic = tuple(TrafficTarget(n, p) for n, p in _merge(routes))
        logger.info("traffic: %s", ", ".join(f"{t.revision}={t.percent}%"
                                              for t in self._traffic))
        self._retire_idle()
        self._persist()

    def _bump(self) -> None:
        self.generation += 1
        self.updated = rfc3339_now()

    def _observe(self) -> None:
        """The change is carried out, unless a revision still starts (it is part of it)."""
        if self.busy is None:
            self.observed_generation = self.generation
        self._persist()

    # -- processes -------------------------------------------------------------------------
    async def _spawn(self, revision: Revision) -> None:
        revision.port = free_port(self.host)
        env = revision_process_env(
            revision, service=self.service, parent_pid=os.getpid(), base=os.environ,
            managed=self.base_env,
        )
        log_path = self.paths.revision_log(revision.name)
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *self.command, "--host", self.host, "--port", str(revision.port),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
                env=env, start_new_session=True,
            )
        revision.pid = process.pid
        with contextlib.suppress(psutil.Error):
            revision.create_time = psutil.Process(process.pid).create_time()
        self._processes[revision.name] = process
        self._persist()
        logger.info("revision %s: started pid %s on port %s (image %s)",
                    revision.name, process.pid, revision.port, revision.image)
        watcher = asyncio.create_task(self._watch(revision, process))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _wait_ready(self, revision: Revision) -> None:
        """Ready once /health answers 200 and the revision's start-up time has passed
        (`NETRA_RUN_STARTUP_S`, counted within the start-up timeout, as Cloud Run's
        startup probe); failed when the timeout passes first."""
        url = f"http://{self.host}:{revision.port}/health"
        started = time.monotonic()
        deadline = started + self.startup_timeout_s
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while revision.state == "starting":
                if time.monotonic() > deadline:
                    await self._fail(revision, "did not answer 200 on /health within "
                                     f"{self.startup_timeout_s:g} s" + _startup_note(revision))
                    return
                with contextlib.suppress(httpx.HTTPError):
                    healthy = (await client.get(url)).status_code == 200
                    if healthy and time.monotonic() - started >= revision.startup_s:
                        self._mark_ready(revision)
                        return
                await asyncio.sleep(0.1)

    def _mark_ready(self, revision: Revision) -> None:
        revision.state = "ready"
        revision.ready_at = revision.transitioned_at = rfc3339_now()
        logger.info("revision %s: ready", revision.name)
        self._persist()

    async def _fail(self, revision: Revision, why: str) -> None:
        await self._terminate(revision, final_state="failed")
        self._record_failure(revision, why)

    def _record_failure(self, revision: Revision, why: str) -> None:
        log_tail = tail(self.paths.revision_log(revision.name), _LOG_TAIL_LINES)
        revision.state = "failed"
        revision.transitioned_at = rfc3339_now()
        revision.reason = f"{why}; last lines of its log:\n{log_tail}" if log_tail else why
        logger.warning("revision %s: failed: %s", revision.name, why)
        self._persist()

    async def _watch(self, revision: Revision, process: asyncio.subprocess.Process) -> None:
        """Record a revision process's exit that nobody asked for."""
        code = await process.wait()
        if self._processes.get(revision.name) is not process:
            return  # a revived revision runs a newer process
        if revision.state in ("starting", "ready"):
            phase = "while starting" if revision.state == "starting" else "while serving"
            self._record_failure(revision, f"the process exited with code {code} {phase}")

    async def _terminate(
        self, revision: Revision, *, final_state: RevisionState = "stopped"
    ) -> None:
        self._resume(revision.name)  # a stopped process would not act on SIGTERM
        process = self._processes.get(revision.name)
        if revision.state in ("starting", "ready"):
            revision.state = final_state
            revision.transitioned_at = rfc3339_now()
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        logger.info("revision %s: stopped (exit code %s)", revision.name, process.returncode)
        self._persist()

    def _retire_idle(self) -> None:
        """Stop the oldest ready revisions without traffic beyond `max_idle` (scale to 0)."""
        serving = {t.revision for t in self._traffic}
        idle = [r for r in self._revisions.values() if r.state == "ready"
                and r.name not in serving]
        for revision in idle[: max(len(idle) - self.max_idle, 0)]:
            revision.state = "stopped"
            revision.transitioned_at = rfc3339_now()
            revision.reason = "scaled to zero: no traffic, and newer idle revisions exist"
            task = asyncio.get_running_loop().create_task(self._terminate(revision))
            self._watchers.add(task)
            task.add_done_callback(self._watchers.discard)

    def _persist(self) -> None:
        write_json_atomic(self.record, {
            "service": self.service,
            "platform_pid": os.getpid(),
            "updated_at": rfc3339_now(),
            "generation": self.generation,
            "observed_generation": self.observed_generation,
            "revisions": [r.to_record() for r in self._revisions.values()],
            "traffic": [t.to_dict() for t in self._traffic],
            "traffic_rules": [r.to_dict() for r in self._rules],
        })


async def _stopped(pid: int, timeout_s: float = 1.0) -> None:
    """Wait until the kernel shows the process stopped (a signal is delivered a moment
    after `kill` returns); give up quietly after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        while process.status() != psutil.STATUS_STOPPED and time.monotonic() < deadline:
            await asyncio.sleep(0.002)


def _repository(image: str) -> str:
    """`HOST/PATH/PACKAGE` of an image reference (its tag and digest dropped)."""
    base = image.split("@", 1)[0]
    if ":" in base.rsplit("/", 1)[-1]:
        base = base.rsplit(":", 1)[0]
    return base


def _seconds(value: str | None) -> float:
    """A non-negative number of seconds from an env value (0 when unset or not a number)."""
    try:
        return max(float(value or 0), 0.0)
    except ValueError:
        return 0.0


def _startup_note(revision: Revision) -> str:
    if revision.startup_s <= 0:
        return ""
    return f" (it takes {revision.startup_s:g} s to start: {STARTUP_ENV})"


def _merge(routes: Iterable[tuple[TrafficRule, str]]) -> list[tuple[str, int]]:
    """(revision, percent) with the shares of one revision added up, in first-seen order."""
    merged: dict[str, int] = {}
    for rule, name in routes:
        merged[name] = merged.get(name, 0) + rule.percent
    return list(merged.items())
