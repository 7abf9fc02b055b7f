"""The Monitoring v3 emulation, driven by Google's own client (gRPC MetricServiceClient)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
from google.api import metric_pb2
from google.api_core import exceptions
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)

from netra_ops.errors import PortInUseError
from netra_ops.sandbox.google.monitoring_api import MonitoringServer
from netra_ops.sandbox.runtime.telemetry import ProcessSampler, format_timestamp

PROJECT = "netra-sandbox"
SERVICE = "netra-backend-staging"
REV_A = f"{SERVICE}-00001-aaa"
REV_B = f"{SERVICE}-00002-bbb"
END = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
REQUEST_COUNT = "run.googleapis.com/request_count"
LATENCIES = "run.googleapis.com/request_latencies"
MEMORY = "run.googleapis.com/container/memory/utilizations"
CPU = "run.googleapis.com/container/cpu/utilizations"
A = monitoring_v3.Aggregation.Aligner
R = monitoring_v3.Aggregation.Reducer


def synthetic_requests() -> list[dict[str, Any]]:
    """20 seconds of traffic ending at END, one burst at +0.25 s of each second.

    Revision A: 200 (10 ms), 200 (20 ms) every second, 500 (1000 ms) when i % 4 == 0.
    Revision B: 200 (50 ms) every second, 404 (5 ms) in the last five seconds.
    """
    lines = []
    for i in range(20):
        moment = END - timedelta(seconds=20) + timedelta(seconds=i, milliseconds=250)
        burst = [(REV_A, 200, 0.010), (REV_A, 200, 0.020), (REV_B, 200, 0.050)]
        if i % 4 == 0:
            burst.append((REV_A, 500, 1.0))
        if i >= 15:
            burst.append((REV_B, 404, 0.005))
        for revision, status, latency in burst:
            lines.append({
                "timestamp": format_timestamp(int(moment.timestamp() * 1_000_000)),
                "service": SERVICE, "revision": revision, "method": "GET", "url": "/x",
                "path": "/x", "status": status, "latency_s": latency,
                "protocol": "HTTP/1.1", "remote_ip": "127.0.0.1", "user_agent": "t",
                "response_size": 10,
            })
    return lines


def write_requests(state_dir: Path, lines: list[dict[str, Any]]) -> None:
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (state_dir / "logs" / "requests.jsonl").write_text(text)


def value_type(series: monitoring_v3.TimeSeries) -> str:
    return str(metric_pb2.MetricDescriptor.ValueType.Name(series.value_type))


def metric_kind(series: monitoring_v3.TimeSeries) -> str:
    return str(metric_pb2.MetricDescriptor.MetricKind.Name(series.metric_kind))


def make_client(port: int) -> monitoring_v3.MetricServiceClient:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return monitoring_v3.MetricServiceClient(
        transport=MetricServiceGrpcTransport(channel=channel))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[monitoring_v3.MetricServiceClient]:
    state_dir = tmp_path_factory.mktemp("monitoring-state")
    write_requests(state_dir, synthetic_requests())
    server = MonitoringServer(state_dir, PROJECT, SERVICE, None)
    port = server.start("127.0.0.1", 0)
    metric_client = make_client(port)
    try:
        yield metric_client
    finally:
        metric_client.transport.close()
        server.stop()


def query(client: monitoring_v3.MetricServiceClient, filter_: str, *,
          start: datetime = END - timedelta(seconds=60), end: datetime = END,
          **request: Any) -> list[monitoring_v3.TimeSeries]:
    interval = monitoring_v3.TimeInterval(start_time=start, end_time=end)
    return list(client.list_time_series(
        request={"name": f"projects/{PROJECT}", "filter": filter_, "interval": interval,
                 **request}, timeout=10))


def aggregation(period_s: float, aligner: Any, reducer: Any = R.REDUCE_NONE,
                group_by: tuple[str, ...] = ()) -> dict[str, Any]:
    seconds = int(period_s)
    return {"aggregation": {
        "alignment_period": {"seconds": seconds, "nanos": int((period_s - seconds) * 1e9)},
        "per_series_aligner": aligner, "cross_series_reducer": reducer,
        "group_by_fields": list(group_by)}}


def by_class(series: list[monitoring_v3.TimeSeries], field: str) -> dict[str, list[Any]]:
    return {ts.metric.labels["response_code_class"]:
            [getattr(p.value, field) for p in ts.points] for ts in series}


def test_request_count_delta_by_response_code_class(
        client: monitoring_v3.MetricServiceClient) -> None:
    series = query(client, f'metric.type = "{REQUEST_COUNT}"',
                   **aggregation(10, A.ALIGN_DELTA, R.REDUCE_SUM,
                                 ("metric.label.response_code_class",)))
    assert by_class(series, "int64_value") == {"2xx": [30, 30], "4xx": [5], "5xx": [2, 3]}
    two_xx = next(ts for ts in series if ts.metric.labels["response_code_class"] == "2xx")
    assert dict(two_xx.resource.labels) == {} and two_xx.resource.type == "cloud_run_revision"
    assert two_xx.metric.type == REQUEST_COUNT and value_type(two_xx) == "INT64"
    assert metric_kind(two_xx) == "DELTA"
    newest, older = two_xx.points  # newest first, windows ending at END, END - 10 s
    assert (newest.interval.start_time, newest.interval.end_time) == (
        END - timedelta(seconds=10), END)
    assert older.interval.end_time == END - timedelta(seconds=10)


def test_request_count_rate(client: monitoring_v3.MetricServiceClient) -> None:
    series = query(client, f'metric.type = "{REQUEST_COUNT}"',
                   **aggregation(10, A.ALIGN_RATE, R.REDUCE_SUM,
                                 ("metric.labels.response_code_class",)))
    rates = by_class(series, "double_value")
    assert rates == {"2xx": [3.0, 3.0], "4xx": [0.5], "5xx": [0.2, 0.3]}
    assert all(metric_kind(ts) == "GAUGE" and value_type(ts) == "DOUBLE"
               for ts in series)
    assert series[0].points[0].interval.start_time == series[0].points[0].interval.end_time


def test_small_period_and_label_filters(client: monitoring_v3.MetricServiceClient) -> None:
    [errors] = query(client, f'metric.type = "{REQUEST_COUNT}" AND '
                             'metric.labels.response_code_class = "5xx" AND '
                             f'resource.labels.service_name = "{SERVICE}"',
                     **aggregation(1, A.ALIGN_DELTA))
    assert errors.resource.labels["revision_name"] == REV_A
    assert errors.metric.labels["response_code"] == "500"
    ends = [END - p.interval.end_time for p in errors.points]
    assert ends == [timedelta(seconds=s) for s in (3, 7, 11, 15, 19)]
    assert [p.value.int64_value for p in errors.points] == [1] * 5
    [total_b] = query(client, f'metric.type = "{REQUEST_COUNT}" '
                              f'AND resource.labels.revision_name = "{REV_B}"',
                      **aggregation(20, A.ALIGN_SUM, R.REDUCE_SUM))
    assert [p.value.int64_value for p in total_b.points] == [25]
    not_b = query(client, f'metric.type = "{REQUEST_COUNT}" AND '
                          f'resource.label.revision_name != "{REV_B}" AND '
                          'resource.type = "cloud_run_revision"',
                  **aggregation(20, A.ALIGN_DELTA, R.REDUCE_SUM))
    assert [p.value.int64_value for ts in not_b for p in ts.points] == [45]
    assert query(client, f'metric.type = "{REQUEST_COUNT}" AND resource.type = "gce_instance"',
                 **aggregation(20, A.ALIGN_DELTA)) == []


def test_per_second_aligners_on_counts(client: monitoring_v3.MetricServiceClient) -> None:
    flt = (f'metric.type = "{REQUEST_COUNT}" AND resource.labels.revision_name = "{REV_A}" '
           'AND metric.labels.response_code = "200"')
    [most] = query(client, flt, **aggregation(20, A.ALIGN_MAX))
    [mean] = query(client, flt, **aggregation(20, A.ALIGN_MEAN))
    assert [p.value.int64_value for p in most.points] == [2]
    assert [p.value.double_value for p in mean.points] == [2.0]


def test_latency_percentiles_and_distributions(
        client: monitoring_v3.MetricServiceClient) -> None:
    flt = f'metric.type = "{LATENCIES}" AND resource.labels.revision_name = "{REV_A}"'
    p50 = {ts.metric.labels["response_code"]: [p.value.double_value for p in ts.points]
           for ts in query(client, flt, **aggregation(20, A.ALIGN_PERCENTILE_50))}
    assert p50 == {"200": [pytest.approx(15.0)], "500": [pytest.approx(1000.0)]}
    [p99] = query(client, flt, **aggregation(20, A.ALIGN_PERCENTILE_99, R.REDUCE_MAX))
    assert p99.points[0].value.double_value == pytest.approx(1000.0)
    [merged] = query(client, flt + ' AND metric.labels.response_code = "200"',
                     **aggregation(20, A.ALIGN_DELTA))
    dist = merged.points[0].value.distribution_value
    assert value_type(merged) == "DISTRIBUTION" and merged.unit == "ms"
    assert (dist.count, dist.mean) == (40, pytest.approx(15.0))
    assert dist.sum_of_squared_deviation == pytest.approx(40 * 25.0)
    assert dist.bucket_options.exponential_buckets.growth_factor == pytest.approx(1.4)
    assert sum(dist.bucket_counts) == 40
    assert (dist.range.min, dist.range.max) == (pytest.approx(10.0), pytest.approx(20.0))


def test_raw_points_headers_and_paging(client: monitoring_v3.MetricServiceClient) -> None:
    flt = f'metric.type = "{REQUEST_COUNT}"'
    raw = query(client, flt)
    assert sorted((ts.metric.labels["response_code"], ts.resource.labels["revision_name"],
                   len(ts.points)) for ts in raw) == [
        ("200", REV_A, 20), ("200", REV_B, 20), ("404", REV_B, 5), ("500", REV_A, 5)]
    point = next(ts for ts in raw if ts.metric.labels["response_code"] == "200"
                 and ts.resource.labels["revision_name"] == REV_A).points[0]
    assert point.value.int64_value == 2
    assert point.interval.end_time - point.interval.start_time == timedelta(seconds=1)
    headers = query(client, flt, view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS)
    assert len(headers) == 4 and all(len(ts.points) == 0 for ts in headers)
    interval = monitoring_v3.TimeInterval(start_time=END - timedelta(seconds=60), end_time=END)
    pager = client.list_time_series(request={"name": f"projects/{PROJECT}", "filter": flt,
                                             "interval": interval, "page_size": 7}, timeout=10)
    pages = list(pager.pages)
    assert len(pages) == 8  # 50 points, 7 a page
    assert sum(len(ts.points) for page in pages for ts in page.time_series) == 50
    assert pages[-1].next_page_token == ""


@pytest.mark.parametrize(("filter_", "request_extra", "message"), [
    (f'metric.type = "{REQUEST_COUNT}" OR metric.type = "{LATENCIES}"', {}, "no OR"),
    (f'NOT metric.type = "{REQUEST_COUNT}"', {}, "no OR, NOT"),
    ('metric.type = "run.googleapis.com/container/instance_count"', {}, "does not emulate"),
    ('resource.type = "cloud_run_revision"', {}, "exactly one metric.type"),
    ("", {}, "filter is required"),
    (f'metric.type = "{REQUEST_COUNT}" AND metric.labels.route = "x"', {}, "cannot filter"),
    (f'metric.type = "{REQUEST_COUNT}" AND resource.labels.zone = "x"', {}, "cannot filter"),
    (f'metric.type = "{REQUEST_COUNT}" AND metric.labels.response_code_class:"5"', {},
     "operator ':'"),
    (f'metric.type = starts_with("{REQUEST_COUNT}")', {}, "functions such as starts_with()"),
    (f'metric.type = "{LATENCIES}"', aggregation(10, A.ALIGN_RATE), "not valid for"),
    (f'metric.type = "{LATENCIES}"', aggregation(10, A.ALIGN_MAX), "not valid for"),
    (f'metric.type = "{REQUEST_COUNT}"', aggregation(10, A.ALIGN_PERCENTILE_99),
     "only valid for distributions"),
    (f'metric.type = "{REQUEST_COUNT}"', aggregation(10, A.ALIGN_STDDEV), "not supported"),
    (f'metric.type = "{REQUEST_COUNT}"', aggregation(10, A.ALIGN_DELTA, R.REDUCE_STDDEV),
     "not supported"),
    (f'metric.type = "{REQUEST_COUNT}"', aggregation(0, A.ALIGN_DELTA), "alignment_period"),
    (f'metric.type = "{REQUEST_COUNT}"', aggregation(0, A.ALIGN_NONE, R.REDUCE_SUM),
     "needs a per_series_aligner"),
    (f'metric.type = "{REQUEST_COUNT}"',
     aggregation(10, A.ALIGN_DELTA, R.REDUCE_SUM, ("metric.label.zone",)), "group_by_fields"),
    (f'metric.type = "{LATENCIES}"', aggregation(10, A.ALIGN_DELTA, R.REDUCE_MAX),
     "not valid for distributions"),
    (f'metric.type = "{REQUEST_COUNT}"', {"order_by": "x"}, "order_by"),
    (f'metric.type = "{REQUEST_COUNT}"', {"page_token": "nope"}, "page_token"),
    (f'metric.type = "{REQUEST_COUNT}"',
     {"secondary_aggregation": {"per_series_aligner": A.ALIGN_SUM}}, "secondary_aggregation"),
])
def test_unsupported_requests_are_invalid_argument(
        client: monitoring_v3.MetricServiceClient, filter_: str,
        request_extra: dict[str, Any], message: str) -> None:
    with pytest.raises(exceptions.InvalidArgument) as raised:
        query(client, filter_, **request_extra)
    assert message in raised.value.message


def test_missing_end_time_other_project_and_other_methods(
        client: monitoring_v3.MetricServiceClient) -> None:
    with pytest.raises(exceptions.InvalidArgument, match="end_time is required"):
        list(client.list_time_series(request={
            "name": f"projects/{PROJECT}", "filter": f'metric.type = "{REQUEST_COUNT}"'},
            timeout=10))
    with pytest.raises(exceptions.PermissionDenied, match="projects/netra-sandbox only"):
        list(client.list_time_series(request={
            "name": "projects/elsewhere", "filter": f'metric.type = "{REQUEST_COUNT}"',
            "interval": {"end_time": END}}, timeout=10))
    with pytest.raises(exceptions.MethodNotImplemented, match="not ListMetricDescriptors"):
        list(client.list_metric_descriptors(name=f"projects/{PROJECT}", timeout=10))
    with pytest.raises(exceptions.MethodNotImplemented, match="not CreateTimeSeries"):
        client.create_time_series(name=f"projects/{PROJECT}", time_series=[], timeout=10)


GROWER = """
import time
chunks = []
for _ in range(30):
    chunks.append(b"x" * (4 * 1024 * 1024))
    time.sleep(0.07)
