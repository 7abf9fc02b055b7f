"""The repository to deploy as git sees it: its remote, a fetch of it, and which refs a
comparison of branches uses (`Refs`).

Seed 1.1 compares `develop-long-lived` with `main` (`git log develop-long-lived ^main`);
branches that were not fetched compare what this machine last saw. So the preflight fetches
first: a checkout with a remote is fetched and compared on the remote's refs
(`origin/develop-long-lived`), and its local release branch must be the remote's. Without a
remote (the sandbox's offline rehearsal repository) the local branches are compared; a fetch
that fails (no network, no credentials: git never prompts here) is reported, not raised, and
the local refs are compared, saying so.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from netra_ops.checks import Check, skipped
from netra_ops.errors import ConfigError

__all__ = ["GIT_TIMEOUT_S", "Refs", "fetch_checkout", "fetch_refs", "git", "git_or_fail",
           "release_check"]

GIT_TIMEOUT_S = 60.0
"""How long one git command may take (a fetch over a slow network included)."""
_NO_PROMPTS = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}


@dataclass(frozen=True)
class Refs:
    """The refs a comparison uses: the remote's, fetched now, or the local branches (and
    why: no remote, or the fetch failed, in git's words)."""

    release: str
    base: str
    remote: str | None = None
    url: str | None = None
    fetched: bool = False
    why_local: str = ""

    @property
    def described(self) -> str:
        """`origin/develop-long-lived vs origin/main (fetched from URL)`, or the local
        branches and why."""
        compared = f"{self.release} vs {self.base}"
        if self.fetched:
            return f"{compared} (fetched from {self.url})"
        return f"{compared} (local refs: {self.why_local})"

    def fetch_check(self) -> Check:
        """The row saying whether the remote was fetched; skipped, not failed, without
        one or when the fetch failed (the comparison then says it used local refs)."""
        name = "remote fetched before comparing"
        if self.fetched:
            return Check(name, True, f"{self.remote} ({self.url}) fetched; compared "
                         f"{self.release} with {self.base}")
        compared = f"{self.why_local}; compared the local branches {self.release} and {self.base}"
        if self.remote is None:
            return skipped(name, compared)
        return skipped(name, f"{compared}, which may be behind {self.remote}'s", fix=(
            f"check network access and credentials for {self.url}, or run `git fetch "
            f"{self.remote}` in the repository yourself, then run the preflight again"))


def git(repo: Path, *args: str, timeout_s: float = GIT_TIMEOUT_S
        ) -> subprocess.CompletedProcess[str]:
    """Run `git -C repo ARGS`, never prompting; a timeout is exit code 124 with a message."""
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL, check=False,
                              env={**os.environ, **_NO_PROMPTS})
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(["git", *args], 124, "",
                                           f"git {args[0]} timed out after {timeout_s:g} s")


def git_or_fail(repo: Path, doing: str, *args: str) -> None:
    """`git(...)`, raising ConfigError with git's words when it fails."""
    done = git(repo, *args)
    if done.returncode != 0:
        raise ConfigError(f"{doing} for the preflight failed: {done.stderr.strip()}")


def fetch_checkout(url: str, checkout: Path, branches: tuple[str, str]) -> Refs:
    """Clone `url` into `checkout` (once; ConfigError with git's words when that fails),
    fetch it, and set each of `branches` (release, base) to the remote's; the release is
    checked out (the gates run on it). A failed fetch keeps the branches of the last one and
    says so."""
    if not (checkout / ".git").exists():
        checkout.parent.mkdir(parents=True, exist_ok=True)
        git_or_fail(checkout.parent, f"cloning {url}", "clone", "--quiet", url, str(checkout))
    release, base = branches
    fetched = git(checkout, "fetch", "--quiet", "--prune", "origin")
    if fetched.returncode != 0:
        return Refs(release, base, "origin", url, False, _fetch_failed("origin", fetched))
    git_or_fail(checkout, f"checking out {release}", "checkout", "--quiet", "--force", "-B",
                release, f"origin/{release}")
    git_or_fail(checkout, f"updating {base}", "branch", "--force", base, f"origin/{base}")
    return Refs(release, base, "origin", url, True)


def fetch_refs(repo: Path, release: str, base: str) -> Refs:
    """Fetch the remote of a local checkout (the release branch's upstream remote, else
    `origin`, else the only one) and name the refs to compare: the remote's branches where
    it has them. Without a remote, or when the fetch fails, the local branches."""
    remote = _remote(repo, release)
    if remote is None:
        return Refs(release, base, why_local="the repository has no remote")
    url = git(repo, "remote", "get-url", remote).stdout.strip() or remote
    fetched = git(repo, "fetch", "--quiet", "--prune", remote)
    if fetched.returncode != 0:
        return Refs(release, base, remote, url, False, _fetch_failed(remote, fetched))
    return Refs(_remote_ref(repo, remote, release), _remote_ref(repo, remote, base), remote,
                url, True)


def release_check(repo: Path, branch: str, refs: Refs) -> Check | None:
    """The local release branch against the remote's, when the remote's is compared (None
    otherwise): the gates run on the checkout, so it must hold what the remote holds."""
    if not refs.fetched or refs.release == branch:
        return None
    name = "release branch is the remote's"
    counted = git(repo, "rev-list", "--left-right", "--count", f"{branch}...{refs.release}")
    if counted.returncode != 0:
        return Check(name, False, f"no local branch {branch} to compare with {refs.release}",
                     fix=f"git -C {repo} checkout {branch}, then run the preflight again")
    local_only, remote_only = (int(n) for n in counted.stdout.split())
    if not local_only and not remote_only:
        return Check(name, True, f"{branch} is {refs.release}")
    said = {(False, True): f"{branch} is {_commits(remote_only)} behind {refs.release}: "
                           "the checks ran on older code",
            (True, False): f"{branch} has {_commits(local_only)} that {refs.remote} does "
                           "not: they would ship without being pushed",
            (True, True): f"{branch} and {refs.release} have diverged ({_commits(local_only)} "
                          f"here, {_commits(remote_only)} on {refs.remote})"}[
        (local_only > 0, remote_only > 0)]
    fix = (f"git -C {repo} merge --ff-only {refs.release}" if not local_only else
           f"push them (git -C {repo} push {refs.remote} {branch})" if not remote_only else
           f"reconcile {branch} with {refs.release}")
    return Check(name, False, said, fix=fix + ", then run the preflight again")


def _commits(count: int) -> str:
    return f"{count} commit" + ("" if count == 1 else "s")


def _remote(repo: Path, branch: str) -> str | None:
    upstream = git(repo, "config", "--get", f"branch.{branch}.remote").stdout.strip()
    remotes = git(repo, "remote").stdout.split()
    if upstream in remotes:
        return upstream
    if "origin" in remotes:
        return "origin"
    return remotes[0] if len(remotes) == 1 else None


def _remote_ref(repo: Path, remote: str, branch: str) -> str:
    """`remote/branch` when the remote has that branch, else the local branch."""
    ref = f"{remote}/{branch}"
    found = git(repo, "rev-parse", "--verify", "--quiet", f"refs/remotes/{ref}^{{commit}}")
    return ref if found.returncode == 0 else branch


def _fetch_failed(remote: str, done: subprocess.CompletedProcess[str]) -> str:
    words = " ".join(done.stderr.split()) or f"exit {done.returncode}"
    return f"git fetch {remote} failed: {words[:300]}"
