"""Success criteria judged on frames of samples: one row each, pass / fail / no data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from netra_ops.config import load_environment
from netra_ops.metrics import criteria_table, criteria_values, evaluate_criteria, make_frame

T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
GIB = 2**30
SEED_CRITERIA = {
    "health_ok", "agent_events", "no_server_errors", "error_rate_primary", "user_success_rate",
    "event_latency", "memory_average", "memory_peak", "cpu_average", "connection_success",
    "database_latency", "response_time", "error_rate_sustained",
}


def point(seconds: float, metric: str, value: float, source: str = "monitoring",
          **labels: Any) -> dict[str, Any]:
    return {"time": T0 + timedelta(seconds=seconds), "metric": metric, "value": value,
            "source": source, **labels}


def healthy_window() -> pd.DataFrame:
    rows = []
    for s in range(30):
        for revision, memory in (("old", 0.5 * GIB), ("new", 2.0 * GIB + s * 0.05 * GIB)):
            rows += [point(s, "memory_bytes", memory, revision=revision),
                     point(s, "cpu_utilization", 0.3, revision=revision)]
        rows += [
            point(s, "http_error_rate", 0.002, count=500),
            point(s, "http_5xx_count", 0.0),
            point(s, "latency_p95_ms", 150.0 + s, response_code_class="2xx"),
            point(s, "latency_p95_ms", 9000.0, response_code_class="5xx"),
            point(s, "health_ok_rate", 1.0, "probe"),
            point(s, "golden_path_pass_rate", 1.0, "probe"),
            point(s, "websocket_connection_success_rate", 1.0, "probe"),
            point(s, "event_latency_ms", 20.0 + s, "probe", event="agent_started"),
        ]
    return make_frame(rows)


def test_every_seed_criterion_gets_a_row_with_its_section() -> None:
    env = load_environment("sandbox")
    table = criteria_table(env, healthy_window())
    assert set(table["criterion"]) == SEED_CRITERIA
    assert table["section"].str.len().gt(0).all()
    states = dict(zip(table["criterion"], table["state"], strict=True))
    assert states.pop("database_latency") == "no data"
    assert set(states.values()) == {"pass"}, table[["criterion", "state", "detail"]]
    row = table.set_index("criterion").loc["database_latency"]
    assert not row["passed"] and "no source measures database_query_ms" in row["detail"]


def test_values_are_summarized_as_the_criteria_read() -> None:
    env = load_environment("sandbox")
    values = criteria_values(healthy_window(), env.success_criteria)
    mean, detail = values["memory_average"]
    assert mean == pytest.approx(2.0 * GIB + 14.5 * 0.05 * GIB)  # the worst revision's mean
    assert "worst revision=new" in detail
    assert values["memory_peak"][0] == pytest.approx(2.0 * GIB + 29 * 0.05 * GIB)
    assert values["response_time"][0] == 179.0  # 2xx only: a slow 5xx is the error rate's
    assert values["error_rate_sustained"][0] == pytest.approx(0.002)
    assert values["no_server_errors"][0] == 0.0


def test_a_breached_criterion_fails_and_missing_data_is_no_data() -> None:
    env = load_environment("sandbox")
    frame = healthy_window()
    frame.loc[frame["metric"] == "http_error_rate", "value"] = 0.03
    without_probes = frame[frame["source"] != "probe"]
    table = criteria_table(env, without_probes, unavailable={"probe": "not run"}).set_index(
        "criterion")
    assert table.loc["error_rate_sustained", "state"] == "fail"
    assert table.loc["error_rate_primary", "state"] == "pass"
    assert table.loc["agent_events", "state"] == "no data"
    assert "probe unavailable: not run" in table.loc["agent_events", "detail"]
    assert not table.loc["agent_events", "passed"]


def test_measured_values_still_work_as_before() -> None:
    env = load_environment("sandbox")
    table = evaluate_criteria(env, {"golden_path_pass_rate": 1.0, "http_5xx_count": None},
                              names=["agent_events", "no_server_errors"])
    assert list(table["state"]) == ["pass", "no data"]
