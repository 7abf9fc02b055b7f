"""The Locust path: the golden-path scenario as a Locust test, run headless in a subprocess
(two worker processes) against the sandbox, its turns read back into the samples frame."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from netra_ops.config import Environment
from netra_ops.errors import ConfigError, LocustError, LocustRunError
from netra_ops.load.frames import SAMPLE_COLUMNS, empty_samples
from netra_ops.load.locust_runner import (
    final_count,
    locust_commands,
    read_samples,
    read_stats,
    run_locust,
)
from netra_ops.load.locustfile import (
    ENV_ENVIRONMENT,
    ENV_PASSWORD,
    ENV_RESULTS_DIR,
    LocustSettings,
    TurnsFile,
    VirtualUser,
    run_steps_blocking,
)
from netra_ops.load.users import TurnPlan
from netra_ops.probe._transport.connections import open_connection
from netra_ops.probe._transport.drivers import Deadline
from netra_ops.secrets import resolve_secret

PLAN = TurnPlan(turn_timeout_s=10.0, connect_timeout_s=5.0)


def _settings(env: Environment, folder: Path, password: str | None = None) -> LocustSettings:
    return LocustSettings(str(env.source), password or resolve_secret(env.credentials.password),
                          folder, 0.0, PLAN)


def _user(settings: LocustSettings, monkeypatch: pytest.MonkeyPatch) -> VirtualUser:
    monkeypatch.setenv(ENV_PASSWORD, settings.password)
    return VirtualUser(settings.load_environment(), 0, PLAN, "locust-test-0")


def _processes_naming(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if text in " ".join(process.info["cmdline"] or ()):
            found.append(process)
    return found


# --- the whole path: Locust with two worker processes --------------------------------------


@pytest.mark.slow
@pytest.mark.sandbox
def test_locust_runs_two_worker_processes_and_its_turns_land_in_the_samples_frame(
        sandbox_env: Environment, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    started = time.monotonic()
    result = run_locust(sandbox_env, users=4, duration_s=4, processes=2, results_dir=folder)
    took = time.monotonic() - started

    samples = result.samples
    assert result.returncode == 0
    assert list(samples.columns) == list(SAMPLE_COLUMNS)
    assert samples.dtypes.to_dict() == empty_samples().dtypes.to_dict()
    assert len(samples) > 20, result.stats
    assert samples["ok"].all(), samples[~samples["ok"]].head()
    assert samples["error_class"].isna().all()
    assert (samples["events"] == 5).all()
    assert set(samples["engine"]) == {"locust"} and set(samples["model"]) == {"closed"}
    # Locust's own final count of the turns is the number of samples (its CSV, refreshed
    # once a second, may lag behind).
    assert result.locust_turns == len(samples) and result.counts_agree
    csv_turns = result.stats.set_index(["Type", "Name"]).loc[("WS", "turn"), "Request Count"]
    assert 0 < csv_turns <= len(samples)
    # Two worker processes wrote turns; the four users are numbered 0..3 across them.
    assert len(list(folder.glob("turns-*.jsonl"))) == 2
    assert sorted(samples["user"].unique()) == [0, 1, 2, 3]
    assert (samples.groupby("user")["turn"].agg(lambda t: sorted(t) == list(range(len(t))))
            .all())
    assert (samples["started_at"] <= samples["ended_at"]).all()
    assert (samples["latency_ms"] >= samples["service_ms"]).all()
    # The password is nowhere: not on the command line, not in a file of the run.
    password = resolve_secret(sandbox_env.credentials.password)
    assert password not in " ".join(result.command)
    assert "--processes" in result.command
    assert all(password not in p.read_text(errors="replace") for p in folder.iterdir())
    # No Locust process (master or forked worker) outlives the run.
    assert _processes_naming(str(folder)) == []
    print(f"locust: {len(samples)} turns in {result.duration_s:g} s "
          f"({result.turns_per_s:.0f} turns/s, 4 users, 2 processes), {took:.1f} s in all")


# --- the worker's parts, in this process (websocket-client without gevent) ----------------


@pytest.mark.sandbox
def test_a_virtual_user_sends_turns_and_its_file_reads_back_as_samples(
        sandbox_env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = _user(_settings(sandbox_env, tmp_path), monkeypatch)
    assert user.connect() == (None, None)
    turns = TurnsFile(tmp_path)
    try:
        for _ in range(3):
            turns.write(user.turn())
    finally:
        user.close()
        turns.close()
    assert not user.connected

    samples = read_samples(tmp_path)
    assert list(samples["turn"]) == [0, 1, 2]
    assert samples["ok"].all() and (samples["events"] == 5).all()
    assert set(samples["user"]) == {0}
    assert (samples["scheduled_at"] <= samples["started_at"]).all()


@pytest.mark.sandbox
def test_a_wrong_password_is_an_auth_failure_and_never_shown(
        sandbox_env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "not-the-password-4711"
    user = _user(_settings(sandbox_env, tmp_path, wrong), monkeypatch)
    record = user.turn()
    assert not record.sample.ok
    assert record.sample.error_class == "auth"
    assert record.error is not None and record.error.startswith("login:")
    assert wrong not in record.error


@pytest.mark.sandbox
def test_a_rejected_token_closes_the_websocket_as_an_auth_failure(
        sandbox_env: Environment) -> None:
    opened = run_steps_blocking(open_connection(sandbox_env, Deadline.after(5.0),
                                                token="not-a-token"))
    assert opened.link is None
    assert opened.failure == "auth_rejected", opened
    assert "not-a-token" not in (opened.error or "")


def test_an_unreachable_backend_is_a_connect_failure(
        make_sandbox_env: Callable[[], Environment], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_sandbox_env()  # written, never started
    user = _user(_settings(env, tmp_path, "any-password"), monkeypatch)
    record = user.turn()
    assert (record.sample.ok, record.sample.error_class, record.sample.events) == (
        False, "connect", 0)


# --- configuration, commands, errors ---------------------------------------------------------


def test_settings_travel_in_environment_variables(tmp_path: Path) -> None:
    settings = LocustSettings("staging", "s3cret-value", tmp_path, 0.5,
                              TurnPlan(message="hello there", turn_timeout_s=12.5))
    assert LocustSettings.from_environ(settings.environ()) == settings
    assert ENV_PASSWORD not in settings.environ(with_password=False)
    assert "s3cret-value" not in repr(settings)


def test_missing_worker_variables_are_named() -> None:
    with pytest.raises(ConfigError) as raised:
        LocustSettings.from_environ({ENV_ENVIRONMENT: "staging"})
    assert ENV_PASSWORD in str(raised.value) and ENV_RESULTS_DIR in str(raised.value)


def test_the_locustfile_is_a_plain_module_outside_locust() -> None:
    """Imported by the library it must not import Locust (gevent would patch the caller)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c",
         "import sys, netra_ops.load.locust_runner as r, netra_ops.load.locustfile as f; "
         "assert 'locust' not in sys.modules and 'gevent' not in sys.modules; "
         "assert not hasattr(f, 'GoldenPathUser')"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_commands_for_other_machines(sandbox_env: Environment) -> None:
    lines = locust_commands(sandbox_env, workers=3, master_host="loadmaster.internal",
                            processes_per_worker=2, duration_s=300)
    master, *workers = lines
    assert len(workers) == 3
    assert "--master " in master and "--expect-workers 6" in master
    assert "--run-time 300s" in master and "--csv locust-results/locust" in master
    for line in workers:
        assert "--worker --master-host loadmaster.internal --master-port 5557" in line
        assert "--processes 2" in line
        assert f'{ENV_PASSWORD}="${{{ENV_PASSWORD}:?' in line
    password = resolve_secret(sandbox_env.credentials.password)
    for line in lines:
        assert password not in line
        syntax = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_master_and_worker_lines_run_a_distributed_test(
        sandbox_env: Environment, tmp_path: Path) -> None:
    """The lines for several machines, run here on loopback: a master and one worker."""
    port = _free_port()
    master, worker = locust_commands(sandbox_env, workers=1, master_host="127.0.0.1",
                                     master_port=port, users=2, duration_s=3,
                                     python=sys.executable)
    environ = {**os.environ, ENV_PASSWORD: resolve_secret(sandbox_env.credentials.password)}
    with contextlib.ExitStack() as stack:
        started = [subprocess.Popen(["bash", "-c", line], cwd=tmp_path, env=environ,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=stack.enter_context((tmp_path / f"{name}.log")
                                                               .open("wb")),
                                    start_new_session=True)
                   for name, line in (("master", master), ("worker", worker))]
        try:
            codes = [process.wait(timeout=60) for process in started]
        finally:
            for process in started:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert codes == [0, 0], (tmp_path / "master.log").read_text()[-2000:]
    folder = tmp_path / "locust-results"
    samples = read_samples(folder)
    assert len(samples) > 5 and samples["ok"].all()
    assert len(samples) == final_count(folder, "WS", "turn")
    assert not read_stats(folder).empty


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_folder_with_earlier_turns_is_refused(
        make_sandbox_env: Callable[[], Environment], tmp_path: Path) -> None:
    (tmp_path / "turns-host-1.jsonl").write_text("{}\n")
    with pytest.raises(LocustError, match="earlier run"):
        run_locust(make_sandbox_env(), users=1, duration_s=1, results_dir=tmp_path)


@pytest.mark.sandbox
def test_a_failing_locust_says_why(sandbox_env: Environment, tmp_path: Path) -> None:
    with pytest.raises(LocustRunError) as raised:
        run_locust(sandbox_env, users=1, duration_s=1, results_dir=tmp_path,
                   extra_args=["--no-such-option"])
    assert "exited with code" in str(raised.value)
    assert "--no-such-option" in str(raised.value)
    assert _processes_naming(str(tmp_path)) == []
