"""What a Cloud Build step does in the sandbox: `docker build` of a commit of the rehearsal
repository, emulated.

The sandbox has no container runtime, so a `gcr.io/cloud-builders/docker build -t TAG -f
DOCKERFILE .` step reads the Dockerfile from the commit (`SourceTree`, through git) and goes
through its instructions as Docker's classic builder does, printing what it prints
(`Step 3/8 : COPY requirements.txt .`, ` ---> 1a2b3c4d5e6f`, `Successfully tagged ...`). What
the sandbox can check, it checks as Docker would: the Dockerfile exists, every instruction is
one Docker knows, and every COPY / ADD source exists in the commit (else `COPY failed: file
not found in build context ...`, and the step exits 1). RUN commands are not run: they are
printed, with their layer.

The image's identity is deterministic: its id is a hash of the commit, the Dockerfile and
the tags, so the same build of the same commit is the same image.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from netra_ops.errors import SandboxError

__all__ = [
    "DOCKER_BUILDER",
    "DockerBuild",
    "SourceTree",
    "StepFailed",
    "docker_build_lines",
    "parse_docker_args",
]

DOCKER_BUILDER = "gcr.io/cloud-builders/docker"
_INSTRUCTIONS = {"FROM", "WORKDIR", "COPY", "ADD", "RUN", "ENV", "CMD", "ENTRYPOINT",
                 "EXPOSE", "LABEL", "ARG", "USER", "VOLUME", "HEALTHCHECK", "SHELL",
                 "STOPSIGNAL", "ONBUILD", "MAINTAINER"}
_LAYERED = {"RUN", "COPY", "ADD", "WORKDIR"}


class StepFailed(SandboxError):
    """A build step exited non-zero; its last output lines say why."""

    def __init__(self, message: str, lines: Sequence[str] = (), exit_code: int = 1) -> None:
        super().__init__(message)
        self.lines = tuple(lines)
        self.exit_code = exit_code


@dataclass(frozen=True)
class SourceTree:
    """One commit of a git repository, read through git (never checked out)."""

    repository: Path
    commit: str

    @classmethod
    def resolve(cls, repository: Path, revision: str) -> SourceTree | None:
        """The commit `revision` names in `repository` (a sha, a branch); None if none."""
        if not revision.strip() or revision.startswith("-"):
            return None
        done = _git(repository, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        return cls(repository, done.stdout.strip()) if done.returncode == 0 else None

    def kind(self, path: str) -> str | None:
        """`blob`, `tree`, or None when the commit has no such path."""
        clean = path.strip().strip("/").removeprefix("./") or "."
        if clean == ".":
            return "tree"
        done = _git(self.repository, "cat-file", "-t", f"{self.commit}:{clean}")
        return done.stdout.strip() if done.returncode == 0 else None

    def read(self, path: str) -> str | None:
        """A file's text at this commit; None when the commit has no such file."""
        done = _git(self.repository, "show", f"{self.commit}:{path.strip().lstrip('/')}")
        return done.stdout if done.returncode == 0 else None

    def size_kb(self) -> float:
        """The size of the commit's files, in kB (Docker's "build context")."""
        done = _git(self.repository, "ls-tree", "-r", "-l", self.commit)
        sizes = [int(line.split()[3]) for line in done.stdout.splitlines()
                 if len(line.split()) > 4 and line.split()[3].isdigit()]
        return sum(sizes) / 1000


@dataclass(frozen=True)
class DockerBuild:
    """The arguments of a `docker build` step: tags, Dockerfile, context."""

    tags: tuple[str, ...]
    dockerfile: str
    context: str


def parse_docker_args(args: Sequence[str]) -> DockerBuild:
    """`build -t TAG [-t TAG ...] [-f FILE] [--platform P] [--build-arg K=V] CONTEXT`;
    SandboxError naming what the sandbox does not emulate."""
    if not args or args[0] != "build":
        raise SandboxError(f"the sandbox emulates `docker build` steps only, not docker "
                           f"{' '.join(args[:1]) or '(no arguments)'}")
    tags: list[str] = []
    dockerfile, context = "Dockerfile", None
    rest = list(args[1:])
    while rest:
        arg = rest.pop(0)
        if arg in ("-t", "--tag", "-f", "--file", "--platform", "--build-arg"):
            if not rest:
                raise SandboxError(f"docker build: {arg} needs a value")
            value = rest.pop(0)
            if arg in ("-t", "--tag"):
                tags.append(value)
            elif arg in ("-f", "--file"):
                dockerfile = value
        elif arg.startswith("-"):
            raise SandboxError(f"docker build option {arg} is not emulated by the sandbox")
        elif context is None:
            context = arg
        else:
            raise SandboxError(f"docker build takes one context, got {context!r} and {arg!r}")
    if context is None or not tags:
        raise SandboxError("docker build needs at least one -t TAG and a context (\".\")")
    return DockerBuild(tuple(tags), dockerfile, context)


def docker_build_lines(tree: SourceTree, build: DockerBuild) -> Iterator[str]:
    """The output of `docker build`, line by line, as the classic builder prints it; raises
    StepFailed (after yielding what was printed) where Docker would stop."""
    base = build.context.strip().rstrip("/").removeprefix("./")
    prefix = "" if base in ("", ".") else base + "/"
    text = tree.read(prefix + build.dockerfile)
    if text is None:
        raise StepFailed(f"unable to prepare context: unable to evaluate symlinks in "
                         f"Dockerfile path: lstat /workspace/{prefix}{build.dockerfile}: no "
                         "such file or directory")
    instructions = _instructions(text)
    yield f"Sending build context to Docker daemon  {tree.size_kb():.2f}kB"
    image = hashlib.sha256(f"{tree.commit}/{build.dockerfile}".encode()).hexdigest()
    for number, (keyword, rest) in enumerate(instructions, start=1):
        yield f"Step {number}/{len(instructions)} : {keyword} {rest}"
        if keyword not in _INSTRUCTIONS:
            raise StepFailed(f"Unknown instruction: {keyword}")
        if keyword in ("COPY", "ADD"):
            _check_sources(tree, prefix, keyword, rest)
        layer = hashlib.sha256(f"{image}/{number}".encode()).hexdigest()[:12]
        if keyword in _LAYERED and number > 1:
            yield f" ---> Running in {layer[::-1]}" if keyword == "RUN" else f" ---> {layer}"
        if keyword == "FROM":
            yield f" ---> {layer}"
    yield f"Successfully built {image[:12]}"
    for tag in build.tags:
        yield f"Successfully tagged {tag}"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) per instruction; continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending.strip())
    return [(first.upper(), rest.strip()) for first, _, rest in
            (line.partition(" ") for line in joined)]


def _check_sources(tree: SourceTree, prefix: str, keyword: str, rest: str) -> None:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise StepFailed(f"{keyword} {rest}: {exc}") from None
    if any(w.startswith("--from") for w in words):
        return  # from another stage of the build, not from the context
    parts = [w for w in words if not w.startswith("--")]
    if parts and parts[0].startswith("["):
        return  # JSON form: not emulated, accepted
    if len(parts) < 2:
        raise StepFailed(f"{keyword} requires at least two arguments, but only one was "
                         "provided")
    for source in parts[:-1]:
        if tree.kind(prefix + source) is None:
            raise StepFailed(f"{keyword} failed: file not found in build context or excluded "
                             f"by .dockerignore: stat {source.rstrip('/')}: file does not "
                             "exist")


def _git(repository: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repository), *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
