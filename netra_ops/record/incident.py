"""An incident's record as a whole: its runs, its index, and values earlier phases recorded.

Each run of a runbook lives in `<outputs>/<incident>/<UTC stamp>-<runbook>/` with its
`summary.json` and its own `manifest.json`. This module reads those summaries back: the
incident's runs in order (`incident_runs`), an `index.json` and `index.html` over them
(`write_index`), the list of incidents (`list_incidents`), and one value an earlier run
recorded (`earlier_value`), which is how a later runbook learns, for example, the rollback
target the deploy run saw.

A playbook's steps carry `playbook` in their summary (which playbook run, scenario, branch,
rehearsal or real); the playbook's outcome goes to `playbook_runs/<run id>.json`
(`record_playbook_run`). The index groups the runs by playbook run, with its outcome, and
keeps each run's manifest digest (see `netra_ops.record.manifest`). Notifications sent about
a run (a `notifications` list in a summary or a playbook run's file) are listed with it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netra_ops.config import ENVIRONMENT_VARIABLE, load_environment
from netra_ops.errors import ParameterError, RecordError
from netra_ops.record.index_page import index_html
from netra_ops.record.manifest import INDEX_JSON, manifest_digest, write_manifest
from netra_ops.record.staging import is_staged

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "INDEX_FILES",
    "NOTIFICATIONS",
    "PLAYBOOK_RUNS",
    "IncidentRun",
    "check_incident",
    "earlier_value",
    "incident_dir",
    "incident_path",
    "incident_runs",
    "is_bucket_url",
    "list_incidents",
    "outputs_root",
    "playbook_runs",
    "record_playbook_run",
    "records_location",
    "write_index",
]

INDEX_FILES = (INDEX_JSON, "index.html")
PLAYBOOK_RUNS = "playbook_runs"
"""The folder of an incident that holds one `<run id>.json` per playbook run (its outcome)."""
NOTIFICATIONS = "notifications"
"""The key of the notifications list in a summary.json or a playbook run's file: each entry
a mapping (`sent_at`, `channel`, `event`, `status`, `manifest_sha256`, ...), shown in the
index under "Notifications sent"."""
_MISSING = object()
_INCIDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# What only an incident's folder holds: its index or manifest, or a run's summary or log (a
# run in progress has its log before its summary).
_INCIDENT_FILES = (*INDEX_FILES, "manifest.json")
_RUN_FILES = ("summary.json", "run.log")


@dataclass(frozen=True)
class IncidentRun:
    """One archived run, as its summary.json tells it."""

    folder: str
    runbook: str
    status: str
    exit_code: int
    started_at: str
    duration_s: float
    notebook: str
    html: str
    failing_cell: dict[str, Any] | None = None
    records: dict[str, Any] = field(default_factory=dict)
    playbook: dict[str, Any] | None = None
    manifest_sha256: str | None = None
    notifications: list[dict[str, Any]] = field(default_factory=list)


def outputs_root(outputs_dir: str | Path | None = None,
                 environment: str | None = None) -> Path:
    """The records folder, made absolute: `outputs_dir`, else `$NETRA_OPS_OUTPUTS`, else the
    environment's `records_url` (`environment`, else `$NETRA_OPS_ENV` when set), else
    `./outputs`. A bucket (`gs://BUCKET/PREFIX`) gives its local staging folder
    (`netra_ops.record.bucket`), from which every write is published to the bucket."""
    chosen = records_location(outputs_dir, environment)
    if not is_bucket_url(chosen):
        return Path(chosen).expanduser().resolve()
    from netra_ops.record.bucket import staging_root

    return staging_root(chosen, load_environment(environment or ""))


def records_location(outputs_dir: str | Path | None = None,
                     environment: str | None = None) -> str:
    """Where records go, as given (a folder or a `gs://` URL); see `outputs_root`."""
    chosen = outputs_dir or os.environ.get("NETRA_OPS_OUTPUTS")
    if not chosen and (environment or os.environ.get(ENVIRONMENT_VARIABLE)):
        chosen = load_environment(environment or "").records_url
    text = str(chosen or "outputs")
    if text.startswith("gs:/") and not is_bucket_url(text):  # Path("gs://b") is "gs:/b"
        raise ParameterError(f"records location {text!r} lost a slash: pass the bucket URL "
                             "as text, gs://BUCKET/PREFIX")
    return text


def is_bucket_url(location: str) -> bool:
    """Whether a records location is a Cloud Storage bucket (`gs://...`)."""
    return location.startswith("gs://")


def check_incident(incident: str) -> str:
    """The incident id, if it is safe as a folder name; ParameterError otherwise.

    The one check of an incident id: whatever takes one (a run, a playbook, the schedule,
    `records`, the panel's journal) goes through it, so `..`, `../../etc` or `a/b` never
    name a folder outside the records folder.
    """
    if not isinstance(incident, str) or not _INCIDENT.fullmatch(incident):
        raise ParameterError(
            f"incident id {incident!r} is not valid: use 1-64 letters, digits, '.', '_' or "
            f"'-', starting with a letter or digit (e.g. INC-2041)"
        )
    return incident


def incident_path(incident: str, outputs_dir: str | Path | None = None,
                  environment: str | None = None) -> Path:
    """Where an incident's records live (the id checked), whether or not any exist yet."""
    return outputs_root(outputs_dir, environment) / check_incident(incident)


def incident_dir(incident: str, outputs_dir: str | Path | None = None,
                 environment: str | None = None) -> Path:
    """The folder of an incident on record (`environment`: whose `records_url` applies
    when no outputs folder is given): ParameterError for an id that is not one, RecordError
    (naming the known incidents) when there is no record of it. A bucket's incident is
    brought into its staging folder first."""
    folder = incident_path(incident, outputs_dir, environment)
    if is_staged(folder.parent):
        from netra_ops.record.bucket import pull_incident

        pull_incident(folder)
    if not _is_record(folder):
        known = ", ".join(sorted(list_incidents(folder.parent)["incident"])) or "none"
        raise RecordError(f"no record of incident {incident!r} in {folder.parent} "
                          f"(incidents: {known}); netra-ops records list shows them")
    return folder


def _is_record(folder: Path) -> bool:
    """Whether `folder` holds an incident's record (not merely a folder of that name)."""
    if not folder.is_dir():
        return False
    return any((folder / name).is_file() for name in _INCIDENT_FILES) or any(
        (run / name).is_file() for run in folder.iterdir() for name in _RUN_FILES)


def incident_runs(folder: Path) -> list[IncidentRun]:
    """The runs of an incident folder, oldest first (folders without a summary skipped)."""
    runs = []
    for summary_path in sorted(folder.glob("*/summary.json")):
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        runs.append(IncidentRun(
            folder=summary_path.parent.name, runbook=str(summary.get("runbook", "")),
            status=str(summary.get("status", "unknown")),
            exit_code=int(summary.get("exit_code", -1)),
            started_at=str(summary.get("started_at", "")),
            duration_s=float(summary.get("duration_s") or 0.0),
            notebook=str(summary.get("notebook", "")), html=str(summary.get("html", "")),
            failing_cell=summary.get("failing_cell"), records=dict(summary.get("records", {})),
            playbook=summary.get("playbook"), manifest_sha256=manifest_digest(summary_path.parent),
            notifications=list(summary.get(NOTIFICATIONS) or [])))
    return sorted(runs, key=lambda run: (run.started_at, run.folder))


def list_incidents(outputs_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per incident: runs, last runbook, last status, last start (for a bucket, its
    incidents' summaries are brought into the staging folder first)."""
    import pandas as pd

    rows = []
    root = outputs_root(outputs_dir)
    if is_staged(root):
        from netra_ops.record.bucket import bucket_incidents, pull_incident

        for name in bucket_incidents(root):
            pull_incident(root / name, lambda relative: relative.endswith("summary.json"))
    for folder in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        runs = incident_runs(folder)
        if runs:
            last = runs[-1]
            rows.append({"incident": folder.name, "runs": len(runs), "last_runbook": last.runbook,
                         "last_status": last.status, "last_started_at": last.started_at})
    return pd.DataFrame(rows, columns=["incident", "runs", "last_runbook", "last_status",
                                       "last_started_at"])


def earlier_value(name: str, *, incident: str, runbook: str | None = None,
                  outputs_dir: str | Path | None = None, default: Any = _MISSING) -> Any:
    """The value `name` most recently recorded in this incident (by `runbook`, if given).

    Inside a runbook: `earlier_value("rollback_target", incident=incident_id,
    runbook="02_deploy")`. Without a default, RecordError says which runs were searched.
    """
    folder = incident_path(incident, outputs_dir)
    runs = incident_runs(folder) if folder.is_dir() else []
    for run in reversed(runs):
        if (runbook is None or run.runbook == runbook) and name in run.records:
            return run.records[name]
    if default is not _MISSING:
        return default
    searched = ", ".join(f"{r.runbook} ({r.folder})" for r in runs
                         if runbook is None or r.runbook == runbook) or "no runs"
    raise RecordError(f"incident {incident} has no recorded value {name!r}"
                      f"{f' from {runbook}' if runbook else ''}; searched: {searched}")


def playbook_runs(folder: Path) -> list[dict[str, Any]]:
    """The playbook runs recorded in an incident folder (`record_playbook_run`), oldest
    first."""
    found = [json.loads(path.read_text(encoding="utf-8"))
             for path in sorted((folder / PLAYBOOK_RUNS).glob("*.json"))]
    return sorted(found, key=lambda run: (str(run.get("started_at", "")), str(run.get("id"))))


def record_playbook_run(folder: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Write (or replace) a playbook run's file, then the incident's index and manifest;
    return the index. `entry["id"]` names the run (its steps' `playbook.run`); the
    notifications an earlier version of the file lists are kept."""
    path = folder / PLAYBOOK_RUNS / f"{entry['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    both = [*earlier.get(NOTIFICATIONS, []), *entry.get(NOTIFICATIONS, [])]
    sent = list({json.dumps(item, sort_keys=True, default=str): item for item in both}.values())
    kept = {**entry, **({NOTIFICATIONS: sent} if sent else {})}
    path.write_text(json.dumps(kept, indent=2, default=str) + "\n", encoding="utf-8")
    index = write_index(folder)
    write_manifest(folder)
    return index


def write_index(folder: Path, key_values: tuple[str, ...] = (),
                standing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write `index.json` and `index.html` for an incident folder; return the index.

    A run's manifest digest, once in the index, stays as it was first written: a rewritten
    run manifest differs from it. `key_values` replaces each runbook's key figures.
    `standing` (`netra_ops.record.standing`) is where the incident stands now; without one
    the index keeps the standing it had.
    """
    runs = incident_runs(folder)
    held = _held_digests(folder)
    entries = [asdict(run) | ({"manifest_sha256": held[run.folder]} if held.get(run.folder)
                              else {}) for run in runs]
    index = {
        "incident": folder.name,
        "runs": entries,
        "playbook_runs": _grouped(entries, playbook_runs(folder)),
        "phases": _phases(runs),
        "status": _overall(runs),
        "total_duration_s": round(sum(run.duration_s for run in runs), 3),
        "standing": dict(standing) if standing is not None else _kept_standing(folder),
    }
    (folder / INDEX_JSON).write_text(json.dumps(index, indent=2, default=str) + "\n",
                                     encoding="utf-8")
    (folder / "index.html").write_text(index_html(index, key_values), encoding="utf-8")
    return index


def _held_digests(folder: Path) -> dict[str, str]:
    path = folder / INDEX_JSON
    if not path.is_file():
        return {}
    try:
        runs = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
    except ValueError:
        return {}
    return {str(run["folder"]): str(run["manifest_sha256"]) for run in runs
            if isinstance(run, dict) and run.get("folder") and run.get("manifest_sha256")}


def _grouped(runs: list[dict[str, Any]], recorded: list[dict[str, Any]]
             ) -> list[dict[str, Any]]:
    """One group per playbook run (in the order they started), each with its outcome (from
    its file; `in progress` without one) and its runs' folders; runs outside a playbook are
    one group with `id` None."""
    by_id = {str(run.get("id")): run for run in recorded}
    groups: dict[str | None, dict[str, Any]] = {}
    for run in runs:
        context = run.get("playbook") or {}
        key = str(context["run"]) if context.get("run") else None
        if key not in groups:
            groups[key] = _group(key, context, by_id.get(key or ""), run["started_at"])
        groups[key]["runs"].append(run["folder"])
    for key, entry in by_id.items():  # a playbook that stopped before any step ran
        groups.setdefault(key, _group(key, entry, entry, str(entry.get("started_at", ""))))
    return sorted(groups.values(), key=lambda group: (group["id"] is not None,
                                                      str(group["started_at"])))


def _group(key: str | None, context: dict[str, Any], recorded: dict[str, Any] | None,
           started_at: str) -> dict[str, Any]:
    if key is None:
        return {"id": None, "playbook": None, "outcome": None, "started_at": started_at,
                "runs": [], NOTIFICATIONS: []}
    facts = {name: context.get(name) for name in ("playbook", "scenario", "environment",
                                                  "rehearsal", "execute")}
    return {"id": key, **facts, "status": "in progress", "outcome": "IN PROGRESS",
            "reason": "", "branch_taken": None, "started_at": started_at,
            **(recorded or {}), "runs": [], NOTIFICATIONS: list((recorded or {}).get(
                NOTIFICATIONS) or [])}


def _kept_standing(folder: Path) -> dict[str, Any] | None:
    try:
        kept = json.loads((folder / "index.json").read_text(encoding="utf-8")).get("standing")
    except (OSError, ValueError):
        return None
    return kept if isinstance(kept, dict) else None


def _phases(runs: list[IncidentRun]) -> dict[str, dict[str, Any]]:
    """The latest run of each runbook: its status and folder."""
    latest: dict[str, dict[str, Any]] = {}
    for run in runs:
        latest[run.runbook] = {"status": run.status, "folder": run.folder,
                               "started_at": run.started_at}
    return latest


def _overall(runs: list[IncidentRun]) -> str:
    if not runs:
        return "empty"
    last = {phase["status"] for phase in _phases(runs).values()}
    return "passed" if last == {"passed"} else "attention"
