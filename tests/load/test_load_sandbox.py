"""The seed's load shape (10 closed users; 5 s instead of 300) against the shared sandbox."""

from __future__ import annotations

import json
import logging
import socket

import pandas as pd
import pytest

from netra_ops.config import Environment, Service
from netra_ops.load import SAMPLE_COLUMNS, empty_samples, run_load, run_load_async
from netra_ops.record.recorder import to_jsonable

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_ten_closed_users_for_five_seconds_all_pass_with_correct_frames(
        sandbox_env: Environment, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="netra_ops.load")
    result = run_load(sandbox_env, users=10, duration_s=5, progress="log", log_interval_s=1)

    assert result.ok, (result.summary(), result.error_examples)
    assert result.aborted is None and result.interrupted == 0 and result.setup_errors == {}
    samples = result.samples
    assert tuple(samples.columns) == SAMPLE_COLUMNS
    assert samples.dtypes.equals(empty_samples().dtypes)
    assert set(samples["user"]) == set(range(10))
    for _, turns in samples.groupby("user"):
        assert sorted(turns["turn"]) == list(range(len(turns)))
    assert (samples["engine"] == "netra-ops").all() and (samples["model"] == "closed").all()
    assert samples["ok"].all() and samples["error_class"].isna().all()
    assert (samples["events"] == 5).all()
    assert (samples["scheduled_at"] == samples["started_at"]).all()  # closed: no wait
    assert (samples["latency_ms"] - samples["service_ms"]).abs().max() < 1e-6
    assert (samples["ended_at"] > samples["started_at"]).all()
    spent = (samples["ended_at"] - samples["started_at"]).dt.total_seconds() * 1000
    assert (spent - samples["service_ms"]).abs().max() < 0.01
    start = pd.Timestamp(result.started_at)
    assert samples["scheduled_at"].min() >= start
    assert samples["scheduled_at"].max() <= start + pd.Timedelta(seconds=5)

    per_second = result.throughput()
    assert per_second["turns"].sum() == len(samples) and per_second["errors"].sum() == 0
    table = result.percentiles()
    row = table.iloc[0]
    assert (row["engine"], row["model"], row["samples"]) == ("netra-ops", "closed",
                                                             len(samples))
    assert 0 < row["p50"] <= row["p95"] <= row["p99"] <= row["max"]
    assert row["p99"] == pytest.approx(samples["latency_ms"].quantile(0.99))
    assert result.errors().empty

    record = result.to_record()
    assert to_jsonable(record, "load") == record
    text = json.dumps(record)
    assert "eyJ" not in text and "password" not in text.lower()
    assert record["turns"] == len(samples) and record["error_rate"] == 0.0
    assert record["aborted"] is None and record["config"]["users"] == 10

    lines = [r.getMessage() for r in caplog.records if r.name == "netra_ops.load"]
    assert lines[0].startswith("load test started: closed model: 10 users for 5 s")
    assert any("turns/s" in line for line in lines[1:-1])
    assert lines[-1].startswith("load test finished: ")


@pytest.mark.anyio
async def test_an_unreachable_backend_fills_the_frame_with_connect_errors(
        sandbox_env: Environment) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    services = dict(sandbox_env.services)
    backend = services["backend"].model_dump()
    services["backend"] = Service(**{**backend, "url": f"http://127.0.0.1:{closed_port}"})  # type: ignore[literal-required]
    env = sandbox_env.model_copy(update={"services": services})

    result = await run_load_async(env, users=2, duration_s=1, progress="none")
    assert not result.ok and result.setup_errors == {"connect": 2}
    assert len(result.samples) >= 2 and not result.samples["ok"].any()
    assert set(result.samples["error_class"]) == {"connect"}
    assert (result.samples["events"] == 0).all()
    assert list(result.errors()["error_class"]) == ["connect"]
    assert "refused" in result.error_examples["connect"].lower()
