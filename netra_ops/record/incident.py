"""An incident's record as a whole: its runs, its index, and values earlier phases recorded.

Each run of a runbook lives in `<outputs>/<incident>/<UTC stamp>-<runbook>/` with its
`summary.json`. This module reads those summaries back: the incident's runs in order
(`incident_runs`), an `index.json` and `index.html` over them (`write_index`), the list of
incidents (`list_incidents`), and one value an earlier run recorded (`earlier_value`), which
is how a later runbook learns, for example, the rollback target the deploy run saw.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from netra_ops.errors import ParameterError, RecordError

__all__ = [
    "INDEX_FILES",
    "IncidentRun",
    "check_incident",
    "earlier_value",
    "incident_dir",
    "incident_path",
    "incident_runs",
    "list_incidents",
    "outputs_root",
    "write_index",
]

INDEX_FILES = ("index.json", "index.html")
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


def outputs_root(outputs_dir: str | Path | None = None) -> Path:
    """`outputs_dir`, else `$NETRA_OPS_OUTPUTS`, else `./outputs`, made absolute."""
    return Path(outputs_dir or os.environ.get("NETRA_OPS_OUTPUTS") or "outputs").resolve()


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


def incident_path(incident: str, outputs_dir: str | Path | None = None) -> Path:
    """Where an incident's records live (the id checked), whether or not any exist yet."""
    return outputs_root(outputs_dir) / check_incident(incident)


def incident_dir(incident: str, outputs_dir: str | Path | None = None) -> Path:
    """The folder of an incident on record: ParameterError for an id that is not one,
    RecordError (naming the known incidents) when there is no record of it."""
    folder = incident_path(incident, outputs_dir)
    if not _is_record(folder):
        known = ", ".join(sorted(list_incidents(outputs_dir)["incident"])) or "none"
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
            failing_cell=summary.get("failing_cell"), records=dict(summary.get("records", {}))))
    return sorted(runs, key=lambda run: (run.started_at, run.folder))


def list_incidents(outputs_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per incident: runs, last runbook, last status, last start."""
    rows = []
    root = outputs_root(outputs_dir)
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


def write_index(folder: Path, key_values: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write `index.json` and `index.html` for an incident folder; return the index."""
    runs = incident_runs(folder)
    index = {
        "incident": folder.name,
        "runs": [asdict(run) for run in runs],
        "phases": _phases(runs),
        "status": _overall(runs),
        "total_duration_s": round(sum(run.duration_s for run in runs), 3),
    }
    (folder / "index.json").write_text(json.dumps(index, indent=2, default=str) + "\n",
                                       encoding="utf-8")
    (folder / "index.html").write_text(_index_html(index, key_values), encoding="utf-8")
    return index


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


def _index_html(index: dict[str, Any], key_values: tuple[str, ...]) -> str:
    rows = "".join(_run_row(run, key_values) for run in index["runs"])
    title = html.escape(f"Incident {index['incident']}")
    return (f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif;margin:2em;color:#111;background:#fff}"
            "table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;"
            "text-align:left;vertical-align:top}.passed{background:#e6f4ea}"
            ".failed,.error,.timeout,.kernel_died,.interrupted{background:#fce8e6}</style>"
            f"<h1>{title}</h1><p>Status: <strong>{html.escape(index['status'])}</strong> · "
            f"{len(index['runs'])} runs · {index['total_duration_s']:.1f} s in runbooks</p>"
            "<table><tr><th>started (UTC)</th><th>runbook</th><th>status</th><th>exit</th>"
            "<th>duration</th><th>key values</th><th>failing cell</th><th>record</th></tr>"
            f"{rows}</table></html>\n")


def _run_row(run: dict[str, Any], key_values: tuple[str, ...]) -> str:
    records = run["records"]
    shown = {k: records[k] for k in (key_values or tuple(records)[:8]) if k in records}
    values = "<br>".join(html.escape(f"{k} = {json.dumps(v, default=str)[:80]}")
                         for k, v in shown.items())
    failing = run["failing_cell"] or {}
    failure = html.escape(f"{failing.get('ename', '')}: {failing.get('evalue', '')}"[:200]
                          if failing else "")
    folder = html.escape(run["folder"])
    links = (f"<a href='{folder}/{html.escape(run['html'])}'>HTML</a> · "
             f"<a href='{folder}/{html.escape(run['notebook'])}'>notebook</a>")
    status = html.escape(run["status"])
    return (f"<tr class='{status}'><td>{html.escape(run['started_at'])}</td>"
            f"<td>{html.escape(run['runbook'])}</td><td>{status.upper()}</td>"
            f"<td>{run['exit_code']}</td><td>{run['duration_s']:.1f} s</td><td>{values}</td>"
            f"<td>{failure}</td><td>{links}</td></tr>")
