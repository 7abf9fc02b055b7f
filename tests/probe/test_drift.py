"""Configuration drift (seed 2.1) read through Google's Cloud Run client from a real sandbox.

Every test leaves the shared sandbox serving the fixed build with the expected configuration
(`apply_scenario(env, "fixed")` deploys the base env again).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment, find_environment_file, load_environment
from netra_ops.deploy import deploy, read_service, rollback
from netra_ops.errors import ConfigError, DeployError
from netra_ops.probe.drift import SECRET_SHOWN, config_drift, sync_plan

pytestmark = pytest.mark.sandbox


@pytest.fixture()
def env(restored_sandbox_env: Environment) -> Environment:
    """The shared sandbox, put back to the fixed build and expected env afterwards."""
    return restored_sandbox_env


def serving_image(env: Environment) -> str:
    image = read_service(env).serving_image
    assert image is not None
    return image


def test_the_fixed_build_has_no_drift(env: Environment) -> None:
    drift = config_drift(env)
    assert drift.ok and drift.error is None, drift.to_frame().to_string()
    assert drift.revision == read_service(env).serving_revision
    assert drift.counts["match"] == len(env.expected_env)
    assert list(drift.to_frame()["key"]) == list(env.expected_env)
    assert drift.notes == ()
    assert sync_plan(env, drift).needed is False
    assert drift.checks()[0].ok is True


def test_wrong_auth_url_is_detected_planned_and_fixed(env: Environment) -> None:
    sandbox.apply_scenario(env, "wrong-auth-url")
    drift = config_drift(env)
    assert not drift.ok
    assert [(r.key, r.state) for r in drift.drifted] == [("AUTH_SERVICE_URL", "different")]
    row = drift.row("AUTH_SERVICE_URL")
    assert row is not None and row.expected == env.expected_env["AUTH_SERVICE_URL"]
    assert row.actual is not None and row.actual != row.expected
    assert drift.counts == {"match": len(env.expected_env) - 1, "missing": 0, "different": 1,
                            "unexpected": 0, "unverified": 0}
    check = drift.checks()[0]
    assert check.ok is False and check.detail == "AUTH_SERVICE_URL different"

    plan = sync_plan(env, drift)
    assert plan.needed and plan.image == serving_image(env) and plan.revision == drift.revision
    assert plan.env_vars() == {"AUTH_SERVICE_URL": env.expected_env["AUTH_SERVICE_URL"]}
    assert list(plan.to_frame()["action"]) == ["set"]

    dry = deploy(env, plan.image or "", env_vars=plan.env_vars())
    assert dry.status == "planned" and not config_drift(env).ok
    done = deploy(env, plan.image or "", env_vars=plan.env_vars(), execute=True)
    assert done.status == "done", done.error
    after = config_drift(env)
    assert after.ok and after.revision == done.new_revision


def test_a_traffic_only_rollback_leaves_the_template_drifted(env: Environment) -> None:
    good = read_service(env).serving_revision
    sandbox.apply_scenario(env, "wrong-auth-url")
    assert rollback(env, to_revision=good, execute=True).status == "done"
    drift = config_drift(env)
    assert drift.ok and drift.revision == good
    assert len(drift.notes) == 1 and "template" in drift.notes[0]
    assert drift.notes[0].endswith("in AUTH_SERVICE_URL")


def test_secret_values_are_compared_but_never_shown(
        env: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    expects_secret = env.model_copy(update={"secret_env": {
        "NETRA_API_KEY": "env:NETRA_TEST_EXPECTED_API_KEY"}})
    deployed = {"NETRA_API_KEY": "deployed-api-key-4417",
                "DATABASE_URL": "postgresql://app:db-pass-9931@10.0.0.5/netra",
                "SESSION_SECRET": "session-secret-2288"}
    assert deploy(env, serving_image(env), env_vars=deployed, execute=True).status == "done"
    monkeypatch.setenv("NETRA_TEST_EXPECTED_API_KEY", "expected-api-key-7723")

    drift = config_drift(expects_secret)
    row = drift.row("NETRA_API_KEY")
    assert row is not None and row.state == "different" and row.secret
    assert (row.expected, row.actual) == (SECRET_SHOWN, SECRET_SHOWN)
    assert [(r.key, r.actual) for r in drift.rows if r.state == "unexpected"] == [
        ("DATABASE_URL", "postgresql://app:***@10.0.0.5/netra"),
        ("SESSION_SECRET", SECRET_SHOWN)]
    plan = sync_plan(expects_secret, drift)
    shown = " ".join([repr(drift), drift.to_frame().to_string(), repr(plan),
                      plan.to_frame().to_string(), repr(drift.checks())])
    for value in ("4417", "7723", "db-pass-9931", "2288"):
        assert value not in shown
    assert plan.env_vars() == {"NETRA_API_KEY": "expected-api-key-7723"}

    monkeypatch.setenv("NETRA_TEST_EXPECTED_API_KEY", "deployed-api-key-4417")
    matched = config_drift(expects_secret).row("NETRA_API_KEY")
    assert matched is not None and matched.state == "match"
    assert matched.detail == "compared by SHA-256 digest"


def test_an_unresolvable_expected_secret_is_unverified(env: Environment) -> None:
    expects_secret = env.model_copy(update={"secret_env": {
        "NETRA_API_KEY": "env:NETRA_TEST_NEVER_SET"}})
    assert deploy(env, serving_image(env), env_vars={"NETRA_API_KEY": "x-4417"},
                  execute=True).status == "done"
    drift = config_drift(expects_secret)
    row = drift.row("NETRA_API_KEY")
    assert row is not None and row.state == "unverified" and not drift.ok
    assert "NETRA_TEST_NEVER_SET is not set" in row.detail
    plan = sync_plan(expects_secret, drift)
    assert not plan.needed and len(plan.skipped) == 1


def test_missing_and_unexpected_keys(env: Environment) -> None:
    assert deploy(env, serving_image(env), env_vars={"NETRA_EXTRA_FLAG": "1"},
                  execute=True).status == "done"
    wants_more = env.model_copy(update={"expected_env": {**env.expected_env,
                                                         "NEW_FEATURE": "on"}})
    drift = config_drift(wants_more)
    assert [(r.key, r.state) for r in drift.drifted] == [("NEW_FEATURE", "missing")]
    extra = drift.row("NETRA_EXTRA_FLAG")
    assert extra is not None and extra.state == "unexpected" and extra.actual == "1"
    assert sync_plan(wants_more, drift).env_vars() == {"NEW_FEATURE": "on"}

    strict = config_drift(wants_more, strict=True)
    assert {r.key for r in strict.drifted} == {"NEW_FEATURE", "NETRA_EXTRA_FLAG"}
    assert sync_plan(wants_more, strict).env_vars() == {"NEW_FEATURE": "on",
                                                        "NETRA_EXTRA_FLAG": None}


def test_an_unreachable_api_is_a_result_not_an_exception(sandbox_env: Environment) -> None:
    from netra_ops.sandbox.ephemeral import free_ports

    nowhere = sandbox_env.model_copy(update={
        "api_endpoint": f"http://127.0.0.1:{free_ports(1)[0]}"})
    drift = config_drift(nowhere)
    assert not drift.ok and drift.rows == ()
    assert drift.error is not None and "cannot be reached" in drift.error
    assert drift.checks()[0].ok is False
    with pytest.raises(DeployError, match="cannot plan a configuration sync"):
        sync_plan(nowhere, drift)


def test_a_key_cannot_be_both_plain_and_secret(tmp_path: Path) -> None:
    text = find_environment_file("staging").read_text().replace(
        "# [secret_env]\n# JWT_SECRET_KEY", "[secret_env]\nENVIRONMENT")
    (tmp_path / "both.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"ENVIRONMENT in both \[expected_env\] and "
                                          r"\[secret_env\]"):
        load_environment(tmp_path / "both.toml")
