"""Progress of headless runs on a terminal: a live bar on a TTY, plain lines elsewhere.

`TerminalProgress` is the `RunProgress` the command line shows (on stderr; results stay on
stdout). Both modes print a line when a run (or a playbook's step) starts and ends. While a
run goes on:

- on a TTY, a tqdm bar of the run's code cells, redrawn twice a second: the elapsed time,
  the cell running and for how long, and the kernel's latest line (a load test's figures, a
  watch's tick) or else the cell's first line of code;
- elsewhere (a pipe, a file, CI), no control characters: a plain line about the cell
  running and the kernel's latest line whenever nothing was printed for `interval_s`
  (10 s), every minute once a cell has run for a minute.

`terminal_progress()` is the context a command runs it in: on a TTY, log lines are written
above the bar, not through it; the runner's own INFO lines (`netra_ops.record`: "starting
runbook ...") give way to it, unless logging is verbose (DEBUG).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["TerminalProgress", "terminal_progress"]

_REDRAW_S = 0.5
_LONG_CELL_S = 60.0
_QUIETED = ("netra_ops.record",)  # the runner's INFO lines, said by the progress instead


class TerminalProgress:
    """A `netra_ops.record.progress.RunProgress` for a terminal (see the module docstring).
    `live` None: a bar when `stream` is a TTY (and TERM is not dumb)."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 interval_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.live = _is_terminal(self.stream) if live is None else live
        self.interval_s = interval_s
        self._lock = threading.RLock()
        self._bar: Any = None
        self._label = ""
        self._cells = 0
        self._cell = (0, "", 0.0)  # number, first line of code, when it started
        self._said = ""
        self._last_line = time.monotonic()
        self._last_redraw = 0.0

    def note(self, text: str) -> None:
        """Print a line to keep (above the bar on a TTY)."""
        with self._lock:
            if self._bar is not None:
                self._bar.clear()
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_line = time.monotonic()
            if self._bar is not None:
                self._bar.refresh()

    def run_started(self, label: str, cells: int) -> None:
        """Say what starts; open the bar on a TTY."""
        self.note(f"{label}: started, {cells} cells")
        with self._lock:
            self._label, self._cells, self._cell, self._said = label, cells, (0, "", 0.0), ""
            if self.live:
                self._bar = _open_bar(self.stream, label, cells)

    def cell_started(self, number: int, text: str) -> None:
        """Note the cell now running (and move the bar)."""
        with self._lock:
            self._cell, self._said = (number, text, time.monotonic()), ""
            if self._bar is not None:
                self._bar.n = max(number - 1, 0)
                self._redraw()

    def kernel_said(self, text: str) -> None:
        """Keep the kernel's latest line for the bar or the next plain line."""
        with self._lock:
            self._said = text

    def tick(self) -> None:
        """Redraw the bar, or print a plain line when one is due."""
        with self._lock:
            now = time.monotonic()
            if self._bar is not None:
                if now - self._last_redraw >= _REDRAW_S:
                    self._redraw()
            elif self._label and self._cell[0] and now >= self._next_line_at():
                self.note(f"{self._label}: {self._doing()}")

    def run_finished(self, label: str, summary: str | None) -> None:
        """Close the bar; say how the run ended (nothing when `summary` is None)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self._label = ""
        if summary is not None:
            self.note(f"{label}: {summary}")

    def close(self) -> None:
        """Close a bar left open."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def _doing(self) -> str:
        number, text, started = self._cell
        running = time.monotonic() - started
        return (f"cell {number}/{self._cells}, {running:.0f} s in: "
                f"{self._said or text or '(running)'}")

    def _next_line_at(self) -> float:
        long_cell = time.monotonic() - self._cell[2] >= _LONG_CELL_S
        return self._last_line + (max(self.interval_s, _LONG_CELL_S) if long_cell
                                  else self.interval_s)

    def _redraw(self) -> None:
        self._bar.set_postfix_str(self._doing() if self._cell[0] else "starting the kernel",
                                  refresh=False)
        self._bar.refresh()
        self._last_redraw = time.monotonic()


@contextlib.contextmanager
def terminal_progress(stream: TextIO | None = None) -> Iterator[TerminalProgress]:
    """A `TerminalProgress` on `stream` (stderr) for the block (see the module docstring;
    verbose: logging at DEBUG)."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    display = TerminalProgress(stream)
    quieted = [logger for logger in map(logging.getLogger, _QUIETED)
               if not logger.isEnabledFor(logging.DEBUG)]
    levels = [logger.level for logger in quieted]
    for logger in quieted:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    redirect = logging_redirect_tqdm() if display.live else contextlib.nullcontext()
    try:
        with redirect:
            yield display
    finally:
        display.close()
        for logger, level in zip(quieted, levels, strict=True):
            logger.setLevel(level)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"


def _open_bar(stream: TextIO, label: str, cells: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=cells, desc=label, file=stream, leave=False, dynamic_ncols=True,
                unit="cell", mininterval=0, maxinterval=0,
                bar_format="{desc} {bar:12} {n_fmt}/{total_fmt} cells [{elapsed}]{postfix}")
