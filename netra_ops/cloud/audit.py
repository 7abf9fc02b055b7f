"""The audit trail: every change netra-ops makes (or plans) to a service, with before and after.

Entries are kept for the life of the process (`audit_trail()`, which a runbook records) and,
when `$NETRA_OPS_AUDIT_LOG` names files (several: separated by `os.pathsep`), appended to each
as JSON lines at once: the runner of a headless runbook reads them after a stop to say which
change was in flight (`netra_ops.record.in_flight`).

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

__all__ = ["AUDIT_LOG_ENV", "AuditEntry", "append_audit", "audit_trail"]

AUDIT_LOG_ENV = "NETRA_OPS_AUDIT_LOG"
"""The variable naming the files every audit entry is appended to (`os.pathsep` between)."""

_LOCK = threading.Lock()
_TRAIL: list[AuditEntry] = []


@dataclass(frozen=True)
class AuditEntry:
    """What was changed (or would have been), when, and the service before and after.

    `outcome` is the change's status; an executed change also leaves an entry `started`
    before it acts and, when stopped on the way, `interrupted`; `note` says where traffic
    is meanwhile."""

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
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def append_audit(entry: AuditEntry, path: str | Path | None = None) -> AuditEntry:
    """Keep `entry` in the trail and append it to `path` (or the files of
    `$NETRA_OPS_AUDIT_LOG`)."""
    targets = [Path(path)] if path else [
        Path(p) for p in os.environ.get(AUDIT_LOG_ENV, "").split(os.pathsep) if p]
    line = json.dumps(entry.to_dict(), default=str) + "\n"
    with _LOCK:
        _TRAIL.append(entry)
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a", encoding="utf-8") as handle:
                handle.write(line)
    return entry


def audit_trail() -> list[AuditEntry]:
    """The entries appended in this process, oldest first."""
    with _LOCK:
        return list(_TRAIL)
