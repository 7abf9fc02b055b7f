"""Progress on the terminal while a runbook or a playbook runs: the kernel's log lines and the
cell running reach the runner while the cell runs (not at its end), scrubbed of secrets; a
TTY gets a bar redrawn twice a second, anything else plain lines (no control characters),
one when each run or step starts and ends, and one when nothing was said for a while."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest
from fixture_playbooks import NOTEBOOKS, write_fixture_playbook

from netra_ops.config import Environment
from netra_ops.record import run_notebook
from netra_ops.record.terminal import TerminalProgress

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_TOML = ROOT / "environments" / "sandbox.toml"
SECRET = "progress-fixture-s3cret-9f2c"
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # any but the newline


@pytest.fixture()
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sandbox environment (never started: the fixtures reach nothing) whose [secret_env]
    names a variable holding SECRET, so the runner knows it as a secret to scrub."""
    monkeypatch.setenv("NETRA_PROGRESS_FIXTURE_TOKEN", SECRET)
    path = tmp_path / "sandbox.toml"
    path.write_text(SANDBOX_TOML.read_text() + '\n[secret_env]\n'
                    'FIXTURE_TOKEN = "env:NETRA_PROGRESS_FIXTURE_TOKEN"\n')
    return path


@dataclass
class Recorded:
    """A RunProgress that keeps every call in order."""

    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.calls.append(("note", (text,)))

    def run_started(self, label: str, cells: int) -> None:
        self.calls.append(("run_started", (label, cells)))

    def cell_started(self, number: int, text: str) -> None:
        self.calls.append(("cell_started", (number, text)))

    def kernel_said(self, text: str) -> None:
        self.calls.append(("kernel_said", (text,)))

    def tick(self) -> None:
        self.calls.append(("tick", ()))

    def run_finished(self, label: str, summary: str | None) -> None:
        self.calls.append(("run_finished", (label, summary)))

    def of(self, kind: str) -> list[tuple[object, ...]]:
        return [args for name, args in self.calls if name == kind]

    def index(self, kind: str, text: str) -> int:
        return next(i for i, (name, args) in enumerate(self.calls)
                    if name == kind and text in str(args))


def test_a_run_shows_its_cells_and_the_kernels_lines_while_the_cell_runs(
        env_file: Path, tmp_path: Path) -> None:
    seen = Recorded()
    result = run_notebook(NOTEBOOKS / "progressing.ipynb", environment=str(env_file),
                          incident="P-1", outputs_dir=tmp_path, progress=seen,
                          parameters={"ticks": 6, "tick_s": 0.5,
                                      "secret_env": "NETRA_PROGRESS_FIXTURE_TOKEN"})
    assert result.status == "passed"
    ((label, cells),) = seen.of("run_started")
    assert (label, cells) == ("progressing", 4)  # three code cells, and the injected one
    assert [n for n, _ in seen.of("cell_started")] == [1, 2, 3, 4]
    assert seen.of("cell_started")[3][1] == "for tick in range(1, ticks + 1):"  # no comment
    said = [str(args[0]) for args in seen.of("kernel_said")]
    assert [line.split(" with ")[0] for line in said] == [f"tick {i} of 6" for i in range(1, 7)]
    assert all(line.endswith("with [REDACTED]") for line in said), said
    assert SECRET not in str(seen.calls)
    # read by the watcher while the cell ran (a tick follows), not only when the run ended
    last_tick = max(i for i, (name, _) in enumerate(seen.calls) if name == "tick")
    assert seen.index("kernel_said", "tick 1 of 6") < last_tick
    took = result.summary["duration_s"]
    assert seen.calls[-1] == ("run_finished", ("progressing", f"PASSED (exit 0) in {took:.1f} s"))


def test_plain_lines_say_what_runs_every_interval_without_control_characters() -> None:
    out = io.StringIO()
    shown = TerminalProgress(out, live=False, interval_s=0.0)  # a line at every tick
    shown.run_started("05_performance", 14)
    shown.tick()  # no cell yet: nothing to say
    shown.cell_started(4, "run = load.run_performance_load(env, engine=engine,")
    shown.tick()
    shown.kernel_said("load test 5/30 s: 210 turns, 0 failed")
    shown.tick()
    shown.run_finished("05_performance", "PASSED (exit 0) in 46.2 s")
    lines = out.getvalue().splitlines()
    assert lines[0] == "05_performance: started, 14 cells"
    assert re.fullmatch(r"05_performance: cell 4/14, 0 s in: run = load\.run_performance_load"
                        r"\(env, engine=engine,", lines[1])
    assert lines[2].endswith("s in: load test 5/30 s: 210 turns, 0 failed")
    assert lines[3:] == ["05_performance: PASSED (exit 0) in 46.2 s"]
    assert not CONTROL.search(out.getvalue())
    quiet = io.StringIO()
    waiting = TerminalProgress(quiet, live=False, interval_s=3600.0)
    waiting.run_started("07_monitoring", 9)
    waiting.cell_started(1, "x = 1")
    waiting.tick()
    assert quiet.getvalue().count("\n") == 1  # within the interval: nothing more


