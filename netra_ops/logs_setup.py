"""One logging set-up for the CLI, runbooks and scripts: our lines, not the HTTP chatter."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["FORMAT", "configure_logging"]

CHATTY_LOGGERS = ("httpx", "httpcore", "papermill", "google", "urllib3", "websockets")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
