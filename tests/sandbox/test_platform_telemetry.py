"""Logging and Monitoring as the platform serves them, read with Google's own clients.

One sandbox of this module; scenarios are deployed on it, traffic goes through the router,
and what the platform logged and measured is read back through google-cloud-logging (REST,
on the API port) and google-cloud-monitoring (gRPC, on the monitoring port).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.cloud import monitoring_v3
from websockets.sync.client import connect

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.sandbox.runtime.state import StatePaths

pytestmark = pytest.mark.sandbox

MakeEnv = Callable[[], Environment]
Alive = Callable[[int, float | None], bool]
A = monitoring_v3.Aggregation.Aligner
R = monitoring_v3.Aggregation.Reducer





@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


def entries(env: Environment, logs: Any, filter_: str) -> list[Any]:
    return list(logs.list_entries(resource_names=[f"projects/{env.project}"], filter_=filter_,
                                  page_size=1000))


def time_series(env: Environment, metrics: monitoring_v3.MetricServiceClient, filter_: str,
                **request: Any) -> list[monitoring_v3.TimeSeries]:
    end = datetime.now(UTC) + timedelta(seconds=1)
    interval = monitoring_v3.TimeInterval(start_time=end - timedelta(minutes=5), end_time=end)
    return list(metrics.list_time_series(request={
        "name": f"projects/{env.project}", "filter": filter_, "interval": interval, **request},
        timeout=10))


def test_the_monitoring_port_answers_grpc(env: Environment,
                                          metrics: monitoring_v3.MetricServiceClient) -> None:
    current = sandbox.status(env)
    assert current.urls["monitoring"] == env.monitoring_endpoint
    revision = next(r["name"] for r in current.revisions if r["state"] == "ready")
    query = ('metric.type="run.googleapis.com/container/cpu/utilizations" AND '
             f'resource.label.revision_name="{revision}"')
    deadline = time.monotonic() + 60  # the first sample comes within ~1 s (a quiet machine)
    while not (series := time_series(env, metrics, query)) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert series and series[0].resource.labels["service_name"] == env.backend.name


def test_injected_5xx_are_request_log_entries_and_counted_by_class(
        env: Environment, logs: Any, metrics: monitoring_v3.MetricServiceClient,
        http: httpx.Client) -> None:
    revision = sandbox.apply_scenario(env, "http-errors")["name"]
    codes = [http.get(f"{env.backend.url}/health").status_code for _ in range(40)]
    failures = sum(code >= 500 for code in codes)
    assert 0 < failures < 40

    found = entries(env, logs, 'resource.type="cloud_run_revision" AND '
                    f'resource.labels.revision_name="{revision}" AND httpRequest.status>=500')
    assert len(found) == failures
    assert all(e.http_request["status"] == 500 and e.severity == "ERROR" for e in found)
    assert all(e.resource.labels["revision_name"] == revision for e in found)
    assert all(e.http_request["requestUrl"].endswith("/health") for e in found)
    started = entries(env, logs, f'resource.labels.revision_name="{revision}" AND '
                      f'logName="projects/{env.project}/logs/run.googleapis.com%2Fstdout"')
    assert any("revision starting" in str(e.payload) for e in started)

    counted = time_series(
        env, metrics, 'metric.type="run.googleapis.com/request_count" AND '
        f'resource.label.revision_name="{revision}"',
        aggregation={"alignment_period": {"seconds": 600}, "per_series_aligner": A.ALIGN_DELTA,
                     "cross_series_reducer": R.REDUCE_SUM,
                     "group_by_fields": ["metric.label.response_code_class"]})
    by_class = {ts.metric.labels["response_code_class"]: sum(p.value.int64_value
                                                             for p in ts.points)
                for ts in counted}
    assert by_class == {"5xx": failures, "2xx": 40 - failures}


def test_the_stale_builds_type_error_is_an_error_log_entry(
        env: Environment, logs: Any, http: httpx.Client) -> None:
    revision = sandbox.apply_scenario(env, "stale-build")["name"]
    password = StatePaths.of(env).test_user_password.read_text().strip()
    token = http.post(f"{env.auth.url}/auth/login", json={
        "email": env.credentials.email, "password": password}).json()["access_token"]
    with connect(env.backend.websocket_url, subprotocols=[f"jwt.{token}"],  # type: ignore[list-item]
                 open_timeout=5) as ws:
        ws.send(json.dumps({"type": "user_message",
                            "payload": {"text": "How do I cut AI spend?", "thread_id": "t1"}}))
        kinds = []
        while "agent_error" not in kinds:
            kinds.append(json.loads(ws.recv(timeout=10))["type"])
    assert "agent_completed" not in kinds

    deadline = time.monotonic() + 60  # the line lands after the answer (later when busy)
    while True:
        errors = entries(env, logs, f'resource.labels.revision_name="{revision}" AND '
                         f'severity=ERROR AND logName="projects/{env.project}/logs/'
                         'run.googleapis.com%2Fstdout"')
        if errors or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert errors, "no ERROR container log entry"
    message = errors[0].payload["message"]
    assert "TypeError" in message and "unexpected keyword argument 'session_id'" in message


def test_memory_utilization_of_a_leaking_revision_rises(
        env: Environment, metrics: monitoring_v3.MetricServiceClient,
        http: httpx.Client) -> None:
    revision = sandbox.apply_scenario(env, "memory-leak")["name"]
    flt = ('metric.type="run.googleapis.com/container/memory/utilizations" AND '
           f'resource.label.revision_name="{revision}"')
    grown = 60 * 2**20 / (4 * 2**30)  # at least 60 MiB of the 4 GiB
    _poll(lambda: len(_means(env, metrics, flt)) >= 1)  # a sample before the leak
    for _ in range(8):  # 8 x 20 requests x 512 KiB = 80 MiB retained, over ~3 s
        for _ in range(20):
            http.get(f"{env.backend.url}/health")
        time.sleep(0.35)
    # samples after it: one a second, later on a busy machine
    _poll(lambda: len(m := _means(env, metrics, flt)) >= 4 and m[-1] - m[0] > grown)
    means = _means(env, metrics, flt)
    assert len(means) >= 4
    assert means[-1] - means[0] > grown
    assert max(means) == means[-1] or max(means) - means[-1] < 0.001
    assert all(0 < m < 1 for m in means)


def _means(env: Environment, metrics: monitoring_v3.MetricServiceClient,
           flt: str) -> list[float]:
    """The series' points' means, oldest first (none before the first sample)."""
    found = time_series(env, metrics, flt)
    if not found:
        return []
    (series,) = found
    points = sorted(series.points, key=lambda p: p.interval.end_time)
    return [p.value.distribution_value.mean for p in points]


def _poll(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.25)
