"""Where records go: `--outputs`, `$NETRA_OPS_OUTPUTS`, the environment's `records_url`,
`./outputs`, in that order; a bucket URL checked and staged (no sandbox, no network)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netra_ops.config import load_environment
from netra_ops.errors import ConfigError, ParameterError
from netra_ops.record.bucket import remote_of
from netra_ops.record.incident import outputs_root, records_location

SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("NETRA_OPS_OUTPUTS", raising=False)
    monkeypatch.delenv("NETRA_OPS_ENV", raising=False)
    monkeypatch.setenv("NETRA_OPS_STAGING", str(tmp_path / "staging"))
    path = tmp_path / "sandbox.toml"
    shutil.copy(SANDBOX_TOML, path)
    text = path.read_text()
    path.write_text('records_url = "gs://netra-sandbox-records/inc"\n' + text)
    return path


def test_the_first_location_given_wins(env_file: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env = str(env_file)
    assert records_location(None, env) == "gs://netra-sandbox-records/inc"
    assert records_location(None, None) == "outputs"  # no environment named
    monkeypatch.setenv("NETRA_OPS_ENV", env)
    assert records_location(None, None) == "gs://netra-sandbox-records/inc"
    monkeypatch.setenv("NETRA_OPS_OUTPUTS", str(tmp_path / "elsewhere"))
    assert records_location(None, env) == str(tmp_path / "elsewhere")
    assert records_location("gs://other-bucket", env) == "gs://other-bucket"


def test_a_bucket_gives_a_marked_staging_folder_per_endpoint(env_file: Path,
                                                            tmp_path: Path) -> None:
    root = outputs_root(None, str(env_file))
    assert root.is_relative_to(tmp_path / "staging") and root.name == "inc"
    remote = remote_of(root)
    assert remote is not None and str(remote.url) == "gs://netra-sandbox-records/inc"
    assert remote.environment == str(env_file)
    assert remote_of(tmp_path) is None
    other = env_file.with_name("other.toml")
    other.write_text(env_file.read_text().replace("api = 18090", "api = 18190"))
    assert outputs_root(None, str(other)) != root  # another sandbox, another staging folder


@pytest.mark.parametrize("url", ["gs://", "gs://Upper/x", "gs://ok-bucket/a//b",
                                 "gs://ok-bucket/../x"])
def test_a_malformed_bucket_url_is_refused_with_the_form_expected(url: str,
                                                                  env_file: Path) -> None:
    with pytest.raises(ParameterError, match=r"gs://BUCKET\[/PREFIX\]"):
        outputs_root(url, str(env_file))


def test_a_path_that_lost_a_slash_and_a_bad_records_url_are_refused(env_file: Path) -> None:
    with pytest.raises(ParameterError, match="lost a slash"):
        records_location(Path("gs://bucket/x"), str(env_file))
    env_file.write_text(env_file.read_text().replace("gs://netra-sandbox-records/inc",
                                                     "gs://Bad_Bucket"))
    with pytest.raises(ConfigError, match="records_url"):
        load_environment(env_file)
