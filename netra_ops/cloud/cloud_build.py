"""Cloud Build through Google's own client: submit a build, wait on it, read it back.

`submit_build` sends `builds.create` (a long-running operation) for a git source at one
commit, `wait_build` waits on the operation up to a deadline, `get_build` / `cancel_build`
read or stop a build by its resource name, and `build_log_tail` reads the last lines of its
log from Cloud Logging (`logName: projects/P/logs/cloudbuild`, resource `build`). What they
return is `BuildRun`, the read model of a Build: status, steps, the images pushed (name +
digest), the log URL and how it failed. Builds run in the environment's region (`parent =
projects/P/locations/REGION`), as `gcloud builds submit --region` does.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.api_core import exceptions as gexc
from google.api_core.future.polling import DEFAULT_POLLING

from netra_ops.cloud.clients import api_errors, builds_client, logging_client
from netra_ops.config import Environment
from netra_ops.errors import ApiUnreachableError

# Cloud Build's types are imported where a build is made or read (0.1 s of CPU, and the
# protobuf runtime with them): a runbook that builds nothing goes without them.
if TYPE_CHECKING:
    from google.api_core import operation as gop
    from google.cloud.devtools import cloudbuild_v1

__all__ = [
    "DOCKER_BUILDER",
    "BuildRun",
    "BuildStepRun",
    "build_log_tail",
    "cancel_build",
    "docker_build_step",
    "get_build",
    "read_build",
    "submit_build",
    "wait_build",
]

DOCKER_BUILDER = "gcr.io/cloud-builders/docker"
_POLLING = DEFAULT_POLLING.with_delay(initial=0.1, maximum=2.0, multiplier=1.5)
_FINAL_LINES = ("DONE", "ERROR", "CANCELLED", "TIMEOUT")


@dataclass(frozen=True)
class BuildStepRun:
    """One step of a build: its id (or `#N`), status and arguments."""

    id: str
    status: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class BuildRun:
    """A Cloud Build build as read back: status (`QUEUED`, `WORKING`, `SUCCESS`, `FAILURE`,
    `TIMEOUT`, `CANCELLED`, ...), its steps, the images pushed `(name, digest)`, the log URL,
    the commit built (when Cloud Build resolved it) and the failure's words."""

    id: str
    name: str
    status: str
    status_detail: str
    log_url: str
    images: tuple[tuple[str, str], ...]
    steps: tuple[BuildStepRun, ...]
    failure: str | None
    commit: str | None
    duration_s: float | None
    failure_type: str | None = None

    @property
    def done(self) -> bool:
        """Whether the build has ended (any way)."""
        return self.status not in ("STATUS_UNKNOWN", "PENDING", "QUEUED", "WORKING")

    @property
    def ok(self) -> bool:
        """Whether it ended in SUCCESS."""
        return self.status == "SUCCESS"

    @property
    def failed_step(self) -> BuildStepRun | None:
        """The step that failed, or the one still running when the build was stopped."""
        ended = [s for s in self.steps if s.status in ("FAILURE", "TIMEOUT", "CANCELLED",
                                                       "INTERNAL_ERROR")]
        running = [s for s in self.steps if s.status == "WORKING"]
        return next(iter(ended or running), None)

    @property
    def failed_at(self) -> str:
        """Where it failed or stopped: the step's id, else `fetch source` (before any step)
        or `push` (after them)."""
        step = self.failed_step
        if step is not None:
            return step.id
        started = any(s.status not in ("STATUS_UNKNOWN", "QUEUED", "PENDING")
                      for s in self.steps)
        if self.failure_type == "FETCH_SOURCE_FAILED" or not started:
            return "fetch source"
        return "push"

    def digest_of(self, image: str) -> str | None:
        """The digest pushed for `image` (a name of the build's `images`)."""
        return next((digest for name, digest in self.images if name == image), None)


def read_build(build: cloudbuild_v1.Build) -> BuildRun:
    """The read model of a Build message."""
    from google.cloud.devtools import cloudbuild_v1

    status = cloudbuild_v1.Build.Status
    duration = None
    if build.start_time and build.finish_time:
        duration = (build.finish_time - build.start_time).total_seconds()
    steps = tuple(BuildStepRun(step.id or f"#{n}", _status(step.status), tuple(step.args))
                  for n, step in enumerate(build.steps))
    resolved = build.source_provenance.resolved_git_source.revision
    failure = build.failure_info.detail or (build.status_detail if build.status not in (
        status.SUCCESS, status.QUEUED, status.WORKING) else "") or None
    kind = build.failure_info.type_
    return BuildRun(build.id, build.name, _status(build.status), build.status_detail,
                    build.log_url, tuple((i.name, i.digest) for i in build.results.images),
                    steps, failure, resolved or None, duration,
                    kind.name if kind else None)