time.sleep(60)
"""


@pytest.fixture()
def grower(tmp_path: Path) -> Iterator[psutil.Process]:
    """A real child process that grows by 4 MiB every 70 ms (~120 MiB in 2 s)."""
    with (tmp_path / "grower.log").open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", GROWER], stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield psutil.Process(process.pid)
    finally:
        process.kill()
        process.wait(5)


def _has_grown(means: list[monitoring_v3.TimeSeries]) -> bool:
    """At least 4 aligned means, the last over 0.2 of the limit above the first."""
    values = [p.value.double_value for p in means[0].points] if means else []  # newest first
    return len(values) >= 4 and values[0] - values[-1] > 0.2


def test_memory_utilization_of_a_growing_process_rises(tmp_path: Path,
                                                       grower: psutil.Process) -> None:
    (tmp_path / "revisions.json").write_text(json.dumps({"revisions": [{
        "name": REV_A, "pid": grower.pid, "state": "ready", "memory_limit": "256Mi",
        "cpu_limit": "1", "create_time": grower.create_time()}]}))
    started = datetime.now(UTC)
    with ProcessSampler(tmp_path, interval_s=0.1) as sampler, \
            MonitoringServer(tmp_path, PROJECT, SERVICE, sampler) as server:
        assert server.port is not None
        client = make_client(server.port)
        try:
            flt = f'metric.type = "{MEMORY}" AND resource.labels.revision_name = "{REV_A}"'
            deadline = time.monotonic() + 60  # ~2 s on a quiet machine: 120 MiB in 2 s
            while True:
                end = datetime.now(UTC)
                means = query(client, flt, start=started, end=end,
                              **aggregation(0.5, A.ALIGN_MEAN))
                if _has_grown(means) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            [mean] = means
            [cpu] = query(client, f'metric.type = "{CPU}"', start=started, end=end,
                          **aggregation(1, A.ALIGN_PERCENTILE_99, R.REDUCE_MAX))
            [raw] = query(client, flt, start=started, end=end)
        finally:
            client.transport.close()
    values = [p.value.double_value for p in reversed(mean.points)]  # oldest first
    assert len(values) >= 4
    assert all(b >= a - 0.01 for a, b in pairwise(values))
    assert values[-1] - values[0] > 0.2  # ~60+ MiB more of a 256 MiB limit
    assert all(0 < v < 1 for v in values)
    assert all(0 <= p.value.double_value < 2 for p in cpu.points) and cpu.points
    assert value_type(raw) == "DISTRIBUTION" and raw.unit == "10^2.%"
    assert raw.points[0].value.distribution_value.bucket_options.linear_buckets.width == 0.01


def test_server_lifecycle_leaves_nothing_behind(tmp_path: Path) -> None:
    before = {t.ident for t in threading.enumerate()}
    server = MonitoringServer(tmp_path, PROJECT, SERVICE)
    port = server.start("127.0.0.1", 0)
    second = MonitoringServer(tmp_path, PROJECT, SERVICE)
    with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
        second.start("127.0.0.1", port)
    client = make_client(port)
    assert query(client, f'metric.type = "{REQUEST_COUNT}"') == []  # no log yet: no series
    with pytest.raises(exceptions.InvalidArgument, match="not valid for"):  # even with no data
        query(client, f'metric.type = "{LATENCIES}"', **aggregation(10, A.ALIGN_RATE))
    client.transport.close()
    server.stop()
    server.stop()  # idempotent
    deadline = time.monotonic() + 5
    while {t.ident for t in threading.enumerate()} - before:
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        time.sleep(0.05)
