"""`record()` and `verdict()` outside a kernel (plain scripts), and lifting records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from netra_ops.errors import NetraOpsError, RecordError, RunError, VerdictFailed
from netra_ops.record import VerdictResult, record, recorded, verdict
from netra_ops.record.recorder import RECORD_MIMETYPE, lift_records, to_jsonable


def test_record_outside_a_kernel_prints_and_keeps_the_value(
        capsys: pytest.CaptureFixture[str]) -> None:
    record("golden_path.pass_rate", np.float64(0.75))
    record("golden_path.pass_rate", 1.0)
    assert recorded()["golden_path.pass_rate"] == 1.0
    assert capsys.readouterr().out.splitlines() == [
        "golden_path.pass_rate = 0.75", "golden_path.pass_rate = 1.0"]
    recorded().clear()
    assert "golden_path.pass_rate" in recorded(), "recorded() must return a copy"


@pytest.mark.parametrize(("value", "expected"), [
    (np.int64(7), 7),
    (np.bool_(True), True),
    (float("nan"), None),
    (np.float32(0.5), 0.5),
    (dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), "2024-05-01T12:00:00+00:00"),
    (pd.Timestamp("2024-05-01T12:00Z"), "2024-05-01T12:00:00+00:00"),
    (np.datetime64("2024-05-01T12:00:00"), "2024-05-01T12:00:00"),
    (dt.timedelta(minutes=2), 120.0),
    (pd.NaT, None),
    (Path("outputs/INC-1"), "outputs/INC-1"),
    (np.array([1, 2]), [1, 2]),
    ({"a": (1, np.int64(2)), 3: {"x"}}, {"a": [1, 2], "3": ["x"]}),
    (pd.DataFrame({"probe": ["health"], "ms": [12.5]}), [{"probe": "health", "ms": 12.5}]),
    (pd.Series([1.0, np.nan]), [1.0, None]),
])
def test_values_become_plain_json(value: Any, expected: Any) -> None:
    converted = to_jsonable(value)
    assert converted == expected
    json.dumps(converted, allow_nan=False)


def test_non_serializable_values_raise_a_clear_record_error() -> None:
    with pytest.raises(RecordError, match=r"record\('x'\): a object cannot be stored as JSON"):
        record("x", object())
    assert issubclass(RecordError, RunError)


@pytest.mark.parametrize("name", ["", "1st", "a..b", "a-b", "a.", "with space"])
def test_record_names_must_be_dotted_identifiers(name: str) -> None:
    with pytest.raises(RecordError, match="identifiers joined by dots"):
        record(name, 1)


def test_secret_looking_record_names_are_refused() -> None:
    with pytest.raises(RecordError, match="never record secrets"):
        record("login.access_token", "abc")


def test_verdict_passes_records_and_returns_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    result = verdict([{"criterion": "health_ok", "value": 1.0, "threshold": 1.0,
                       "passed": np.bool_(True)}], title="Preflight")
    assert isinstance(result, VerdictResult) and result.passed and result.failed == ()
    assert list(result.table["result"]) == ["PASS"]
    assert recorded()["verdict.passed"] is True and recorded()["verdict.failed"] == []
    assert "Preflight: PASS" in capsys.readouterr().out
    assert repr(result) == ("VerdictResult(title='Preflight', passed=True, failed=[], "
                            "criteria=1)")


def test_failed_verdict_raises_with_each_failure_value_vs_threshold(
        capsys: pytest.CaptureFixture[str]) -> None:
    checks = pd.DataFrame({
        "criterion": ["agent_events", "health_ok", "error_rate"],
        "value": [np.float64(0.5), 1.0, 0.2],
        "threshold": [1.0, 1.0, 0.05],
        "passed": [False, True, False],
        "detail": ["no agent_completed", "", ""],
    })
    with pytest.raises(VerdictFailed) as info:
        verdict(checks)
    assert str(info.value) == (
        "Verdict: 2 of 3 criteria failed:\n"
        "  - agent_events: value 0.5 vs threshold 1.0 (no agent_completed)\n"
        "  - error_rate: value 0.2 vs threshold 0.05")
    assert info.value.failed == ["agent_events", "error_rate"]
    assert isinstance(info.value, NetraOpsError) and not isinstance(info.value, RunError)
    assert recorded()["verdict.passed"] is False
    assert recorded()["verdict.failed"] == ["agent_events", "error_rate"]
    shown = capsys.readouterr().out
    assert "Verdict: FAIL (2 of 3)" in shown and "FAIL" in shown and "PASS" in shown


@pytest.mark.parametrize(("checks", "message"), [
    ([], "no checks"),
    ([{"criterion": "a", "value": 1, "passed": True}], "missing column"),
    ([{"criterion": "a", "value": 1, "threshold": 1, "passed": None}], "must be True or False"),
    ([{"criterion": "a", "value": 1, "threshold": 1, "passed": "yes"}], "must be True or False"),
])
def test_malformed_verdict_tables_raise_record_error(
        checks: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(RecordError, match=message):
        verdict(checks)


def test_lift_records_takes_the_last_value_of_each_name() -> None:
    def shown(name: str, value: Any) -> dict[str, Any]:
        return {"output_type": "display_data",
                "data": {RECORD_MIMETYPE: {"name": name, "value": value}, "text/plain": "x"}}

    notebook = {"cells": [
        {"cell_type": "markdown", "source": "# t"},
        {"cell_type": "code", "outputs": [shown("a", 1), {"output_type": "stream"}]},
        {"cell_type": "code", "outputs": [shown("b", [1]), shown("a", 2)]},
    ]}
    assert lift_records(notebook) == {"a": 2, "b": [1]}
