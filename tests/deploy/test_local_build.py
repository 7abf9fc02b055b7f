"""Local builds (`--build-local`): docker build + push through a fake `docker` on PATH that
records its arguments (no daemon here), and a real `docker build` where a daemon answers.

The environment is a sandbox environment that is never started: only its rehearsal
repository (the code to build) is made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from docker_daemon import daemon_answers

from netra_ops import deploy
from netra_ops.config import Environment, load_environment
from netra_ops.deploy.local_build import docker_build, require_docker
from netra_ops.errors import BuildError, DockerUnavailableError
from netra_ops.sandbox.ephemeral import write_sandbox_environment
from netra_ops.sandbox.services.rehearsal_repo import ensure_rehearsal_repo

FAKE_DOCKER = '''#!{python}
"""A fake docker: records each call (argv, cwd, the files of the context) and answers."""
import hashlib, json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "cwd": os.getcwd(),
                          "files": sorted(os.listdir("."))}}) + "\\n")
fail = os.environ.get("FAKE_DOCKER_FAIL", "")
if args[0] == "version":
    if fail == "daemon":
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
              "Is the docker daemon running?", file=sys.stderr)
        sys.exit(1)
    print("27.3.1")
elif args[0] == "build":
    print("Step 1/8 : FROM python:3.11-slim")
    if fail == "build":
        print("COPY failed: file not found in build context", file=sys.stderr)
        sys.exit(1)
    print("Successfully built 0123456789ab")
elif args[0] == "push":
    repository, tag = args[1].rsplit(":", 1)
    digest = hashlib.sha256(repository.encode()).hexdigest()
    print(f"The push refers to repository [{{repository}}]")
    print(f"{{tag}}: digest: sha256:{{digest}} size: 2417")
'''


@pytest.fixture
def env(tmp_path: Path) -> Environment:
    environment = load_environment(write_sandbox_environment(tmp_path))
    assert environment.preflight.repository is not None
    ensure_rehearsal_repo(environment.preflight.repository)
    return environment


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` first on PATH; returns the file its calls are recorded in."""
    folder = tmp_path / "bin"
    folder.mkdir()
    docker = folder / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    log = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.delenv("FAKE_DOCKER_FAIL", raising=False)
    return log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def head(env: Environment, branch: str = "develop-long-lived") -> str:
    return subprocess.run(["git", "-C", str(env.preflight.repository), "rev-parse", branch],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_a_local_build_builds_each_service_from_the_commit_and_pushes_both_tags(
        env: Environment, fake_docker: Path) -> None:
    result = deploy.build(env, local=True, execute=True)
    sha = head(env)
    assert (result.status, result.mode, result.commit, result.build_id) == (
        "success", "local", sha, None)
    made = calls(fake_docker)
    assert made[0]["args"] == ["version", "--format", "{{.Server.Version}}"]
    builds = [c for c in made if c["args"][0] == "build"]
    assert [b["args"][-4:] for b in builds] == [
        ["-f", deploy.dockerfile(role), "--platform", "linux/amd64", "."][-4:]
        for role in ("auth", "backend", "frontend")]
    backend = builds[1]
    commit_tag, release_tag = result.tags["backend"]
    assert backend["args"][:6] == ["build", "-t", commit_tag, "-t", release_tag, "-f"]
    assert commit_tag.endswith(f":{sha}") and release_tag == deploy.release_image(env)
    assert "deployment" in backend["files"] and "netra_backend" in backend["files"]
    assert ".git" not in backend["files"]  # exactly the commit's files, no checkout
    pushes = [c["args"][1] for c in made if c["args"][0] == "push"]
    assert pushes == [tag for role in ("auth", "backend", "frontend")
                      for tag in result.tags[role]]
    repository = release_tag.rsplit(":", 1)[0]
    assert result.image("backend").startswith(f"{repository}@sha256:")


def test_use_alpine_builds_the_alpine_dockerfiles(env: Environment, fake_docker: Path) -> None:
    deploy.build(env, "main", local=True, alpine=True, execute=True)
    files = [c["args"][c["args"].index("-f") + 1] for c in calls(fake_docker)
             if c["args"][0] == "build"]
    assert files == [f"dockerfiles/{role}.staging.alpine.Dockerfile"
                     for role in ("auth", "backend", "frontend")]


def test_a_plan_does_not_call_docker(env: Environment, fake_docker: Path) -> None:
    plan = deploy.build(env, local=True)
    assert plan.status == "planned" and "docker on this machine" in plan.plan[0]
    assert not fake_docker.exists()


def test_a_failing_docker_build_names_its_step(env: Environment, fake_docker: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "build")
    with pytest.raises(BuildError, match="docker build of build-auth failed") as failed:
        deploy.build(env, local=True, execute=True)
    assert failed.value.step == "build-auth"
    assert "COPY failed: file not found in build context" in failed.value.log_tail
    assert not any(c["args"][0] == "push" for c in calls(fake_docker))


def test_no_daemon_says_what_to_do(env: Environment, fake_docker: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "daemon")
    with pytest.raises(DockerUnavailableError, match="no daemon answers") as silent:
        deploy.build(env, local=True, execute=True)
    assert "Cannot connect to the Docker daemon" in str(silent.value)
    assert "systemctl start docker" in str(silent.value)
    assert "build on Cloud Build instead" in str(silent.value)


def test_no_docker_at_all_says_what_to_do(env: Environment, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(DockerUnavailableError, match="no `docker` on PATH") as missing:
        require_docker()
    assert "install Docker" in str(missing.value)


def test_the_build_command_exits_2_without_docker(env: Environment, tmp_path: Path) -> None:
    only_git = tmp_path / "git-only-bin"
    only_git.mkdir()
    git = shutil.which("git")
    assert git is not None
    (only_git / "git").symlink_to(git)
    done = subprocess.run([sys.executable, "-m", "netra_ops", "build", "--env",
                           str(env.source), "--build-local", "--execute"],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PATH": str(only_git)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no `docker` on PATH" in done.stderr


@pytest.mark.skipif(not daemon_answers(), reason="no docker daemon answers here")
def test_a_real_docker_build_of_a_small_context(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    tag = "netra-ops-test/hello:local"
    lines = docker_build(require_docker(), tmp_path, "Dockerfile", [tag], step="build-hello",
                         deadline=time.monotonic() + 300)
    assert lines
    inspected = subprocess.run(["docker", "image", "inspect", tag], capture_output=True,
                               text=True, check=False)
    subprocess.run(["docker", "image", "rm", tag], capture_output=True, check=False)
    assert inspected.returncode == 0


@pytest.mark.skipif(shutil.which("docker") is None or daemon_answers(),
                    reason="needs a docker client without a daemon")
def test_the_real_docker_client_without_a_daemon_is_named() -> None:
    with pytest.raises(DockerUnavailableError, match="but no daemon answers"):
        require_docker()
