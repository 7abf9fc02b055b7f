"""Secrets planted where a real incident would meet them never reach the record.

On a private sandbox:
- **environment variables**: the test user's password comes from an env var (the
  environment's credential), and an API key from another one ([secret_env]); the backend
  revision carries the same key in its configuration, which the drift check reads;
- **a server response**: the backend runs with `NETRA_FAULT_ECHO_SECRETS`, so every agent
  answer ends with the caller's bearer token and that API key (runbook 04 prints the answer);
- **parameters**: a password and a bearer token passed with `-p` are refused before a run.

Then every byte of every file of the incident (notebooks, HTML, JSON, logs, index, manifest)
is scanned. The plant is proved to have reached the kernel: the run log says what was
redacted, and the printed answer holds `[REDACTED]` where the token was.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from netra_ops.config import Environment, load_environment
from netra_ops.deploy import serve_for_rehearsal
from netra_ops.record import find_secrets

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "planted-api-key-" + secrets.token_hex(12)
INCIDENT = "INC-planted"


def _segment(data: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


FAKE_JWT = ".".join([_segment({"alg": "HS256", "typ": "JWT"}), _segment({"sub": "ops"}),
                     "c2lnbmF0dXJl" * 3])


@pytest.fixture(scope="module")
def planted(module_sandbox_env: Environment) -> tuple[Environment, dict[str, str]]:
    """The environment file with the planted references, and the variables they name."""
    source = Path(module_sandbox_env.source)
    assert module_sandbox_env.sandbox is not None
    password_file = module_sandbox_env.sandbox.state_dir / "secrets" / "test-user-password"
    text = re.sub(r'(?m)^password = ".*"$', 'password = "env:NETRA_PLANTED_PASSWORD"',
                  source.read_text(encoding="utf-8"))
    text += '\n[secret_env]\nPLANTED_API_KEY = "env:NETRA_PLANTED_API_KEY"\n'
    path = source.with_name("planted.toml")
    path.write_text(text, encoding="utf-8")
    variables = {"NETRA_PLANTED_PASSWORD": password_file.read_text(encoding="utf-8").strip(),
                 "NETRA_PLANTED_API_KEY": API_KEY}
    env = load_environment(str(path))
    serve_for_rehearsal(env, "develop-long-lived", {
        "NETRA_FAULT_ECHO_SECRETS": "PLANTED_API_KEY", "PLANTED_API_KEY": API_KEY})
    return env, variables


def _run(env: Environment, variables: dict[str, str], outputs: Path, runbook: str,
         *params: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "netra_ops", "run", runbook, "--env", str(env.source),
            "--incident", INCIDENT, "--outputs", str(outputs)]
    for param in params:
        args += ["-p", param]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env={**os.environ, **variables})


def test_no_planted_secret_survives_in_any_byte_of_the_record(
        planted: tuple[Environment, dict[str, str]], tmp_path: Path) -> None:
    env, variables = planted
    outputs = tmp_path / "outputs"
    validation = _run(env, variables, outputs, "04_golden_path_validation", "runs=1")
    assert validation.returncode in (0, 1), validation.stderr  # a verdict, not a crash
    drift = _run(env, variables, outputs, "03_config_sync")
    assert drift.returncode in (0, 1), drift.stderr
    for param in (f"message=Authorization: Bearer {FAKE_JWT}", "password=hunter2-hunter2"):
        refused = _run(env, variables, outputs, "04_golden_path_validation", param)
        assert refused.returncode == 2 and "pass a secret reference" in refused.stderr

    runs = sorted(p for p in (outputs / INCIDENT).iterdir() if p.is_dir())
    assert [p.name.split("-", 1)[1] for p in runs] == [
        "04_golden_path_validation", "03_config_sync"]  # the refused runs left nothing
    answer = _printed_answer(runs[0] / "04_golden_path_validation.ipynb")
    assert "[debug] Authorization: Bearer [REDACTED]; PLANTED_API_KEY=[REDACTED]" in answer
    assert "redacted from the notebook" in (runs[0] / "run.log").read_text(encoding="utf-8")

    planted_values = [API_KEY, variables["NETRA_PLANTED_PASSWORD"], FAKE_JWT, "hunter2-hunter2"]
    files = [p for p in (outputs / INCIDENT).rglob("*") if p.is_file()]
    assert len(files) >= 10
    for path in files:
        content = path.read_bytes()
        assert [v for v in planted_values if v.encode() in content] == [], path
        assert not re.search(rb"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.", content), path
        assert not re.search(rb"Bearer (?!\[REDACTED\])[A-Za-z0-9]", content), path
        assert find_secrets(content.decode("utf-8", "replace"), planted_values) == [], path

    verified = subprocess.run(
        [sys.executable, "-m", "netra_ops", "records", "verify", INCIDENT, "--outputs",
         str(outputs), "--env", str(env.source)], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env={**os.environ, **variables})
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _printed_answer(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "".join(output.get("text", "") for cell in cells if cell.cell_type == "code"
                   and "last_answer" in cell.source for output in cell.outputs)
