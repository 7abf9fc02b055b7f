"""How the sandbox runs a Cloud Run job's task: the netra-ops image's entrypoint, locally.

A Cloud Run job runs its container image once per task. The sandbox has no container
runtime; the one image it can run is netra-ops' own (`.../netra-ops:TAG` or `@sha256:...`,
whose entrypoint is the `netra-ops` command, see the Dockerfile at the repository's root):
a task is that command line, run as a subprocess with this installation's `netra-ops`, in a
fresh working folder (as a fresh container), in its own session (so a signal to the sandbox
does not reach it, and stopping it stops its kernels too).

Its environment is what a container gets: the container's `env` (a `valueSource.secretKeyRef`
read from the sandbox's Secret Manager stand-in, `<state_dir>/secrets/secret-manager/SECRET`,
written with `PUT /_sandbox/secrets/SECRET`), Cloud Run's `CLOUD_RUN_JOB`,
`CLOUD_RUN_EXECUTION`, `CLOUD_RUN_TASK_INDEX`, `CLOUD_RUN_TASK_ATTEMPT` and
`CLOUD_RUN_TASK_COUNT`, and from this machine only what an image itself provides (PATH,
HOME, locale, temporary and Jupyter folders), never the sandbox's own configuration. What a
fresh container starts without, a task starts without too: the staging folder of a records
bucket (`NETRA_OPS_STAGING`) is one of the task's own, under its working folder, not this
machine's `~/.cache`. The bucket itself is reached as on Google: the records location in
the container's env (`NETRA_OPS_OUTPUTS`), the endpoint in the `--env` file it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netra_ops.errors import SandboxError

__all__ = ["IMAGE_NAME", "TaskSpec", "container_env", "local_command", "run_task", "secret_path"]

IMAGE_NAME = "netra-ops"
"""The repository name of the only image the sandbox runs (`REGISTRY/PATH/netra-ops:TAG`)."""

_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONDONTWRITEBYTECODE",
                   "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "JUPYTER_RUNTIME_DIR",
                   "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR", "MPLCONFIGDIR")
_STAGING_ENV = "NETRA_OPS_STAGING"  # netra_ops.record.bucket's (the sandbox imports no record)
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class TaskSpec:
    """One task to run: its command line, environment, working folder, log and time limit."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    workdir: Path
    log: Path
    timeout_s: float


def local_command(image: str, command: Sequence[str], args: Sequence[str]) -> list[str]:
    """The local command line of a container of `image` (entrypoint `netra-ops`, or the
    container's `command` when it names netra-ops); SandboxError for any other image."""
    if _repository_name(image) != IMAGE_NAME:
        raise SandboxError(f"Image '{image}' not found: the sandbox runs only the netra-ops "
                           f"image (REGISTRY/PATH/{IMAGE_NAME}:TAG), as its jobs' command")
    if command and Path(command[0]).name != "netra-ops":
        raise SandboxError(f"container command {command[0]!r}: the sandbox runs the image's "
                           "entrypoint (netra-ops) only; leave command empty")
    script = Path(sys.executable).with_name("netra-ops")
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "netra_ops"]
    return [*entry, *list(command[1:]), *args]


def _repository_name(image: str) -> str:
    path = image.strip().split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def secret_path(secrets_dir: Path, secret: str) -> Path:
    """Where the sandbox keeps Secret Manager secret `secret` (its latest version)."""
    if not _SECRET_ID.fullmatch(secret):
        raise SandboxError(f"secret id {secret!r} is not valid: letters, digits, '-' and '_', "
                           "at most 255")
    return secrets_dir / "secret-manager" / secret


def container_env(own: Mapping[str, str], cloud_run: Mapping[str, str],
                  workdir: Path) -> dict[str, str]:
    """A task's environment: the image's basics from this machine and a staging folder in
    `workdir` (the task's own), then Cloud Run's variables, then the container's own (which
    win, as on Cloud Run)."""
    base = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    base[_STAGING_ENV] = str(workdir / ".cache" / "netra-ops" / "records")
    return {**base, **cloud_run, **own}


async def run_task(spec: TaskSpec) -> int:
    """Run the task to its end; its exit code. Past `timeout_s`, or when cancelled, it is
    sent SIGTERM (then SIGKILL after 10 s), as Cloud Run stops a container: a timeout
    answers 124 (`timeout`'s code), a cancellation re-raises."""
    spec.workdir.mkdir(parents=True, exist_ok=True)
    spec.log.parent.mkdir(parents=True, exist_ok=True)
    with spec.log.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *spec.argv, cwd=spec.workdir, env=dict(spec.env), stdin=asyncio.subprocess.DEVNULL,
            stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        return await asyncio.wait_for(process.wait(), spec.timeout_s)
    except TimeoutError:
        await _stop(process)
        return 124
    except asyncio.CancelledError:
        await asyncio.shield(_stop(process))
        raise


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the task's process group, SIGKILL after the grace period."""
    for sig, wait_s in ((signal.SIGTERM, _STOP_GRACE_S), (signal.SIGKILL, _STOP_GRACE_S)):
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), wait_s)
