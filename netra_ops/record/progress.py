"""Live progress of a headless run, for whoever watches it: the runner's side.

A run's kernel is another process, and its cells' output reaches the record only when the
run ends. Two things reach the runner while it runs: papermill says which code cell starts
(nbclient's `on_cell_execute` hook, in papermill's worker thread), and the kernel's own
netra-ops log lines (INFO and up: a load test's progress every 5 s, a watch's ticks, a
deploy waiting for its revision) are copied to a private progress file the runner names in
the kernel's environment (`netra_ops.logs_setup.PROGRESS_FILE_ENV`). `watch_run` reads that
file four times a second, scrubs each line of the environment's secrets and of control
characters, and hands cells, lines and ticks to a `RunProgress`: the terminal's
(`netra_ops.record.terminal`), a playbook's, or a caller's own.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from netra_ops.logs_setup import PROGRESS_FILE_ENV
from netra_ops.record.redact import scrub

__all__ = ["RunProgress", "RunWatch", "cell_text", "watch_run"]

_POLL_S = 0.25
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x1f\x7f]")
_TEXT_CHARS = 200


class RunProgress(Protocol):
    """Receives a run's progress. The runner calls `run_started`, then `cell_started` (from
    papermill's thread), `kernel_said` and `tick` (from a watcher thread, about four times a
    second) while it runs, then `run_finished`; `note` is a line to keep (a playbook's step)."""

    def note(self, text: str) -> None:
        """A line to keep on screen."""

    def run_started(self, label: str, cells: int) -> None:
        """A run of `cells` code cells begins (the label: its runbook, or a step's name)."""

    def cell_started(self, number: int, text: str) -> None:
        """Code cell `number` (1-based) starts; `text` is its first line of code."""

    def kernel_said(self, text: str) -> None:
        """The kernel logged a line (scrubbed, one line)."""

    def tick(self) -> None:
        """Time passes (elapsed times may be redrawn, a periodic line may be due)."""

    def run_finished(self, label: str, summary: str | None) -> None:
        """The run is over; `summary` says how ("passed in 12.3 s"), or None to say nothing."""


class RunWatch:
    """What `watch_run` gives the runner: the kernel's environment, papermill's hooks, and
    `finished(summary)` to call once the run's outcome is known."""

    def __init__(self, progress: RunProgress | None, label: str, progress_file: Path | None,
                 secrets: list[str]) -> None:
        self.progress = progress
        self.label = label
        watched = progress is not None and progress_file is not None
        self.kernel_env = {PROGRESS_FILE_ENV: str(progress_file)} if watched else {}
        self.engine_kwargs: dict[str, Any] = (
            {"on_cell_execute": self._cell_started} if watched else {})
        self._file = progress_file
        self._secrets = secrets
        self._offset = 0
        self._cells = 0
        self._summary: str | None = None
        self._stop = threading.Event()

    def finished(self, summary: str) -> None:
        """How the run ended, said when the watch closes."""
        self._summary = summary

    def _cell_started(self, cell: Any, cell_index: int) -> None:
        if self.progress is None:
            return
        self._cells += 1
        self.progress.cell_started(self._cells, cell_text(str(cell.get("source", ""))))

    def _read(self) -> None:
        """Hand the progress file's new complete lines to the progress, scrubbed."""
        if self._file is None or self.progress is None:
            return
        try:
            with self._file.open("rb") as stream:
                stream.seek(self._offset)
                chunk = stream.read()
        except FileNotFoundError:
            return
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            text = _one_line(scrub(_message(line), self._secrets))
            if text:
                self.progress.kernel_said(text)

    def _run(self, progress: RunProgress) -> None:
        while not self._stop.wait(_POLL_S):
            self._read()
            progress.tick()


@contextlib.contextmanager
def watch_run(progress: RunProgress | None, label: str, cells: int,
              secrets: list[str]) -> Iterator[RunWatch]:
    """Watch one run for `progress` (see the module docstring): `run_started` now, a watcher
    thread until the block ends, then `run_finished` with the summary given to
    `RunWatch.finished` (None when the block ended without one: an exception). For None,
    nothing is watched (the kernel is given no progress file, papermill no hook)."""
    if progress is None:
        yield RunWatch(None, label, None, secrets)
        return
    with tempfile.TemporaryDirectory(prefix="netra-ops-progress-") as folder:
        watch = RunWatch(progress, label, Path(folder) / "progress.log", secrets)
        progress.run_started(label, cells)
        watcher = threading.Thread(target=watch._run, args=(progress,), daemon=True,
                                   name=f"netra-ops-watch-{label}")
        watcher.start()
        try:
            yield watch
        finally:
            watch._stop.set()
            watcher.join()
            watch._read()
            progress.run_finished(label, watch._summary)


def cell_text(source: str) -> str:
    """A code cell's first line of code (not a comment), shortened: what it is doing."""
    for line in source.splitlines():
        code = line.strip()
        if code and not code.startswith("#"):
            return _one_line(code)
    return ""


def _message(line: str) -> str:
    """`LEVEL name: message` (logs_setup.PROGRESS_FORMAT) as shown: the message, and the
    level when it is worse than INFO."""
    level, _, rest = line.partition(" ")
    _, _, message = rest.partition(": ")
    if not message:
        return line
    return message if level == "INFO" else f"{level.lower()}: {message}"


def _one_line(text: str) -> str:
    cleaned = " ".join(_CONTROL.sub(" ", text).split())
    return cleaned if len(cleaned) <= _TEXT_CHARS else cleaned[:_TEXT_CHARS - 1] + "…"
