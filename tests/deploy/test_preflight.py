"""Seed 1.1 preflight against real git repositories and real gate commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netra_ops.config import Environment, Gate, Preflight, load_environment
from netra_ops.deploy.preflight import preflight
from netra_ops.errors import ConfigError
from netra_ops.playbook import run_playbook


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """main with 3 commits; develop-long-lived 4 ahead and 1 behind."""
    path = tmp_path / "netra"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.test")
    git(path, "config", "user.name", "t")
    (path / "scripts").mkdir()
    (path / "scripts" / "gate_ok.py").write_text("print('compliance: 100%')\n")
    (path / "scripts" / "gate_fail.py").write_text(
        "import sys\nprint('3 violations')\nsys.exit(4)\n")
    for n in range(3):
        (path / "f.txt").write_text(str(n))
        git(path, "add", "-A")
        git(path, "commit", "-qm", f"main {n}")
    git(path, "checkout", "-qb", "develop-long-lived")
    for n in range(4):
        (path / "g.txt").write_text(str(n))
        git(path, "add", "-A")
        git(path, "commit", "-qm", f"fix {n}: UserExecutionContext session_id")
    git(path, "checkout", "-q", "main")
    (path / "h.txt").write_text("hotfix")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "hotfix on main")
    return path


def env_with(gates: list[Gate], repository: Path | None = None,
             remote: str | None = None) -> Environment:
    base = load_environment("staging")
    return base.model_copy(update={"preflight": Preflight(repository=repository, gates=gates,
                                                          remote=remote)})


def test_ready_repository_passes_with_branch_figures(repo: Path) -> None:
    gate = Gate(name="compliance", command=[sys.executable, "scripts/gate_ok.py"])
    result = preflight(env_with([gate]), repo)
    assert result.ok, result.to_frame()
    assert (result.ahead, result.behind) == (4, 1)
    assert len(result.commits) == 4 and "session_id" in result.commits[0]
    by_name = {c.name: c for c in result.checks}
    assert by_name["compliance"].exit_code == 0
    assert "compliance: 100%" in by_name["compliance"].output
    assert list(result.to_frame()["name"]) == [
        "working tree clean", "branches exist", "remote fetched before comparing",
        "database migrations acknowledged", "compliance"]
    fetched = by_name["remote fetched before comparing"]
    assert fetched.skipped and fetched.detail.startswith("the repository has no remote")
    assert result.branches_frame()["compared"][0] == (
        "develop-long-lived vs main (local refs: the repository has no remote)")
    assert result.release_commit == git_out(repo, "rev-parse", "develop-long-lived")
    assert result.migrations is not None and result.migrations.files == ()


def test_failing_gate_keeps_exit_code_and_output(repo: Path) -> None:
    gate = Gate(name="compliance", command=[sys.executable, "scripts/gate_fail.py"])
    result = preflight(env_with([gate]), repo)
    check = result.checks[-1]
    assert not result.ok and not check.ok
    assert check.exit_code == 4 and check.detail == "exit 4: 3 violations"


def test_gate_timeout_and_missing_command_are_results(repo: Path) -> None:
    slow = Gate(name="slow", command=[sys.executable, "-c", "import time; time.sleep(5)"],
                timeout_s=0.3)
    absent = Gate(name="absent", command=["no-such-command-here"])
    result = preflight(env_with([slow, absent]), repo)
    assert [c.detail for c in result.checks[-2:]] == [
        "timed out after 0.3 s", "command not found: no-such-command-here"]


def test_dirty_tree_and_missing_branch_fail(repo: Path) -> None:
    (repo / "f.txt").write_text("edited")
    git(repo, "branch", "-qD", "develop-long-lived")
    result = preflight(env_with([]), repo)
    checks = {c.name: c for c in result.checks}
    assert not checks["working tree clean"].ok and "f.txt" in checks["working tree clean"].detail
    assert checks["branches exist"].detail == "missing: develop-long-lived"
    assert (result.ahead, result.behind) == (None, None)


def test_repository_from_the_environment_and_clear_errors(repo: Path, tmp_path: Path) -> None:
    assert preflight(env_with([], repository=repo)).ok
    with pytest.raises(ConfigError, match=r"names no repository to check: set \[preflight\] "
                       r"repository = PATH or git URL in .*staging.toml"):
        preflight(env_with([]))
    with pytest.raises(ConfigError, match="is not a git repository"):
        preflight(env_with([]), tmp_path)


def test_the_staging_file_names_a_remote_repository(tmp_path: Path) -> None:
    settings = load_environment("staging").preflight
    assert settings.remote is not None and settings.remote.startswith("https://")
    assert settings.repository is not None and settings.repository.parts[-3:-1] == (
        "netra-ops", "checkouts")
    local = tmp_path / "local.toml"
    text = (Path(load_environment("staging").source or "").read_text()
            .replace(f'repository = "{settings.remote}"',
                     f'repository = "{settings.remote}"\ncheckout = "co"'))
    local.write_text(text)
    chosen = load_environment(local).preflight
    assert chosen.repository == (tmp_path / "co").resolve() and chosen.remote == settings.remote


def test_a_remote_repository_is_fetched_first_then_checked(repo: Path, tmp_path: Path) -> None:
    gate = Gate(name="compliance", command=[sys.executable, "scripts/gate_ok.py"])
    checkout = tmp_path / "checkouts" / "netra"
    env = env_with([gate], repository=checkout, remote=f"file://{repo}")
    result = preflight(env)
    assert result.ok, result.to_frame()
    assert result.repository == checkout.resolve()
    assert (result.ahead, result.behind) == (4, 1)
    git(repo, "checkout", "-q", "develop-long-lived")  # a new commit upstream
    (repo / "g.txt").write_text("later")
    git(repo, "commit", "-qam", "fix 4")
    git(repo, "checkout", "-q", "main")
    assert preflight(env).ahead == 5  # fetched again, not the stale clone
    repo.rename(tmp_path / "moved")  # the remote is gone: the last fetch is compared, said so
    offline = preflight(env)
    assert offline.ahead == 5 and offline.refs is not None and not offline.refs.fetched
    fetched = next(c for c in offline.checks if c.name == "remote fetched before comparing")
    assert fetched.skipped and "git fetch origin failed" in fetched.detail
    assert "which may be behind origin's" in fetched.detail and "git fetch origin" in fetched.fix
    assert "(local refs: git fetch origin failed" in offline.branches_frame()["compared"][0]
    missing = env_with([], repository=tmp_path / "x", remote=f"file://{tmp_path}/nowhere")
    with pytest.raises(ConfigError, match=r"cloning file://.*nowhere for the preflight failed"):
        preflight(missing)


def test_a_playbook_refuses_to_start_without_a_repository_to_check(tmp_path: Path) -> None:
    """Staging with no [preflight] repository: ConfigError before the first step, no record."""
    source = Path(load_environment("staging").source or "")
    text = source.read_text()
    remote = load_environment("staging").preflight.remote
    no_repo = tmp_path / "staging-no-repo.toml"
    no_repo.write_text(text.replace(f'repository = "{remote}"\n', ""))
    assert load_environment(no_repo).preflight.repository is None
    outputs = tmp_path / "outputs"
    with pytest.raises(ConfigError, match=r"names no repository to check"):
        run_playbook("golden_path_remediation", environment=str(no_repo), incident="INC-T",
                     outputs_dir=outputs)
    assert not outputs.exists() or not any(outputs.rglob("summary.json"))


@pytest.fixture()
def checkout(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(a bare remote made from `repo`, a checkout of it with both branches)."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(remote)], check=True,
                   capture_output=True)
    local = tmp_path / "local"
    subprocess.run(["git", "clone", "-q", "-b", "develop-long-lived", str(remote), str(local)],
                   check=True, capture_output=True)
    git(local, "branch", "-q", "main", "origin/main")
    return remote, local


def push_upstream(remote: Path, tmp_path: Path, branch: str, name: str) -> None:
    """Someone else pushes a commit to `branch` of the remote."""
    other = tmp_path / f"other-{name}"
    subprocess.run(["git", "clone", "-q", "-b", branch, str(remote), str(other)], check=True,
                   capture_output=True)
    git(other, "config", "user.email", "o@example.test")
    git(other, "config", "user.name", "o")
    (other / f"{name}.txt").write_text(name)
    git(other, "add", "-A")
    git(other, "commit", "-qm", f"upstream {name}")
    git(other, "push", "-q", "origin", branch)


def test_a_checkout_with_a_remote_is_fetched_and_compared_on_the_remotes_refs(
        checkout: tuple[Path, Path], tmp_path: Path) -> None:
    remote, local = checkout
    push_upstream(remote, tmp_path, "develop-long-lived", "later-fix")
    result = preflight(env_with([]), local)
    assert result.refs is not None and result.refs.fetched
    assert (result.refs.release, result.refs.base) == ("origin/develop-long-lived", "origin/main")
    assert (result.ahead, result.behind) == (5, 1)  # the remote's, not the stale local refs
    assert result.commits[0].endswith("upstream later-fix")
    assert result.release_commit == git_out(local, "rev-parse", "origin/develop-long-lived")
    checks = {c.name: c for c in result.checks}
    assert checks["remote fetched before comparing"].ok
    behind = checks["release branch is the remote's"]
    assert not behind.ok and not result.ok
    assert behind.detail == ("develop-long-lived is 1 commit behind origin/develop-long-lived: "
                             "the checks ran on older code")
    assert "merge --ff-only origin/develop-long-lived" in behind.fix

    git(local, "merge", "-q", "--ff-only", "origin/develop-long-lived")
    assert preflight(env_with([]), local).ok


def test_a_fetch_that_fails_is_reported_and_the_local_refs_compared(
        checkout: tuple[Path, Path], tmp_path: Path) -> None:
    remote, local = checkout
    push_upstream(remote, tmp_path, "develop-long-lived", "unseen")
    git(local, "remote", "set-url", "origin", str(tmp_path / "no-such-remote.git"))
    result = preflight(env_with([]), local)  # no exception: a result that says so
    assert result.ok, result.to_frame()
    assert (result.ahead, result.behind) == (4, 1)  # what this machine last saw
    fetched = next(c for c in result.checks if c.name == "remote fetched before comparing")
    assert fetched.skipped and fetched.detail.startswith("git fetch origin failed: ")
    assert "no-such-remote.git" in fetched.detail
    assert "local refs: git fetch origin failed" in result.branches_frame()["compared"][0]


def test_migrations_in_the_release_need_an_acknowledgement(repo: Path) -> None:
    versions = repo / "netra_backend" / "app" / "alembic" / "versions"
    git(repo, "checkout", "-q", "main")
    versions.mkdir(parents=True)
    (versions / "0001_initial.py").write_text("revision = '0001'\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "schema as deployed")
    git(repo, "checkout", "-q", "develop-long-lived")
    git(repo, "merge", "-q", "--no-edit", "main")
    assert preflight(env_with([]), repo).ok  # a migration on both sides: none in the release

    (versions / "0002_add_session_table.py").write_text("revision = '0002'\n")
    (versions / "0001_initial.py").write_text("revision = '0001'\n# edited\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add the session table")
    result = preflight(env_with([]), repo)
    check = next(c for c in result.checks if c.name == "database migrations acknowledged")
    assert not result.ok and not check.ok
    assert check.detail == (
        "2 migration file(s) between main and develop-long-lived: "
        "modified netra_backend/app/alembic/versions/0001_initial.py, "
        "added netra_backend/app/alembic/versions/0002_add_session_table.py")
    assert "acknowledge_migrations=true" in check.fix
    assert list(result.migrations_frame()["change"]) == ["modified", "added"]

    acknowledged = preflight(env_with([]), repo, acknowledge_migrations=True)
    assert acknowledged.ok
    assert acknowledged.figures()["migrations"]["acknowledged"] is True
    assert len(acknowledged.figures()["migrations"]["files"]) == 2

    elsewhere = env_with([]).model_copy(update={"preflight": Preflight(
        migration_paths=["db/migrations"])})
    assert preflight(elsewhere, repo).ok  # paths are configuration: none under db/migrations
