"""The audit trail: every change netra-ops makes (or plans) to a service, with before and after.

Entries are kept for the life of the process (`audit_trail()`, which a runbook records) and,
when `$NETRA_OPS_AUDIT_LOG` names a file, appended to it as JSON lines.

`netra_ops.deploy` writes the trail; it lives here, beside the service's read model its
entries summarise, so that readers below deploy (the deploy and rollback markers of
`netra_ops.metrics`) need not import deploy.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AuditEntry", "append_audit", "audit_trail"]

_LOCK = threading.Lock()
_TRAIL: list[AuditEntry] = []


@dataclass(frozen=True)
class AuditEntry:
    """What was changed (or would have been), when, and the service before and after."""

    action: str
    environment: str
    project: str
    service: str
    executed: bool
    outcome: str
    plan: tuple[str, ...]
    before: dict[str, Any]
    after: dict[str, Any] | None = None
    error: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def append_audit(entry: AuditEntry, path: str | Path | None = None) -> AuditEntry:
    """Keep `entry` in the trail and append it to `path` (or `$NETRA_OPS_AUDIT_LOG`)."""
    target = path or os.environ.get("NETRA_OPS_AUDIT_LOG")
    with _LOCK:
        _TRAIL.append(entry)
        if target:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            with Path(target).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry.to_dict(), default=str) + "\n")
    return entry


def audit_trail() -> list[AuditEntry]:
    """The entries appended in this process, oldest first."""
    with _LOCK:
        return list(_TRAIL)
