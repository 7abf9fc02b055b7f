"""The golden-path load test on Locust: run it headless in a subprocess, read it back.

Importing Locust monkey-patches the process with gevent, which a Jupyter kernel does not
survive (DESIGN.md), so `run_locust` never imports it: it starts `python -m locust -f
netra_ops/load/locustfile.py --headless ...` as a child process in a session of its own,
with `--processes N` for N local worker processes (a master and N forked workers, talking on
a free loopback port). The test user's password reaches the workers in an environment
variable, never on a command line, in a file or in a log. When Locust has exited (and every
process of its session is gone), the JSON lines of the turns, one file per worker process,
become the samples frame of the load contract (`engine="locust"`, `model="closed"`), and
Locust's own CSV stats come along to check the count (`LocustResult.counts_agree`).

For workers on other machines, `locust_commands` gives the master's and the workers' command
lines, and `read_samples` reads the turns once they are collected (docs/locust.md).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from netra_ops.config import Environment, find_environment_file, load_environment
from netra_ops.errors import (
    ConfigError,
    LocustError,
    LocustNotInstalledError,
    LocustRunError,
    NetraOpsError,
)
from netra_ops.load import locustfile
from netra_ops.load.frames import empty_samples, samples_frame
from netra_ops.load.locustfile import (
    ENV_PASSWORD,
    FINAL_COUNTS_SUFFIX,
    REQUEST_TYPE,
    RESULTS_GLOB,
    TURN_REQUEST,
    LocustSettings,
    TurnsFile,
)
from netra_ops.load.samples import ClockAnchor, Sample
from netra_ops.load.users import TurnPlan
from netra_ops.ports import free_ports
from netra_ops.secrets import resolve_secret

__all__ = [
    "LOCUSTFILE",
    "MASTER_PORT",
    "LocustResult",
    "final_count",
    "locust_commands",
    "read_samples",
    "read_stats",
    "run_locust",
]

LOCUSTFILE = Path(locustfile.__file__)
MASTER_PORT = 5557  # Locust's default: workers connect to the master here
CSV_PREFIX = "locust"
_STARTUP_ALLOWANCE_S = 60.0  # imports, forks, workers joining, the final stats
_STDERR_TAIL = 3000
_HIDDEN = "<hidden>"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocustResult:
    """A finished Locust run: every turn (`samples`, the load contract's frame), Locust's
    own stats (`stats`, its `_stats.csv`) and final count of turns (`locust_turns`), how it
    ran (`command`, without secrets) and where its files are (`results_dir`)."""

    samples: pd.DataFrame
    stats: pd.DataFrame
    locust_turns: int
    returncode: int
    command: tuple[str, ...]
    results_dir: Path
    users: int
    processes: int
    duration_s: float

    @property
    def counts_agree(self) -> bool:
        """Whether the samples are exactly the turns Locust counted."""
        return len(self.samples) == self.locust_turns

    @property
    def turns_per_s(self) -> float:
        """Turns attempted per second of the run."""
        return len(self.samples) / self.duration_s if self.duration_s else 0.0


def run_locust(
    env: Environment | str = "sandbox",
    *,
    users: int = 10,
    spawn_rate: float | None = None,
    duration_s: float = 60.0,
    processes: int = 1,
    think_time_s: float = 0.0,
    results_dir: Path | str | None = None,
    extra_args: Sequence[str] = (),
    plan: TurnPlan | None = None,
) -> LocustResult:
    """Run the golden-path Locust test headless: `users` closed-model users started at
    `spawn_rate` per second (default: all in the first second) for `duration_s` (whole
    seconds, rounded up), in `processes` local worker processes; `plan` is each turn's
    message and time bounds (the engine's defaults). Results go to `results_dir` (default: a
    new temporary folder), which must hold no earlier turns. Raises LocustNotInstalledError,
    LocustRunError (with the end of Locust's stderr, secrets removed) or ConfigError."""
    _check_installed()
    run = _Run.plan(load_environment(env), users, spawn_rate, duration_s, processes,
                    think_time_s, results_dir, tuple(extra_args), plan or TurnPlan())
    returncode = run.execute()
    folder = run.results_dir
    result = LocustResult(read_samples(folder), read_stats(folder),
                          final_count(folder, REQUEST_TYPE, TURN_REQUEST), returncode,
                          run.command, folder, users, processes, run.seconds)
    samples = result.samples
    logger.info("Locust: %d turns (%d ok) in %d s, %.0f turns/s; Locust counted %d; results "
                "in %s", len(samples), int(samples["ok"].sum()), run.seconds,
                result.turns_per_s, result.locust_turns, folder)
    return result


def read_samples(results_dir: Path | str) -> pd.DataFrame:
    """The samples frame of the turns every worker wrote to `results_dir` (collect the
    `turns-*.jsonl` files of workers on other machines there first). Users are numbered
    from 0 across workers, in the order of their first turn."""
    rows = TurnsFile.read(Path(results_dir))
    if not rows:
        return empty_samples()
    base = min(row["scheduled_at"] for row in rows)
    users: dict[tuple[str, int], int] = {}
    for row in sorted(rows, key=lambda r: r["scheduled_at"]):
        users.setdefault((row["worker"], row["user"]), len(users))
    samples = [_sample(row, users[(row["worker"], row["user"])], base) for row in rows]
    return samples_frame(samples, ClockAnchor(0.0, base), engine="locust", model="closed")


def _sample(row: dict[str, Any], user: int, base: int) -> Sample:
    """One JSON line as a `Sample` whose times are seconds after `base` (ns); timing
    fields a line lacks or holds null are NaN (not measured)."""
    scheduled, started, ended, first_event, answer = (
        math.nan if row.get(key) is None else (int(row[key]) - base) / 1e9
        for key in ("scheduled_at", "started_at", "ended_at", "first_event_at", "answer_at"))
    delivery = row.get("delivery_ms")
    return Sample(user, int(row["turn"]), scheduled, started, ended, bool(row["ok"]),
                  row["error_class"], int(row["events"]), first_event, answer,
                  math.nan if delivery is None else float(delivery))


def read_stats(results_dir: Path | str) -> pd.DataFrame:
    """Locust's CSV stats of a run (`locust_stats.csv`: one row per request type and name,
    and an `Aggregated` row); LocustRunError when the master wrote none."""
    path = Path(results_dir) / f"{CSV_PREFIX}_stats.csv"
    if not path.exists():
        raise LocustRunError(f"Locust wrote no stats to {path}: did the master run with "
                             f"--csv {Path(results_dir) / CSV_PREFIX}?")
    return pd.read_csv(path)


def final_count(results_dir: Path | str, kind: str, name: str) -> int:
    """Locust's final request count of one request type and name (0 when it never fired),
    as the master (or the single local process) had it at exit."""
    path = Path(results_dir) / f"{CSV_PREFIX}{FINAL_COUNTS_SUFFIX}"
    try:
        counts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LocustRunError(f"Locust's final counts are unreadable ({path}): {exc}") from None
    return sum(int(c["requests"]) for c in counts if (c["type"], c["name"]) == (kind, name))


def locust_commands(
    env: Environment | str,
    *,
    workers: int,
    master_host: str,
    users: int = 10,
    spawn_rate: float | None = None,
    duration_s: float = 300.0,
    processes_per_worker: int = 1,
    think_time_s: float = 0.0,
    results_dir: str = "locust-results",
    master_port: int = MASTER_PORT,
    plan: TurnPlan | None = None,
    python: str = "python",
) -> list[str]:
    """Shell lines to run the test on several machines: the master's first (it waits for
    every worker, runs headless for `duration_s` and writes Locust's CSV stats to
    `results_dir`), then one line per worker machine (the same line: run one on each; it
    connects to `master_host`:`master_port` and writes its turns to its own `results_dir`).
    A worker needs netra-ops installed, the environment (by name, or its file at the same
    path) and the test user's password in the variable NETRA_OPS_LOCUST_PASSWORD of its
    shell; the lines carry no secret. `python` is the interpreter netra-ops is installed in."""
    environment = load_environment(env)
    _check_counts(users, max(workers, 1) * processes_per_worker, duration_s, spawn_rate)
    if workers < 1 or processes_per_worker < 1:
        raise ConfigError(f"locust_commands needs workers >= 1 and processes_per_worker >= 1, "
                          f"got {workers} and {processes_per_worker}")
    settings = LocustSettings(_portable_reference(environment), "", Path(results_dir),
                              think_time_s, plan or TurnPlan())
    locust = f"{python} -m locust -f {_locustfile_expression(python)}"
    folder = shlex.quote(results_dir)
    master = (f"mkdir -p {folder} && {locust} --master --master-bind-port {master_port} "
              f"--expect-workers {workers * processes_per_worker} "
              f"{shlex.join(_run_args(users, spawn_rate, duration_s, results_dir))}")
    variables = " ".join(f"{name}={shlex.quote(value)}"
                         for name, value in settings.environ(with_password=False).items())
    processes = f" --processes {processes_per_worker}" if processes_per_worker > 1 else ""
    password = f'{ENV_PASSWORD}="${{{ENV_PASSWORD}:?export the test user password}}"'
    worker = (f"mkdir -p {folder} && {password} {variables} {locust} --worker "
              f"--master-host {shlex.quote(master_host)} --master-port {master_port}"
              f"{processes}")
    return [master, *[worker] * workers]


# --- one local run -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """A planned local run: its settings (with the password), command line and bounds."""

    settings: LocustSettings
    command: tuple[str, ...]
    seconds: int
    timeout_s: float

    @property
    def results_dir(self) -> Path:
        return self.settings.results_dir

    @classmethod
    def plan(cls, env: Environment, users: int, spawn_rate: float | None, duration_s: float,
             processes: int, think_time_s: float, results_dir: Path | str | None,
             extra_args: tuple[str, ...], plan: TurnPlan) -> _Run:
        _check_counts(users, processes, duration_s, spawn_rate)
        if think_time_s < 0:
            raise ConfigError(f"think_time_s must not be negative, got {think_time_s}")
        folder = _results_folder(results_dir)
        settings = LocustSettings(str(env.source) if env.source else env.name,
                                  resolve_secret(env.credentials.password), folder,
                                  think_time_s, plan)
        command = (sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
                   *_run_args(users, spawn_rate, duration_s, str(folder)),
                   *_processes_args(processes), *extra_args)
        seconds = max(1, math.ceil(duration_s))
        timeout = seconds + users / (spawn_rate or users) + _STARTUP_ALLOWANCE_S
        return cls(settings, command, seconds, timeout)

    def execute(self) -> int:
        """Run Locust to its end; its exit code (0), or LocustRunError."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        environ.update(self.settings.environ(), PYTHONUNBUFFERED="1")
        logger.info("running Locust for %d s: %s", self.seconds, shlex.join(self.command))
        stderr_path = self.results_dir / "locust.log"
        with (stderr_path.open("wb") as stderr,
              (self.results_dir / "locust.out").open("wb") as stdout):
            process = subprocess.Popen(self.command, cwd=self.results_dir, env=environ,
                                       stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                       start_new_session=True)
            try:
                returncode = process.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                _stop_session(process)
                raise LocustRunError(f"Locust ran over {self.timeout_s:.0f} s and was stopped; "
                                     f"the end of its log:\n{self._tail(stderr_path)}") from None
            finally:
                _stop_session(process)
        if returncode != 0:
            raise LocustRunError(f"Locust exited with code {returncode}; the end of its log "
                                 f"({stderr_path}):\n{self._tail(stderr_path)}")
        return returncode

    def _tail(self, path: Path) -> str:
        text = path.read_text(encoding="utf-8", errors="replace")[-_STDERR_TAIL:]
        return text.replace(self.settings.password, _HIDDEN) if self.settings.password else text


def _stop_session(process: subprocess.Popen[bytes]) -> None:
    """End every process of Locust's session (its forked workers too): SIGTERM, a moment,
    then SIGKILL. The session is Locust's own (`start_new_session`): nothing else is in it."""
    group = process.pid
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if not _group_alive(group):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        deadline = time.monotonic() + grace
        while _group_alive(group) and time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.05)
    process.wait()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_args(users: int, spawn_rate: float | None, duration_s: float,
              results_dir: str) -> list[str]:
    return ["--headless", "--users", str(users), "--spawn-rate", f"{spawn_rate or users:g}",
            "--run-time", f"{max(1, math.ceil(duration_s))}s",
            "--csv", f"{results_dir}/{CSV_PREFIX}", "--only-summary",
            "--exit-code-on-error", "0"]  # failed turns are data, not a failed run


def _processes_args(processes: int) -> list[str]:
    if processes == 1:
        return []
    port = str(free_ports(1)[0])
    return ["--processes", str(processes), "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--master-port", port]


def _check_counts(users: int, processes: int, duration_s: float,
                  spawn_rate: float | None) -> None:
    if users < 1 or processes < 1 or duration_s <= 0 or (spawn_rate is not None
                                                         and spawn_rate <= 0):
        raise ConfigError(f"a Locust run needs users >= 1, processes >= 1, duration_s > 0 and "
                          f"spawn_rate > 0; got users={users}, processes={processes}, "
                          f"duration_s={duration_s}, spawn_rate={spawn_rate}")


def _results_folder(results_dir: Path | str | None) -> Path:
    if results_dir is None:
        return Path(tempfile.mkdtemp(prefix="netra-ops-locust-"))
    folder = Path(results_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    earlier = [p.name for p in (*folder.glob(RESULTS_GLOB), *folder.glob(f"{CSV_PREFIX}_*"))]
    if earlier:
        raise LocustError(f"{folder} already holds results of an earlier run "
                          f"({', '.join(sorted(earlier)[:3])}...): give an empty folder")
    return folder


def _check_installed() -> None:
    missing = [name for name, module in (("locust", "locust"), ("websocket-client", "websocket"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise LocustNotInstalledError(
            f"the Locust path needs {' and '.join(missing)}, not installed for "
            f"{sys.executable}: pip install 'locust>=2.20' 'websocket-client>=1.7' (both are "
            "netra-ops dependencies)")


def _portable_reference(env: Environment) -> str:
    """The environment's name when that name finds the same file elsewhere, else its path."""
    if env.source is None:
        return env.name
    with contextlib.suppress(NetraOpsError):
        if find_environment_file(env.name).resolve() == env.source.resolve():
            return env.name
    return str(env.source)


def _locustfile_expression(python: str) -> str:
    """Shell text that expands to the locustfile's path where netra-ops is installed."""
    code = ("import importlib.util as u, pathlib as p; "  # finds netra_ops, imports nothing
            'print(p.Path(u.find_spec("netra_ops").origin).parent / "load" / "locustfile.py")')
    return f'"$({python} -c {shlex.quote(code)})"'
