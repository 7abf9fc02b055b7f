"""Recording the panel's actions, as a runbook cell records what it saw.

`record_action(outcome)` calls `netra_ops.record.record(outcome.record_name, value)` (names
`ui.golden_path`, `ui.deploy`, `ui.rollback`, `ui.watch`, `ui.snapshot`): inside a kernel the
same record output a runbook cell makes, which the runner lifts into `summary.json` when the
notebook runs headless. A click is handled after its cell has finished, so the record output
is captured and appended to the panel's log (an `ipywidgets.Output`) instead of being lost.

An interactive session is not run by the runner, so with an incident each action is also
appended, scrubbed of secrets, to `<outputs>/<incident>/ui-actions.jsonl`
(`{"name", "value"}` a line), and the incident's manifest is rewritten so that
`netra-ops records verify` still accounts for every file.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from IPython.utils.capture import capture_output

from netra_ops.record import record, recorded, scrub, write_manifest
from netra_ops.record.incident import incident_path
from netra_ops.record.redact import scrub_json
from netra_ops.record.runner import known_secrets

__all__ = ["JOURNAL", "journal_entries", "journal_path", "record_value"]

JOURNAL = "ui-actions.jsonl"
_LOCK = threading.Lock()


def record_value(name: str, value: Any, *, incident: str | None = None,
                 environment: str | None = None, sink: Any = None,
                 outputs_dir: str | Path | None = None) -> Any:
    """Record `value` under `name`; show the record output in `sink` (an
    `ipywidgets.Output`) when given; append it to the incident's journal when `incident`
    is given, scrubbed of the secrets of `environment` (a name or the path of its file).
    Returns the value as recorded (JSON data). `outputs_dir`: as `run_notebook`'s
    (default `$NETRA_OPS_OUTPUTS`, else `./outputs`)."""
    with capture_output() as captured:
        record(name, value)
    stored = recorded()[name]
    if sink is not None:
        sink.outputs = (*sink.outputs, *_outputs(captured))
    if incident:
        _append(journal_path(incident, outputs_dir), name, stored, environment)
    return stored


def journal_path(incident: str, outputs_dir: str | Path | None = None) -> Path:
    """Where the panel's actions of `incident` are journaled."""
    return incident_path(incident, outputs_dir) / JOURNAL


def journal_entries(incident: str, outputs_dir: str | Path | None = None
                    ) -> list[dict[str, Any]]:
    """The journaled actions of `incident`, oldest first (empty when none)."""
    path = journal_path(incident, outputs_dir)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _outputs(captured: Any) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = [
        {"output_type": "display_data", "data": dict(item.data),
         "metadata": dict(item.metadata or {})} for item in captured.outputs]
    if captured.stdout:
        shown.append({"output_type": "stream", "name": "stdout", "text": captured.stdout})
    return shown


def _append(path: Path, name: str, value: Any, environment: str | None) -> None:
    secrets = known_secrets(environment) if environment else []
    clean = scrub_json({"name": name, "value": value}, lambda text: scrub(text, secrets))
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(clean, ensure_ascii=False) + "\n")
        write_manifest(path.parent)
