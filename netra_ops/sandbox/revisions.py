"""Backend revisions: one OS process each, created, watched and stopped by the platform.

A revision is what Cloud Run makes of a deploy: an immutable (image, env, limits) with a name
like `netra-backend-staging-00003-kiv`. The manager spawns `python -m netra_ops.sandbox
revision` on a free loopback port with the Cloud Run contract in its environment (`PORT`,
`K_SERVICE`, `K_REVISION`, `K_CONFIGURATION`, `NETRA_SANDBOX_IMAGE`,
`NETRA_SANDBOX_PARENT_PID`, the revision's env vars) and waits for `/health` to answer 200:

    starting --(health 200)--------> ready --(process exits)--------------> failed
    starting --(exit or timeout)---> failed
    ready ----(stopped, or idle and scaled to zero)--------------------------> stopped

Traffic is a list of (revision, percent) over ready revisions summing to 100. A revision
that fails to start never receives traffic: what served before keeps serving. Every change
is written to `revisions.json` (pids and their start times included), so `sandbox down` can
stop revisions even when the platform itself has died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import string
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import psutil

from netra_ops.errors import SandboxError
from netra_ops.sandbox.service_logging import rfc3339_now
from netra_ops.sandbox.state import StatePaths, tail, write_json_atomic

__all__ = [
    "REVISION_COMMAND",
    "Revision",
    "RevisionManager",
    "RevisionState",
    "TrafficTarget",
    "free_port",
    "revision_process_env",
]

RevisionState = Literal["starting", "ready", "failed", "stopped"]
REVISION_COMMAND: tuple[str, ...] = (sys.executable, "-m", "netra_ops.sandbox", "revision")
_INHERITED_PREFIXES_DROPPED = ("NETRA_FAULT_", "NETRA_SANDBOX_", "K_")
_LOG_TAIL_LINES = 20
_STOP_GRACE_S = 5.0
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

    def to_dict(self) -> dict[str, Any]:
        """The admin API's Revision object (docs/sandbox-internals.md)."""
        return {
            "name": self.name, "image": self.image, "env": dict(self.env),
            "state": self.state, "reason": self.reason, "pid": self.pid, "port": self.port,
            "created": self.created, "ready_at": self.ready_at,
            "memory_limit": self.memory_limit, "cpu_limit": self.cpu_limit,
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
        "K_CONFIGURATION": service, "NETRA_SANDBOX_IMAGE": revision.image,
        "NETRA_SANDBOX_PARENT_PID": str(parent_pid), "PYTHONUNBUFFERED": "1",
    })
    return env


