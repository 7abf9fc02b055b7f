"""Executing a runbook with papermill so that every way a run can end is known and recorded.

papermill runs in a worker thread; the calling thread waits for it and owns the stops:

- **SIGTERM** (`terminated`) and **SIGINT / Ctrl-C** (`interrupted`) of this process, when it
  is called from the main thread: the signal is noted, the kernel is killed, and the run
  ends with what the notebook holds so far. nbclient would otherwise catch both signals itself,
  quietly kill the kernel and report a dead kernel, and the process would carry on;
- a **whole-run deadline** (`deadline`): when the run is not finished in time, likewise.

A kernel that dies before it is ready (its ports, picked free by jupyter_client, were taken
by another process before it could bind them: a race on any busy host) is replaced, up to
`KERNEL_START_ATTEMPTS` starts; no cell has run then, so nothing is repeated.

Whatever stops it, `execute()` returns the notebook as papermill last saved it (the cell
that was running has its start time), never raises for what happened in the kernel, and
leaves no kernel process behind. A second signal during the stop is absorbed, so the record
can still be written; the process's previous handlers are restored afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbformat is imported when a run starts: it is slow to import
    from nbformat import NotebookNode

__all__ = ["KERNEL_START_ATTEMPTS", "STOP_STATUSES", "Execution", "RunStop", "execute",
           "stop_signals"]

STOP_STATUSES = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupted"}
"""How a run that this process was asked to stop ends, by the signal that asked."""

KERNEL_START_ATTEMPTS = 3
"""How many kernels a run starts before a kernel that dies before it is ready fails it."""

_POLL_S = 0.2
_KILL_GRACE_S = 60.0  # how long a stopping run may take once its kernel is killed


@dataclass
class Execution:
    """What a papermill run left: its status, the notebook as last saved, the error."""

    status: str
    notebook: NotebookNode
    error: BaseException | None = None
    kernel_output: str = ""
    failed_starts: list[str] = field(default_factory=list)
    """Why each replaced kernel failed to start (see the module docstring)."""


class RunStop:
    """The first reason to stop (a signal or the deadline) and the kernels to kill for it.

    A signal that arrives once the execution is over (`closed`) is kept in `late_signal`:
    the record is written first, then the signal is delivered as if it had just arrived.
    """

    def __init__(self) -> None:
        self.status: str | None = None
        self.pids: list[int] = []
        self.closed = False
        self.late_signal: signal.Signals | None = None
        self._lock = threading.Lock()

    def request(self, status: str) -> None:
        with self._lock:
            if self.status is None:
                self.status = status

    def signalled(self, sig: signal.Signals) -> None:
        with self._lock:
            if self.closed:
                self.late_signal = self.late_signal or sig
                return
        self.request(STOP_STATUSES[sig])

    def kernel_started(self, pid: int) -> None:
        with self._lock:
            self.pids.append(pid)

    def kill_kernels(self) -> None:
        with self._lock:
            pids = list(self.pids)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def execute(source: Path, input_nb: NotebookNode, parameters: dict[str, Any], kernel: str,
            cell_timeout_s: int | None, deadline_s: float | None,
            kernel_env: dict[str, str], stop: RunStop,
            hooks: dict[str, Any] | None = None) -> Execution:
    """Run `source` with papermill (see the module docstring); never raises for the kernel.

    `stop` comes from `stop_signals()`, which the caller holds until its record is written;
    `hooks` are nbclient's (`on_cell_execute`, ...), called in papermill's worker thread.
    The unscrubbed notebook and the kernel's output stay in a private temp dir (mode 0700),
    removed at the end; the caller scrubs before anything reaches a record.
    """
    with tempfile.TemporaryDirectory(prefix="netra-ops-run-") as tmp:
        output, kernel_log = Path(tmp) / source.name, Path(tmp) / "kernel.log"
        outcome: dict[str, Any] = {}
        worker = threading.Thread(
            target=_papermill, name=f"netra-ops-run-{source.stem}", daemon=True,
            args=(source, output, kernel_log, parameters, kernel, cell_timeout_s, kernel_env,
                  stop, outcome, hooks or {}))
        worker.start()
        _wait(worker, stop, deadline_s)
        stop.closed = True
        notebook = _saved(output, input_nb)
        kernel_output = kernel_log.read_text(encoding="utf-8", errors="replace") \
            if kernel_log.is_file() else ""
    status = stop.status or outcome.get("status", "error")
    error = outcome.get("error")
    if stop.status is not None:
        error = RunStopError(_STOP_TEXT[stop.status].format(deadline_s=deadline_s))
    return Execution(status, notebook, error, kernel_output, outcome.get("failed_starts", []))


class RunStopError(Exception):
    """Why a run was stopped from outside the kernel (its text goes in the record)."""


_STOP_TEXT = {
    "terminated": "the runner received SIGTERM; the kernel was stopped",
    "interrupted": "the runner was interrupted (SIGINT / Ctrl-C); the kernel was stopped",
    "deadline": "the whole run exceeded its deadline of {deadline_s:g} s; the kernel was stopped",
}


def _wait(worker: threading.Thread, stop: RunStop, deadline_s: float | None) -> None:
    """Wait for the worker; on a stop request, kill the kernel until the worker ends."""
    started = time.monotonic()
    while worker.is_alive():
        if deadline_s is not None and time.monotonic() - started >= deadline_s:
            stop.request("deadline")
        if stop.status is not None:
            _wind_down(worker, stop)
            return
        worker.join(_POLL_S)


def _wind_down(worker: threading.Thread, stop: RunStop) -> None:
    """Kill kernels (again, as one may still be starting) until papermill gives up."""
    limit = time.monotonic() + _KILL_GRACE_S
    while worker.is_alive() and time.monotonic() < limit:
        stop.kill_kernels()
        worker.join(_POLL_S)


@contextlib.contextmanager
def stop_signals() -> Iterator[RunStop]:
    """Note SIGTERM and SIGINT in the `RunStop` it yields, until the record is written.

    Main thread only (elsewhere a process's signals cannot be had; the deadline still works).
    On exit the previous handlers are restored, then a signal that came too late to stop the
    run is delivered to them.
    """
    stop = RunStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def note(signum: int, frame: FrameType | None) -> None:
        stop.signalled(signal.Signals(signum))

    previous = {sig: signal.signal(sig, note) for sig in STOP_STATUSES}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if stop.late_signal is not None:
            signal.raise_signal(stop.late_signal)


def _papermill(source: Path, output: Path, kernel_log: Path, parameters: dict[str, Any],
               kernel: str, cell_timeout_s: int | None, kernel_env: dict[str, str],
               stop: RunStop, outcome: dict[str, Any], hooks: dict[str, Any]) -> None:
    """The worker: run papermill, put (status, error, failed_starts) in `outcome`; never
    raises."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    cell_started = threading.Event()
    extra = _with_start_flag(hooks, cell_started)
    if cell_timeout_s is not None:
        extra["execution_timeout"] = cell_timeout_s
    failed_starts: list[str] = []
    outcome["failed_starts"] = failed_starts
    try:
        with kernel_log.open("wb") as kernel_output:
            def attempt() -> None:
                papermill.execute_notebook(
                    str(source), str(output), parameters=parameters, kernel_name=kernel,
                    log_output=False, progress_bar=False, cwd=str(Path.cwd()),
                    kernel_manager_class=_kernel_manager_class(kernel_output, kernel_env, stop),
                    **extra)
            _retrying_kernel_start(attempt, cell_started, stop, failed_starts)
        outcome.update(status="passed", error=None)
    except papermill.PapermillExecutionError as exc:
        outcome.update(status="failed" if exc.ename == "VerdictFailed" else "error", error=exc)
    except CellTimeoutError as exc:
        outcome.update(status="timeout", error=exc)
    except DeadKernelError as exc:
        outcome.update(status="kernel_died", error=exc)
    except BaseException as exc:  # anything else still leaves a complete record
        outcome.update(status="error", error=exc)
    finally:
        _close_thread_loop()


def _retrying_kernel_start(attempt: Callable[[], None], cell_started: threading.Event,
                           stop: RunStop, failed_starts: list[str]) -> None:
    """Call `attempt` until it gets past its kernel's start: again (at most
    KERNEL_START_ATTEMPTS calls) only when it raised RuntimeError, jupyter_client's "Kernel
    died before replying to kernel_info" or "didn't respond", before any cell started and
    with no stop requested. Each replaced start's error is appended to `failed_starts`."""
    for number in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            attempt()
            return
        except RuntimeError as exc:
            if cell_started.is_set() or stop.status is not None \
                    or number == KERNEL_START_ATTEMPTS:
                raise
            failed_starts.append(f"{type(exc).__name__}: {exc}")


def _with_start_flag(hooks: dict[str, Any], cell_started: threading.Event) -> dict[str, Any]:
    """nbclient's `hooks`, with `on_cell_start` also setting `cell_started`."""
    chained = hooks.get("on_cell_start")

    def on_cell_start(**kw: Any) -> None:
        cell_started.set()
        if chained is not None:
            chained(**kw)

    return {**hooks, "on_cell_start": on_cell_start}


def _close_thread_loop() -> None:
    """Close the event loop nbclient made for this worker thread (it never does)."""
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_running():
            loop.close()
    asyncio.set_event_loop(None)


def _kernel_manager_class(output: IO[bytes], env: dict[str, str], stop: RunStop) -> type:
    """A kernel manager whose kernel writes to `output`, not to the caller's terminal, sees
    `env` on top of this process's environment, and is registered with `stop`.

    The kernel's process-level output (its warnings, a crash message) then goes to run.log,
    and a kernel never holds the caller's stdout/stderr pipes open.
    """
    from jupyter_client import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):  # type: ignore[misc]
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.setdefault("stdin", subprocess.DEVNULL)
            kw.setdefault("stdout", output)
            kw.setdefault("stderr", subprocess.STDOUT)
            kw.setdefault("env", {**os.environ, **env})
            await super().start_kernel(**kw)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                stop.kernel_started(process.pid)
                if stop.status is not None:
                    stop.kill_kernels()

    return RunKernelManager


def _saved(output: Path, input_nb: NotebookNode) -> NotebookNode:
    """The notebook as papermill last saved it (the input when it saved nothing)."""
    import nbformat

    if not output.is_file():
        return input_nb
    try:
        return nbformat.read(str(output), as_version=4)
    except (OSError, ValueError):  # cut off mid-write by the stop: the input is all we have
        return input_nb
