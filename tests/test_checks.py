"""One check row for every verdict (`netra_ops.checks`): pass/fail checks, measured checks,
skipped checks, and the one table of them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from netra_ops.checks import CHECK_COLUMNS, Check, checks_table, skipped
from netra_ops.config import load_environment
from netra_ops.metrics import criteria_checks, evaluate_criteria
from netra_ops.record import verdict


def test_a_check_without_threshold_is_judged_pass_or_fail() -> None:
    table = checks_table([Check("serving image", True, "rev-1 serves img"),
                          Check("health", False, "HTTP 503", seconds=0.2)])
    assert tuple(table.columns) == CHECK_COLUMNS
    assert table.to_dict(orient="records") == [
        {"criterion": "serving image", "value": "pass", "threshold": "pass", "passed": True,
         "detail": "rev-1 serves img"},
        {"criterion": "health", "value": "fail", "threshold": "pass", "passed": False,
         "detail": "HTTP 503"}]


def test_a_measured_check_shows_its_value_against_its_threshold() -> None:
    measured = Check("error rate", False, "2 of 10 failed", value=0.2, threshold="< 0.05")
    nothing = Check("answer p95", False, "0 turns completed", value=None, threshold="<= 30")
    assert measured.row() == {"criterion": "error rate", "value": 0.2, "threshold": "< 0.05",
                              "passed": False, "detail": "2 of 10 failed"}
    assert nothing.row()["value"] is None and nothing.status == "fail"


def test_a_skipped_check_does_not_fail_and_says_so() -> None:
    check = skipped("credentials", "the environment file is invalid", fix="fix the file")
    assert check.ok and check.skipped and check.status == "skipped"
    assert (check.detail, check.fix) == ("the environment file is invalid", "fix the file")
    assert [Check("a", True).status, Check("b", False).status] == ["pass", "fail"]


def test_no_checks_make_an_empty_table_with_the_columns() -> None:
    assert list(checks_table([]).columns) == list(CHECK_COLUMNS)


def test_a_numpy_bool_passes_as_a_python_bool() -> None:
    passed = checks_table([Check("x", np.bool_(True))])["passed"]  # type: ignore[arg-type]
    assert passed.tolist() == [True] and isinstance(passed.iloc[0], bool | np.bool_)


def test_criteria_become_checks_against_comparison_and_threshold() -> None:
    env = load_environment("sandbox")
    criteria = evaluate_criteria(env, {"golden_path_pass_rate": 0.5, "http_5xx_count": 0},
                                 names=["agent_events", "no_server_errors", "event_latency"],
                                 details={"agent_events": "1 of 2 runs failed"})
    checks = criteria_checks(criteria)
    by_name = {c.name: c for c in checks}
    assert [c.name for c in checks] == ["agent_events", "no_server_errors", "event_latency"]
    assert by_name["agent_events"].ok is False and by_name["agent_events"].value == 0.5
    assert by_name["agent_events"].detail == "1 of 2 runs failed"
    assert by_name["no_server_errors"].ok is True
    assert by_name["event_latency"].ok is False  # no data never passes
    assert by_name["event_latency"].value is None or math.isnan(by_name["event_latency"].value)
    assert by_name["agent_events"].threshold == ">= 100 %"  # the ratio 1.0, in its unit
    assert by_name["agent_events"].unit == "ratio"
    measured = criteria_checks(criteria, with_no_data=False)
    assert [c.name for c in measured] == ["agent_events", "no_server_errors"]


@pytest.mark.parametrize("rows", [[Check("a", True)], pd.DataFrame([Check("a", True).row()])])
def test_the_verdict_takes_check_rows_or_their_table(rows: object) -> None:
    result = verdict(rows, title="t")  # type: ignore[arg-type]
    assert result.passed and list(result.table["criterion"]) == ["a"]
