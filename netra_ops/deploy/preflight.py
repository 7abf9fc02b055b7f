"""Pre-deployment validation (seed 1.1): the release branch is ready and the gates pass.

Answers the seed's questions with evidence: is the working tree clean, how far the release
branch (`develop-long-lived`) is ahead of and behind the base (`main`), which commits would
ship, and whether each configured gate command exits 0 (its exit code and output kept).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from netra_ops.checks import Check
from netra_ops.config import REMOTE_PREFIXES, Environment, Gate, remote_checkout_dir
from netra_ops.errors import ConfigError

__all__ = [
    "PreflightResult",
    "fetch_repository",
    "preflight",
    "require_repository",
]

OUTPUT_TAIL_CHARS = 2000


@dataclass(frozen=True)
class PreflightResult:
    """All checks of seed 1.1, plus the branch figures and the commits that would ship."""

    repository: Path
    release_branch: str
    base_branch: str
    ahead: int | None
    behind: int | None
    commits: tuple[str, ...]
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    def branches_frame(self) -> pd.DataFrame:
        """One row: the repository, the release and base branches, commits ahead and
        behind."""
        return pd.DataFrame([{"repository": str(self.repository), "release": self.release_branch,
                              "base": self.base_branch, "ahead": self.ahead,
                              "behind": self.behind}])

    def commits_frame(self) -> pd.DataFrame:
        """The commits that would ship, newest first, one a row."""
        return pd.DataFrame({"commit": list(self.commits)})

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, ok, detail, exit_code, duration_s, output."""
        return pd.DataFrame([{"name": c.name, "ok": c.ok, "detail": c.detail,
                              "exit_code": c.exit_code, "duration_s": c.seconds or 0.0,
                              "output": c.output} for c in self.checks])


def preflight(env: Environment, repository: str | Path | None = None,
              *, max_commits: int = 20) -> PreflightResult:
    """Run seed 1.1's checks on `repository` (default: the environment's `[preflight]
    repository`, a path or a git URL fetched first)."""
    repo = _repository(env, repository)
    settings = env.preflight
    clean = _clean_tree(repo)
    branches = _branches(repo, settings.release_branch, settings.base_branch)
    ahead, behind = _ahead_behind(repo, settings.release_branch, settings.base_branch)
    commits = _commits(repo, settings.release_branch, settings.base_branch, max_commits)
    gates = tuple(_run_gate(repo, gate) for gate in settings.gates)
    return PreflightResult(repo, settings.release_branch, settings.base_branch, ahead, behind,
                           commits, (clean, branches, *gates))


def require_repository(env: Environment, repository: str | Path | None = None) -> None:
    """ConfigError, saying what to set, when neither `repository` nor the environment's
    `[preflight] repository` names the code to check (a playbook asks before its first step)."""
    if (repository is None or not str(repository)) and env.preflight.repository is None:
        raise ConfigError(
            f"environment {env.name} names no repository to check: set [preflight] repository "
            f"= PATH or git URL in {env.source or 'its file'} (a URL is fetched first), or "
            "pass repository=PATH (`-p repository=PATH`)")


def _repository(env: Environment, repository: str | Path | None) -> Path:
    """The checkout to check: `repository` if given (a path, or a git URL fetched first),
    else the environment's (fetched first from its `remote`); ConfigError, saying what to
    set, when there is none."""
    branches = (env.preflight.release_branch, env.preflight.base_branch)
    if repository is not None and str(repository).startswith(REMOTE_PREFIXES):
        return fetch_repository(str(repository), remote_checkout_dir(str(repository)), branches)
    if repository is not None and str(repository):
        chosen = Path(repository)
    else:
        require_repository(env)
        assert env.preflight.repository is not None
        chosen = env.preflight.repository
        if env.preflight.remote:
            return fetch_repository(env.preflight.remote, chosen, branches)
    if not (chosen / ".git").exists():
        raise ConfigError(f"{chosen} is not a git repository (no .git); set [preflight] "
                          f"repository in {env.source or 'the environment file'} to the "
                          "checkout of the code to deploy, or to its git URL")
    return chosen.resolve()


