"""Scrubbing secrets out of text before it is archived.

An incident record outlives the incident: it is shared, attached to tickets, read months later.
Whatever a runbook printed, the archive must not carry credentials. `scrub()` replaces
secret-looking values with `[REDACTED]`; `find_secrets()` reports what it would replace
(kinds and line numbers, never the values), for tests and for `records verify`.

What counts as secret-looking:

- JWT-shaped strings: three base64url segments, the first starting `eyJ` (a JSON header);
- `Authorization: <scheme> <credentials>` header values and `Bearer <token>`;
- values of password-like keys (`password=...`, `"password": "..."`, `api_key: ...`,
  `TEST_USER_PASSWORD=...`), except secret references (`env:NAME`, `file:PATH`). The key
  is a whole word: a reference's or a path's last part is not a key, so in "secret
  env:NETRA_TEST_PASSWORD: environment variable ... is not set" nothing is a value;
- the password of a URL (`https://user:PASSWORD@host`);
- literal secret values the caller knows (the environment's resolved credentials).

False positives (a harmless word after `Bearer`) cost a word of the record; a false negative
leaks a credential, so the patterns lean towards redacting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

__all__ = ["REDACTED", "find_secrets", "looks_secret_name", "scrub", "scrub_json"]

REDACTED = "[REDACTED]"
MIN_LITERAL_LENGTH = 4
"""Literal secrets shorter than this are ignored: replacing them everywhere would shred text."""

_NOT_REDACTED = r"(?!\[REDACTED\]|\{)"  # nor a template placeholder: {token}
_NOT_REFERENCE = r"(?!(?:env|file):)"
# A key is a word of its own: not the end of a longer name (`user-password` of
# `test-user-password`), nor what `env:` or a path's `/` names (a reference names a secret,
# it does not hold one: "env:X_PASSWORD: environment variable ... is not set").
_KEY_START = r"(?<![\w./-])(?<!env:)(?<!file:)"
_SECRET_KEY = (
    r"[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|secret|api[_-]?key|"
    r"access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|private[_-]?key|token)"
)

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "credential",
    "credentials", "privatekey", "clientsecret", "accesstoken", "bearer", "jwt",
})
_DESCRIPTOR_WORDS = frozenset({
    "type", "kind", "name", "id", "ref", "reference", "file", "path", "url", "uri", "env",
    "var", "endpoint", "ttl", "expiry", "expires", "len", "length", "count", "present", "set",
    "ok", "valid", "policy", "provider", "in", "at", "s", "ms", "seconds",
})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class _Pattern:
    kind: str
    regex: re.Pattern[str]

    def sub(self, text: str) -> str:
        return self.regex.sub(_keep_prefix_and_quotes, text)


def _keep_prefix_and_quotes(match: re.Match[str]) -> str:
    groups = match.groupdict()
    return (groups.get("pre") or "") + REDACTED + (groups.get("post") or "")


_PATTERNS: tuple[_Pattern, ...] = (
    _Pattern(
        "JWT-shaped token",
        re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
    ),
    _Pattern(
        "Authorization header value",
        re.compile(
            r"(?P<pre>\bAuthorization[\"']?\s*+[:=]\s*+[\"']?"
            r"(?:(?:Bearer|Basic|Token|Digest|Negotiate)\s++)?+)"
            + _NOT_REDACTED
            + r"(?P<val>[^\s\"',;<>{}\[\]\\]+)",
            re.IGNORECASE,
        ),
    ),
    _Pattern(
        "Bearer token",
        re.compile(
            r"(?P<pre>\bBearer\s++)" + _NOT_REDACTED + r"[A-Za-z0-9._~+/=-]{8,}",
            re.IGNORECASE,
        ),
    ),
    _Pattern(
        "quoted password-like value",
        re.compile(
            r"(?P<pre>(?:(?P<kq>[\"'])" + _SECRET_KEY + r"(?P=kq)\s*+:|" + _KEY_START
            + _SECRET_KEY + r"\s*+=)\s*+(?P<q>[\"']))"
            + _NOT_REDACTED
            + _NOT_REFERENCE
            + r"(?:(?!(?P=q))[^\\\n]|\\.)+(?P<post>(?P=q))",
            re.IGNORECASE,
        ),
    ),
    _Pattern(
        "password-like value",
        re.compile(
            r"(?P<pre>" + _KEY_START + _SECRET_KEY + r"(?:=|:[ \t]*+))"
            + _NOT_REDACTED
            + _NOT_REFERENCE
            + r"[^\s&,;\"'<>{}()\[\]\\]+",
            re.IGNORECASE,
        ),
    ),
    _Pattern(
        "URL password",
        re.compile(
            r"(?P<pre>\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)" + _NOT_REDACTED
            + r"[^/\s@]+(?P<post>@)",
            re.IGNORECASE,
        ),
    ),
)


def _literals(secrets: Iterable[str]) -> list[str]:
    unique = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_LITERAL_LENGTH}
    return sorted(unique, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with secret-looking values and the given literal `secrets` as `[REDACTED]`.

    Scrubbing is idempotent: scrubbing a scrubbed text changes nothing.
    """
    secrets = list(secrets)
    if "\x1b[" in text and find_secrets(text, secrets):
        # Colour codes (IPython highlights tracebacks) can split a secret: drop the colours.
        text = _strip_ansi(text)
    return _scrub_plain(text, secrets)


