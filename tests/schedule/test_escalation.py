"""Escalations: the payload (seed triggers, communication plan), the webhook URL's secrecy,
and delivery to a real receiver on loopback: retries, no retry, bounded time."""

from __future__ import annotations

import json
import logging
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from schedule_fakes import START, Receiver

from netra_ops.errors import ParameterError, SecretError
from netra_ops.schedule import FailedRun, Webhook, display_url, escalation_payload, webhook_url

TOKEN = "T0KEN-9f8e7d6c5b4a"
QUERY_SECRET = "q-secret-1a2b3c4d"
PASSWORD = "pa55-w0rd-xyz"


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


@pytest.mark.parametrize(("url", "shown"), [
    (f"https://hooks.example.com/services/{TOKEN}", "https://hooks.example.com/…"),
    (f"http://127.0.0.1:8080/hook?token={QUERY_SECRET}", "http://127.0.0.1:8080/…"),
    (f"https://bot:{PASSWORD}@chat.example.com", "https://chat.example.com/…"),
    ("https://chat.example.com/", "https://chat.example.com"),
    ("http://[::1]:9000/x", "http://[::1]:9000/…")])
def test_display_url_keeps_only_scheme_host_and_port(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_webhook_url_from_option_environment_or_reference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"https://hooks.example.com/services/{TOKEN}"
    monkeypatch.delenv("NETRA_OPS_WEBHOOK_URL", raising=False)
    assert webhook_url(None) is None
    monkeypatch.setenv("NETRA_OPS_WEBHOOK_URL", url)
    assert webhook_url(None) == url
    assert webhook_url("https://other.example.com/x") == "https://other.example.com/x"
    (tmp_path / "hook").write_text(url + "\n")
    assert webhook_url(f"file:{tmp_path / 'hook'}") == url
    monkeypatch.setenv("MY_HOOK", url)
    assert webhook_url("env:MY_HOOK") == url
    with pytest.raises(SecretError, match="NOPE_UNSET is not set"):
        webhook_url("env:NOPE_UNSET")
    with pytest.raises(ParameterError, match="--webhook: the webhook must be an http") as caught:
        webhook_url(f"hooks.example.com/services/{TOKEN}")
    assert TOKEN not in str(caught.value)
    with pytest.raises(ParameterError, match="must be an http"):
        webhook_url("http://hooks.example.com:99999/x")
    monkeypatch.setenv("NETRA_OPS_WEBHOOK_URL", "ftp://x")
    with pytest.raises(ParameterError, match="NETRA_OPS_WEBHOOK_URL: the webhook must be"):
        webhook_url(None)


def test_delivery_posts_json_to_the_receiver(receiver: Receiver,
                                             caplog: pytest.LogCaptureFixture) -> None:
    url = f"{receiver.url}/hooks/{TOKEN}?token={QUERY_SECRET}"
    # httpx's own logger too: configure_logging (run earlier in this worker) quiets it
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="httpx"):
        delivery = Webhook(url).post({"text": "validation failed", "incident": "INC-7"})
    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (True, 1, 200)
    [got] = receiver.received
    assert got.body == {"text": "validation failed", "incident": "INC-7"}
    assert got.path == f"/hooks/{TOKEN}?token={QUERY_SECRET}"
    assert got.headers["Content-Type"] == "application/json"
    assert f"escalation delivered to {receiver.url}/… (HTTP 200, attempt 1)" in caplog.text
    assert f"HTTP Request: POST {receiver.url}/… " in caplog.text  # httpx's own line, hidden
    assert TOKEN not in caplog.text and QUERY_SECRET not in caplog.text


def test_transient_failures_are_retried_with_backoff(
        receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.answers = [503, 429, 500, 200]
    waits: list[float] = []
    with caplog.at_level(logging.WARNING):
        delivery = Webhook(f"{receiver.url}/h/{TOKEN}", sleep=waits.append).post({"a": 1})
    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (True, 4, 200)
    assert waits == pytest.approx([1.0, 7.0, 4.0], abs=0.5)  # 429's Retry-After: 7
    assert len(receiver.received) == 4 and "HTTP 503" in caplog.text
    assert TOKEN not in caplog.text


def test_a_client_error_is_not_retried_and_says_to_check_the_url(receiver: Receiver) -> None:
    receiver.answers = [404]
    delivery = Webhook(f"{receiver.url}/wrong", sleep=lambda s: None).post({"a": 1})
    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (False, 1, 404)
    assert delivery.error == "HTTP 404, not retried: check the webhook URL and its token"


def test_a_hanging_receiver_is_given_up_after_each_attempts_timeout(
        receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.answers = ["hang"]
    with caplog.at_level(logging.WARNING):
        delivery = Webhook(f"{receiver.url}/h?token={QUERY_SECRET}", timeout_s=0.3, attempts=2,
                           sleep=lambda s: None).post({"a": 1})
    assert (delivery.delivered, delivery.attempts) == (False, 2)
    assert len(receiver.received) == 2  # both attempts reached it and were given up on
    assert delivery.error == "no answer within 0.3 s"
    assert "escalation NOT delivered" in caplog.text and QUERY_SECRET not in caplog.text


def test_an_unreachable_webhook_fails_without_leaking_its_token() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        url = f"http://user:{PASSWORD}@127.0.0.1:{port}/x/{TOKEN}?token={QUERY_SECRET}"
        delivery = Webhook(url, attempts=3, sleep=lambda s: None).post({"a": 1})
    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (False, 3, None)
    assert delivery.error is not None and "ConnectError" in delivery.error
    for secret in (TOKEN, QUERY_SECRET, PASSWORD):
        assert secret not in delivery.error


def test_the_deadline_bounds_the_whole_delivery(receiver: Receiver) -> None:
    receiver.answers = [503]
    delivery = Webhook(receiver.url, attempts=100, deadline_s=0.5,
                       sleep=lambda s: time.sleep(0.05)).post({"a": 1})
    assert not delivery.delivered and delivery.attempts < 100
