"""One logging set-up for the CLI, runbooks and scripts: our lines, not the HTTP chatter."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]

CHATTY_LOGGERS = ("httpx", "httpcore", "papermill", "google", "urllib3", "websockets")


def configure_logging(verbose: bool = False) -> None:
    """INFO lines with timestamps (DEBUG when verbose); HTTP clients only when verbose."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
