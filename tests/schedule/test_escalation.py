"""Escalations: the payload (seed triggers, communication plan). Delivery (retries, the
URL's secrecy) is tests/notify/test_webhook.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from schedule_fakes import START

from netra_ops.schedule import FailedRun, escalation_payload


def failed(since: timedelta, **changes: object) -> FailedRun:
    facts: dict[str, object] = {
        "incident": "INC-7", "environment": "staging", "runbook": "04_golden_path_validation",
        "status": "failed", "exit_code": 1, "record_dir": Path("/records/INC-7/x"),
        "due": START + since, "started": START + since + timedelta(seconds=3),
        "finished": START + since + timedelta(minutes=2), "schedule_start": START,
        "phase": "every 30m for 4h", "state_file": Path("/records/INC-7/schedule.json"),
        "failing_cell": {"index": 9, "ename": "VerdictFailed", "source": "verdict(x)",
                         "evalue": "agent_events: value 0.0 vs threshold 1.0"},
        "records": {}}
    facts.update(changes)
    return FailedRun(**facts)  # type: ignore[arg-type]


def test_payload_says_what_failed_where_and_when() -> None:
    payload = escalation_payload(failed(timedelta(hours=1)))
    assert payload["event"] == "netra_ops.validation_failed"
    assert payload["incident"] == "INC-7" and payload["runbook"] == "04_golden_path_validation"
    assert (payload["status"], payload["exit_code"]) == ("failed", 1)
    assert payload["record"] == "/records/INC-7/x"
    assert payload["failing_cell"] == {"index": 9, "ename": "VerdictFailed",
                                       "evalue": "agent_events: value 0.0 vs threshold 1.0"}
    assert payload["since_deployment_s"] == 3603 and payload["severity"] == "error"
    assert payload["seed_escalation_triggers"] == []
    assert payload["communication_plan"] == {
        "milestone": "Immediate (start of deployment)",
        "planned_update": "Emergency deployment in progress to fix critical Golden Path failure"}
    assert payload["text"] == (
        "[INC-7] scheduled validation 04_golden_path_validation failed (exit 1) on staging, "
        "1h00m after deployment: VerdictFailed: agent_events: value 0.0 vs threshold 1.0. "
        "Record: /records/INC-7/x")
    json.dumps(payload)


def test_seed_triggers_four_hours_and_a_rollback_decision() -> None:
    late = escalation_payload(failed(timedelta(hours=4)))
    assert late["seed_escalation_triggers"] == [">4 hours to restore Golden Path functionality"]
    assert late["severity"] == "critical"
    assert late["communication_plan"]["milestone"] == "4 Hours"
    rollback = escalation_payload(failed(
        timedelta(minutes=30), runbook="07_monitoring", records={"decision": "rollback"}))
    assert rollback["seed_escalation_triggers"] == ["Rollback required due to critical issues"]
    unstarted = escalation_payload(failed(timedelta(hours=25), status="not_run", exit_code=2,
                                          record_dir=None, failing_cell=None,
                                          error="unknown environment 'prod'"))
    assert unstarted["record"] is None and unstarted["failing_cell"] is None
    assert "unknown environment 'prod'. Record: none (the run could not start)" in \
        unstarted["text"]
    assert unstarted["communication_plan"]["milestone"] == "24 Hours"


def test_payload_text_is_scrubbed_of_secret_looking_values() -> None:
    payload = escalation_payload(failed(timedelta(0), error="login failed: password=hunter2x"))
    assert "hunter2x" not in json.dumps(payload)
