"""The pieces of the emulated Cloud Build that need no running sandbox: the rehearsal
repository's Dockerfiles and branches, the emulated `docker build`, the registry's labels,
and how a revision learns which build its image is."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from netra_ops.errors import ConfigError, SandboxError
from netra_ops.sandbox.control.scenarios import get_scenario
from netra_ops.sandbox.google.build_steps import (
    SourceTree,
    StepFailed,
    docker_build_lines,
    parse_docker_args,
)
from netra_ops.sandbox.google.registry import Registry
from netra_ops.sandbox.services.backend_settings import BUILD_ENV, BackendSettings
from netra_ops.sandbox.services.rehearsal_repo import (
    BROKEN_BUILD_BRANCH,
    DOCKERFILES,
    EXECUTION_CONTEXT,
    backend_build_of,
    ensure_rehearsal_repo,
)

IMAGE = "us-central1-docker.pkg.dev/netra-sandbox/netra/netra-backend"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_rehearsal_repo(tmp_path_factory.mktemp("rehearsal") / "netra-repo")


def tree(repo: Path, revision: str) -> SourceTree:
    found = SourceTree.resolve(repo, revision)
    assert found is not None
    return found


def test_every_commit_has_the_dockerfiles_and_the_code_tells_the_build(repo: Path) -> None:
    for branch in ("main", "develop-long-lived", BROKEN_BUILD_BRANCH):
        source = tree(repo, branch)
        assert all(source.kind(path) == "blob" for path in DOCKERFILES.values()), branch
    assert backend_build_of(tree(repo, "main").read(EXECUTION_CONTEXT) or "") == "stale"
    assert backend_build_of(tree(repo, "develop-long-lived").read(EXECUTION_CONTEXT)
                            or "") == "fixed"
    assert SourceTree.resolve(repo, "no-such-branch") is None
    assert SourceTree.resolve(repo, "--all") is None


def test_a_repository_made_before_the_dockerfiles_is_made_again(tmp_path: Path) -> None:
    old = tmp_path / "netra-repo"
    old.mkdir()
    subprocess.run(["git", "init", "-q", str(old)], check=True)
    ensure_rehearsal_repo(old)
    assert tree(old, "develop-long-lived").kind(DOCKERFILES["backend", True]) == "blob"


def test_docker_build_goes_through_the_dockerfile_as_docker_does(repo: Path) -> None:
    build = parse_docker_args(["build", "-t", f"{IMAGE}:a", "-t", f"{IMAGE}:b", "-f",
                               DOCKERFILES["backend", True], "--platform", "linux/amd64", "."])
    assert build.tags == (f"{IMAGE}:a", f"{IMAGE}:b") and build.context == "."
    lines = list(docker_build_lines(tree(repo, "develop-long-lived"), build))
    assert lines[0].startswith("Sending build context to Docker daemon")
    assert "Step 1/8 : FROM python:3.11-alpine" in lines
    assert lines[-2:] == [f"Successfully tagged {IMAGE}:a", f"Successfully tagged {IMAGE}:b"]


def test_a_copy_of_a_file_the_commit_lacks_fails_the_step(repo: Path) -> None:
    build = parse_docker_args(["build", "-t", f"{IMAGE}:x", "-f",
                               DOCKERFILES["backend", False], "."])
    printed: list[str] = []
    with pytest.raises(StepFailed, match="COPY failed: file not found in build context"):
        printed.extend(docker_build_lines(tree(repo, BROKEN_BUILD_BRANCH), build))
    assert printed[-1].startswith("Step 3/8 : COPY dockerfiles/requirements/")
    missing = parse_docker_args(["build", "-t", f"{IMAGE}:x", "-f", "nope.Dockerfile", "."])
    with pytest.raises(StepFailed, match=r"nope\.Dockerfile: no such file"):
        list(docker_build_lines(tree(repo, "main"), missing))


@pytest.mark.parametrize(("args", "words"), [
    (["push", "x:1"], "docker build` steps only"),
    (["build", "."], "at least one -t TAG"),
    (["build", "-t"], "-t needs a value"),
    (["build", "--squash", "-t", "x:1", "."], "--squash is not emulated"),
    (["build", "-t", "x:1", ".", "other"], "takes one context"),
])
def test_docker_arguments_the_sandbox_does_not_emulate_are_named(args: list[str],
                                                                 words: str) -> None:
    with pytest.raises(SandboxError, match=words):
        parse_docker_args(args)


def test_a_pushed_image_keeps_its_digest_under_every_tag_and_its_labels() -> None:
    registry = Registry("netra-sandbox", "us-central1")
    digest = "sha256:" + "a" * 64
    registry.push(f"{IMAGE}:abc", digest=digest, labels={"netra.sandbox.build": "stale"})
    pushed, previous = registry.push(f"{IMAGE}:develop-long-lived", digest=digest,
                                     labels={"netra.sandbox.build": "stale"})
    assert pushed.digest == digest and previous is None
    assert registry.labels(f"{IMAGE}:develop-long-lived") == {"netra.sandbox.build": "stale"}
    assert registry.labels(f"{IMAGE}@{digest}") == {"netra.sandbox.build": "stale"}
    images = registry.images()
    assert len(images) == 1 and images[0]["tags"] == ["abc", "develop-long-lived"]
    assert registry.labels(f"{IMAGE}:never-built") == {}  # pushed implicitly, no labels
    with pytest.raises(SandboxError, match="sha256:HEX"):
        registry.push(f"{IMAGE}:x", digest="md5:00")


def test_a_revision_runs_the_build_its_image_is_labelled_with() -> None:
    labelled = BackendSettings.from_environ({"NETRA_SANDBOX_IMAGE": f"{IMAGE}@sha256:{'b' * 64}",
                                             BUILD_ENV: "stale"})
    assert labelled.build == "stale"
    assert BackendSettings.from_environ({"NETRA_SANDBOX_IMAGE": f"{IMAGE}:main"}).build == \
        "stale"
    with pytest.raises(ConfigError, match="is not a build"):
        BackendSettings.from_environ({BUILD_ENV: "broken"})


def test_the_realistic_scenario_slows_builds_to_seconds() -> None:
    assert get_scenario("realistic").builds == {"step_s": 1.0}
    assert get_scenario("fixed").builds is None
