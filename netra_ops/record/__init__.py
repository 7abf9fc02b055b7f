"""Recording runbook runs: `record()`/`verdict()` inside notebooks, `run_notebook()` outside.

A runbook (a parameterized Jupyter notebook) states what it saw with `record(name, value)`
and ends with `verdict(checks)`. `run_notebook()` executes it headless with papermill and
archives the run under `outputs/<incident>/` as an incident record: the executed notebook,
its HTML, `summary.json` (with the recorded values) and `run.log`, all scrubbed of secrets
(`scrub`, `find_secrets`).
"""

from netra_ops.record.incident import (
    IncidentRun,
    earlier_value,
    incident_dir,
    incident_runs,
    list_incidents,
    write_index,
)
from netra_ops.record.manifest import VerifyReport, verify_incident, write_manifest
from netra_ops.record.parameters import parse_parameter
from netra_ops.record.recorder import VerdictResult, record, record_each, recorded, verdict
from netra_ops.record.redact import find_secrets, scrub
from netra_ops.record.runbook import environment_frame, note, runbook_setup
from netra_ops.record.runner import RunResult, run_notebook

__all__ = [
    "IncidentRun",
    "RunResult",
    "VerdictResult",
    "VerifyReport",
    "earlier_value",
    "environment_frame",
    "find_secrets",
    "incident_dir",
    "incident_runs",
    "list_incidents",
    "note",
    "parse_parameter",
    "record",
    "record_each",
    "recorded",
    "run_notebook",
    "runbook_setup",
    "scrub",
    "verdict",
    "verify_incident",
    "write_index",
    "write_manifest",
]
