"""The filter language: syntax, Google's precedence, Cloud Logging semantics, and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from netra_ops.sandbox.google.logging_filter import (
    And,
    Comparison,
    FilterError,
    LogFilter,
    Not,
    Or,
    parse_filter,
)


def c(field: str, op: str, value: str) -> Comparison:
    return Comparison(tuple(field.split(".")), op, value)


@pytest.mark.parametrize(("text", "tree"), [
    ("", None),
    ("   ", None),
    ('severity>=ERROR', c("severity", ">=", "ERROR")),
    ('resource.type = "cloud_run_revision"', c("resource.type", "=", "cloud_run_revision")),
    ('a=1 AND b=2', And((c("a", "=", "1"), c("b", "=", "2")))),
    ('a=1 b=2', And((c("a", "=", "1"), c("b", "=", "2")))),
    ('a=1 OR b=2', Or((c("a", "=", "1"), c("b", "=", "2")))),
    ("NOT a=1", Not(c("a", "=", "1"))),
    ("-a=1", Not(c("a", "=", "1"))),
    ("NOT(a=1)", Not(c("a", "=", "1"))),
    # Google's precedence: NOT > OR > AND (the Logging docs' own example).
    ("a=1 OR NOT b=2 AND NOT c=3 OR d=4",
     And((Or((c("a", "=", "1"), Not(c("b", "=", "2")))),
          Or((Not(c("c", "=", "3")), c("d", "=", "4")))))),
    ("a=1 AND b=2 OR c=3", And((c("a", "=", "1"), Or((c("b", "=", "2"), c("c", "=", "3")))))),
    ("a=1 b=2 OR c=3", And((c("a", "=", "1"), Or((c("b", "=", "2"), c("c", "=", "3")))))),
    ("(a=1 AND b=2) OR c=3", Or((And((c("a", "=", "1"), c("b", "=", "2"))), c("c", "=", "3")))),
    ("NOT a=1 OR b=2", Or((Not(c("a", "=", "1")), c("b", "=", "2")))),
    ("NOT (a=1 OR b=2)", Not(Or((c("a", "=", "1"), c("b", "=", "2"))))),
    ('x = ("a" OR "b")', Or((c("x", "=", "a"), c("x", "=", "b")))),
    ('x != (a AND b)', And((c("x", "!=", "a"), c("x", "!=", "b")))),
    (r'm = "say \"hi\""', c("m", "=", 'say "hi"')),
    ("logName=projects/p/logs/run.googleapis.com%2Frequests",
     c("logName", "=", "projects/p/logs/run.googleapis.com%2Frequests")),
    ("timestamp>=2025-01-01T00:00:00Z", c("timestamp", ">=", "2025-01-01T00:00:00Z")),
    ('resource.labels."service_name"="s"', c("resource.labels.service_name", "=", "s")),
    ("ORDER=1 NOTE=2", And((c("ORDER", "=", "1"), c("NOTE", "=", "2")))),
    ("a:b", c("a", ":", "b")),  # parsed; LogFilter refuses it
    ("a=~b", c("a", "=~", "b")),
])
def test_parse(text: str, tree: Any) -> None:
    assert parse_filter(text) == tree


@pytest.mark.parametrize(("text", "message"), [
    ("error", "global restriction"),
    ('"some text"', "global restriction"),
    ("a=1 and b=2", "must be uppercase: AND"),
    ('log_id("run.googleapis.com/requests")', "functions such as log_id()"),
    ('metric.type = starts_with("run")', "functions such as starts_with()"),
    ('a="open', "quoted string is not closed"),
    ("(a=1", "expected ')'"),
    ("a=1)", "unexpected ')'"),
    ("a=", "expected a value"),
    ("a=1 AND", "expected a field name"),
    ("a=1 OR OR b=2", "expected a field name"),
    ("x=(a OR b AND c)", "mixes AND and OR"),
    ("=1", "expected a field name"),
    ("a" * 20_001, "at most 20000"),
])
def test_syntax_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(text)


REQUEST_5XX: dict[str, Any] = {
    "logName": "projects/p/logs/run.googleapis.com%2Frequests",
    "resource": {"type": "cloud_run_revision",
                 "labels": {"service_name": "svc", "revision_name": "svc-00002-abc"}},
    "timestamp": "2025-01-31T12:00:00.500000Z",
    "severity": "ERROR",
    "insertId": "id1",
    "httpRequest": {"status": 503},
}
STDOUT_INFO: dict[str, Any] = {
    "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
    "resource": {"type": "cloud_run_revision",
                 "labels": {"service_name": "svc", "revision_name": "svc-00001-xyz"}},
    "timestamp": "2025-01-31T11:00:00Z",
    "severity": "INFO",
    "insertId": "id2",
    "jsonPayload": {"message": "hi"},
}


@pytest.mark.parametrize(("text", "matches_request", "matches_stdout"), [
    ("", True, True),
    ("severity>=ERROR", True, False),
    ("severity>=error", True, False),
    ("severity>=500", True, False),
    ("severity<WARNING", False, True),
    ("severity=DEFAULT", False, False),
    ("httpRequest.status>=500", True, False),
    ("httpRequest.status=503", True, False),
    ("httpRequest.status!=503", False, True),  # a missing field is "not equal"
    ("httpRequest.status<500", False, False),
    ('resource.labels.revision_name="svc-00002-abc"', True, False),
    ('resource.labels.revision_name="SVC-00002-ABC"', True, False),  # case-insensitive
    ('resource.labels.service_name="svc" AND NOT severity=INFO', True, False),
    ('resource.type="cloud_run_revision"', True, True),
    ('resource.type="gce_instance"', False, False),
    ('logName="projects/p/logs/run.googleapis.com%2Frequests"', True, False),
    ('logName="projects/p/logs/run.googleapis.com/requests"', True, False),
    ('timestamp>="2025-01-31T12:00:00Z"', True, False),
    ('timestamp>="2025-01-31T12:00:00.500001Z"', False, False),
    ('timestamp<"2025-01-31T12:00:00.5Z" AND timestamp>="2025-01-31T10:00:00+00:00"',
     False, True),
    # the Python client's own suffix: %z gives "+0000"
    ('timestamp>="2025-01-31T10:59:59.000000+0000"', True, True),
    ('timestamp>="2025-01-31T14:00:00+02:00"', True, False),
    ("insertId=id2", False, True),
    # precedence: (5xx OR INFO) AND revision 1 -> only the stdout entry
    ('httpRequest.status>=500 OR severity=INFO AND '
     'resource.labels.revision_name="svc-00001-xyz"', False, True),
    ('(httpRequest.status>=500 OR severity=INFO) AND NOT '
     'resource.labels.revision_name="svc-00001-xyz"', True, False),
    ("severity=(ERROR OR INFO)", True, True),
])
def test_log_filter_matches(text: str, matches_request: bool, matches_stdout: bool) -> None:
    log_filter = LogFilter(text)
    assert log_filter.matches(REQUEST_5XX) is matches_request
    assert log_filter.matches(STDOUT_INFO) is matches_stdout


@pytest.mark.parametrize(("text", "message"), [
    ('textPayload:"session_id"', "has operator ':'"),
    ('jsonPayload.message=~"Type.*"', "regular expressions"),
    ('severity!~"INFO"', "regular expressions"),
    ('jsonPayload.message="x"', "cannot filter on field 'jsonPayload.message'"),
    ('resource.labels.zone="x"', "cannot filter on field 'resource.labels.zone'"),
    ('http_request.status=500', "cannot filter on field 'http_request.status'"),
    ("severity>=SEVERE", "unknown severity 'SEVERE'"),
    ('timestamp>="yesterday"', "not an RFC 3339 timestamp"),
    ('timestamp>="2025-01-31T12:00:00"', "has no time zone"),
    ("httpRequest.status>=5xx", "compares with an integer"),
])
def test_unsupported_or_invalid_filters_are_refused(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(")):
        LogFilter(text)


@pytest.mark.parametrize(("text", "bounds"), [
    ("", (None, None)),
    ('timestamp>="2025-01-31T12:00:00Z"', (1738324800000000, None)),
    ('timestamp>"2025-01-31T12:00:00Z" AND timestamp<"2025-01-31T12:00:01Z"',
     (1738324800000001, 1738324800999999)),
    ('severity>=ERROR timestamp<="2025-01-31T12:00:00Z"', (None, 1738324800000000)),
    ('timestamp="2025-01-31T12:00:00Z"', (1738324800000000, 1738324800000000)),
    # bounds only from top-level AND terms: an OR or a NOT bounds nothing
    ('timestamp>="2025-01-31T12:00:00Z" OR severity=ERROR', (None, None)),
    ('NOT timestamp>="2025-01-31T12:00:00Z"', (None, None)),
])
def test_time_bounds(text: str, bounds: tuple[int | None, int | None]) -> None:
    assert LogFilter(text).time_bounds() == bounds
