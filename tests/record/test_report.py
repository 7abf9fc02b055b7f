"""The incident summary states only what a record measured: figures from the runbook that
measured them, a 24 h target "on track" until its horizon, boxes ticked from direct evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from netra_ops.config import load_environment
from netra_ops.record import report
from netra_ops.record.incident import IncidentRun

SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"
T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)


def run(runbook: str, minute: float, status: str = "passed", duration_s: float = 30.0,
        **records: Any) -> IncidentRun:
    started = (T0 + timedelta(minutes=minute)).isoformat()
    return IncidentRun(folder=f"{minute}-{runbook}", runbook=runbook, status=status,
                       exit_code=0 if status == "passed" else 1, started_at=started,
                       duration_s=duration_s, notebook="", html="", records=records)


MONITORING = {"health_ok_rate": 1.0, "websocket_connection_success_rate": 0.98,
              "response_time_p95_ms": 120.0, "http_error_rate": 0.0, "error_entries": 0,
              "memory_mean_bytes": 5e7, "decision": "continue"}


def test_every_figure_comes_from_the_runbook_that_measured_it() -> None:
    runs = [run("04_golden_path_validation", 1, pass_rate=1.0),
            run("05_performance", 2, **{"load.timing": {"first_event_p95_ms": 850.0,
                                                        "answer_p95_ms": 7100.0}}),
            run("07_monitoring", 3, **MONITORING)]
    frame = report.success_metrics_frame(load_environment(SANDBOX_TOML), runs).set_index(
        "criterion")
    assert frame.loc["health_ok", "value"] == 1.0
    assert frame.loc["health_ok", "source"] == "07_monitoring / health_ok_rate"
    assert frame.loc["connection_success", "value"] == 0.98
    # the newest run that measured it: 07's request latency, after 05's load test
    assert frame.loc["response_time", "value"] == 120.0
    assert report.measured_value(runs[:2], "response_time_p95_ms") == (
        850.0, "05_performance / load.timing/first_event_p95_ms")
    assert frame.loc["database_latency", "state"] == "no data"
    assert frame.loc["database_latency", "source"] == ""


def test_the_24_h_target_is_on_track_until_its_horizon_has_passed() -> None:
    runs = [run("02_deploy", 0), run("04_golden_path_validation", 1),
            run("07_monitoring", 2, **MONITORING)]
    early = report.phase_targets_frame(runs, now=T0 + timedelta(minutes=3)).set_index("evidence")
    assert early.loc["07_monitoring", "state"] == "on track"
    assert early.loc["02_deploy", "state"] == "met"
    assert early.loc["05_performance", "state"] == "open"
    # a day later without a run covering the horizon: still only on track
    late = report.phase_targets_frame(runs, now=T0 + timedelta(hours=25)).set_index("evidence")
    assert late.loc["07_monitoring", "state"] == "on track"
    covered = [*runs, run("07_monitoring", 24 * 60, **MONITORING)]
    done = report.phase_targets_frame(covered, now=T0 + timedelta(hours=25)).set_index(
        "evidence")
    assert done.loc["07_monitoring", "state"] == "met"
    failed = [*covered, run("07_monitoring", 24 * 60 + 5, status="failed")]
    missed = report.phase_targets_frame(failed, now=T0 + timedelta(hours=25)).set_index(
        "evidence")
    assert missed.loc["07_monitoring", "state"] == "missed"


@pytest.mark.parametrize("item", [
    "Validate all three services (backend, auth, frontend) deployed",
    "Escalation procedures documented and communicated",
    "Review deployment script parameters",
])
def test_a_box_without_direct_evidence_is_not_verified(item: str) -> None:
    runs = [run("01_preflight", 0, commits_ahead=3, gates_passed=True),
            run("02_deploy", 1, deploy_status="done", deploy_duration_s=9.0, image="x"),
            run("03_config_sync", 2), run("04_golden_path_validation", 3, pass_rate=1.0,
                                          missing_events=[]),
            run("07_monitoring", 4, **MONITORING)]
    checklist = report.checklist_frame(runs).set_index("item")
    assert checklist.loc[item, "done"] == "not verified"
    assert set(checklist["done"]) == {"[x]", "not verified"}
    assert checklist.loc["Execute Golden Path end-to-end tests", "done"] == "[x]"
    assert checklist.loc["Continuous health monitoring active", "done"] == "[x]"
    empty = report.checklist_frame([]).set_index("item")
    assert set(empty["done"]) == {"not verified"}


def test_all_three_services_are_ticked_only_when_02_verified_each() -> None:
    item = "Validate all three services (backend, auth, frontend) deployed"
    for verified, done in ((["auth", "backend", "frontend"], "[x]"),
                           (["auth"], "not verified")):
        runs = [run("02_deploy", 1, deploy_status="failed", services_verified=verified)]
        row = report.checklist_frame(runs).set_index("item").loc[item]
        assert row["done"] == done and "services_verified" in row["evidence"]


def test_the_stakeholder_update_after_a_rollback_says_where_and_whether_the_path_works() -> None:
    runs = [run("02_deploy", 0), run("06_rollback", 1, rollback_status="done",
                                     serving_revision="r1", rollback_target_known_good=False,
                                     golden_path_ok=False)]
    update = report.stakeholder_update(runs)
    assert update.startswith("Rollback executed: traffic is back on r1 (not known good)")
    assert "golden path is broken there (escalated)" in update


def test_a_failed_validation_is_escalated_not_reported_as_in_progress() -> None:
    runs = [run("02_deploy", 0), run("04_golden_path_validation", 1, status="failed",
                                     pass_rate=0.0)]
    update = report.stakeholder_update(runs)
    assert update.startswith("Deployment complete, but validation failed (golden path pass "
                             "rate 0%)")
    assert "nothing rolled back" in update


def test_final_validation_rows_judge_the_validation_and_the_rollback() -> None:
    passed = [run("04_golden_path_validation", 1, pass_rate=1.0, event_latency_p95_ms=80.0)]
    checks = report.final_validation_checks(passed)
    assert [c.ok for c in checks] == [True, True, True]
    assert checks[0].detail == "golden path pass rate 100%, p95 event latency 80 ms"
    rolled = report.final_validation_checks(
        [run("04_golden_path_validation", 1, status="failed", pass_rate=0.6),
         run("06_rollback", 2, rollback_status="done")])
    assert [(c.name, c.ok) for c in rolled] == [
        ("technical success: 5/5 WebSocket agent events", False),
        ("business success: login -> AI response > 95%", False),
        ("the fix is serving (no rollback)", False)]


def test_the_figures_the_summary_records_of_its_tables() -> None:
    runs = [run("02_deploy", 0, deploy_status="done"), run("04_golden_path_validation", 1,
                                                           pass_rate=1.0)]
    targets = report.phase_targets_frame(runs, now=T0 + timedelta(hours=1))
    assert report.targets_figures(targets) == {"targets_met": 2, "targets_on_track": []}
    metrics = report.success_metrics_frame(load_environment(SANDBOX_TOML), runs)
    figures = report.criteria_figures(metrics)
    assert list(figures) == ["criteria_passed", "criteria_failed", "criteria_without_data"]
    assert sum(figures.values()) == len(metrics)
    checklist = report.checklist_figures(report.checklist_frame(runs))
    assert checklist["checklist_items"] == len(report.CHECKLIST)
    assert checklist["checklist_done"] + checklist["checklist_not_verified"] == len(
        report.CHECKLIST)
    assert report.escalation_figures(report.escalations_frame(runs)) == {
        "escalations_fired": []}


def test_the_summary_leaves_out_its_own_runs(tmp_path: Path) -> None:
    for number, runbook in enumerate(("02_deploy", "00_incident_summary", "04_golden_path")):
        folder = tmp_path / "INC-9" / f"2026010{number}T000000Z-{runbook}"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"runbook": runbook}))
    runs = report.summarized_runs("INC-9", tmp_path)
    assert [r.runbook for r in runs] == ["02_deploy", "04_golden_path"]
    frame = report.incident_frame("INC-9", load_environment(SANDBOX_TOML), runs)
    assert frame.iloc[0]["runs"] == 2 and frame.iloc[0]["incident"] == "INC-9"
