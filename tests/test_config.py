"""Environments as data: the shipped files load, and bad files fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from netra_ops.config import (
    cloud_run_problem,
    list_environments,
    load_environment,
    memory_bytes,
)
from netra_ops.errors import ConfigError, EnvironmentNotFoundError, SecretError
from netra_ops.secrets import resolve_secret

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_TOML = (ROOT / "environments" / "sandbox.toml").read_text()


def write(tmp_path: Path, text: str, name: str = "env.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_staging_holds_the_seeds_values() -> None:
    env = load_environment("staging")
    assert (env.project, env.region, env.kind) == ("netra-staging", "us-central1", "gcp")
    assert env.backend.name == "netra-backend-staging"
    assert env.backend.url == "https://netra-backend-staging-pnovr5vsba-uc.a.run.app"
    assert env.backend.memory_limit_bytes == 4 * 2**30 and env.backend.cpu == 4
    assert env.backend.limits == {"memory": "4Gi", "cpu": "4"}
    assert (env.backend.timeout_s, env.backend.concurrency) == (3600, 80)
    assert (env.auth.memory, env.auth.cpu, env.auth.timeout_s, env.auth.concurrency) == (
        "512Mi", 1.0, 300, 80)  # Cloud Run's defaults
    assert env.auth.url == "https://auth.staging.netrasystems.ai"
    assert env.frontend.url == "https://app.staging.netrasystems.ai"
    assert env.expected_env["WEBSOCKET_CONNECTION_TIMEOUT"] == "360"
    assert env.expected_env["BYPASS_STARTUP_VALIDATION"] == "true"
    assert {r.name for r in env.rollback_triggers} == {
        "health_5xx", "websocket_connection_success", "auth_failure_rate", "memory_high"}
    memory = next(r for r in env.rollback_triggers if r.name == "memory_high")
    assert memory.threshold == 3.5 * 2**30
    assert env.criterion("event_latency").threshold == 500
    assert env.allow_changes is False
    assert env.credentials.password.startswith("env:")


def test_sandbox_derives_urls_from_its_ports() -> None:
    env = load_environment("sandbox")
    assert env.sandbox is not None
    assert env.backend.url == f"http://127.0.0.1:{env.sandbox.ports['backend']}"
    assert env.backend.websocket_url.startswith("ws://127.0.0.1:")
    assert env.api_endpoint == f"http://127.0.0.1:{env.sandbox.ports['api']}"
    assert env.sandbox.state_dir == (ROOT / ".sandbox").resolve()
    assert env.credentials.password == f"file:{ROOT.resolve()}/.sandbox/secrets/test-user-password"


def test_list_environments_names_both_shipped_files() -> None:
    assert {"sandbox", "staging"} <= set(list_environments())


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(EnvironmentNotFoundError, match=r"unknown environment 'prod'.*sandbox"):
        load_environment("prod")


def test_missing_file_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentNotFoundError, match="does not exist"):
        load_environment(tmp_path / "nope.toml")


def test_malformed_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, SANDBOX_TOML.replace('region = "us-central1"', "region = us-central1"))
    with pytest.raises(ConfigError) as caught:
        load_environment(path)
    message = str(caught.value)
    assert str(path) in message and "not valid TOML" in message and "line 7" in message
    assert "\n" not in message


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, SANDBOX_TOML.replace("cpu = 4", 'cpu = "four"'))
    with pytest.raises(ConfigError, match=r"key 'services\.backend\.cpu'"):
        load_environment(path)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SANDBOX_TOML.replace('region = "us-central1"',
                                                 'region = "us-central1"\nregoin = "x"'))
    with pytest.raises(ConfigError, match=r"key 'regoin': Extra inputs are not permitted"):
        load_environment(path)


def test_bad_memory_quantity_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, SANDBOX_TOML.replace('memory = "4Gi"', 'memory = "4 gigs"'))
    with pytest.raises(ConfigError, match=r"services\.backend\.memory'.*like 512Mi or 4Gi"):
        load_environment(path)


@pytest.mark.parametrize(("memory", "cpu", "timeout_s", "concurrency", "problem"), [
    ("4Gi", 4, 3600, 80, ""),
    ("512Mi", 0.5, 300, 1, ""),
    ("4Gi", 3, 300, 80, "cpu 3 is not one Cloud Run offers"),
    ("64Mi", 1, 300, 80, "memory 64Mi is outside Cloud Run's 128Mi to 32Gi"),
    ("8Gi", 1, 300, 80, "memory 8Gi needs at least 2 CPU on Cloud Run, cpu is 1"),
    ("1Gi", 4, 300, 80, "cpu 4 needs at least 2Gi of memory"),
    ("512Mi", 1, 3601, 80, "timeout_s 3601 is outside Cloud Run's 1 to 3600 seconds"),
    ("512Mi", 1, 300, 1001, "concurrency 1001 is outside Cloud Run's 1 to 1000"),
    ("512Mi", 0.5, 300, 80, "set concurrency = 1"),
])
def test_cloud_run_refuses_what_it_would_refuse(memory: str, cpu: float, timeout_s: int,
                                                concurrency: int, problem: str) -> None:
    found = cloud_run_problem(memory, cpu, timeout_s, concurrency)
    assert (problem in found and bool(found)) if problem else found == ""


def test_a_backend_cloud_run_cannot_run_is_refused_when_the_file_is_read(
        tmp_path: Path) -> None:
    path = write(tmp_path, SANDBOX_TOML.replace("timeout_s = 3600", "timeout_s = 7200"))
    with pytest.raises(ConfigError, match=r"key 'services\.backend': service "
                       r"netra-backend-staging: timeout_s 7200 is outside"):
        load_environment(path)


def test_password_as_a_value_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SANDBOX_TOML.replace(
        'password = "file:../.sandbox/secrets/test-user-password"', 'password = "hunter2"'))
    with pytest.raises(ConfigError) as caught:
        load_environment(path)
    assert "credentials.password" in str(caught.value)
    assert "never the secret itself" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_missing_port_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, SANDBOX_TOML.replace("api = 18090\n", ""))
    with pytest.raises(ConfigError, match=r"sandbox\.ports'.*missing port for api"):
        load_environment(path)


def test_secret_references_resolve_from_env_and_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_TEST_SECRET", "s3cret")
    assert resolve_secret("env:NETRA_TEST_SECRET") == "s3cret"
    secret_file = write(tmp_path, "from-file\n", "secret")
    assert resolve_secret(f"file:{secret_file}") == "from-file"
    monkeypatch.delenv("NETRA_TEST_SECRET")
    with pytest.raises(SecretError, match="NETRA_TEST_SECRET is not set"):
        resolve_secret("env:NETRA_TEST_SECRET")
    with pytest.raises(SecretError, match=r"netra-ops sandbox up"):
        resolve_secret(f"file:{tmp_path}/.sandbox/secrets/missing")


@pytest.mark.parametrize(("quantity", "expected"),
                         [("512Mi", 512 * 2**20), ("4Gi", 4 * 2**30), ("1G", 10**9), ("42", 42)])
def test_memory_quantities(quantity: str, expected: int) -> None:
    assert memory_bytes(quantity) == expected


def test_every_service_has_a_release_image_in_deploy_order() -> None:
    from netra_ops.deploy import release_images

    for name in ("sandbox", "staging"):
        images = release_images(load_environment(name))
        assert list(images) == ["auth", "backend", "frontend"]
        assert [i.rsplit("/", 1)[1] for i in images.values()] == [
            "netra-auth:develop-long-lived", "netra-backend:develop-long-lived",
            "netra-frontend:develop-long-lived"]


def test_a_missing_release_image_names_the_key(tmp_path: Path) -> None:
    from netra_ops.deploy import release_images

    text = SANDBOX_TOML.split("\nauth = \"us-central1")[0] + "\n" + \
        SANDBOX_TOML.split("netra-auth:develop-long-lived\"\n", 1)[1]
    env = load_environment(write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"no \[release.images\] auth in .*env\.toml"):
        release_images(env)


def test_two_different_backend_release_images_are_refused(tmp_path: Path) -> None:
    text = SANDBOX_TOML.replace("[release.images]\n",
                                '[release.images]\nbackend = "elsewhere/netra-backend:x"\n')
    with pytest.raises(ConfigError, match=r"\[release\] image .* and \[release.images\] "
                                          r"backend .* differ"):
        load_environment(write(tmp_path, text))


def test_an_empty_name_is_netra_ops_env_else_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a runbook's `environment = ""` means (`make lab ENV=staging` sets the variable)."""
    from netra_ops.config import default_environment

    monkeypatch.delenv("NETRA_OPS_ENV", raising=False)
    assert default_environment() == "sandbox" and load_environment("").name == "sandbox"
    monkeypatch.setenv("NETRA_OPS_ENV", "staging")
    assert load_environment("").name == "staging" and load_environment().name == "staging"
    assert load_environment("sandbox").name == "sandbox"  # a name given wins
    monkeypatch.setenv("NETRA_OPS_ENV", "nope")
    with pytest.raises(EnvironmentNotFoundError, match=r"'nope' \(from \$NETRA_OPS_ENV\)"):
        load_environment("")
