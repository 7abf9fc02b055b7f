"""Delivering one JSON message to a webhook: bounded in time, retried, the URL kept secret.

`Webhook.post` never raises and never blocks its caller for long: each attempt has a
timeout, failures that may pass (no connection, timeout, HTTP 5xx, 429) are retried with
exponential backoff (or a 429/503 `Retry-After`), other answers (a 4xx: wrong URL or token)
are not, and the whole delivery has a deadline. A webhook URL often carries its token (in
the path, the query or the user info), so it is never logged or stored whole:
`display_url()` keeps the scheme, host and port only.

`webhook_url()` reads the URL the way every command takes it: an option (`--webhook`) or
`$NETRA_OPS_WEBHOOK_URL`, either the URL itself or a secret reference (`env:NAME`,
`file:PATH`) that keeps the token out of the process list.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from netra_ops.errors import ParameterError
from netra_ops.secrets import SECRET_SCHEMES, resolve_secret

__all__ = ["WEBHOOK_ENV", "Delivery", "Webhook", "display_url", "webhook_url"]

WEBHOOK_ENV = "NETRA_OPS_WEBHOOK_URL"
"""Environment variable with the webhook URL (or a secret reference) when no option names one."""

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_HTTPX_LOGGER = logging.getLogger("httpx")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
logger = logging.getLogger("netra_ops.notify")


class _HideUrl(logging.Filter):
    """Rewrites a log record's message with `hide` (while a delivery is going)."""

    def __init__(self, hide: Callable[[str], str]) -> None:
        super().__init__()
        self._hide_text = hide

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._hide_text(record.getMessage()), None
        return True


def display_url(url: str) -> str:
    """`scheme://host:port/…`: the webhook URL without its path, query and user info (where
    tokens live), for logs and records."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname or "?"
    except ValueError:
        return "(hidden: not a valid URL)"
    host = f"[{host}]" if ":" in host else host
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc
    return f"{parts.scheme}://{host}{port}" + ("/…" if hidden else "")


def webhook_url(option: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL from the option, else `$NETRA_OPS_WEBHOOK_URL`, else None.

    Either may be the URL or a secret reference to it (`env:NAME`, `file:PATH`), which keeps
    the token out of the process list. ParameterError if it is not an http(s) URL.
    """
    environ = os.environ if environ is None else environ
    given = option or environ.get(WEBHOOK_ENV) or None
    if given is None:
        return None
    url = resolve_secret(given) if given.startswith(SECRET_SCHEMES) else given
    return _checked(url, "--webhook" if option else WEBHOOK_ENV)


def _checked(url: str, source: str) -> str:
    """`url` if it is an http(s) URL with a host and a valid port; ParameterError if not."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (
            parts.port is None or parts.port > 0)
    except ValueError:  # a port out of range, a malformed IPv6 host
        valid = False
    if not valid:
        raise ParameterError(f"{source}: the webhook must be an http:// or https:// URL with a "
                             f"host (got {display_url(url)!r}), e.g. "
                             f"https://hooks.example.com/services/...")
    return url


@dataclass(frozen=True)
class Delivery:
    """How posting a message went: delivered or not, after how many attempts, why."""

    delivered: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


class Webhook:
    """POSTs JSON messages to one URL with retries; `post()` returns a Delivery, never raises
    (a URL that is not http(s) with a host is a ParameterError at construction).

    `timeout_s` bounds each attempt, `attempts` their number, `deadline_s` the whole delivery
    (no attempt starts after it); backoff doubles from `backoff_s` up to `max_backoff_s`, or
    follows a 429/503 `Retry-After` of up to `max_backoff_s`. `label` names the messages in
    log lines ("escalation delivered to ..."). `sleep` is injectable.
    """

    def __init__(self, url: str, *, timeout_s: float = 5.0, attempts: int = 4,
                 backoff_s: float = 1.0, max_backoff_s: float = 30.0,
                 deadline_s: float = 90.0, label: str = "message",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if attempts < 1 or timeout_s <= 0 or deadline_s <= 0:
            raise ParameterError("webhook attempts, timeout and deadline must be positive")
        self._url = _checked(url, "webhook")
        self.display = display_url(url)
        self.url_host = urlsplit(url).hostname or ""
        self.timeout_s, self.attempts, self.deadline_s = timeout_s, attempts, deadline_s
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.label = label
        self._sleep = sleep

    def post(self, payload: Mapping[str, Any], *, attempts: int | None = None) -> Delivery:
        """Send `payload` as JSON (at most `attempts` tries, default the webhook's); see the
        class docstring for retries and limits."""
        deadline = time.monotonic() + self.deadline_s
        hide = _HideUrl(self._hide)
        _HTTPX_LOGGER.addFilter(hide)  # httpx logs every request's full URL at INFO
        try:
            return self._deliver(payload, deadline, min(attempts or self.attempts,
                                                        self.attempts))
        finally:
            _HTTPX_LOGGER.removeFilter(hide)

    def _deliver(self, payload: Mapping[str, Any], deadline: float, tries: int) -> Delivery:
        attempt, status = 0, None
        error: str | None = "not sent"
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while attempt < tries and time.monotonic() < deadline:
                attempt += 1
                status, error, wait = self._attempt(client, payload, attempt)
                if error is None:
                    logger.info("%s delivered to %s (HTTP %s, attempt %d)", self.label,
                                self.display, status, attempt)
                    return Delivery(True, attempt, status)
                if wait is None or attempt == tries:
                    break
                logger.warning("%s to %s failed (attempt %d of %d: %s); retrying in %.1f s",
                               self.label, self.display, attempt, tries, error, wait)
                self._sleep(min(wait, max(0.0, deadline - time.monotonic())))
        logger.error("%s NOT delivered to %s after %d attempt(s): %s", self.label,
                     self.display, attempt, error)
        return Delivery(False, attempt, status, error)

    def _attempt(self, client: httpx.Client, payload: Mapping[str, Any],
                 attempt: int) -> tuple[int | None, str | None, float | None]:
        """(status, error or None, seconds to wait before a retry or None for no retry)."""
        backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        try:
            response = client.post(self._url, json=payload,
                                   headers={"User-Agent": "netra-ops"})
        except httpx.TimeoutException:
            return None, f"no answer within {self.timeout_s:g} s", backoff
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:
            return None, self._hide(f"{type(exc).__name__}: {exc}"), backoff
        if response.is_success:
            return response.status_code, None, None
        if response.status_code in _RETRY_STATUSES:
            return response.status_code, f"HTTP {response.status_code}", \
                self._retry_after(response, backoff)
        return response.status_code, (f"HTTP {response.status_code}, not retried: check the "
                                      f"webhook URL and its token"), None

    def _retry_after(self, response: httpx.Response, backoff: float) -> float:
        try:
            asked = float(response.headers.get("Retry-After", ""))
        except ValueError:
            return backoff
        return min(self.max_backoff_s, max(0.0, asked))

    def _hide(self, text: str) -> str:
        """A text (an error, a log line) without any URL's path, query or user info, nor the
        webhook's secret parts wherever they appear."""
        text = _URL.sub(lambda m: display_url(m.group(0)), text)
        parts = urlsplit(self._url)
        secrets = [parts.netloc.rpartition("@")[0], parts.path, parts.query, parts.fragment]
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) > 1:
                text = text.replace(secret, "…")
        return text
