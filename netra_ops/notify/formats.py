"""A Notice as the JSON body a chat's incoming webhook accepts.

- `slack`: `text` (the notification line) plus Block Kit `blocks`: a header, the sentence,
  the named fields (incident, phase, verdict, record, ...) and a context line with the
  event and the idempotency key. Nothing else: only what Slack documents.
- `google-chat`: `text` plus one `cardsV2` card: header (title, severity and event) and one
  `decoratedText` widget per field. Google Chat rejects unknown fields, so nothing else.
- `json`: the Slack body plus `netra_ops`, the Notice as structured data (for any other
  receiver, and Slack-compatible ones such as Mattermost that read `text`).

`resolve_format("auto", host)` picks google-chat for `chat.googleapis.com`, slack for
`hooks.slack.com`, json otherwise.
"""

from __future__ import annotations

import html
from typing import Any

from netra_ops.errors import ParameterError
from netra_ops.notify.message import Notice

__all__ = ["FORMATS", "payload_for", "resolve_format"]

FORMATS = ("auto", "slack", "google-chat", "json")
"""The payload formats `--webhook-format` takes; `auto` decides by the webhook's host."""

_SLACK_FIELDS = 10  # a Block Kit section holds at most 10 fields
_SLACK_HEADER = 150  # a header's plain text holds at most 150 characters
_SLACK_TEXT = 3000


def resolve_format(requested: str, host: str) -> str:
    """The concrete format for `requested` (one of FORMATS) and the webhook's host."""
    if requested not in FORMATS:
        raise ParameterError(f"--webhook-format {requested!r}: use one of {', '.join(FORMATS)}")
    if requested != "auto":
        return requested
    host = host.lower()
    if host == "chat.googleapis.com":
        return "google-chat"
    return "slack" if host == "hooks.slack.com" or host.endswith(".slack.com") else "json"


def payload_for(notice: Notice, fmt: str) -> dict[str, Any]:
    """The JSON body of `notice` in format `fmt` (slack, google-chat or json)."""
    if fmt == "google-chat":
        return google_chat_payload(notice)
    body = slack_payload(notice)
    if fmt == "json":
        body["netra_ops"] = notice.to_dict()
    elif fmt != "slack":
        raise ParameterError(f"unknown webhook format {fmt!r}: use slack, google-chat or json")
    return body


def slack_payload(notice: Notice) -> dict[str, Any]:
    """Slack's incoming-webhook body: `text` and Block Kit `blocks`."""
    fields = [{"type": "mrkdwn", "text": f"*{_slack(label)}*\n{_slack(value)}"[:2000]}
              for label, value in notice.named_fields()[:_SLACK_FIELDS]]
    text = _slack(notice.text)[:_SLACK_TEXT]
    title = _icon(notice) + notice.title[:_SLACK_HEADER - 2]
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "emoji": True, "text": title}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack(
                f"netra-ops · {notice.event} · {notice.severity} · key {notice.key}")}]},
        ],
    }


def google_chat_payload(notice: Notice) -> dict[str, Any]:
    """Google Chat's incoming-webhook body: `text` and one `cardsV2` card."""
    widgets = [{"decoratedText": {"topLabel": label, "text": html.escape(value),
                                  "wrapText": True}}
               for label, value in notice.named_fields()]
    return {
        "text": notice.text,
        "cardsV2": [{
            "cardId": notice.key[:64],
            "card": {
                "header": {"title": notice.title,
                           "subtitle": f"{notice.severity} · {notice.event} · netra-ops"},
                "sections": [{"widgets": widgets}],
            },
        }],
    }


def _icon(notice: Notice) -> str:
    return {"critical": "\u2757 ", "warning": "\u26a0 "}.get(notice.severity, "")


def _slack(text: str) -> str:
    """Text with Slack's three control characters escaped (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
