"""Build the release on this machine with docker (the seed's `--build-local`): `docker
build`, then `docker push`, the digest read back from docker.

The source is exactly the commit: `git archive` of it, unpacked into a temporary folder that
is the build context, so neither uncommitted changes nor another checked-out branch get into
the image. Each image is built for Cloud Run's platform (`--platform linux/amd64`), tagged
with every tag asked for, then each tag pushed; the digest is the one `docker push` prints
(`TAG: digest: sha256:... size: N`), else `docker inspect`'s first RepoDigest.

Before anything, `require_docker` checks that the `docker` command exists and that a daemon
answers (`docker version`), and says what to do when not (DockerUnavailableError).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from netra_ops.errors import BuildError, DockerUnavailableError

__all__ = ["commit_context", "docker_build", "docker_push", "require_docker"]

_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_TAIL = 20
_USE_CLOUD = "build on Cloud Build instead (build='cloud'; without --build-local)"
_NO_DOCKER = (f"{_USE_CLOUD}, or install Docker (https://docs.docker.com/engine/install/) and "
              "run again")


def require_docker() -> str:
    """The `docker` executable; DockerUnavailableError when it is missing or no daemon
    answers, saying what to do."""
    docker = shutil.which("docker")
    if docker is None:
        raise DockerUnavailableError(f"a local build needs docker, and there is no `docker` "
                                     f"on PATH: {_NO_DOCKER}")
    try:
        done = subprocess.run([docker, "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise DockerUnavailableError(f"{docker} version did not answer in 30 s: is the daemon "
                                     f"stuck? Restart it, or {_NO_DOCKER}") from None
    if done.returncode != 0 or not done.stdout.strip():
        said = _last_line(done.stderr) or f"exit {done.returncode}"
        raise DockerUnavailableError(
            f"docker is installed ({docker}) but no daemon answers ({said}): start it "
            "(`sudo systemctl start docker`, or open Docker Desktop) or point DOCKER_HOST at "
            f"one; or {_USE_CLOUD}", log_tail=_tail(done.stderr))
    return docker


@contextmanager
def commit_context(repository: Path, commit: str) -> Iterator[Path]:
    """A temporary folder holding exactly `commit`'s files (`git archive`), removed after."""
    archive = subprocess.run(["git", "-C", str(repository), "archive", "--format=tar", commit],
                             capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
                             check=False)
    if archive.returncode != 0:
        raise BuildError(f"git archive of {commit} in {repository} failed: "
                         f"{_last_line(archive.stderr.decode(errors='replace'))}",
                         step="source")
    with tempfile.TemporaryDirectory(prefix="netra-build-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


def docker_build(docker: str, context: Path, dockerfile: str, tags: Sequence[str], *,
                 step: str, deadline: float) -> tuple[str, ...]:
    """`docker build -t TAG ... -f DOCKERFILE --platform linux/amd64 .` in `context`; its
    output lines. BuildError (naming `step`, with the output's last lines) if it fails or
    runs past `deadline` (a `time.monotonic()` value)."""
    args = [docker, "build", *[a for tag in tags for a in ("-t", tag)], "-f", dockerfile,
            "--platform", "linux/amd64", "."]
    return _run(args, context, step=step, deadline=deadline, doing=f"docker build of {step}")


def docker_push(docker: str, tag: str, *, step: str, deadline: float) -> str:
    """`docker push TAG`; the digest (`sha256:...`) pushed."""
    lines = _run([docker, "push", tag], None, step=step, deadline=deadline,
                 doing=f"docker push {tag}")
    for line in reversed(lines):
        found = _DIGEST.search(line)
        if found:
            return found.group(1)
    inspected = _run([docker, "inspect", "--format", "{{index .RepoDigests 0}}", tag], None,
                     step=step, deadline=deadline, doing=f"docker inspect {tag}")
    digest = inspected[-1].partition("@")[2] if inspected else ""
    if not digest.startswith("sha256:"):
        raise BuildError(f"docker pushed {tag} but reported no digest (push said: "
                         f"{' / '.join(lines[-3:]) or 'nothing'})", step=step,
                         log_tail=lines[-_TAIL:])
    return digest


def _run(args: list[str], cwd: Path | None, *, step: str, deadline: float,
         doing: str) -> tuple[str, ...]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise BuildError(f"the build ran past its deadline before {doing}", step=step)
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=left,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode()
        raise BuildError(f"{doing} did not finish within the build's deadline ({left:.0f} s "
                         "left); it was stopped", step=step, log_tail=_tail(output)) from None
    lines = tuple((done.stdout + done.stderr).splitlines())
    if done.returncode != 0:
        raise BuildError(f"{doing} failed (exit {done.returncode}): "
                         f"{_last_line(done.stderr or done.stdout)}", step=step,
                         log_tail=lines[-_TAIL:])
    return lines


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _tail(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines()[-_TAIL:])
