"""The performance runbook (seed 3.3) executed headless by papermill against the sandbox:
the netra-ops engine and the Locust path, each with its charts and a verdict."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

RunRunbook = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]
SHORT = ("duration_s=5", "settle_s=7", "users=10")  # the seed's 10 users; >= 10 memory samples
CHART_TITLES = ("Throughput", "Turn latency percentiles", "Errors by class",
                "Memory per revision")


def _summary(record: Path) -> dict[str, Any]:
    return dict(json.loads((record / "summary.json").read_text(encoding="utf-8")))


def _images(record: Path) -> int:
    notebook = nbformat.read(record / "05_performance.ipynb", as_version=4)
    return sum("image/png" in o.get("data", {}) for c in notebook.cells
               if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("engine", ["netra-ops", "locust"])
def test_a_short_load_passes_with_frames_charts_and_leak_verdict(
        sandbox_env: Environment, tmp_path: Path, run_runbook_cli: RunRunbook,
        engine: str) -> None:
    result, record = run_runbook_cli("05_performance", sandbox_env, tmp_path, "INC-perf",
                                     *SHORT, f"engine={engine}")
    assert result.returncode == 0, result.stdout + result.stderr
    records = _summary(record)["records"]
    assert records["load.engine"] == engine and records["load.turns"] > 10
    assert records["load.aborted"] is None and records["load.errors"] == {}
    serving = records["serving_revision"]
    assert {row["revision"]: row["verdict"] for row in records["leaks"]}[serving] == "no leak"
    assert records["verdict.passed"] is True
    assert _images(record) == 5  # throughput, latency, errors, memory, leak fit
    html = (record / "05_performance.html").read_text(encoding="utf-8")
    assert "Performance validation (seed 3.3)" in html
    if engine == "netra-ops":
        assert records["load"]["turns"] == records["load.turns"]
        assert records["load"]["latency_ms"]["p95"] < 2000
