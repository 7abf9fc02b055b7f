"""The target is checked before anything runs: a stopped sandbox (here: a sandbox environment
never started, every port closed) fails a runbook or a playbook at once, with one line that
says what does not answer and how to start it, exit 2, and nothing run, staged or recorded."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixture_playbooks import NOTEBOOKS, write_fixture_playbook

from netra_ops.config import Environment, load_environment
from netra_ops.errors import TargetUnreachableError
from netra_ops.playbook import run_playbook
from netra_ops.record import run_notebook
from netra_ops.record.reachability import reachability, target_endpoints
from netra_ops.record.target import reaches_target, require_target

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stopped(make_sandbox_env: Callable[[], Environment]) -> Environment:
    """A sandbox environment on free ports, stopped: nothing listens on them. Its state
    folder keeps the test user's password, as one that ran before does (a sandbox never
    started is refused earlier, for that missing secret)."""
    environment = make_sandbox_env()
    password = Path(str(environment.credentials.password).removeprefix("file:"))
    password.parent.mkdir(parents=True, exist_ok=True)
    password.write_text("stopped-sandbox-password\n")
    return environment


@pytest.fixture()
def listening(stopped: Environment) -> Iterator[int]:
    """The stopped sandbox's backend port, listened on by this test (no one accepts)."""
    assert stopped.sandbox is not None
    with socket.socket() as server:
        server.bind(("127.0.0.1", stopped.sandbox.ports["backend"]))
        server.listen()
        yield stopped.sandbox.ports["backend"]


def netra_ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netra_ops", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_the_runbooks_that_reach_the_target_say_so() -> None:
    declared = {path.stem: reaches_target(path) for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert sorted(name for name, reaches in declared.items() if not reaches) == [
        "00_incident_summary", "01_preflight"]  # records and a repository only
    assert reaches_target(NOTEBOOKS / "reaching.ipynb")
    assert not reaches_target(NOTEBOOKS / "ok.ipynb")


def test_every_endpoint_of_a_stopped_sandbox_is_unreachable_and_one_that_listens_is_not(
        stopped: Environment, listening: int) -> None:
    endpoints = target_endpoints(stopped)
    assert [e.what for e in endpoints] == [
        "backend service", "auth service", "frontend service", "Google API emulation",
        "Cloud Monitoring emulation"]
    reach = reachability(stopped, timeout_s=5)
    assert not reach.ok
    assert [r.endpoint.port for r in reach.results if r.ok] == [listening]
    assert {r.error for r in reach.unreachable} == {"connection refused"}
    assert f"auth service (127.0.0.1:{endpoints[1].port})" in reach.describe()
    assert "backend" not in reach.describe()


def test_google_endpoints_when_the_environment_names_none() -> None:
    staging = load_environment("staging")
    assert [(e.what, e.host, e.port) for e in target_endpoints(staging)][3:] == [
        ("Cloud Run API", "run.googleapis.com", 443),
        ("Cloud Logging API", "logging.googleapis.com", 443),
        ("Cloud Monitoring API", "monitoring.googleapis.com", 443)]
    assert target_endpoints(staging)[0].host == "netra-backend-staging-pnovr5vsba-uc.a.run.app"


def test_a_runbook_that_does_not_reach_the_target_is_not_held_back(
        stopped: Environment, tmp_path: Path) -> None:
    require_target(str(stopped.source), [NOTEBOOKS / "ok.ipynb"])  # nothing asked
    result = run_notebook(NOTEBOOKS / "ok.ipynb", environment=str(stopped.source),
                          incident="T-ok", outputs_dir=tmp_path, check_target=True)
    assert result.status == "passed"


def test_a_runbook_against_a_stopped_sandbox_runs_nothing(
        stopped: Environment, tmp_path: Path) -> None:
    with pytest.raises(TargetUnreachableError) as raised:
        run_notebook(NOTEBOOKS / "reaching.ipynb", environment=str(stopped.source),
                     incident="T-1", outputs_dir=tmp_path, check_target=True)
    assert f"netra-ops sandbox up --env {stopped.source}" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_playbook_against_a_stopped_sandbox_stages_and_runs_nothing(
        stopped: Environment, tmp_path: Path) -> None:
    book = write_fixture_playbook(tmp_path / "book.toml", ["ok.ipynb", "reaching.ipynb"],
                                  branch=["ok.ipynb"], scenario=True)
    staged = []
    with pytest.raises(TargetUnreachableError, match="does not answer"):
        run_playbook(book, environment=str(stopped.source), incident="T-2", scenario="story",
                     outputs_dir=tmp_path / "out", stage=staged.append)
    assert staged == [] and not (tmp_path / "out").exists()


def test_the_cli_says_why_in_one_line_and_exits_2(stopped: Environment, tmp_path: Path) -> None:
    """`netra-ops run` of a runbook and of the remediation playbook (with a scenario to stage
    and --execute): at once, one line, nothing recorded, nothing deployed or rolled back."""
    outputs = tmp_path / "outputs"
    runbook = netra_ops("run", "04_golden_path_validation", "--env", str(stopped.source),
                        "--incident", "T-3", "--outputs", str(outputs))
    playbook = netra_ops("run", "golden_path_remediation", "--env", str(stopped.source),
                         "--incident", "T-4", "--outputs", str(outputs), "--execute",
                         "--scenario", "bad-deploy")
    for done in (runbook, playbook):
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith(f"error: environment {stopped.name} does not answer: ")
        assert "connection refused" in done.stderr and "Traceback" not in done.stderr
        assert f"start it with: netra-ops sandbox up --env {stopped.source}" in done.stderr
    assert not outputs.exists()