def docker_build_step(step_id: str, tags: Sequence[str], dockerfile: str,
                      context: str = ".") -> cloudbuild_v1.BuildStep:
    """`docker build -t TAG ... -f DOCKERFILE --platform linux/amd64 CONTEXT` on Cloud
    Build's docker builder (Cloud Run runs linux/amd64)."""
    from google.cloud.devtools import cloudbuild_v1

    args = ["build", *[a for tag in tags for a in ("-t", tag)], "-f", dockerfile,
            "--platform", "linux/amd64", context]
    return cloudbuild_v1.BuildStep(name=DOCKER_BUILDER, id=step_id, args=args)


def submit_build(env: Environment, *, git_url: str, commit: str,
                 steps: Sequence[cloudbuild_v1.BuildStep], images: Sequence[str],
                 timeout_s: float, tags: Sequence[str] = ()) -> tuple[BuildRun, gop.Operation]:
    """Start a build of `commit` of `git_url` (`builds.create`); the build as queued and its
    long-running operation."""
    from google.cloud.devtools import cloudbuild_v1
    from google.protobuf import duration_pb2

    build = cloudbuild_v1.Build(
        source=cloudbuild_v1.Source(git_source=cloudbuild_v1.GitSource(url=git_url,
                                                                       revision=commit)),
        steps=list(steps), images=list(images), tags=list(tags),
        timeout=duration_pb2.Duration(seconds=max(1, int(timeout_s))))
    client = builds_client(env)
    with api_errors(env, "starting the build"):
        operation = client.create_build(project_id=env.project, build=build,
                                        parent=f"projects/{env.project}/locations/{env.region}")
    metadata = operation.metadata
    assert isinstance(metadata, cloudbuild_v1.BuildOperationMetadata)
    return read_build(metadata.build), operation


def wait_build(env: Environment, operation: gop.Operation, queued: BuildRun,
               deadline_s: float) -> BuildRun | None:
    """Wait for the build to end, up to `deadline_s`; the build as it ended, or None when the
    deadline passed first (it is still running: cancel it)."""
    from google.cloud.devtools import cloudbuild_v1

    with api_errors(env, "waiting for the build"):
        try:
            done = operation.result(timeout=deadline_s, polling=_POLLING)
        except concurrent.futures.TimeoutError:
            return None
        except gexc.GoogleAPICallError:
            return get_build(env, queued.name)  # failed, timed out, cancelled: read why
    assert isinstance(done, cloudbuild_v1.Build)
    return read_build(done)


def get_build(env: Environment, name: str) -> BuildRun:
    """The build of resource name `name` (`projects/P/locations/L/builds/ID`)."""
    with api_errors(env, "reading the build"):
        return read_build(builds_client(env).get_build(name=name))


def cancel_build(env: Environment, name: str, *, wait_s: float = 10.0) -> BuildRun:
    """Cancel the build of resource name `name`; the build once it has ended (CANCELLED,
    or how it ended first), or as it is after `wait_s`."""
    with api_errors(env, "cancelling the build"):
        run = read_build(builds_client(env).cancel_build(name=name))
    deadline = time.monotonic() + wait_s
    while not run.done and time.monotonic() < deadline:
        time.sleep(0.2)
        run = get_build(env, name)
    return run


def build_log_tail(env: Environment, build_id: str, *, lines: int = 20,
                   wait_s: float = 15.0) -> tuple[str, ...]:
    """The last `lines` lines of a build's log in Cloud Logging, oldest first. Logging shows
    entries a few seconds late: this waits (up to `wait_s`) until the build's last line
    (`DONE`, `ERROR...`) is there. When Logging cannot be read, one line says why (the
    build's failure is what matters)."""
    client = logging_client(env)
    query = f'resource.type="build" AND resource.labels.build_id="{build_id}"'
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with api_errors(env, "reading the build's log"):
                entries = list(client.list_entries(
                    resource_names=[f"projects/{env.project}"], filter_=query,
                    order_by="timestamp desc", page_size=lines, max_results=lines))
        except (gexc.GoogleAPICallError, ApiUnreachableError) as exc:
            return (f"(the build's log could not be read from Cloud Logging: {exc})",)
        texts = tuple(str(entry.payload) for entry in reversed(entries))
        if (texts and texts[-1].startswith(_FINAL_LINES)) or time.monotonic() >= deadline:
            return texts
        time.sleep(0.5)


def _status(value: int) -> str:
    from google.cloud.devtools import cloudbuild_v1

    return cloudbuild_v1.Build.Status(value).name
