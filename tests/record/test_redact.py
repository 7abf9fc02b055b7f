"""Scrubbing secrets out of archived text: what is redacted, what is left alone."""

from __future__ import annotations

import pytest

from netra_ops.record import find_secrets, scrub
from netra_ops.record.redact import REDACTED, scrub_json

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(("text", "expected"), [
    (f"token {JWT} issued", "token [REDACTED] issued"),
    (f"wss://host/ws jwt.{JWT}", "wss://host/ws jwt.[REDACTED]"),
    ("Authorization: Bearer opaque-token-1234", "Authorization: Bearer [REDACTED]"),
    (f"Authorization: Bearer {JWT}", "Authorization: Bearer [REDACTED]"),
    ("{'Authorization': 'Basic dXNlcjpwYXNz'}", "{'Authorization': 'Basic [REDACTED]'}"),
    ("authorization=abcdef", "authorization=[REDACTED]"),
    ("sent Bearer 0123456789abcdef", "sent Bearer [REDACTED]"),
    ("login password=hunter2&next=/", "login password=[REDACTED]&next=/"),
    ("TEST_USER_PASSWORD=s3cr3t-value", "TEST_USER_PASSWORD=[REDACTED]"),
    ("password: hunter2", "password: [REDACTED]"),
    ('{"password": "hun\\"ter2"}', '{"password": "[REDACTED]"}'),
    ("{'db_password': 'hunter2'}", "{'db_password': '[REDACTED]'}"),
    ('api_key = "abc-123"', 'api_key = "[REDACTED]"'),
    ("postgresql://app:pa55word@db:5432/x", "postgresql://app:[REDACTED]@db:5432/x"),
    ("login?user=a&password=hunter2", "login?user=a&password=[REDACTED]"),
    ("db:password=hunter2", "db:password=[REDACTED]"),
    ("x-api-key: k-123456", "x-api-key: [REDACTED]"),
])
def test_secret_looking_values_are_redacted(text: str, expected: str) -> None:
    assert scrub(text) == expected
    assert find_secrets(text), text
    assert find_secrets(scrub(text)) == []


@pytest.mark.parametrize("text", [
    '"token_type": "Bearer", "expires_in": 3600',
    "Bearer tokens are checked by the auth service",
    "password = file:../.sandbox/secrets/test-user-password",
    "password=env:STAGING_PASSWORD",
    "password = resolve_secret(env.credentials.password)",
    'print(f"Authorization: Bearer {token}")',
    'body = {"email": email, "password": password}',
    "http://127.0.0.1:18081/health",
    "NETRA_SANDBOX_JWT_SECRET_FILE=/tmp/state/secrets/jwt-secret",
    # what a missing secret says: the reference names the secret, nothing holds a value
    "secret env:NETRA_STAGING_TEST_PASSWORD: environment variable "
    "NETRA_STAGING_TEST_PASSWORD is not set",
    "SecretError: secret file:/x/.sandbox/secrets/test-user-password: file "
    "/x/.sandbox/secrets/test-user-password does not exist (start the sandbox)",
    "POST /auth/reset-password: 404",
    "",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub(text) == text
    assert find_secrets(text) == []


def test_literal_secrets_are_redacted_and_never_described_by_value() -> None:
    text = "line one\nthe environment password is correct-horse-battery\n"
    found = find_secrets(text, ["correct-horse-battery"])
    assert found == ["known secret #1 (line 2)"]
    assert scrub(text, ["correct-horse-battery", "ab"]) == \
        "line one\nthe environment password is [REDACTED]\n"


def test_findings_name_the_kind_and_line_never_the_value() -> None:
    text = f"ok\nAuthorization: Bearer {JWT}\npassword=hunter2"
    found = find_secrets(text)
    assert found == ["JWT-shaped token (line 2)", "password-like value (line 3)"]
    assert all("hunter2" not in f and JWT not in f for f in found)


def test_a_secret_split_by_terminal_colours_is_still_redacted() -> None:
    coloured = "\x1b[31mRuntimeError\x1b[39m: login with password=\x1b[1mhunter2\x1b[0m"
    assert find_secrets(coloured) == ["password-like value (line 1)"]
    assert "hunter2" not in scrub(coloured)
    clean = "\x1b[31mRuntimeError\x1b[39m: boom"
    assert scrub(clean) == clean


def test_scrub_json_walks_values_keeps_images_and_hides_secret_keys() -> None:
    output = {
        "output_type": "display_data",
        "data": {"image/png": "eyJhbGciOi.not-text.base64", "text/plain": f"token {JWT}",
                 "application/json": {"password": "hunter2", "password_file": "/x",
                                      "user": {"api_key": "k-123"}, "n": 3}},
    }
    clean = scrub_json(output, scrub)
    assert clean["data"]["image/png"] == output["data"]["image/png"]
    assert clean["data"]["text/plain"] == f"token {REDACTED}"
    assert clean["data"]["application/json"] == {
        "password": REDACTED, "password_file": "/x", "user": {"api_key": REDACTED}, "n": 3}
