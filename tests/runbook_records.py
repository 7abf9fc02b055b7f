"""What a runbook run recorded: its summary.json and the charts in its executed notebook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat


def summary(record: Path) -> dict[str, Any]:
    """The run's summary.json."""
    return dict(json.loads((record / "summary.json").read_text(encoding="utf-8")))


def charts(record: Path, notebook: str) -> int:
    """How many PNG charts the executed `notebook` in the run's folder shows."""
    executed = nbformat.read(record / notebook, as_version=4)
    return sum("image/png" in o.get("data", {}) for c in executed.cells
               if c.cell_type == "code" for o in c.outputs)
