"""Google's Logging client for tests, safe to use against the sandbox's emulation."""

from __future__ import annotations

from typing import Any

from google.cloud import logging as cloud_logging
from google.cloud.logging import Resource


class SafeLoggingClient(cloud_logging.Client):
    """The Logging client with a fixed default resource: parsing entries never looks up the
    GCE metadata server (see netra_ops/sandbox/logging_api.py)."""

    def logger(self, name: str, *, labels: Any = None, resource: Any = None) -> Any:
        return super().logger(name, labels=labels,
                              resource=resource or Resource(type="global", labels={}))
