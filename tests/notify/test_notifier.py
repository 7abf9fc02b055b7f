"""Notices, their payloads for Slack and Google Chat, and the Notifier with its sent-log:
each key sent once (across Notifiers, as across processes), every message sent or given up
on in the record, nothing secret in a payload or the record, the manifest still verifying."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from webhook_receiver import Receiver

from netra_ops.errors import ParameterError
from netra_ops.notify import (
    SENT_LOG,
    Notice,
    Notifier,
    SentLog,
    Webhook,
    escalation_notice,
    new_run_id,
    notice_key,
    payload_for,
    resolve_format,
    stakeholder_notice,
)
from netra_ops.record import verify_incident

TOKEN = "T0KEN-5e6f7a8b9c"
RUN = "20250111T141000Z"


def phase_notice(phase: str = "02_deploy", event: str = "phase.outcome", **changes: str
                 ) -> Notice:
    facts = {"incident": "INC-7", "run_id": RUN, "event": event,
             "key": notice_key("INC-7", RUN, phase, event, "continue"),
             "title": f"INC-7 · {phase}: passed", "text": f"[INC-7] {phase} passed <ok> & on",
             "phase": phase, "verdict": "passed", "record": "/records/INC-7/x/02_deploy.html",
             "fields": (("Environment", "staging"),)}
    facts.update(changes)
    return Notice(**facts)  # type: ignore[arg-type]


def test_keys_name_incident_run_phase_event_and_detail() -> None:
    assert notice_key("INC-7", RUN, "04_golden_path_validation", "phase.started") == \
        "INC-7:20250111T141000Z:04_golden_path_validation:phase.started"
    assert notice_key("INC 7", RUN, "", "escalation", ">4 hours to restore") == \
        "INC_7:20250111T141000Z:-:escalation:_4_hours_to_restore"
    assert new_run_id(datetime(2025, 1, 11, 14, 10, tzinfo=UTC)) == RUN


def test_slack_payload_has_text_and_blocks_naming_incident_phase_verdict_record() -> None:
    body = payload_for(phase_notice(), "slack")
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "[INC-7] 02_deploy passed &lt;ok&gt; &amp; on"
    header, sentence, fields, context = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert sentence["text"]["type"] == "mrkdwn"
    assert [f["text"] for f in fields["fields"]] == [
        "*Incident*\nINC-7", "*Phase*\n02_deploy", "*Verdict*\npassed",
        "*Record*\n/records/INC-7/x/02_deploy.html", "*Environment*\nstaging"]
    assert "key INC-7:" in context["elements"][0]["text"]


def test_google_chat_payload_is_text_and_one_card_of_fields() -> None:
    body = payload_for(escalation_notice("INC-7", RUN, "Deployment fails or times out",
                                         phase="02_deploy", verdict="failed"), "google-chat")
    assert set(body) == {"text", "cardsV2"}
    [card] = body["cardsV2"]
    assert card["card"]["header"]["title"] == "INC-7 · escalation: Deployment fails or times out"
    assert card["card"]["header"]["subtitle"].startswith("critical · escalation")
    labels = {w["decoratedText"]["topLabel"]: w["decoratedText"]["text"]
              for w in card["card"]["sections"][0]["widgets"]}
    assert labels == {"Incident": "INC-7", "Phase": "02_deploy", "Verdict": "failed",
                      "Record": "-", "Trigger": "Deployment fails or times out"}


def test_json_payload_adds_the_notice_as_data_and_auto_picks_by_host() -> None:
    body = payload_for(phase_notice(), "json")
    assert body["netra_ops"]["incident"] == "INC-7" and body["netra_ops"]["phase"] == "02_deploy"
    assert resolve_format("auto", "chat.googleapis.com") == "google-chat"
    assert resolve_format("auto", "hooks.slack.com") == "slack"
    assert resolve_format("auto", "127.0.0.1") == "json"
    with pytest.raises(ParameterError, match="use one of auto, slack, google-chat, json"):
        resolve_format("teams", "x")


def test_stakeholder_updates_are_the_seed_plan_or_given_words() -> None:
    stable = stakeholder_notice("INC-7", RUN, "24 Hours", detail="error rate 0.2 %")
    assert stable.text == ("[INC-7] System stable, all metrics within targets: "
                           "error rate 0.2 %")
    assert stable.key == "INC-7:20250111T141000Z:-:stakeholder_update:24_Hours"
    status = stakeholder_notice("INC-7", RUN, "30 minutes", update="Status: 2/2 validations")
    assert status.named_fields()[-1] == ("Milestone", "30 minutes")
    with pytest.raises(ParameterError, match="no planned update for milestone '30 minutes'"):
        stakeholder_notice("INC-7", RUN, "30 minutes")


def test_each_key_is_sent_once_and_every_message_is_in_the_record(
        receiver: Receiver, tmp_path: Path) -> None:
    folder = tmp_path / "INC-7"
    hook = Webhook(f"{receiver.url}/hooks/{TOKEN}", sleep=lambda s: None)
    first = Notifier(hook, folder).send(phase_notice())
    assert first is not None and first.delivered and first.destination == f"{receiver.url}/…"
    assert Notifier(hook, folder).send(phase_notice()) is None  # a restarted process
    assert len(receiver.received) == 1
    assert receiver.received[0].body["netra_ops"]["key"] == phase_notice().key
    [line] = SentLog(folder).entries()
    assert (line["delivered"], line["attempts"], line["status_code"]) == (True, 1, 200)
    assert line["phase"] == "02_deploy" and line["record"].endswith("02_deploy.html")
    assert TOKEN not in (folder / SENT_LOG).read_text()
    assert verify_incident(folder).ok  # the sent-log is sealed into the manifest


def test_a_message_given_up_on_is_recorded_and_tried_again_next_time(
        receiver: Receiver, tmp_path: Path) -> None:
    receiver.answers = [404, 200]
    hook = Webhook(receiver.url, sleep=lambda s: None)
    given_up = Notifier(hook, tmp_path).send(phase_notice())
    assert given_up is not None and not given_up.delivered and given_up.status_code == 404
    again = Notifier(hook, tmp_path).send(phase_notice())
    assert again is not None and again.delivered
    assert [e["delivered"] for e in SentLog(tmp_path).entries()] == [False, True]


def test_a_dead_receiver_costs_later_messages_one_attempt(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/x"
        notifier = Notifier(Webhook(url, attempts=3, sleep=lambda s: None), tmp_path)
        first = notifier.send(phase_notice("02_deploy"))
        second = notifier.send(phase_notice("03_config_sync"))
    assert first is not None and second is not None
    assert (first.attempts, second.attempts) == (3, 1)
    assert second.error is not None and "ConnectError" in second.error


def test_secret_looking_values_never_reach_the_payload_or_the_record(
        receiver: Receiver, tmp_path: Path) -> None:
    leaky = phase_notice(text="[INC-7] login failed: password=hunter2x")
    entry = Notifier(Webhook(receiver.url), tmp_path).send(leaky)
    assert entry is not None and "hunter2x" not in entry.text
    assert "hunter2x" not in json.dumps(receiver.received[0].body)
    assert "hunter2x" not in (tmp_path / SENT_LOG).read_text()


def test_without_a_webhook_each_notice_is_recorded_once_as_not_sent(tmp_path: Path) -> None:
    notifier = Notifier(None, tmp_path, seal=False)
    entry = notifier.send(phase_notice())
    assert entry is not None and not entry.delivered and entry.destination == "none"
    assert entry.error is not None and "no webhook configured" in entry.error
    assert notifier.send(phase_notice()) is None
    assert SentLog(tmp_path).last("phase.outcome", Environment="staging") is not None
