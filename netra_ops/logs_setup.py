"""One logging set-up for the CLI, runbooks and scripts: our lines, not the HTTP chatter.

In a kernel the runner executes headless, `$NETRA_OPS_PROGRESS_FILE` names a private file:
our INFO lines go there too, one per line, so that the runner can show on its terminal what
a long cell is doing while it runs (`netra_ops.record.progress`).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

__all__ = ["FORMAT", "PROGRESS_FILE_ENV", "PROGRESS_FORMAT", "configure_logging"]

CHATTY_LOGGERS = ("httpx", "httpcore", "papermill", "google", "urllib3", "websockets")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

PROGRESS_FILE_ENV = "NETRA_OPS_PROGRESS_FILE"
"""Set by the runner in its kernels' environment: the file our log lines are copied to."""

PROGRESS_FORMAT = "%(levelname)s %(name)s: %(message)s"
"""One line of the progress file (a message's own newlines are folded by the reader)."""


def configure_logging(verbose: bool = False, stream: TextIO | None = None) -> None:
    """INFO lines with timestamps (DEBUG when verbose); HTTP clients only when verbose.
    Every line goes to stderr, unless `stream` is given: then lines below WARNING go to
    `stream` and warnings and errors still to stderr (a runbook's kernel passes stdout, so
    that its progress shows as plain text in the record, not in an error-coloured box)."""
    level = logging.DEBUG if verbose else logging.INFO
    if stream is None:
        logging.basicConfig(level=level, format=FORMAT, force=True)
    else:
        plain = logging.StreamHandler(stream)
        plain.addFilter(lambda record: record.levelno < logging.WARNING)
        alarming = logging.StreamHandler(sys.stderr)
        alarming.setLevel(logging.WARNING)
        for handler in (plain, alarming):
            handler.setFormatter(logging.Formatter(FORMAT))
        logging.basicConfig(level=level, handlers=[plain, alarming], force=True)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    _copy_to_progress_file(os.environ.get(PROGRESS_FILE_ENV, ""))


def _copy_to_progress_file(path: str) -> None:
    """Our INFO lines also to `path` (once, however often logging is configured)."""
    ours = logging.getLogger("netra_ops")
    if not path or any(getattr(h, "baseFilename", None) == os.path.abspath(path)
                       for h in ours.handlers):
        return
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:  # the runner's folder is gone: nobody is watching
        return
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(PROGRESS_FORMAT))
    ours.addHandler(handler)
