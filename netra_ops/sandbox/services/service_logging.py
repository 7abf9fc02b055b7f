"""Structured logging for the sandbox's services, as Cloud Run reads it from stdout.

Every line is one JSON object: `severity`, `message`, `timestamp` (RFC 3339, UTC), the
service's fixed context (service, revision, ...) and the fields a call passes with
`extra={"fields": {...}}`. An exception's traceback is appended to `message`, which is where
Cloud Error Reporting looks for it. Tokens and passwords are never passed as fields.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

__all__ = ["LOGGER_NAME", "JsonFormatter", "configure_logging", "log_config", "rfc3339_now"]

LOGGER_NAME = "netra_ops.sandbox"
_SEVERITY = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "ERROR": "ERROR",
             "CRITICAL": "CRITICAL"}


def rfc3339_now() -> str:
    """The current time as RFC 3339 UTC with microseconds, e.g. 2025-01-31T12:00:00.000001Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line (Cloud Run structured logging)."""

    def __init__(self, context: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._context = dict(context or {})

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single-line JSON object."""
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": message,
            "timestamp": datetime.fromtimestamp(record.created, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
            "logger": record.name,
            **self._context,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        return json.dumps(entry, default=str)


def log_config(context: dict[str, Any], *, access_log: bool = False) -> dict[str, Any]:
    """A `logging.config.dictConfig` (also uvicorn's `log_config`) writing JSON to stdout."""
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "stream": "ext://sys.stdout"}
    loggers: dict[str, Any] = {
        name: {"handlers": ["stdout"], "level": "INFO", "propagate": False}
        for name in (LOGGER_NAME, "uvicorn", "uvicorn.error")
    }
    loggers["uvicorn.error"] = {"level": "INFO", "propagate": True}
    loggers["uvicorn.access"] = {
        "handlers": ["stdout"] if access_log else [],
        "level": "INFO" if access_log else "WARNING",
        "propagate": False,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter, "context": context}},
        "handlers": {"stdout": handler},
        "loggers": loggers,
    }


def configure_logging(context: dict[str, Any], *, access_log: bool = False) -> logging.Logger:
    """Install JSON logging for this process and return the sandbox's logger."""
    logging.config.dictConfig(log_config(context, access_log=access_log))
    return logging.getLogger(LOGGER_NAME)
