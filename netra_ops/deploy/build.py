"""Build the release from one commit (seed 1.2: `deploy_to_gcp_actual.py --build-local
[--use-alpine]`): an image per service, pushed, and named by digest.

    result = deploy.build(env, commit)                       # the plan only
    result = deploy.build(env, commit, execute=True)         # on Cloud Build
    result = deploy.build(env, commit, local=True, alpine=True, execute=True)   # docker here
    deploy.deploy(env, result.image("backend"), execute=True)

The commit is the one preflight checked: by default the head of the release branch in the
checkout `01_preflight` looked at (`[preflight] repository`, fetched there when it is a
URL), resolved to its full sha here, so a later push to the branch cannot slip in. Each
service of `release_images(env)` (`REGISTRY/PACKAGE:TAG`) is built from its Dockerfile
(`dockerfile(role, alpine)`, where Netra's deploy script has them) and pushed under two
tags: the commit's sha and the release tag; the result names each image by the digest
pushed, `REGISTRY/PACKAGE@sha256:...`, which is what a deploy should run (a tag moves).

Two ways, as the seed's script: on Cloud Build (the default) through Google's client, from
the repository's git URL at that commit (on the sandbox: its rehearsal repository), waiting
on the build's operation up to `deadline_s` and cancelling it past that; or locally
(`local=True`) with docker, from exactly the commit's files (`local_build`). Nothing is
built without `execute=True`, and only in an environment that allows changes; without it
the result is the plan. A failed build raises BuildError naming the failed step, with the
last lines of its log.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from netra_ops.cloud import AuditEntry, append_audit
from netra_ops.cloud.cloud_build import (
    BuildRun,
    build_log_tail,
    cancel_build,
    docker_build_step,
    submit_build,
    wait_build,
)
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy.change import refuse_unless_allowed
from netra_ops.deploy.local_build import commit_context, docker_build, docker_push, require_docker
from netra_ops.deploy.release import release_images
from netra_ops.errors import BuildError, ConfigError

__all__ = ["BUILD_MODES", "BuildMode", "BuildResult", "build", "build_release", "dockerfile",
           "resolve_commit"]

BuildMode = Literal["cloud", "local", "none"]
BUILD_MODES: tuple[BuildMode, ...] = ("cloud", "local", "none")
"""How runbook 02 gets the release's images: built on Cloud Build, built here with docker,
or not built (the release images as they are)."""
_SHA = re.compile(r"^[0-9a-f]{40}$")
_LOG_LINES = 20


def dockerfile(role: ServiceRole, alpine: bool = False) -> str:
    """Where a service's Dockerfile is in Netra's repository, as its deploy script has it:
    `dockerfiles/ROLE.staging.alpine.Dockerfile` with `--use-alpine`, else
    `deployment/docker/ROLE.gcp.Dockerfile`."""
    if alpine:
        return f"dockerfiles/{role}.staging.alpine.Dockerfile"
    return f"deployment/docker/{role}.gcp.Dockerfile"


@dataclass(frozen=True)
class BuildResult:
    """What a build did: the commit, the image of each service by digest, where it ran.

    status: `planned` (dry run), `success` (a failed build raises BuildError), or `skipped`
    (nothing to build: mode `none`, or an image was named). `images` is empty unless it
    succeeded; `tags` are the tags each image is (or would be) pushed
    under; `build_id` and `log_url` are Cloud Build's (None for a local build or a plan).
    """

    commit: str
    mode: BuildMode
    status: str
    executed: bool
    images: Mapping[ServiceRole, str]
    tags: Mapping[ServiceRole, tuple[str, ...]]
    dockerfiles: Mapping[ServiceRole, str]
    plan: tuple[str, ...]
    build_id: str | None = None
    log_url: str | None = None
    duration_s: float = 0.0
    audit: AuditEntry | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        """True unless the build was attempted and failed."""
        return self.status in ("planned", "success", "skipped")

    def deploy_image(self, fallback: str) -> str:
        """What a deploy of the backend should run: its image built here, by digest, else
        `fallback` (the release image, for a plan or when nothing was built)."""
        return self.images.get("backend") or fallback

    def records(self) -> dict[str, object]:
        """What a runbook records of the build (commit -> build -> digest per service)."""
        return {"mode": self.mode, "status": self.status, "commit": self.commit,
                "id": self.build_id, "log_url": self.log_url,
                "duration_s": round(self.duration_s, 3),
                "images": {str(role): image for role, image in self.images.items()}}

    def image(self, role: ServiceRole = "backend") -> str:
        """The image built for `role`, by digest (`REGISTRY/PACKAGE@sha256:...`)."""
        try:
            return self.images[role]
        except KeyError:
            what = ("nothing was built (a plan: build with execute=True)" if not self.images
                    else f"it built {', '.join(self.images)}")
            raise BuildError(f"no image of {role} in this build: {what}") from None

    def to_frame(self) -> pd.DataFrame:
        """One row per service: the image by digest (empty for a plan), the tags pushed,
        the Dockerfile, the commit, the build and its status (nothing built: why)."""
        if not self.tags:
            return pd.DataFrame({"status": self.status, "note": list(self.plan)})
        return pd.DataFrame([{"role": role, "image": self.images.get(role, ""),
                              "tags": ", ".join(tags), "dockerfile": self.dockerfiles[role],
                              "commit": self.commit, "mode": self.mode,
                              "build_id": self.build_id or "", "status": self.status}
                             for role, tags in self.tags.items()])


def build(env: Environment, commit: str = "", *, local: bool = False, alpine: bool = False,
          execute: bool = False, deadline_s: float = 1800.0) -> BuildResult:
    """Build every service of the release from `commit` (default: the head of the release
    branch in the preflight checkout) and push it; the images by digest.

    `local`: docker on this machine instead of Cloud Build; `alpine`: the Alpine
    Dockerfiles. Without `execute` nothing is built (the plan; a commit the checkout lacks
    is a line of it, and a ConfigError only when building). BuildError names the failed
    step with the log's last lines; past `deadline_s` the build is cancelled (BuildError).
    """
    try:
        sha, unresolved = resolve_commit(env, commit), None
    except ConfigError as exc:
        if execute:
            raise
        sha, unresolved = commit.strip() or env.preflight.release_branch, str(exc)
    mode: Literal["cloud", "local"] = "local" if local else "cloud"
    targets = release_images(env)
    tags = {role: (f"{_repository(image)}:{sha}", image) for role, image in targets.items()}
    files = {role: dockerfile(role, alpine) for role in targets}
    where = _where(env, mode)
    plan = tuple(f"{role}: docker build -f {files[role]} at {sha[:12]}, push "
                 f"{' and '.join(tags[role])} ({where})" for role in targets)
    if unresolved:
        plan += (f"the commit is not resolved, and a build would refuse it: {unresolved}",)
    if not execute:
        return _finish(env, BuildResult(sha, mode, "planned", False, {}, tags, files, plan))
    refuse_unless_allowed(env, execute, why="a build pushes images (it moves the release tags)")
    started = time.monotonic()
    try:
        if local:
            images, run = _local(env, sha, tags, files, started + deadline_s), None
        else:
            images, run = _cloud(env, sha, tags, files, deadline_s)
    except BuildError as exc:
        _finish(env, BuildResult(sha, mode, "failure", True, {}, tags, files, plan,
                                 exc.build_id, None, time.monotonic() - started), str(exc))
        raise
    return _finish(env, BuildResult(sha, mode, "success", True, images, tags, files, plan,
                                    run.id if run else None, run.log_url if run else None,
                                    time.monotonic() - started))


def build_release(env: Environment, mode: str, commit: str = "", *, alpine: bool = False,
                  image: str = "", execute: bool = False,
                  deadline_s: float = 1800.0) -> BuildResult:
    """Runbook 02's build: `build()` on Cloud Build (`mode` "cloud") or with docker here
    ("local"); nothing for "none" or when `image` names what to deploy (status `skipped`).
    ConfigError for another mode."""
    if mode not in BUILD_MODES:
        raise ConfigError(f"build must be one of {', '.join(BUILD_MODES)}, got {mode!r} "
                          "(-p build=cloud)")
    if mode == "none" or image:
        why = f"image {image} was named" if image else "build = none"
        return BuildResult(commit.strip(), "none", "skipped", False, {}, {}, {},
                           (f"nothing built ({why}): the deploy runs that image",))
    return build(env, commit, local=mode == "local", alpine=alpine, execute=execute,
                 deadline_s=deadline_s)


def resolve_commit(env: Environment, commit: str = "") -> str:
    """The full sha of `commit` (a sha, short or full, or a branch; default: the release
    branch) in the preflight checkout. ConfigError, saying what to do, when it is not
    there."""
    wanted = commit.strip() or env.preflight.release_branch
    repository = env.preflight.repository
    if repository is None or not (repository / ".git").exists():
        if _SHA.match(wanted):
            return wanted
        where = repository or "(none: [preflight] repository is not set)"
        raise ConfigError(f"cannot resolve {wanted!r} to a commit: no checkout of the code at "
                          f"{where}; run 01_preflight first (it fetches the repository), or "
                          "pass the full 40-character commit sha")
    try:
        done = subprocess.run(["git", "-C", str(repository), "rev-parse", "--verify",
                               "--quiet", f"{wanted}^{{commit}}"], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise ConfigError("git is not installed (no `git` on PATH): install it, or pass the "
                          "full 40-character commit sha") from None
    if done.returncode != 0 or wanted.startswith("-"):
        raise ConfigError(f"{wanted!r} is not a commit or branch of {repository}: name one "
                          f"(e.g. the release branch {env.preflight.release_branch}), or run "
                          "01_preflight to fetch the newest commits")
    return done.stdout.strip()


def _cloud(env: Environment, sha: str, tags: Mapping[ServiceRole, tuple[str, ...]],
           files: Mapping[ServiceRole, str],
           deadline_s: float) -> tuple[dict[ServiceRole, str], BuildRun]:
    steps = [docker_build_step(f"build-{role}", tags[role], files[role]) for role in tags]
    images = [tag for role in tags for tag in tags[role]]
    queued, operation = submit_build(env, git_url=_git_url(env), commit=sha, steps=steps,
                                     images=images, timeout_s=deadline_s + 60,
                                     tags=["netra-ops", f"commit-{sha[:12]}"])
    run = wait_build(env, operation, queued, deadline_s)
    if run is None:
        stopped = cancel_build(env, queued.name)
        tail = build_log_tail(env, queued.id, lines=_LOG_LINES)
        raise BuildError(
            f"build {queued.id} of {sha[:12]} did not finish within the deadline of "
            f"{deadline_s:g} s and was cancelled at {stopped.failed_at} (status "
            f"{stopped.status}); its log: {queued.log_url}" + _lines(tail),
            step=stopped.failed_at, build_id=queued.id, log_tail=tail)
    if not run.ok:
        tail = build_log_tail(env, run.id, lines=_LOG_LINES)
        raise BuildError(
            f"build {run.id} of {sha[:12]} ended {run.status} at {run.failed_at}: "
            f"{run.failure or run.status_detail}; its log: {run.log_url}" + _lines(tail),
            step=run.failed_at, log_tail=tail, build_id=run.id)
    return {role: _by_digest(run, role, tags[role][0]) for role in tags}, run


def _lines(tail: tuple[str, ...]) -> str:
    return "\nlast lines of the log:\n" + "\n".join(f"  {line}" for line in tail) if tail else ""


def _by_digest(run: BuildRun, role: ServiceRole, image: str) -> str:
    digest = run.digest_of(image)
    if not digest:
        raise BuildError(f"build {run.id} succeeded but reported no digest for {image} "
                         f"(images: {', '.join(n for n, _ in run.images) or 'none'})",
                         step=f"build-{role}", build_id=run.id)
    return f"{_repository(image)}@{digest}"


def _local(env: Environment, sha: str, tags: Mapping[ServiceRole, tuple[str, ...]],
           files: Mapping[ServiceRole, str], deadline: float) -> dict[ServiceRole, str]:
    docker = require_docker()
    repository = env.preflight.repository
    if repository is None:
        raise ConfigError(f"a local build needs the checkout of the code: set [preflight] "
                          f"repository in {env.source or 'the environment file'}")
    images: dict[ServiceRole, str] = {}
    with commit_context(repository, sha) as context:
        for role in tags:
            docker_build(docker, context, files[role], tags[role], step=f"build-{role}",
                         deadline=deadline)
        for role in tags:
            digests = {docker_push(docker, tag, step=f"push-{role}", deadline=deadline)
                       for tag in tags[role]}
            images[role] = f"{_repository(tags[role][0])}@{sorted(digests)[0]}"
    return images


def _git_url(env: Environment) -> str:
    """The git URL Cloud Build fetches: the preflight remote; on the sandbox, its rehearsal
    repository. ConfigError when there is none."""
    if env.preflight.remote:
        return env.preflight.remote
    repository = env.preflight.repository
    if env.kind == "sandbox" and repository is not None:
        return f"file://{Path(repository).resolve()}"
    raise ConfigError(f"Cloud Build fetches the code from a git URL, and environment "
                      f"{env.name} names a local checkout only: set [preflight] repository = "
                      "the git URL, or build locally with docker (local=True, --build-local)")


def _where(env: Environment, mode: Literal["cloud", "local"]) -> str:
    if mode == "local":
        return "docker on this machine"
    return f"Cloud Build in {env.project} ({env.region})"


def _repository(image: str) -> str:
    """`REGISTRY/PATH/PACKAGE` of an image reference (its tag and digest dropped)."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def _finish(env: Environment, result: BuildResult, error: str | None = None) -> BuildResult:
    entry = append_audit(AuditEntry(
        action="build", environment=env.name, project=env.project,
        service=", ".join(env.services[role].name for role in result.tags),
        executed=result.executed, outcome=result.status, plan=result.plan,
        before={"commit": result.commit, "mode": result.mode},
        after={str(role): image for role, image in result.images.items()}
        if result.executed else None, error=error))
    return replace(result, audit=entry)
