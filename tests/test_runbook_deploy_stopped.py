"""Runbook 02 stopped in the middle of a deploy (a cell timeout; SIGTERM of the runner): the
kernel dies, traffic stays pinned to the revision that served before, and the record says
which. A sandbox of this module's own, whose revisions may take long to start; the backend's
new revision takes 25 s (NETRA_RUN_STARTUP_S), so the stop comes while it starts (nothing
is built: `build=none`, the release's images by digest).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment, load_environment
from netra_ops.deploy import read_service
from netra_ops.record import run_notebook
from netra_ops.sandbox.ephemeral import write_sandbox_environment
from netra_ops.sandbox.runtime.revisions import STARTUP_ENV

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parent.parent
SLOW_START = {STARTUP_ENV: "25"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    folder = tmp_path_factory.mktemp("stopped-deploy")
    environment = load_environment(write_sandbox_environment(folder, startup_timeout_s=60))
    sandbox.up(environment)
    yield environment
    sandbox.down(environment)


def wait_for(condition: object, what: str, within_s: float = 90.0) -> None:
    deadline = time.monotonic() + within_s
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, f"{what} within {within_s:g} s"
        time.sleep(0.5)


def test_a_cell_timeout_mid_deploy_leaves_traffic_pinned_and_says_where(
        env: Environment, tmp_path: Path) -> None:
    serving = read_service(env).serving_revision
    result = run_notebook("02_deploy", environment=str(env.source), incident="INC-stop",
                          parameters={"execute": True, "env_vars": SLOW_START,
                                      "build": "none"},
                          outputs_dir=tmp_path, cell_timeout_s=15)
    assert result.status == "timeout"
    (change,) = result.summary["in_flight"]
    assert change["action"] == "deploy" and change["service"].endswith(env.backend.name)
    assert (change["traffic_now"], change["pinned"]) == ({serving: 100}, True)
    notebook = result.notebook_path.read_text()
    assert (f"Deploy of {env.backend.name} was in flight: its traffic is on {serving} 100% "
            "(pinned)") in notebook
    starting = read_service(env).latest_created
    wait_for(lambda: read_service(env).latest_ready == starting, "the late revision Ready")
    state = read_service(env)
    assert state.serving == {serving: 100} and not state.traffic_latest  # it took nothing


def test_sigterm_of_the_runner_mid_deploy_leaves_traffic_pinned_and_says_where(
        env: Environment, tmp_path: Path) -> None:
    before = read_service(env)
    args = [sys.executable, "-m", "netra_ops", "run", "02_deploy", "--env", str(env.source),
            "--incident", "INC-term", "--outputs", str(tmp_path), "-p", "execute=true",
            "-p", "build=none",
            "-p", "env_vars=" + json.dumps({**SLOW_START, "ATTEMPT": "2"})]
    runner = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True)
    try:
        wait_for(lambda: read_service(env).latest_created != before.latest_created,
                 "the backend's new revision created")
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 143, output
    (record,) = (tmp_path / "INC-term").glob("*-02_deploy")
    summary = json.loads((record / "summary.json").read_text())
    assert summary["status"] == "terminated"
    (change,) = summary["in_flight"]
    assert change["traffic_now"] == before.serving and change["pinned"] is True
    assert read_service(env).serving == before.serving
