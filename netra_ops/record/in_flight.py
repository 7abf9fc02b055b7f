"""Changes in flight when a run was stopped, and where their services' traffic is now.

A cell timeout, a run deadline or SIGTERM kills the kernel in the middle of whatever it was
doing: a change it was making cannot say how it ended. Every change netra-ops makes appends
an audit entry `started` before it acts, and one with its outcome after
(`netra_ops.cloud.audit`, to the files of `$NETRA_OPS_AUDIT_LOG`). The runner gives the
kernel a private file for them (`audit_file`); after a stop, `in_flight` lists the changes
that started and never ended and asks Cloud Run where each one's service serves now. A
deploy pins traffic to the revision that served before while its new one starts, and
moves it only once that one is Ready, so the answer is a named revision; the record
(summary.json `in_flight`, and the banner of the stopped cell) says which.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["audit_file", "in_flight", "in_flight_text", "kernel_audit_env"]

# Google's clients (cloud) and deploy are imported on first use: `netra_ops.record` is what a
# runbook's kernel imports first, and this module must not make that slow.


@contextlib.contextmanager
def audit_file() -> Iterator[Path]:
    """A private file (in a 0700 folder) for the kernel's audit entries, removed after."""
    with tempfile.TemporaryDirectory(prefix="netra-ops-audit-") as folder:
        yield Path(folder) / "audit.jsonl"


def kernel_audit_env(path: Path, inherited: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The kernel's `$NETRA_OPS_AUDIT_LOG`: `path` besides the files it names already."""
    from netra_ops.cloud import AUDIT_LOG_ENV

    files = [p for p in inherited.get(AUDIT_LOG_ENV, "").split(os.pathsep) if p]
    return {AUDIT_LOG_ENV: os.pathsep.join([*files, str(path)])}


def in_flight(path: Path, environment: str) -> list[dict[str, Any]]:
    """The changes in `path` that started and never completed (their last entry `started`:
    the kernel was killed; or `interrupted`: stopped while it could still pin traffic back),
    each with where its service's traffic is now: `{action, service, outcome, note,
    started_at, plan, traffic_before, traffic_now, pinned, serving_image}` (`traffic_now`
    None and `error` set when Cloud Run could not be read)."""
    open_changes: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in _entries(path):
        key = (str(entry.get("service")), str(entry.get("action")))
        if entry.get("outcome") in ("started", "interrupted"):
            open_changes[key] = entry
        else:
            open_changes.pop(key, None)
    return [_where_now(entry, environment) for entry in open_changes.values()]


def in_flight_text(changes: list[dict[str, Any]]) -> str:
    """One sentence per change in flight: which service, and where its traffic is now."""
    from netra_ops.cloud import short_name
    from netra_ops.deploy import split_text

    return "; ".join(
        f"{c['action']} of {short_name(c['service'])} was in flight: its traffic "
        + (f"is on {split_text(c['traffic_now'])}" + (" (pinned)" if c["pinned"] else "")
           if c["traffic_now"] is not None else f"could not be read ({c['error']})")
        for c in changes)


def _entries(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):  # a line cut off by the kill
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def _where_now(entry: dict[str, Any], environment: str) -> dict[str, Any]:
    from netra_ops.cloud import read_service, short_name
    from netra_ops.config import load_environment
    from netra_ops.errors import NetraOpsError

    service = str(entry.get("service"))
    found: dict[str, Any] = {
        "action": entry.get("action"), "service": service, "outcome": entry.get("outcome"),
        "note": entry.get("note"), "started_at": entry.get("at"),
        "plan": entry.get("plan"), "traffic_before": (entry.get("before") or {}).get("serving"),
        "traffic_now": None, "pinned": None, "serving_image": None, "error": None}
    try:
        env = load_environment(environment)
        role = next(r for r, s in env.services.items() if s.name == short_name(service))
        state = read_service(env, role)
    except (NetraOpsError, StopIteration) as exc:
        found["error"] = str(exc) or f"no service {short_name(service)} in {environment}"
        return found
    found.update(traffic_now=state.serving, pinned=not state.traffic_latest,
                 serving_image=state.serving_image)
    return found
