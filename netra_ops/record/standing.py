"""Where an incident stands now: what the summary (00) would say, written into the index.

Running 00 after every step costs a kernel and a record each time (about 14 s of wall time
and 4 s of CPU on a 2-core machine), so a playbook does not. At each checkpoint (after each
step) it writes the incident's *standing* instead: the part of 00 that says where things are
(the communication plan's stakeholder update, the seed's escalation triggers that fired, the
Phase 5 targets and their states) plus the playbook's own progress, into `index.json`
(`standing`) and at the top of `index.html`. It is computed from the runs' summaries with
the same functions 00 uses (`netra_ops.record.report`), in milliseconds. 00 still runs once
at the end, the full summary with its charts and verdict.

A run outside a checkpoint (a runbook run by hand) rewrites the index and keeps the standing
as it was: `standing.after_runs` against the index's run count says how current it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netra_ops.record.incident import IncidentRun, incident_runs, write_index
from netra_ops.record.manifest import write_manifest
from netra_ops.record.report import (
    SUMMARY_RUNBOOK,
    escalation_figures,
    escalations_frame,
    phase_targets_frame,
    stakeholder_update,
)

__all__ = ["current_standing", "write_checkpoint"]


def current_standing(runs: list[IncidentRun], progress: Mapping[str, Any] | None = None,
                     now: datetime | None = None) -> dict[str, Any]:
    """The standing of an incident with these runs (its summary's own runs aside)."""
    summarized = [r for r in runs if r.runbook != SUMMARY_RUNBOOK]
    moment = now or datetime.now(UTC)
    targets = phase_targets_frame(summarized, moment)
    return {
        "as_of": moment.isoformat(timespec="seconds"),
        "after_runs": len(runs),
        "stakeholder_update": stakeholder_update(summarized),
        "escalations_fired": escalation_figures(escalations_frame(summarized))[
            "escalations_fired"],
        "targets": [{"target": row.target, "state": row.state} for row in
                    targets.itertuples()],
        "progress": dict(progress or {}),
    }


def write_checkpoint(folder: Path, progress: Mapping[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Write the incident's standing (with `progress`, e.g. the playbook's) into its index
    and re-seal its manifest; return the standing."""
    standing = current_standing(incident_runs(folder), progress)
    write_index(folder, standing=standing)
    write_manifest(folder)  # the index changed: `records verify` must still pass
    return standing