def test_a_playbook_says_each_step_its_decision_and_time_in_plain_lines(
        env_file: Path, tmp_path: Path) -> None:
    book = write_fixture_playbook(tmp_path / "book.toml", ["decides.ipynb"],
                                  branch=["progressing.ipynb"], final="progressing.ipynb",
                                  final_ticks=1)
    done = subprocess.run(
        [sys.executable, "-m", "netra_ops", "run", str(book), "--env", str(env_file),
         "--incident", "P-2", "--outputs", str(tmp_path / "out"),
         "-p", "decides.decision=rollback", "-p", "decides.reason=health_5xx firing",
         "-p", "progressing.secret_env=NETRA_PROGRESS_FIXTURE_TOKEN"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 6, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    started = [line for line in lines if line.endswith(" cells")]
    assert started == ["step 1/1 decides: started, 4 cells",
                       "rollback branch progressing: started, 4 cells",
                       "finally progressing: started, 4 cells"]
    ended = [re.sub(r"in \d+\.\d s", "in N s", line) for line in lines if "decided" in line]
    assert ended == [
        "step 1/1 decides: FAILED, decided rollback in N s (health_5xx firing)",
        "rollback branch progressing: PASSED, decided continue in N s (passed)",
        "finally progressing: PASSED, decided continue in N s (passed)"]
    assert not CONTROL.search(done.stderr) and SECRET not in done.stderr + done.stdout
    assert "INFO netra_ops.record" not in done.stderr  # the runner's lines give way
    assert "outcome: ROLLED BACK" in done.stdout


@dataclass(frozen=True)
class Screen:
    """What a command wrote to its terminal: every redraw or line (split at \\r and \\n),
    with when it arrived (seconds since the command started)."""

    frames: list[tuple[float, str]]
    returncode: int

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.frames)

    def between(self, first: str, last: str) -> list[tuple[float, str]]:
        """The frames from the first that holds `first` to the first after it holding
        `last`."""
        start = next(i for i, (_, text) in enumerate(self.frames) if first in text)
        end = next(i for i, (_, text) in enumerate(self.frames) if i > start and last in text)
        return self.frames[start:end + 1]


def on_a_terminal(args: list[str], timeout_s: float = 300.0) -> Screen:
    """Run `args` with a pseudo-terminal (160 columns) as stdin, stdout and stderr."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=ROOT, stdin=follower, stdout=follower, stderr=follower,
                               env={**os.environ, "TERM": "xterm", "COLUMNS": "160"})
    os.close(follower)
    frames: list[tuple[float, str]] = []
    pending = ""
    try:
        while time.monotonic() - started < timeout_s:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 65536).decode("utf-8", errors="replace")
            except OSError:  # the terminal closed: every process on it has ended
                break
            parts = re.split(r"[\r\n]", pending + data)
            pending = parts.pop()
            now = time.monotonic() - started
            frames += [(now, part) for part in parts if part.strip()]
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
    return Screen(frames + ([(time.monotonic() - started, pending)] if pending.strip() else []),
                  process.returncode)


def progress_figures(frames: list[tuple[float, str]]) -> tuple[float, int, float]:
    """(seconds covered, redraws of the bar, longest silence) of `frames`."""
    times = [when for when, _ in frames]
    redraws = sum(" cells [" in text for _, text in frames)
    gaps = [b - a for a, b in pairwise(times)] or [0.0]
    return times[-1] - times[0], redraws, max(gaps)


def test_a_long_cell_on_a_terminal_redraws_its_bar_with_the_kernels_lines(
        env_file: Path, tmp_path: Path) -> None:
    """A 10 s cell logging a line a second: the bar is redrawn at least once per 5 s of the
    run, and shows the kernel's lines one after another as the cell logs them."""
    screen = on_a_terminal([
        sys.executable, "-m", "netra_ops", "run", str(NOTEBOOKS / "progressing.ipynb"),
        "--env", str(env_file), "--incident", "P-3", "--outputs", str(tmp_path),
        "-p", "ticks=10", "-p", "tick_s=1", "-p", "secret_env=NETRA_PROGRESS_FIXTURE_TOKEN"])
    assert screen.returncode == 0, screen.text
    run = screen.between("progressing: started, 4 cells", "(exit ")
    seconds, redraws, silence = progress_figures(run)
    print(f"run {seconds:.1f} s on the terminal, {redraws} redraws, longest silence "
          f"{silence:.1f} s")
    assert seconds >= 10 and redraws >= seconds / 5
    shown = {int(m.group(1)) for _, text in run if (m := re.search(r"tick (\d+) of 10", text))}
    assert len(shown) >= 5, screen.text  # the lines arrived while the cell ran
    assert SECRET not in screen.text and "[REDACTED]" in screen.text
    assert "verdict: PASSED" in screen.text


@pytest.mark.sandbox
@pytest.mark.slow
def test_the_performance_runbook_shows_its_load_test_on_a_terminal(
        sandbox_env: Environment, tmp_path: Path) -> None:
    """Runbook 05, a short load (the bug: 46 s of silence for 30 s of load): the load test's
    figures (logged every 5 s in the kernel) on the bar while its cell runs."""
    screen = on_a_terminal([
        sys.executable, "-m", "netra_ops", "run", "05_performance", "--env",
        str(sandbox_env.source), "--incident", "P-4", "--outputs", str(tmp_path),
        "-p", "duration_s=12", "-p", "users=2", "-p", "settle_s=5"])
    assert screen.returncode in (0, 1), screen.text  # a verdict (memory may not decide)
    run = screen.between("05_performance: started", "(exit ")
    seconds, redraws, silence = progress_figures(run)
    print(f"05: {seconds:.1f} s on the terminal, {redraws} redraws, longest silence "
          f"{silence:.1f} s")
    assert redraws >= seconds / 5
    figures = [text for _, text in run if re.search(r"load test \d+/12 s: \d+ turns", text)]
    assert figures, screen.text
    assert sandbox_env.sandbox is not None  # its secrets are files: none on the terminal
    for path in (sandbox_env.sandbox.state_dir / "secrets").iterdir():
        assert path.read_text().strip() not in screen.text
