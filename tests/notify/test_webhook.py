"""The webhook: the URL's secrecy (display, references) and delivery to a real receiver on
loopback: retries with backoff, no retry on a client error, bounded time."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from webhook_receiver import Receiver

from netra_ops.errors import ParameterError, SecretError
from netra_ops.notify import Webhook, display_url, webhook_url

TOKEN = "T0KEN-9f8e7d6c5b4a"
QUERY_SECRET = "q-secret-1a2b3c4d"
PASSWORD = "pa55-w0rd-xyz"


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
        delivery = Webhook(url, label="escalation").post({"text": "validation failed",
                                                          "incident": "INC-7"})
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
    assert "message NOT delivered" in caplog.text and QUERY_SECRET not in caplog.text


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
