"""Runs stopped from outside the kernel: a whole-run deadline, SIGTERM and Ctrl-C of the
runner. Each leaves a complete record with the running cell marked, its own status and exit
code, and no kernel process behind; after a signal `RunStopped` is raised (the CLI exits
with the code), so a playbook, or any loop of runs, stops at the run that was stopped.

The fixture runbook touches `ready_file` when its long cell starts, so the signal is sent
while that cell runs, not at a guessed moment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest

from netra_ops.errors import RunStopped
from netra_ops.record import RunResult, run_notebook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SANDBOX_TOML = ROOT / "environments" / "sandbox.toml"
READY_WAIT_S = 60


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("env") / "sandbox.toml"
    path.write_text(SANDBOX_TOML.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _summary(record_dir: Path) -> dict[str, Any]:
    return dict(json.loads((record_dir / "summary.json").read_text(encoding="utf-8")))


def assert_stopped_in_the_long_cell(record_dir: Path, status: str, exit_code: int) -> None:
    """Complete record; the summary's failing cell is the sleeping one, marked; later pending."""
    summary = _summary(record_dir)
    assert (summary["status"], summary["exit_code"]) == (status, exit_code)
    assert {p.name for p in record_dir.iterdir()} == {
        "run.log", "summary.json", "sleeping.ipynb", "sleeping.html", "manifest.json"}
    assert summary["records"] == {"before_sleep": True}
    failing = summary["failing_cell"]
    assert "time.sleep(120)" in failing["source"]
    notebook = nbformat.read(record_dir / "sleeping.ipynb", as_version=4)
    cell = notebook.cells[failing["index"]]
    assert cell.metadata.papermill.status == "failed"
    assert any("never becomes ready" in o.get("text", "") for o in cell.outputs)
    assert notebook.cells[-1].metadata.papermill.status == "pending"
    assert 'id="papermill-error-cell"' in notebook.cells[failing["index"] - 1].source
    assert failing["evalue"] in (record_dir / "sleeping.html").read_text(encoding="utf-8")


def _kernels_of(process: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in process.children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _start_cli(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "netra_ops", "run", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _signal_when_ready(process: subprocess.Popen[str], ready: Path,
                       sig: signal.Signals) -> tuple[int, str, list[psutil.Process]]:
    """Wait for the long cell to start, send `sig`; (exit code, stderr, kernels seen)."""
    deadline = time.monotonic() + READY_WAIT_S
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the long cell never started"
        time.sleep(0.1)
    kernels = _kernels_of(psutil.Process(process.pid))
    assert kernels, "no kernel process found under the runner"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr, kernels


def _only_run(outputs: Path, incident: str) -> Path:
    runs = [p.parent for p in (outputs / incident).glob("*/summary.json")]
    assert len(runs) == 1, runs
    return runs[0]


def test_a_whole_run_deadline_exits_7_with_the_running_cell_marked(
        env_file: Path, tmp_path: Path) -> None:
    # The deadline covers the kernel's start and the importing cell too: 20 s holds on a
    # busy machine, and only the sleeping cell (120 s) can outlast it.
    started = time.monotonic()
    result = run_notebook(NOTEBOOKS / "sleeping.ipynb", environment=str(env_file),
                          incident="INC-deadline", outputs_dir=tmp_path / "outputs",
                          parameters={"ready_file": str(tmp_path / "ready")}, deadline_s=20)
    assert time.monotonic() - started < 110  # the cell alone would sleep 120 s
    assert (result.status, result.exit_code) == ("deadline", 7)
    assert_stopped_in_the_long_cell(result.record_dir, "deadline", 7)
    assert "deadline of 20 s" in result.summary["failing_cell"]["evalue"]
    assert not _kernels_of(psutil.Process())


@pytest.mark.parametrize(("sig", "status", "code"), [
    (signal.SIGTERM, "terminated", 143),
    (signal.SIGINT, "interrupted", 130),
])
def test_a_signal_to_the_runner_leaves_a_complete_record_and_no_kernel(
        env_file: Path, tmp_path: Path, sig: signal.Signals, status: str, code: int) -> None:
    outputs, ready = tmp_path / "outputs", tmp_path / "ready"
    process = _start_cli([str(NOTEBOOKS / "sleeping.ipynb"), "--env", str(env_file),
                          "--incident", "INC-signal", "--outputs", str(outputs),
                          "-p", f"ready_file={ready}"], ROOT)
    returncode, stderr, kernels = _signal_when_ready(process, ready, sig)
    assert returncode == code, stderr
    assert_stopped_in_the_long_cell(_only_run(outputs, "INC-signal"), status, code)
    assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kernels)
    index = json.loads((outputs / "INC-signal" / "index.json").read_text(encoding="utf-8"))
    assert [run["status"] for run in index["runs"]] == [status]


def test_sigterm_stops_a_playbook_at_the_running_step(env_file: Path, tmp_path: Path) -> None:
    outputs, ready = tmp_path / "outputs", tmp_path / "ready"
    playbook = tmp_path / "stoppable.toml"
    playbook.write_text(f'''
name = "stoppable"
[[steps]]
runbook = "{NOTEBOOKS / 'sleeping.ipynb'}"
parameters = {{ ready_file = "{ready}" }}
on_rollback = "again"
[[steps]]
runbook = "{NOTEBOOKS / 'ok.ipynb'}"
[[branches.again]]
runbook = "{NOTEBOOKS / 'ok.ipynb'}"
[finally]
runbook = "{NOTEBOOKS / 'ok.ipynb'}"
''', encoding="utf-8")
    process = _start_cli([str(playbook), "--env", str(env_file), "--incident", "INC-book",
                          "--outputs", str(outputs)], ROOT)
    returncode, stderr, _ = _signal_when_ready(process, ready, signal.SIGTERM)
    assert returncode == 143, stderr
    assert_stopped_in_the_long_cell(_only_run(outputs, "INC-book"), "terminated", 143)
    assert "resume with start_from" in stderr
    (played,) = json.loads((outputs / "INC-book" / "index.json").read_text())["playbook_runs"]
    assert (played["outcome"], played["reason"]) == ("TERMINATED", "terminated at step sleeping")


def test_in_process_a_sigterm_raises_run_stopped_after_the_record_is_written(
        env_file: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"

    def terminate_when_ready() -> None:
        deadline = time.monotonic() + READY_WAIT_S
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_when_ready, daemon=True).start()
    with pytest.raises(RunStopped, match="was terminated; its record is") as stopped:
        run_notebook(NOTEBOOKS / "sleeping.ipynb", environment=str(env_file),
                     incident="INC-inproc", outputs_dir=tmp_path / "outputs",
                     parameters={"ready_file": str(ready)})
    assert (stopped.value.status, stopped.value.exit_code) == ("terminated", 143)
    assert isinstance(stopped.value.result, RunResult)
    assert_stopped_in_the_long_cell(stopped.value.result.record_dir, "terminated", 143)
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is given back
