"""The state directory: layout, atomic JSON, generated secrets, helper messages."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from netra_ops.config import Environment, load_environment
from netra_ops.errors import ConfigError, SandboxError
from netra_ops.sandbox.runtime.state import (
    StatePaths,
    ensure_secrets,
    not_running_error,
    read_json,
    sandbox_settings,
    tail,
    up_command,
    write_json_atomic,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_paths_follow_the_documented_layout(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path).ensure()
    relative = {name: str(getattr(paths, name).relative_to(tmp_path)) for name in (
        "sandbox_json", "revisions_json", "jwt_secret", "test_user_password", "users_json",
        "requests_log")}
    assert relative == {
        "sandbox_json": "sandbox.json", "revisions_json": "revisions.json",
        "jwt_secret": "secrets/jwt-secret", "test_user_password": "secrets/test-user-password",
        "users_json": "secrets/users.json", "requests_log": "logs/requests.jsonl",
    }
    assert paths.log("auth") == tmp_path / "logs" / "auth.log"
    assert paths.revision_log("svc-00001-abc") == tmp_path / "logs/revisions/svc-00001-abc.log"
    assert paths.revision_logs_dir.is_dir() and _mode(paths.secrets_dir) == 0o700


def test_json_is_replaced_atomically(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "state.json"
    assert read_json(target) is None
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"b": 2})
    assert read_json(target) == {"b": 2}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]  # no temporary left


def test_a_corrupt_state_file_says_what_to_do(tmp_path: Path) -> None:
    target = tmp_path / "sandbox.json"
    target.write_text("{not json")
    with pytest.raises(SandboxError, match=r"not valid JSON.*netra-ops sandbox down"):
        read_json(target)


def test_secrets_are_generated_once_with_private_modes(
    make_sandbox_env: Callable[[], Environment],
) -> None:
    env = make_sandbox_env()
    paths = StatePaths.of(env)
    first = ensure_secrets(env, paths)
    values = [p.read_text() for p in (first.jwt_secret_file, first.password_file)]
    second = ensure_secrets(env, paths)
    assert [p.read_text() for p in (second.jwt_secret_file, second.password_file)] == values

    assert _mode(paths.secrets_dir) == 0o700
    for path in (paths.jwt_secret, paths.test_user_password, paths.users_json):
        assert _mode(path) == 0o600, path
    assert len(paths.jwt_secret.read_text().strip()) >= 32
    password = paths.test_user_password.read_text().strip()
    assert json.loads(paths.users_json.read_text()) == {env.credentials.email: password}


def test_a_password_file_outside_the_state_dir_is_refused(
    make_sandbox_env: Callable[[], Environment], tmp_path: Path
) -> None:
    env = make_sandbox_env()
    credentials = env.credentials.model_copy(update={"password": f"file:{tmp_path}/pw"})
    moved = env.model_copy(update={"credentials": credentials})
    with pytest.raises(ConfigError, match="secrets/test-user-password"):
        ensure_secrets(moved, StatePaths.of(env))


def test_a_password_from_an_environment_variable_is_used(
    make_sandbox_env: Callable[[], Environment], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_sandbox_env()
    monkeypatch.setenv("SANDBOX_TEST_PASSWORD", "from-the-environment")
    credentials = env.credentials.model_copy(update={"password": "env:SANDBOX_TEST_PASSWORD"})
    secrets = ensure_secrets(env.model_copy(update={"credentials": credentials}),
                             StatePaths.of(env))
    assert json.loads(secrets.users_file.read_text()) == {
        env.credentials.email: "from-the-environment"}


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log, 2) == "line 98\nline 99"
    assert tail(tmp_path / "missing.log") == ""


def test_only_sandbox_environments_are_accepted() -> None:
    with pytest.raises(ConfigError, match="only a sandbox environment"):
        sandbox_settings(load_environment("staging"))


def test_the_start_hint_names_the_environment_when_not_default(
    make_sandbox_env: Callable[[], Environment],
) -> None:
    assert up_command(load_environment("sandbox")) == "netra-ops sandbox up"
    env = make_sandbox_env()
    assert up_command(env) == f"netra-ops sandbox up --env {env.source}"
    error = not_running_error(env, "nothing answers")
    assert f"start it with: netra-ops sandbox up --env {env.source}" in str(error)
