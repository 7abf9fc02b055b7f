"""Runbook 08 (the control panel) run headless by `netra-ops run`: a static snapshot, no wait."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

RunbookCli = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]


def test_headless_run_completes_and_its_html_shows_the_snapshot(
        sandbox_env: Environment, tmp_path: Path, run_runbook_cli: RunbookCli) -> None:
    result, record = run_runbook_cli("08_control_panel", sandbox_env, tmp_path, "INC-panel")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((record / "summary.json").read_text())
    assert summary["status"] == "passed"
    snapshot = summary["records"]["ui.snapshot"]
    assert snapshot["healthy"] is True
    assert [s["role"] for s in snapshot["services"]] == ["backend", "auth", "frontend"]
    assert summary["records"]["verdict.passed"] is True
    notebook = nbformat.read(record / "08_control_panel.ipynb", as_version=4)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for o in outputs), "a headless run must not show widgets"
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # error rate, memory
    page = (record / "08_control_panel.html").read_text()
    assert "netra-ops control panel" in page and "(snapshot)" in page
    assert page.count("✔ healthy") >= 3 and "▶ serving" in page
    assert page.count("data:image/png;base64") >= 2
