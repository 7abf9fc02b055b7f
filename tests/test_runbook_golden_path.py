"""The Phase 3.1 runbook executed headless by papermill against the real sandbox."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from runbook_records import unreadable_parts

from netra_ops import sandbox
from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


RunRunbook = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]


@pytest.fixture()
def run_runbook(run_runbook_cli: RunRunbook) -> RunRunbook:
    return functools.partial(run_runbook_cli, "04_golden_path_validation")


def summary_of(record: Path) -> dict[str, Any]:
    return dict(json.loads((record / "summary.json").read_text()))


@pytest.fixture()
def stale_build(sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(sandbox_env, "stale-build")
    yield sandbox_env
    sandbox.apply_scenario(sandbox_env, "fixed")


def test_fixed_build_passes_with_a_complete_record(
        sandbox_env: Environment, tmp_path: Path,
        run_runbook: RunRunbook) -> None:
    result, record = run_runbook(sandbox_env, tmp_path, "INC-fixed", "runs=3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: PASSED" in result.stdout and str(record) in result.stdout
    summary = summary_of(record)
    assert summary["status"] == "passed" and summary["failing_cell"] is None
    assert summary["records"]["pass_rate"] == 1.0
    assert summary["records"]["events_delivered"] == 15
    records = summary["records"]
    assert records["event_latency_p95_ms"] < 500 and records["event_latency_max_ms"] < 500
    assert records["first_event_max_ms"] < 500 and 0 < records["answer_max_s"] < 30
    assert records["timing_failures"] == 0 and len(records["clock_offsets_ms"]) == 3
    assert summary["parameters"]["runs"] == 3
    notebook = nbformat.read(record / "04_golden_path_validation.ipynb", as_version=4)
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) == 1
    html = (record / "04_golden_path_validation.html").read_text()
    assert "data:image/png;base64" in html and "Golden Path validation" in html
    assert unreadable_parts(record, "04_golden_path_validation.ipynb") == []
    assert re.search(r"<td[^>]*>-?\d+(\.\d+)? ms</td>", html)  # latencies with their unit


def test_stale_build_fails_and_still_leaves_a_complete_record(
        stale_build: Environment, tmp_path: Path,
        run_runbook: RunRunbook) -> None:
    result, record = run_runbook(stale_build, tmp_path, "INC-stale", "runs=2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "verdict: FAILED" in result.stdout
    summary = summary_of(record)
    assert summary["status"] == "failed"
    assert summary["records"]["pass_rate"] == 0.0
    assert "agent_completed" in summary["records"]["missing_events"]
    failing = summary["failing_cell"]
    assert failing is not None and failing["ename"] == "VerdictFailed"
    assert "agent_events" in failing["evalue"]
    notebook = nbformat.read(record / "04_golden_path_validation.ipynb", as_version=4)
    last = notebook.cells[failing["index"]]
    assert any(o.get("output_type") == "error" for o in last.outputs)
    assert (record / "04_golden_path_validation.html").stat().st_size > 0


# --- the sandbox as hard as staging: answers of seconds, and a slow delivery path ----------


@pytest.fixture(scope="module")
def realistic_env(module_sandbox_env: Environment) -> Environment:
    """A sandbox of this module's own (the scenarios change all three services)."""
    return module_sandbox_env


def test_realistic_answers_of_seconds_pass(realistic_env: Environment, tmp_path: Path,
                                           run_runbook: RunRunbook) -> None:
    """Agent turns of 3-8 s (NETRA_AGENT_TURN_S): the answer is judged against its own
    budget, delivery against each event's own timestamp: a healthy slow agent passes."""
    sandbox.apply_scenario(realistic_env, "realistic")
    result, record = run_runbook(realistic_env, tmp_path, "INC-realistic", "runs=2")
    assert result.returncode == 0, result.stdout + result.stderr
    records = summary_of(record)["records"]
    assert records["pass_rate"] == 1.0 and records["timing_failures"] == 0
    assert records["answer_max_s"] >= 3.0  # it did think for seconds
    assert records["event_latency_max_ms"] < 500 and records["first_event_max_ms"] < 500


def test_slow_delivery_fails_on_delivery_latency(realistic_env: Environment, tmp_path: Path,
                                                 run_runbook: RunRunbook) -> None:
    """Events stamped promptly, delivered 800 ms later: the runbook fails, and says it is
    the delivery."""
    sandbox.apply_scenario(realistic_env, "slow-delivery")
    result, record = run_runbook(realistic_env, tmp_path, "INC-slow-delivery", "runs=2")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = summary_of(record)
    records = summary["records"]
    assert records["pass_rate"] == 0.0 and records["timing_failures"] == 2
    assert records["event_latency_p95_ms"] >= 750
    failing = summary["failing_cell"]
    assert failing is not None and "event_latency" in failing["evalue"]
