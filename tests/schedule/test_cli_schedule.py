"""`netra-ops schedule` as a user runs it: usage errors exit 2 before anything is written,
`--print-cron` prints the lines, and real runbooks run through the scheduler: a broken one
escalates to a real receiver; SIGTERM during a run leaves a terminated run, a clean record
and exit 143."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import typer
from schedule_fakes import NOTEBOOKS, Receiver
from typer.testing import CliRunner

from netra_ops import cli_schedule
from netra_ops.record import verify_incident
from netra_ops.schedule import DEFAULT_CADENCE, DEFAULT_RUNBOOKS

TOKEN = "T0KEN-cli-77aa66bb55"
APP_SCRIPT = ("import typer; from netra_ops.cli_schedule import schedule; "
              "from netra_ops.logs_setup import configure_logging; configure_logging(); "
              "app = typer.Typer(); app.command()(schedule); app()")


def invoke(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command()(cli_schedule.schedule)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_help_defaults_are_the_librarys() -> None:
    assert cli_schedule._DEFAULT_CADENCE == DEFAULT_CADENCE
    assert cli_schedule._DEFAULT_RUNBOOKS.split(",") == list(DEFAULT_RUNBOOKS)


@pytest.mark.parametrize(("args", "message"), [
    (["--cadence", "30m, 2h"], "only the last phase of a cadence may run without"),
    (["--runbooks", "99_nothing"], "no runbook named '99_nothing'"),
    (["-p", "nope=1"], "none of the scheduled runbooks has a parameter 'nope'"),
    (["-p", "99_x.runs=1"], "names runbook '99_x', which is not one of the scheduled runbooks"),
    (["-p", "runs=many"], "parameter 'runs' of runbook 04_golden_path_validation takes int"),
    (["--start", "tomorrow"], "--start 'tomorrow' is not an ISO 8601 time"),
    (["--webhook", f"hooks.example.com/{TOKEN}"], "the webhook must be an http:// or https://"),
    (["--env", "prod"], "unknown environment 'prod'"),
    (["--incident", "../x"], "incident id '../x' is not valid"),
])
def test_usage_errors_exit_2_before_anything_is_written(
        tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("--incident", "INC-1", "--outputs", str(tmp_path), *args)
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert TOKEN not in err and list(tmp_path.iterdir()) == []


def test_a_missing_secret_is_a_usage_error_before_the_first_validation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETRA_STAGING_TEST_PASSWORD", raising=False)
    code, _, err = invoke("--incident", "INC-1", "--outputs", str(tmp_path), "--env",
                          "staging")
    assert code == 2 and err.startswith("error: missing secret: the test user's password "
                                        "for 04_golden_path_validation, 07_monitoring"), err
    assert list(tmp_path.iterdir()) == []


def test_print_cron_prints_a_commented_line_per_phase(tmp_path: Path) -> None:
    code, out, _ = invoke("--incident", "INC-1", "--outputs", str(tmp_path), "--print-cron",
                          "--start", "2025-01-11T14:10:00+00:00", "-p", "runs=3")
    assert code == 0
    jobs = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert len(jobs) == 4  # phase 1, phase 2 (crossing midnight: two dates), phase 3
    assert all("netra_ops run 04_golden_path_validation" in j and "-p runs=3" in j
               and "netra_ops run 07_monitoring" in j and "flock -n" in j for j in jobs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_broken_runbook_escalates_through_the_real_path(
        tmp_path: Path, env_file: Path, receiver: Receiver) -> None:
    outputs = tmp_path / "outputs"
    code, out, err = invoke(
        "--incident", "INC-real", "--env", str(env_file), "--outputs", str(outputs),
        "--runbooks", f"{NOTEBOOKS / 'ok.ipynb'},{NOTEBOOKS / 'broken.ipynb'}",
        "--cadence", "1m", "--max-runs", "1", "-p", "ok.runs=2",
        "--webhook", f"{receiver.url}/hook?token={TOKEN}")
    assert code == 1, err
    [sent] = receiver.received
    body = sent.body
    assert (body["runbook"], body["status"], body["exit_code"]) == ("broken", "error", 3)
    assert body["incident"] == "INC-real" and body["failing_cell"]["ename"] == "KeyError"
    assert (Path(body["record"]) / "broken.ipynb").is_file()
    folder = outputs / "INC-real"
    slot = json.loads((folder / "schedule.json").read_text())["slots"][0]
    assert slot["status"] == "failed"
    assert [(r["runbook"], r["status"], r["exit_code"]) for r in slot["runs"]] == [
        ("ok", "passed", 0), ("broken", "error", 3)]
    assert slot["runs"][1]["escalation"]["delivered"] is True
    ok_summary = json.loads((Path(slot["runs"][0]["record"]) / "summary.json").read_text())
    assert ok_summary["parameters"] == {"runs": 2}
    assert "failed" in out and "stopped after --max-runs" in out
    assert verify_incident(folder).ok
    for path in folder.rglob("*"):
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in out + err


@pytest.mark.slow
def test_sigterm_during_a_run_archives_it_as_terminated_and_releases_the_lock(
        tmp_path: Path, env_file: Path) -> None:
    outputs, ready = tmp_path / "outputs", tmp_path / "long-cell-started"
    process = subprocess.Popen(
        [sys.executable, "-c", APP_SCRIPT, "--incident", "INC-term", "--env", str(env_file),
         "--outputs", str(outputs), "--runbooks", str(NOTEBOOKS / "sleeping.ipynb"),
         "--cadence", "1h", "-p", f"ready_file={ready}"], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kernels = _wait_for_the_long_cell(process, ready)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 143, err[-2000:]
    folder = outputs / "INC-term"
    slot = json.loads((folder / "schedule.json").read_text())["slots"][0]
    assert slot["status"] == "interrupted" and "terminated" in slot["reason"]
    assert "escalation" not in slot["runs"][0] and "ESCALATION" not in err
    [summary] = [json.loads(p.read_text()) for p in folder.glob("*-sleeping/summary.json")]
    assert summary["status"] == "terminated" and summary["records"] == {"before_sleep": True}
    assert not (folder / "schedule.lock").exists() and verify_incident(folder).ok
    deadline = time.monotonic() + 10
    while any(k.is_running() for k in kernels) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [k.pid for k in kernels if k.is_running()] == []


def _wait_for_the_long_cell(process: subprocess.Popen[str],
                            ready: Path) -> list[psutil.Process]:
    """The scheduler's kernel processes, once the long cell has started (it touches
    `ready`): however slow a busy machine is, the cells before it have run."""
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the long cell never started"
        time.sleep(0.1)
    kernels = [c for c in psutil.Process(process.pid).children(recursive=True)
               if any("ipykernel" in part for part in c.cmdline())]
    assert kernels, "no kernel process found under the scheduler"
    return kernels
