"""Pre-deployment validation (seed 1.1): the release branch is ready and the gates pass.

Answers the seed's questions with evidence: is the working tree clean, how far the release
branch (`develop-long-lived`) is ahead of and behind the base (`main`), which commits would
ship, whether the release carries database migrations (a risk to acknowledge), and whether
each configured gate command exits 0 (its exit code and output kept). The remote is fetched
before the branches are compared (`netra_ops.deploy.git_refs`); the result says which refs
it compared (`refs`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from netra_ops.checks import Check
from netra_ops.config import REMOTE_PREFIXES, Environment, Gate, remote_checkout_dir
from netra_ops.deploy.git_refs import Refs, fetch_checkout, fetch_refs, git, release_check
from netra_ops.deploy.migrations import MigrationReview, review_migrations
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
    """All checks of seed 1.1, plus the branch figures and the commits that would ship.

    `refs` says which refs were compared (the remote's, fetched, or the local branches and
    why); `release_commit` is the commit the release ref names; `migrations` the review of
    the release diff's migration files.
    """

    repository: Path
    release_branch: str
    base_branch: str
    ahead: int | None
    behind: int | None
    commits: tuple[str, ...]
    checks: tuple[Check, ...]
    refs: Refs | None = None
    release_commit: str | None = None
    migrations: MigrationReview | None = field(default=None)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    def branches_frame(self) -> pd.DataFrame:
        """One row: the repository, the release and base branches, commits ahead and
        behind, and the refs compared."""
        return pd.DataFrame([{"repository": str(self.repository), "release": self.release_branch,
                              "base": self.base_branch, "ahead": self.ahead,
                              "behind": self.behind,
                              "compared": self.refs.described if self.refs else ""}])

    def figures(self) -> dict[str, Any]:
        """What 01 records beside the branch figures: the release commit, the refs compared
        and the migration review (`MigrationReview.to_record`)."""
        return {"release_commit": self.release_commit,
                "compared_refs": self.refs.described if self.refs else None,
                "migrations": self.migrations.to_record() if self.migrations else None}

    def migrations_frame(self) -> pd.DataFrame:
        """One row per migration file the release changes: change (added, modified,
        deleted) and path; none when it changes none."""
        files = self.migrations.files if self.migrations else ()
        return pd.DataFrame([dict(zip(("change", "path"), f.split(" ", 1), strict=True))
                             for f in files], columns=["change", "path"])

    def commits_frame(self) -> pd.DataFrame:
        """The commits that would ship, newest first, one a row."""
        return pd.DataFrame({"commit": list(self.commits)})

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, ok, detail, exit_code, duration_s, output."""
        return pd.DataFrame([{"name": c.name, "ok": c.ok, "detail": c.detail,
                              "exit_code": c.exit_code, "duration_s": c.seconds or 0.0,
                              "output": c.output} for c in self.checks])


def preflight(env: Environment, repository: str | Path | None = None,
              *, max_commits: int = 20, acknowledge_migrations: bool = False
              ) -> PreflightResult:
    """Run seed 1.1's checks on `repository` (default: the environment's `[preflight]
    repository`, a path or a git URL). Its remote is fetched first and its refs compared;
    without one, the local branches. Migrations in the release diff fail the preflight
    unless `acknowledge_migrations`."""
    repo, refs = _repository(env, repository)
    settings = env.preflight
    clean = _clean_tree(repo)
    branches = _branches(repo, refs.release, refs.base)
    ahead, behind = _ahead_behind(repo, refs.release, refs.base)
    commits = _commits(repo, refs.release, refs.base, max_commits)
    matches = release_check(repo, settings.release_branch, refs)
    migrations = review_migrations(repo, refs.base, refs.release, settings.migration_paths,
                                   acknowledged=acknowledge_migrations)
    gates = tuple(_run_gate(repo, gate) for gate in settings.gates)
    checks = (clean, branches, refs.fetch_check(), *([matches] if matches else []),
              migrations.check, *gates)
    return PreflightResult(repo, settings.release_branch, settings.base_branch, ahead, behind,
                           commits, checks, refs, _commit(repo, refs.release), migrations)


def require_repository(env: Environment, repository: str | Path | None = None) -> None:
    """ConfigError, saying what to set, when neither `repository` nor the environment's
    `[preflight] repository` names the code to check (a playbook asks before its first step)."""
    if (repository is None or not str(repository)) and env.preflight.repository is None:
        raise ConfigError(
            f"environment {env.name} names no repository to check: set [preflight] repository "
            f"= PATH or git URL in {env.source or 'its file'} (a URL is fetched first), or "
            "pass repository=PATH (`-p repository=PATH`)")


def _repository(env: Environment, repository: str | Path | None) -> tuple[Path, Refs]:
    """The checkout to check, fetched, and the refs to compare: `repository` if given (a
    path, or a git URL cloned first), else the environment's (cloned from its `remote`);
    ConfigError, saying what to set, when there is none."""
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
    return chosen.resolve(), fetch_refs(chosen, *branches)


def fetch_repository(url: str, checkout: Path, branches: tuple[str, str]) -> tuple[Path, Refs]:
    """Clone `url` into `checkout` (once), fetch it, and set the (release, base) `branches`
    to the remote's; the release is checked out (the gates run on it). ConfigError with
    git's words when the clone fails; a failed fetch keeps the last one's branches, and the
    refs say so."""
    refs = fetch_checkout(url, checkout, branches)
    return checkout.resolve(), refs


def _clean_tree(repo: Path) -> Check:
    status = git(repo, "status", "--porcelain")
    if status.returncode != 0:
        return Check("working tree clean", False, status.stderr.strip(),
                     exit_code=status.returncode)
    changed = [line for line in status.stdout.splitlines() if line.strip()]
    detail = "clean" if not changed else f"{len(changed)} uncommitted: " + ", ".join(
        line[3:] for line in changed[:5]) + (" ..." if len(changed) > 5 else "")
    return Check("working tree clean", not changed, detail, exit_code=0, output=status.stdout)


def _branches(repo: Path, release: str, base: str) -> Check:
    missing = [b for b in (release, base)
               if git(repo, "rev-parse", "--verify", "--quiet", f"{b}^{{commit}}").returncode]
    if missing:
        return Check("branches exist", False, "missing: " + ", ".join(missing))
    return Check("branches exist", True, f"{release} and {base} found")


def _ahead_behind(repo: Path, release: str, base: str) -> tuple[int | None, int | None]:
    counted = git(repo, "rev-list", "--left-right", "--count", f"{release}...{base}")
    if counted.returncode != 0:
        return None, None
    ahead, behind = (int(n) for n in counted.stdout.split())
    return ahead, behind


def _commits(repo: Path, release: str, base: str, limit: int) -> tuple[str, ...]:
    log = git(repo, "log", "--oneline", f"-{limit}", release, f"^{base}")
    return tuple(log.stdout.splitlines()) if log.returncode == 0 else ()


def _commit(repo: Path, ref: str) -> str | None:
    """The full commit id `ref` names (None when it names none)."""
    named = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return named.stdout.strip() or None if named.returncode == 0 else None


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
