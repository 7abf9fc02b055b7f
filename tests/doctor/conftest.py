"""Fixtures of the doctor tests: no Google credentials, nothing that leaves the machine.

`google.auth.default()` looks for credentials in GOOGLE_APPLICATION_CREDENTIALS, gcloud's
config folder, and last the metadata server (169.254.169.254). These fixtures empty the
first two and point the metadata server at a closed loopback port, so a test that asks for
credentials is told "none found" without a packet leaving loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from netra_ops.config import find_environment_file
from netra_ops.sandbox.ephemeral import free_ports

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_URLS = ("https://api.netrasystems.ai", "https://auth.netrasystems.ai",
                   "https://app.netrasystems.ai")
DoctorCli = Callable[..., subprocess.CompletedProcess[str]]


def offline_google_environ(folder: Path) -> dict[str, str]:
    """Variables that leave google.auth no credentials and no metadata server to reach."""
    return {"CLOUDSDK_CONFIG": str(folder / "gcloud"),
            "GCE_METADATA_IP": f"127.0.0.1:{free_ports(1)[0]}",
            "GCE_METADATA_HOST": f"127.0.0.1:{free_ports(1)[0]}",
            "NO_GCE_CHECK": "true"}


@pytest.fixture
def offline_google(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """This process (and its children) finds no Google credentials, offline."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    variables = offline_google_environ(tmp_path)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


@pytest.fixture
def production_copy(tmp_path: Path) -> Path:
    """environments/production.toml with its URLs on a closed loopback port (tests never
    reach the real production)."""
    text = find_environment_file("production").read_text()
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    for url in PRODUCTION_URLS:
        assert url in text
        text = text.replace(url, closed)
    path = tmp_path / "production.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def doctor_cli() -> DoctorCli:
    """`doctor_cli(*args, env=None)`: `netra-ops doctor ARGS` in a subprocess, as a user runs
    it, with no Google credentials and no metadata server in reach."""

    def run(*args: str, folder: Path,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
        environ.update(offline_google_environ(folder), **(extra_env or {}))
        return subprocess.run([sys.executable, "-m", "netra_ops", "doctor", *args], cwd=ROOT,
                              env=environ, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    return run
