"""The sandbox's state directory: where its files are, and how they are written.

Layout (docs/sandbox-internals.md, "State directory"):

    sandbox.json          the supervisor's record: env file, ports, urls, processes
    revisions.json        the platform's record: revisions (with pids) and traffic
    revisions-<role>.json the same for the auth and frontend services
    platform-spec.json    what the supervisor asks the platform to start
    secrets/              0700; jwt-secret, test-user-password, users.json (0600 each)
    logs/<role>.log, logs/revisions/<revision>.log, logs/requests.jsonl,
    logs/builds/<build id>.log   the emulated Cloud Build's logs (JSON lines)
    netra-repo/           the rehearsal copy of Netra's repository (what builds build)

JSON files are replaced atomically (write a temporary file, then rename), so a reader never
sees half a file. Secrets are generated once and reused by later `sandbox up`s.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netra_ops.config import Environment, SandboxSettings, find_environment_file
from netra_ops.errors import ConfigError, SandboxError, SandboxNotRunningError, SecretError
from netra_ops.secrets import resolve_secret

__all__ = [
    "SandboxSecrets",
    "StatePaths",
    "ensure_secrets",
    "not_running_error",
    "read_json",
    "sandbox_settings",
    "state_lock",
    "tail",
    "up_command",
    "write_json_atomic",
]

_SECRET_DIR_MODE = 0o700
_SECRET_FILE_MODE = 0o600


@dataclass(frozen=True)
class StatePaths:
    """The files of one sandbox's state directory."""

    root: Path

    @classmethod
    def of(cls, env: Environment) -> StatePaths:
        """The state directory of a sandbox environment."""
        return cls(sandbox_settings(env).state_dir)

    @property
    def sandbox_json(self) -> Path:
        """The supervisor's record of the running processes."""
        return self.root / "sandbox.json"

    @property
    def revisions_json(self) -> Path:
        """The platform's record of revisions and traffic."""
        return self.root / "revisions.json"

    def service_revisions_json(self, role: str) -> Path:
        """The platform's record of another service's revisions (auth, frontend)."""
        return self.root / f"revisions-{role}.json"

    def all_revisions_json(self) -> list[Path]:
        """Every service's revisions record that exists (the backend's first)."""
        return [self.revisions_json, *sorted(self.root.glob("revisions-*.json"))]

    @property
    def platform_spec(self) -> Path:
        """The spec the supervisor writes for the platform process."""
        return self.root / "platform-spec.json"

    @property
    def lock_file(self) -> Path:
        """Held while `up` or `down` changes the sandbox."""
        return self.root / ".lock"

    @property
    def secrets_dir(self) -> Path:
        """The secrets folder (mode 0700)."""
        return self.root / "secrets"

    @property
    def jwt_secret(self) -> Path:
        """The auth service's HS256 key."""
        return self.secrets_dir / "jwt-secret"

    @property
    def test_user_password(self) -> Path:
        """The probe user's password."""
        return self.secrets_dir / "test-user-password"

    @property
    def users_json(self) -> Path:
        """`{email: password}` read by the auth service."""
        return self.secrets_dir / "users.json"

    @property
    def logs_dir(self) -> Path:
        """Where every process writes its stdout and stderr."""
        return self.root / "logs"

    @property
    def revision_logs_dir(self) -> Path:
        """One log per backend revision."""
        return self.logs_dir / "revisions"

    @property
    def requests_log(self) -> Path:
        """The router's request log, one JSON object a line."""
        return self.logs_dir / "requests.jsonl"

    @property
    def build_logs_dir(self) -> Path:
        """One log per build of the emulated Cloud Build (JSON lines)."""
        return self.logs_dir / "builds"

    @property
    def rehearsal_repo(self) -> Path:
        """The rehearsal copy of Netra's repository (what the emulated Cloud Build builds)."""
        return self.root / "netra-repo"

    def log(self, role: str) -> Path:
        """The log of a long-lived process (auth, frontend, platform)."""
        return self.logs_dir / f"{role}.log"

    def revision_log(self, revision: str) -> Path:
        """The log of one backend revision."""
        return self.revision_logs_dir / f"{revision}.log"

    def ensure(self) -> StatePaths:
        """Create the directories (secrets with mode 0700); returns self."""
        self.revision_logs_dir.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(mode=_SECRET_DIR_MODE, exist_ok=True)
        self.secrets_dir.chmod(_SECRET_DIR_MODE)
        return self