def _scrub_plain(text: str, secrets: Iterable[str]) -> str:
    for literal in _literals(secrets):
        text = text.replace(literal, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(text)
    return text


def find_secrets(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """Descriptions (kind and line, never the value) of what `scrub()` would redact.

    Terminal colour codes are ignored, so a secret split by them is still found.
    """
    text = _strip_ansi(text)
    found: list[str] = []
    for number, literal in enumerate(_literals(secrets), start=1):
        found += [f"known secret #{number} (line {_line(text, i)})"
                  for i in _all_indexes(text, literal)]
        text = text.replace(literal, REDACTED)
    for pattern in _PATTERNS:
        found += [f"{pattern.kind} (line {_line(text, m.start())})"
                  for m in pattern.regex.finditer(text)]
        text = pattern.sub(text)
    return found


def scrub_json(value: Any, scrub_text: Callable[[str], str]) -> Any:
    """A copy of a JSON-like structure with every string value passed through `scrub_text`.

    Keys are kept as they are. Base64 payloads of binary mimetypes (`image/png`, ...) are
    left alone: they are not text, and rewriting them would corrupt the image.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [scrub_json(item, scrub_text) for item in value]
    if isinstance(value, dict):
        return {key: _scrub_item(key, item, scrub_text) for key, item in value.items()}
    return value


def _scrub_item(key: Any, item: Any, scrub_text: Callable[[str], str]) -> Any:
    if _is_binary_mimetype(key):
        return item
    if isinstance(key, str) and isinstance(item, str) and looks_secret_name(key):
        return item if item.startswith(("env:", "file:")) or not item else REDACTED
    return scrub_json(item, scrub_text)


def looks_secret_name(name: str) -> bool:
    """Whether a key or parameter name says its value is a credential.

    `password`, `db_password`, `apiKey`, `auth-token`, `client_secret` do; `max_tokens` does
    not, nor names whose last word describes the secret instead of holding it
    (`token_type`, `password_file`, `secret_ref`).
    """
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words or words[-1] in _DESCRIPTOR_WORDS:
        return False
    pairs = {a + b for a, b in pairwise(words)}
    return bool((set(words) | pairs) & _SECRET_WORDS)


def _is_binary_mimetype(key: object) -> bool:
    return isinstance(key, str) and (
        (key.startswith(("image/", "audio/", "video/")) and not key.endswith(("+xml", "svg")))
        or key in ("application/pdf", "application/octet-stream")
    )


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _all_indexes(text: str, literal: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(literal), text)]


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1
