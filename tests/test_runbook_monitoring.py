"""The post-deployment monitoring runbook executed headless by papermill against a sandbox of
its own (the shared one collects other tests' revisions, whose sparse samples would make a
per-revision rule inconclusive)."""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from netra_ops import sandbox
from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
SHORT_WATCH = ("duration_s=4", "interval_s=2", "golden_path_runs=4")


RunRunbook = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]


@pytest.fixture()
def run_runbook(run_runbook_cli: RunRunbook) -> RunRunbook:
    return functools.partial(run_runbook_cli, "07_monitoring")


def summary_of(record: Path) -> dict[str, Any]:
    return dict(json.loads((record / "summary.json").read_text()))


def outputs_of(record: Path) -> list[dict[str, Any]]:
    notebook = nbformat.read(record / "07_monitoring.ipynb", as_version=4)
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


@pytest.fixture()
def stale_build(module_sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(module_sandbox_env, "stale-build")
    yield module_sandbox_env
    sandbox.apply_scenario(module_sandbox_env, "fixed")


def test_a_healthy_window_passes_with_decision_charts_and_live_table(
        module_sandbox_env: Environment, tmp_path: Path,
        run_runbook: RunRunbook) -> None:
    result, record = run_runbook(module_sandbox_env, tmp_path, "INC-watch", *SHORT_WATCH)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: PASSED" in result.stdout
    summary = summary_of(record)
    records = summary["records"]
    assert summary["status"] == "passed"
    assert records["decision"] == "continue" and records["watch.evaluations"] == 3
    # run on its own (execute=False) a clean window only plans the known-good mark
    assert records["known_good_mark"]["status"] == "planned"
    assert records["watch.unavailable"] == {}
    assert {r["rule"]: r["state"] for r in records["rules"]}["memory_high"] == "ok"
    assert 1e6 < records["memory_max_bytes"] < 2**30
    assert records["golden_path_pass_rate"] == 1.0 and records["criteria_no_data"] == [
        "database_latency"]

    outputs = outputs_of(record)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 5  # error rate, memory, latency, rule states, memory growth fit
    assert {row["verdict"] for row in records["leaks"]} <= {"no leak", "inconclusive"}
    live = [o for o in outputs if "tick 3" in str(o.get("data", {}).get("text/plain", ""))]
    assert len(live) == 1 and "<table" in live[0]["data"]["text/html"]  # updated in place
    logged = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert logged.count("netra_ops.metrics.watching: tick") == 3  # one line per evaluation
    html = (record / "07_monitoring.html").read_text()
    assert html.count("data:image/png;base64") >= 4 and "Post-deployment monitoring" in html


def test_a_failing_window_fails_the_verdict_and_keeps_the_record(
        stale_build: Environment, tmp_path: Path,
        run_runbook: RunRunbook) -> None:
    result, record = run_runbook(stale_build, tmp_path, "INC-stale", *SHORT_WATCH)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "verdict: FAILED" in result.stdout
    summary = summary_of(record)
    assert summary["status"] == "failed"
    assert summary["records"]["golden_path_pass_rate"] == 0.0
    assert {"agent_events", "user_success_rate"} <= set(summary["records"]["verdict.failed"])
    # no seed 4.1 trigger fires on the stale build: its missed criteria escalate, they never
    # roll back, and nothing is marked known good
    assert summary["records"]["watch.decision"] != "rollback"
    assert summary["records"]["decision"] == "escalate", summary["records"]["decision.reason"]
    assert "success criteria missed: agent_events" in summary["records"]["decision.reason"]
    assert summary["records"]["known_good_mark"] is None
    failing = summary["failing_cell"]
    assert failing is not None and failing["ename"] == "VerdictFailed"
    assert len([o for o in outputs_of(record) if "image/png" in o.get("data", {})]) == 5