def fetch_repository(url: str, checkout: Path, branches: tuple[str, ...]) -> Path:
    """Clone `url` into `checkout` (once), fetch it, and set each of `branches` to the
    remote's; the first is checked out (the gates run on it). ConfigError with git's words
    when a step fails."""
    if not (checkout / ".git").exists():
        checkout.parent.mkdir(parents=True, exist_ok=True)
        _git_or_fail(checkout.parent, f"cloning {url}", "clone", "--quiet", url, str(checkout))
    _git_or_fail(checkout, f"fetching {url}", "fetch", "--quiet", "--prune", "origin")
    first, *others = branches
    _git_or_fail(checkout, f"checking out {first}", "checkout", "--quiet", "--force", "-B",
                 first, f"origin/{first}")
    for branch in others:
        _git_or_fail(checkout, f"updating {branch}", "branch", "--force", branch,
                     f"origin/{branch}")
    return checkout.resolve()


def _git_or_fail(repo: Path, doing: str, *args: str) -> None:
    done = _git(repo, *args)
    if done.returncode != 0:
        raise ConfigError(f"{doing} for the preflight failed: {done.stderr.strip()}")


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, check=False)


def _clean_tree(repo: Path) -> Check:
    status = _git(repo, "status", "--porcelain")
    if status.returncode != 0:
        return Check("working tree clean", False, status.stderr.strip(),
                     exit_code=status.returncode)
    changed = [line for line in status.stdout.splitlines() if line.strip()]
    detail = "clean" if not changed else f"{len(changed)} uncommitted: " + ", ".join(
        line[3:] for line in changed[:5]) + (" ..." if len(changed) > 5 else "")
    return Check("working tree clean", not changed, detail, exit_code=0, output=status.stdout)


def _branches(repo: Path, release: str, base: str) -> Check:
    missing = [b for b in (release, base)
               if _git(repo, "rev-parse", "--verify", "--quiet", f"{b}^{{commit}}").returncode]
    if missing:
        return Check("branches exist", False, "missing: " + ", ".join(missing))
    return Check("branches exist", True, f"{release} and {base} found")


def _ahead_behind(repo: Path, release: str, base: str) -> tuple[int | None, int | None]:
    counted = _git(repo, "rev-list", "--left-right", "--count", f"{release}...{base}")
    if counted.returncode != 0:
        return None, None
    ahead, behind = (int(n) for n in counted.stdout.split())
    return ahead, behind


def _commits(repo: Path, release: str, base: str, limit: int) -> tuple[str, ...]:
    log = _git(repo, "log", "--oneline", f"-{limit}", release, f"^{base}")
    return tuple(log.stdout.splitlines()) if log.returncode == 0 else ()


def _command(gate: Gate) -> list[str]:
    """Gate commands starting with `python` run on the interpreter netra-ops runs on."""
    first, *rest = gate.command
    return [sys.executable, *rest] if first in ("python", "python3") else list(gate.command)


def _run_gate(repo: Path, gate: Gate) -> Check:
    started = time.monotonic()
    try:
        done = subprocess.run(_command(gate), cwd=repo, capture_output=True, text=True,
                              timeout=gate.timeout_s, stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        return Check(gate.name, False, f"command not found: {gate.command[0]}")
    except subprocess.TimeoutExpired as exc:
        output = _tail((exc.stdout or b"").decode() if isinstance(exc.stdout, bytes)
                       else exc.stdout or "")
        return Check(gate.name, False, f"timed out after {gate.timeout_s:g} s",
                     seconds=time.monotonic() - started, output=output)
    output = _tail(done.stdout + done.stderr)
    last = output.strip().splitlines()[-1] if output.strip() else ""
    detail = f"exit {done.returncode}" + (f": {last}" if last else "")
    return Check(gate.name, done.returncode == 0, detail, exit_code=done.returncode,
                 seconds=time.monotonic() - started, output=output)


def _tail(text: str) -> str:
    return text[-OUTPUT_TAIL_CHARS:]