class RevisionManager:
    """Creates revision processes, moves traffic between them, and records both."""

    def __init__(
        self,
        *,
        service: str,
        paths: StatePaths,
        base_env: Mapping[str, str],
        host: str = "127.0.0.1",
        memory_limit: str = "512Mi",
        cpu_limit: str = "1",
        startup_timeout_s: float = 30.0,
        command: Sequence[str] = REVISION_COMMAND,
        max_idle: int = 3,
    ) -> None:
        self.service = service
        self.paths = paths
        self.base_env = dict(base_env)
        self.host = host
        self.memory_limit = memory_limit
        self.cpu_limit = cpu_limit
        self.startup_timeout_s = startup_timeout_s
        self.command = tuple(command)
        self.max_idle = max_idle
        self._revisions: dict[str, Revision] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._watchers: set[asyncio.Task[None]] = set()
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
        self, image: str, env: Mapping[str, str], *, traffic: bool = True
    ) -> Revision:
        """Start a revision and wait until it is ready or failed; moves traffic if asked.

        A failed revision is returned (state "failed", reason with its log tail), not raised:
        a bad deploy is an outcome to report, and traffic stays where it was.
        """
        if self._closing:
            raise SandboxError("the platform is stopping; no new revision can be created")
        revision = self._new_revision(image, env)
        self._revisions[revision.name] = revision
        await self._spawn(revision)
        await self._wait_ready(revision)
        if revision.state == "ready" and traffic:
            self.set_traffic([TrafficTarget(revision.name, 100)])
        else:
            self._persist()
        return revision

    def set_traffic(self, targets: Iterable[TrafficTarget]) -> None:
        """Replace the traffic split; SandboxError explains what is invalid."""
        split = tuple(t for t in targets if t.percent != 0)
        self._validate(split)
        self._traffic = split
        logger.info("traffic: %s", ", ".join(f"{t.revision}={t.percent}%" for t in split))
        self._retire_idle()
        self._persist()

    async def stop(self, name: str) -> None:
        """Stop one revision's process (it keeps its record, state "stopped")."""
        revision = self.get(name)
        if any(t.revision == name for t in self._traffic):
            raise SandboxError(f"revision {name} still receives traffic; move it away first")
        await self._terminate(revision)

    async def stop_all(self) -> None:
        """Stop every revision process (platform shutdown)."""
        self._closing = True
        await asyncio.gather(*(self._terminate(r) for r in self.revisions))
        for task in list(self._watchers):
            task.cancel()
        self._persist()

    def _new_revision(self, image: str, env: Mapping[str, str]) -> Revision:
        self._sequence += 1
        suffix = "".join(random.choices(string.ascii_lowercase, k=3))
        return Revision(
            name=f"{self.service}-{self._sequence:05d}-{suffix}", image=image, env=dict(env),
            memory_limit=self.memory_limit, cpu_limit=self.cpu_limit,
        )

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
        url = f"http://{self.host}:{revision.port}/health"
        deadline = time.monotonic() + self.startup_timeout_s
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while revision.state == "starting":
                if time.monotonic() > deadline:
                    await self._fail(revision, "did not answer 200 on /health within "
                                     f"{self.startup_timeout_s:g} s")
                    return
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        self._mark_ready(revision)
                        return
                await asyncio.sleep(0.1)

    def _mark_ready(self, revision: Revision) -> None:
        revision.state = "ready"
        revision.ready_at = rfc3339_now()
        logger.info("revision %s: ready", revision.name)
        self._persist()

    async def _fail(self, revision: Revision, why: str) -> None:
        await self._terminate(revision, final_state="failed")
        self._record_failure(revision, why)

    def _record_failure(self, revision: Revision, why: str) -> None:
        log_tail = tail(self.paths.revision_log(revision.name), _LOG_TAIL_LINES)
        revision.state = "failed"
        revision.reason = f"{why}; last lines of its log:\n{log_tail}" if log_tail else why
        logger.warning("revision %s: failed: %s", revision.name, why)
        self._persist()

    async def _watch(self, revision: Revision, process: asyncio.subprocess.Process) -> None:
        """Record a revision process's exit that nobody asked for."""
        code = await process.wait()
        if revision.state in ("starting", "ready"):
            phase = "while starting" if revision.state == "starting" else "while serving"
            self._record_failure(revision, f"the process exited with code {code} {phase}")

    async def _terminate(
        self, revision: Revision, *, final_state: RevisionState = "stopped"
    ) -> None:
        process = self._processes.get(revision.name)
        if revision.state in ("starting", "ready"):
            revision.state = final_state
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

    def _validate(self, split: Sequence[TrafficTarget]) -> None:
        if not split:
            raise SandboxError("traffic must name at least one revision with a percent > 0")
        names = [t.revision for t in split]
        if len(set(names)) != len(names):
            raise SandboxError(f"traffic names a revision twice: {', '.join(names)}")
        for target in split:
            if not 0 < target.percent <= 100:
                raise SandboxError(
                    f"traffic percent for {target.revision} must be 0-100, got {target.percent}"
                )
            state = self.get(target.revision).state
            if state != "ready":
                raise SandboxError(
                    f"revision {target.revision} is {state}; only ready revisions can serve"
                )
        total = sum(t.percent for t in split)
        if total != 100:
            raise SandboxError(f"traffic percents must sum to 100, got {total}")

    def _retire_idle(self) -> None:
        """Stop the oldest ready revisions without traffic beyond `max_idle` (scale to 0)."""
        serving = {t.revision for t in self._traffic}
        idle = [r for r in self._revisions.values() if r.state == "ready"
                and r.name not in serving]
        for revision in idle[: max(len(idle) - self.max_idle, 0)]:
            revision.state = "stopped"
            revision.reason = "scaled to zero: no traffic, and newer idle revisions exist"
            task = asyncio.get_running_loop().create_task(self._terminate(revision))
            self._watchers.add(task)
            task.add_done_callback(self._watchers.discard)

    def _persist(self) -> None:
        write_json_atomic(self.paths.revisions_json, {
            "service": self.service,
            "platform_pid": os.getpid(),
            "updated_at": rfc3339_now(),
            "revisions": [r.to_record() for r in self._revisions.values()],
            "traffic": [t.to_dict() for t in self._traffic],
        })