def sandbox_settings(env: Environment) -> SandboxSettings:
    """The `[sandbox]` table of a sandbox environment; ConfigError for any other kind."""
    if env.kind != "sandbox" or env.sandbox is None:
        raise ConfigError(
            f"environment {env.name} is of kind {env.kind!r}: only a sandbox environment "
            "(kind = \"sandbox\" with a [sandbox] table) can be started or inspected here"
        )
    return env.sandbox


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a state file, or None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SandboxError(
            f"{path} is not valid JSON ({exc}); remove it, or run: netra-ops sandbox down"
        ) from None
    if not isinstance(data, dict):
        raise SandboxError(f"{path} should hold a JSON object; remove it and start again")
    return data


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` as JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def tail(path: Path, lines: int = 50) -> str:
    """The last `lines` lines of a text file ("" when it does not exist)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=max(lines, 0))).rstrip("\n")
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def state_lock(paths: StatePaths) -> Iterator[None]:
    """Hold the state directory's lock (one `up` or `down` at a time)."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with paths.lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class SandboxSecrets:
    """Where the generated secrets are (paths only: values never leave their files)."""

    jwt_secret_file: Path
    users_file: Path
    password_file: Path


def ensure_secrets(env: Environment, paths: StatePaths) -> SandboxSecrets:
    """Generate the sandbox's secrets once (reused afterwards) and the users file."""
    paths.ensure()
    if not _readable_secret(paths.jwt_secret):
        _write_secret(paths.jwt_secret, secrets.token_hex(32))
    password = _test_user_password(env, paths)
    users = {env.credentials.email: password}
    if _read_users(paths.users_json) != users:
        _write_secret(paths.users_json, json.dumps(users, indent=2) + "\n")
    return SandboxSecrets(paths.jwt_secret, paths.users_json, paths.test_user_password)


def _test_user_password(env: Environment, paths: StatePaths) -> str:
    """The probe user's password: from `env:` if the environment says so, else generated."""
    reference = env.credentials.password
    if reference.startswith("env:"):
        try:
            return resolve_secret(reference)
        except SecretError as exc:
            raise ConfigError(f"environment {env.name}: {exc}") from None
    target = Path(reference.removeprefix("file:")).resolve()
    if target != paths.test_user_password.resolve():
        raise ConfigError(
            f"environment {env.name}: credentials.password is {reference!r}, but the sandbox "
            f"writes its generated password to {paths.test_user_password}; set "
            f'password = "file:{paths.test_user_password}" in {env.source or "the file"}'
        )
    if not _readable_secret(paths.test_user_password):
        _write_secret(paths.test_user_password, secrets.token_urlsafe(18))
    return paths.test_user_password.read_text(encoding="utf-8").strip()


def _readable_secret(path: Path) -> bool:
    try:
        return bool(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        return False


def _read_users(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write_secret(path: Path, value: str) -> None:
    """Write a secret file with mode 0600 (atomically, never world-readable)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _SECRET_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value if value.endswith("\n") else value + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def up_command(env: Environment) -> str:
    """The command that starts this environment's sandbox (with `--env` when not default)."""
    base = "netra-ops sandbox up"
    if env.source is None:
        return base if env.name == "sandbox" else f"{base} --env {env.name}"
    try:
        found = find_environment_file(env.name)
    except ConfigError:
        found = None
    if found is not None and found == env.source.resolve():
        return base if env.name == "sandbox" else f"{base} --env {env.name}"
    return f"{base} --env {env.source}"


def not_running_error(env: Environment, detail: str) -> SandboxNotRunningError:
    """The error for "the sandbox is not running", with the command that starts it."""
    return SandboxNotRunningError(
        f"the sandbox of environment {env.name} is not running ({detail}); "
        f"start it with: {up_command(env)}"
    )
