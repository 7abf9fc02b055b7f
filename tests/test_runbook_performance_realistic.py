"""The performance runbook (seed 3.3) on a sandbox as hard as staging (`realistic`: answers of
3-8 s, Monitoring 60 s late): it judges the seed's "< 2 s response times" on the first agent
event, the answer on its own budget. The fast defaults: test_runbook_performance.py."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from runbook_records import charts, summary

from netra_ops import sandbox
from netra_ops.config import Environment

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

RunRunbook = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]
REALISTIC = ("duration_s=12", "settle_s=2", "users=3", "monitoring_wait_s=0")



def _failing_evalue(record: Path) -> str:
    failing = summary(record)["failing_cell"]
    assert failing is not None
    return str(failing["evalue"])


def test_realistic_answers_of_seconds_pass_with_monitoring_not_yet_published(
        module_sandbox_env: Environment, tmp_path: Path, run_runbook_cli: RunRunbook) -> None:
    """Answers of 3-8 s: the first event comes at once, so the seed's < 2 s holds; the
    answer is within its own 30 s. Monitoring is 60 s late: memory is "no data yet", not
    verified, and the run still passes."""
    sandbox.apply_scenario(module_sandbox_env, "realistic")
    result, record = run_runbook_cli("05_performance", module_sandbox_env, tmp_path,
                                     "INC-perf-realistic", *REALISTIC)
    assert result.returncode == 0, result.stdout + result.stderr
    records = summary(record)["records"]
    timing = records["load.timing"]
    assert records["load.errors"] == {} and records["load.turns"] >= 3
    assert timing["answer_p95_ms"] >= 3000  # it did think for seconds ...
    assert timing["first_event_p95_ms"] < 2000 and timing["delivery_p95_ms"] < 500  # ... promptly
    assert records["monitoring.wait"].startswith("no data yet")
    assert "memory_average" in records["performance.not_verified"]
    assert records["verdict.passed"] is True and records["verdict.failed"] == []
    html = (record / "05_performance.html").read_text(encoding="utf-8")
    assert html.count("no data yet: Cloud Monitoring had no memory point") == 2  # said, recorded
    # the memory and leak charts say "no data" rather than fail
    assert charts(record, "05_performance.ipynb") == 6


def test_a_slow_first_response_fails_and_says_it_is_the_first_event(
        module_sandbox_env: Environment, tmp_path: Path, run_runbook_cli: RunRunbook) -> None:
    """The `slow` preset: 700 ms before every agent event, so the user sees nothing for
    700 ms. Within the seed's 2 s that passes (checked by hand: first event p95 ~705 ms);
    against a 500 ms response budget it fails on the first event, with its figure, while
    every turn passes on its own (2 s event budget) and the answer is within its budget.
    (A first event over 2 s cannot be staged with NETRA_FAULT_LATENCY_MS: the same delay on
    /health keeps the revision from getting ready within its 2 s probe timeout.)"""
    sandbox.apply_scenario(module_sandbox_env, "slow")
    result, record = run_runbook_cli("05_performance", module_sandbox_env, tmp_path,
                                     "INC-perf-slow", *REALISTIC, "response_budget_ms=500")
    assert result.returncode == 1, result.stdout + result.stderr
    records = summary(record)["records"]
    assert records["load.errors"] == {}
    assert records["load.timing"]["first_event_p95_ms"] >= 700
    first_event = "first agent event p95 < 500 ms (seed: < 2 s response times)"
    failed = records["verdict.failed"]  # (a 14 s memory window may leave the leak open)
    assert first_event in failed
    assert not any(c.startswith(("agent answer", "turn error rate")) for c in failed)
    assert first_event in _failing_evalue(record)
