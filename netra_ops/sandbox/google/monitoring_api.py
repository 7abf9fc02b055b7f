"""Cloud Monitoring v3 emulation: `MetricService.ListTimeSeries` over gRPC.

google-cloud-monitoring ships only gRPC transports, so this is a `grpc` server with a
generic handler (`ListTimeSeriesRequest.deserialize` / `ListTimeSeriesResponse.serialize`);
every other MetricService method answers UNIMPLEMENTED. The client the library uses:

    channel = grpc.insecure_channel("127.0.0.1:PORT")
    client = monitoring_v3.MetricServiceClient(
        transport=MetricServiceGrpcTransport(channel=channel))

Metrics (resource `cloud_run_revision`, labels project_id, service_name, revision_name,
location, configuration_name):

| metric.type                                   | kind, value          | from               |
|-----------------------------------------------|----------------------|--------------------|
| run.googleapis.com/request_count              | DELTA INT64          | requests.jsonl     |
| run.googleapis.com/request_latencies          | DELTA DISTRIBUTION ms| requests.jsonl     |
| run.googleapis.com/container/memory/utilizations | DELTA DISTRIBUTION | the ProcessSampler |
| run.googleapis.com/container/cpu/utilizations | DELTA DISTRIBUTION   | the ProcessSampler |

Request metrics carry metric labels response_code ("200") and response_code_class
("2xx"); utilizations are fractions of the revision's limit (1.0 = 100 %), one sample per
sampler tick. A request no revision served has revision_name "".

Raw points (no aligner) are 1-second buckets. Aligned points end at interval.end_time,
end_time - period, ... (windows (end - (k+1)·period, end - k·period], only windows with
data), newest first; any period > 0 is accepted (Cloud Monitoring wants >= 60 s). Aligners:
ALIGN_NONE, ALIGN_DELTA, ALIGN_SUM, ALIGN_RATE (per second; INT64 only), ALIGN_MEAN,
ALIGN_MAX / ALIGN_MIN (INT64 only: the per-second counts), ALIGN_PERCENTILE_99/95/50/05
(distributions only, from the exact samples). Reducers: REDUCE_NONE, REDUCE_SUM,
REDUCE_MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_COUNT with group_by_fields such as
`metric.label.response_code_class` or `resource.label.revision_name`. The filter is an AND
of `=` / `!=` comparisons on metric.type (exactly one `=`), resource.type, project,
resource.label(s).<key> and metric.label(s).<key>. Whatever the sandbox does not implement
(OR, NOT, functions, other fields, aligners or reducers, secondary_aggregation, order_by)
is INVALID_ARGUMENT naming it: never a silently wrong answer.

How late points show and whether the API fails follow `netra_ops.sandbox.google.observability`
(`monitoring`): what happened within the last `delay_s` is not in any answer yet (as Cloud
Monitoring's one to three minutes); fault `unavailable` aborts with UNAVAILABLE, `timeout`
holds the call until the client's deadline passes (at most `HANG_S`, then
DEADLINE_EXCEEDED).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.api import distribution_pb2, metric_pb2, monitored_resource_pb2
from google.cloud.monitoring_v3.types import (
    Aggregation,
    ListTimeSeriesRequest,
    ListTimeSeriesResponse,
)
from google.protobuf import timestamp_pb2

from netra_ops.errors import PortInUseError, SandboxError
from netra_ops.sandbox.google.errors import GoogleApiError, invalid
from netra_ops.sandbox.google.logging_filter import And, Comparison, FilterError, parse_filter
from netra_ops.sandbox.google.observability import HANG_S, ApiBehaviour, current_observability
from netra_ops.sandbox.runtime.telemetry import ProcessSampler, RequestLog

__all__ = ["METRICS", "Buckets", "MetricSpec", "MonitoringServer", "MonitoringService"]

logger = logging.getLogger("netra_ops.sandbox.monitoring_api")
SERVICE = "google.monitoring.v3.MetricService"
RESOURCE_TYPE = "cloud_run_revision"
RESOURCE_LABELS = ("project_id", "service_name", "revision_name", "location",
                   "configuration_name")
MAX_PAGE_SIZE = 100_000
_US = 1_000_000
_Kind = metric_pb2.MetricDescriptor.MetricKind
_Type = metric_pb2.MetricDescriptor.ValueType
_A = Aggregation.Aligner
_R = Aggregation.Reducer
_UNAVAILABLE = ("the Monitoring API is unavailable (sandbox fault monitoring.fault="
                "unavailable; PUT /_sandbox/observability clears it)")
_PERCENTILES = {_A.ALIGN_PERCENTILE_99: 0.99, _A.ALIGN_PERCENTILE_95: 0.95,
                _A.ALIGN_PERCENTILE_50: 0.50, _A.ALIGN_PERCENTILE_05: 0.05}


# -- metrics ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Buckets:
    """A distribution's bucket layout: exponential (scale, growth) or linear (offset, width)."""

    count: int
    exponential: bool
    first: float
    step: float

    def index(self, value: float) -> int:
        """The bucket of a value: 0 underflow, 1..count finite, count + 1 overflow."""
        if value < self.first:
            return 0
        if self.exponential:
            position = math.log(value / self.first, self.step)
        else:
            position = (value - self.first) / self.step
        return min(math.floor(position + 1e-9) + 1, self.count + 1)

    def options(self) -> distribution_pb2.Distribution.BucketOptions:
        """The protobuf BucketOptions of this layout."""
        options = distribution_pb2.Distribution.BucketOptions
        if self.exponential:
            return options(exponential_buckets=options.Exponential(
                num_finite_buckets=self.count, growth_factor=self.step, scale=self.first))
        return options(linear_buckets=options.Linear(
            num_finite_buckets=self.count, width=self.step, offset=self.first))


@dataclass(frozen=True)
class MetricSpec:
    """An emulated metric: its kind, value type, unit and metric label keys."""

    type: str
    value_type: int
    unit: str
    labels: tuple[str, ...] = ()
    buckets: Buckets | None = None
    kind: int = _Kind.DELTA

    @property
    def distribution(self) -> bool:
        """Whether its values are distributions."""
        return self.value_type == _Type.DISTRIBUTION


_LATENCY_BUCKETS = Buckets(count=64, exponential=True, first=1.0, step=1.4)
_UTILIZATION_BUCKETS = Buckets(count=100, exponential=False, first=0.0, step=0.01)
_REQUEST_LABELS = ("response_code", "response_code_class")
METRICS: dict[str, MetricSpec] = {spec.type: spec for spec in (
    MetricSpec("run.googleapis.com/request_count", _Type.INT64, "1", _REQUEST_LABELS),
    MetricSpec("run.googleapis.com/request_latencies", _Type.DISTRIBUTION, "ms",
               _REQUEST_LABELS, _LATENCY_BUCKETS),
    MetricSpec("run.googleapis.com/container/memory/utilizations", _Type.DISTRIBUTION,
               "10^2.%", (), _UTILIZATION_BUCKETS),
    MetricSpec("run.googleapis.com/container/cpu/utilizations", _Type.DISTRIBUTION,
               "10^2.%", (), _UTILIZATION_BUCKETS),
)}

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[Labels, Labels]  # (metric labels, resource labels)
Value = int | float | list[float]  # a list is a distribution's samples


@dataclass
class _Series:
    """One output time series: labels, kind, value type and points (newest first)."""

    metric: Labels
    resource: Labels
    kind: int
    value_type: int
    points: list[tuple[int, int, Value]] = field(default_factory=list)  # (start, end, v)


# -- the query -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Query:
    spec: MetricSpec
    tests: tuple[Comparison, ...]
    start_us: int
    end_us: int
    aligner: int
    period_us: int
    reducer: int
    group_by: tuple[str, ...]
    headers_only: bool
    page_size: int
    offset: tuple[int, int]
    fingerprint: str


class MonitoringService:
    """ListTimeSeries over the request log and the sampler's samples (thread-safe)."""

    def __init__(self, state_dir: Path, project: str, service_name: str,
                 sampler: ProcessSampler | None = None, *, location: str = "us-central1",
                 request_log: RequestLog | None = None,
                 behaviour: Callable[[], ApiBehaviour] = (
                     lambda: current_observability().monitoring)) -> None:
        self.project = project
        self.service_name = service_name
        self.location = location
        self.sampler = sampler
        self.requests = request_log or RequestLog(Path(state_dir))
        self.behaviour = behaviour

    def list_time_series(self, request: ListTimeSeriesRequest) -> Any:
        """The ListTimeSeriesResponse (protobuf) for a request; GoogleApiError if refused."""
        behaviour = self.behaviour()
        if behaviour.fault == "unavailable":
            raise GoogleApiError(503, "UNAVAILABLE", _UNAVAILABLE)
        query = self._parse(ListTimeSeriesRequest.pb(request))
        visible_us = min(query.end_us, behaviour.horizon_us())  # later points: not arrived
        raw = self._select(query, self._raw_series(query, visible_us))
        aligned = [self._align(query, key, events) for key, events in sorted(raw.items())]
        series = _reduce(query, [s for s in aligned if s.points])
        return _page(query, series)

    # -- request parsing -------------------------------------------------------------------
    def _parse(self, pb: Any) -> _Query:
        if pb.name != f"projects/{self.project}":
            raise GoogleApiError(403, "PERMISSION_DENIED",
                                 f"the sandbox holds metrics of projects/{self.project} "
                                 f"only, not of {pb.name!r}")
        if pb.HasField("secondary_aggregation"):
            raise invalid("secondary_aggregation is not supported by the sandbox")
        if pb.order_by:
            raise invalid(f"order_by ({pb.order_by!r}) is not supported by the sandbox")
        spec, tests = _parse_filter(pb.filter)
        start_us, end_us = _interval(pb)
        aligner, period_us, reducer, group_by = _aggregation(pb, spec)
        headers_only = pb.view == ListTimeSeriesRequest.TimeSeriesView.HEADERS
        page_size = pb.page_size if 0 < pb.page_size <= MAX_PAGE_SIZE else MAX_PAGE_SIZE
        fingerprint = _fingerprint(pb)
        return _Query(spec, tests, start_us, end_us, aligner, period_us, reducer, group_by,
                      headers_only, page_size, _decode_token(pb.page_token, fingerprint),
                      fingerprint)

    # -- raw data --------------------------------------------------------------------------
    def _raw_series(self, query: _Query, end_us: int
                    ) -> dict[SeriesKey, list[tuple[int, float]]]:
        """Events (time µs, value) per series within (start, end_us]."""
        if query.spec.type.startswith("run.googleapis.com/container/"):
            return self._utilization_events(query, end_us)
        return self._request_events(query, end_us)

    def _request_events(self, query: _Query, end_us: int
                        ) -> dict[SeriesKey, list[tuple[int, float]]]:
        latency = query.spec.type.endswith("request_latencies")
        series: dict[SeriesKey, list[tuple[int, float]]] = defaultdict(list)
        for record in self.requests.records(query.start_us + 1, end_us):
            metric = (("response_code", str(record.status)),
                      ("response_code_class", f"{record.status // 100}xx"))
            key = (metric, self._resource(record.service or self.service_name,
                                          record.revision or ""))
            series[key].append((record.time_us, record.latency_s * 1000 if latency else 1))
        return series

    def _utilization_events(self, query: _Query, end_us: int
                            ) -> dict[SeriesKey, list[tuple[int, float]]]:
        if self.sampler is None:
            return {}
        memory = "/memory/" in query.spec.type
        series: dict[SeriesKey, list[tuple[int, float]]] = defaultdict(list)
        for sample in self.sampler.samples(start_us=query.start_us + 1, end_us=end_us):
            value = sample.memory_fraction if memory else sample.cpu_fraction
            if value is not None:
                key = ((), self._resource(self.service_name, sample.revision))
                series[key].append((sample.time_us, value))
        return series

    def _resource(self, service: str, revision: str) -> Labels:
        return (("configuration_name", service), ("location", self.location),
                ("project_id", self.project), ("revision_name", revision),
                ("service_name", service))

    def _select(self, query: _Query, raw: dict[SeriesKey, list[tuple[int, float]]]
                ) -> dict[SeriesKey, list[tuple[int, float]]]:
        return {key: events for key, events in raw.items()
                if all(_holds(test, key, self.project) for test in query.tests)}

    # -- alignment -------------------------------------------------------------------------
    def _align(self, query: _Query, key: SeriesKey, events: list[tuple[int, float]]
               ) -> _Series:
        spec = query.spec
        if query.aligner == _A.ALIGN_NONE:
            windows = _windows(events, lambda t: t // _US)
            points = [(s * _US, (s + 1) * _US, _combine(spec, vs))
                      for s, vs in sorted(windows.items(), reverse=True)]
            return _Series(key[0], key[1], spec.kind, spec.value_type, points)
        kind, value_type = _aligned_type(spec, query.aligner)
        windows = _windows(events, lambda t: (query.end_us - t) // query.period_us)
        points = []
        for k in sorted(windows):
            end = query.end_us - k * query.period_us
            start = end - query.period_us if kind == _Kind.DELTA else end
            points.append((start, end, _aligned_value(query, spec, windows[k])))
        return _Series(key[0], key[1], kind, value_type, points)


def _windows(events: Iterable[tuple[int, float]], index: Callable[[int], int]
             ) -> dict[int, list[tuple[int, float]]]:
    grouped: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for event in events:
        grouped[index(event[0])].append(event)
    return grouped


def _combine(spec: MetricSpec, events: Sequence[tuple[int, float]]) -> Value:
    """The value of a bucket of raw events: a count, or a distribution's samples."""
    if spec.distribution:
        return [v for _, v in events]
    return int(sum(v for _, v in events))


def _aligned_type(spec: MetricSpec, aligner: int) -> tuple[int, int]:
    """(kind, value type) of the aligned series; INVALID_ARGUMENT for a bad combination."""
    name = _A(aligner).name
    if aligner in (_A.ALIGN_DELTA, _A.ALIGN_SUM):
        return _Kind.DELTA, spec.value_type
    if aligner == _A.ALIGN_MEAN:
        return _Kind.GAUGE, _Type.DOUBLE
    if aligner in (_A.ALIGN_RATE, _A.ALIGN_MAX, _A.ALIGN_MIN):
        if spec.distribution:
            raise invalid(f"{name} is not valid for {spec.type} (a distribution); use "
                          "ALIGN_DELTA, ALIGN_MEAN or ALIGN_PERCENTILE_99/95/50/05")
        return _Kind.GAUGE, _Type.DOUBLE if aligner == _A.ALIGN_RATE else spec.value_type
    if aligner in _PERCENTILES:
        if not spec.distribution:
            raise invalid(f"{name} is only valid for distributions, and {spec.type} is "
                          "INT64; use ALIGN_DELTA, ALIGN_RATE or ALIGN_SUM")
        return _Kind.GAUGE, _Type.DOUBLE
    raise invalid(f"per_series_aligner {name} is not supported by the sandbox")


def _aligned_value(query: _Query, spec: MetricSpec, events: list[tuple[int, float]]) -> Value:
    aligner = query.aligner
    values = [v for _, v in events]
    if spec.distribution:
        if aligner == _A.ALIGN_MEAN:
            return sum(values) / len(values)
        if aligner in _PERCENTILES:
            return _percentile(values, _PERCENTILES[aligner])
        return values
    if aligner in (_A.ALIGN_DELTA, _A.ALIGN_SUM):
        return int(sum(values))
    if aligner == _A.ALIGN_RATE:
        return sum(values) / (query.period_us / _US)
    per_second = [int(sum(v for _, v in group))
                  for group in _windows(events, lambda t: t // _US).values()]
    if aligner == _A.ALIGN_MEAN:
        return sum(per_second) / len(per_second)
    return max(per_second) if aligner == _A.ALIGN_MAX else min(per_second)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- cross-series reduction ------------------------------------------------------------------

def _reduce(query: _Query, series: list[_Series]) -> list[_Series]:
    if query.reducer == _R.REDUCE_NONE:
        return series
    groups: dict[SeriesKey, list[_Series]] = defaultdict(list)
    for one in series:
        groups[_group_key(one, query.group_by)].append(one)
    return [_reduce_group(query, key, members) for key, members in sorted(groups.items())]


def _group_key(series: _Series, group_by: tuple[str, ...]) -> SeriesKey:
    metric = tuple((k, v) for k, v in series.metric if f"metric.label.{k}" in group_by)
    resource = tuple((k, v) for k, v in series.resource if f"resource.label.{k}" in group_by)
    return metric, resource


def _reduce_group(query: _Query, key: SeriesKey, members: list[_Series]) -> _Series:
    first = members[0]
    by_end: dict[int, list[tuple[int, Value]]] = defaultdict(list)
    for member in members:
        for start, end, value in member.points:
            by_end[end].append((start, value))
    reducer = query.reducer
    value_type = _reduced_type(first.value_type, reducer)
    kind = _Kind.GAUGE if reducer in (_R.REDUCE_MEAN, _R.REDUCE_COUNT) else first.kind
    points = []
    for end in sorted(by_end, reverse=True):
        values = [v for _, v in by_end[end]]
        start = by_end[end][0][0] if kind == _Kind.DELTA else end
        points.append((start, end, _reduced_value(reducer, values)))
    return _Series(key[0], key[1], kind, value_type, points)


def _reduced_type(value_type: int, reducer: int) -> int:
    if reducer == _R.REDUCE_COUNT:
        return _Type.INT64
    if reducer == _R.REDUCE_MEAN:
        return _Type.DOUBLE
    if reducer in (_R.REDUCE_MAX, _R.REDUCE_MIN) and value_type == _Type.DISTRIBUTION:
        raise invalid(f"{_R(reducer).name} is not valid for distributions; use REDUCE_SUM "
                      "or REDUCE_MEAN, or align with ALIGN_PERCENTILE_* first")
    return value_type


def _reduced_value(reducer: int, values: list[Value]) -> Value:
    if reducer == _R.REDUCE_COUNT:
        return len(values)
    if isinstance(values[0], list):
        samples = [s for v in values if isinstance(v, list) for s in v]
        return samples if reducer == _R.REDUCE_SUM else sum(samples) / len(samples)
    numbers = [v for v in values if not isinstance(v, list)]
    if reducer == _R.REDUCE_SUM:
        return sum(numbers)
    if reducer == _R.REDUCE_MEAN:
        return sum(numbers) / len(numbers)
    return max(numbers) if reducer == _R.REDUCE_MAX else min(numbers)


# -- request validation ----------------------------------------------------------------------

_ALIGNERS = (_A.ALIGN_NONE, _A.ALIGN_DELTA, _A.ALIGN_RATE, _A.ALIGN_SUM, _A.ALIGN_MEAN,
             _A.ALIGN_MAX, _A.ALIGN_MIN, *_PERCENTILES)
_REDUCERS = (_R.REDUCE_NONE, _R.REDUCE_SUM, _R.REDUCE_MEAN, _R.REDUCE_MAX, _R.REDUCE_MIN,
             _R.REDUCE_COUNT)


def _parse_filter(text: str) -> tuple[MetricSpec, tuple[Comparison, ...]]:
    try:
        expr = parse_filter(text)
    except FilterError as exc:
        raise invalid(str(exc)) from None
    if expr is None:
        raise invalid('filter is required and must name a metric, e.g. '
                      'metric.type = "run.googleapis.com/request_count"')
    terms = _conjuncts(expr)
    types = [t for t in terms if t.field == ("metric", "type")]
    if len(types) != 1 or types[0].op != "=":
        raise invalid("the filter must have exactly one metric.type = \"...\" comparison")
    spec = METRICS.get(types[0].value)
    if spec is None:
        raise invalid(f"the sandbox does not emulate metric {types[0].value!r}; it has "
                      f"{', '.join(METRICS)}")
    tests = tuple(_normalized(t, spec) for t in terms if t is not types[0])
    return spec, tests


def _conjuncts(expr: Any) -> list[Comparison]:
    if isinstance(expr, Comparison):
        return [expr]
    if isinstance(expr, And):
        return [c for term in expr.terms for c in _conjuncts(term)]
    raise invalid("the sandbox's Monitoring filter supports only comparisons joined by "
                  "AND (no OR, NOT or value lists); send one request per value")


def _normalized(test: Comparison, spec: MetricSpec) -> Comparison:
    """The comparison with `label`/`labels` unified to `label`; INVALID_ARGUMENT if unknown."""
    if test.op not in ("=", "!="):
        raise invalid(f"operator {test.op!r} in {test.path} is not supported by the "
                      "sandbox's Monitoring filter; use = or !=")
    path = test.field
    if path in (("resource", "type"), ("project",)):
        return test
    if len(path) == 3 and path[1] in ("label", "labels"):
        known = {"resource": RESOURCE_LABELS, "metric": spec.labels}.get(path[0], ())
        if path[2] in known:
            return Comparison((path[0], "label", path[2]), test.op, test.value)
    raise invalid(f"the sandbox cannot filter {spec.type} on {test.path!r}; use "
                  "resource.type, project, resource.labels.{" + ",".join(RESOURCE_LABELS)
                  + "}" + (", metric.labels.{" + ",".join(spec.labels) + "}"
                           if spec.labels else ""))


def _holds(test: Comparison, key: SeriesKey, project: str) -> bool:
    if test.field == ("resource", "type"):
        actual: str | None = RESOURCE_TYPE
    elif test.field == ("project",):
        actual = project
    else:
        labels = dict(key[0] if test.field[0] == "metric" else key[1])
        actual = labels.get(test.field[2])
    return (actual == test.value) == (test.op == "=")


def _interval(pb: Any) -> tuple[int, int]:
    if not pb.HasField("interval") or not pb.interval.HasField("end_time"):
        raise invalid("interval.end_time is required")
    end_us = pb.interval.end_time.ToMicroseconds()
    start_us = pb.interval.start_time.ToMicroseconds() if pb.interval.HasField(
        "start_time") else end_us
    if start_us > end_us:
        raise invalid("interval.start_time is after interval.end_time")
    return start_us, end_us


def _aggregation(pb: Any, spec: MetricSpec) -> tuple[int, int, int, tuple[str, ...]]:
    agg = pb.aggregation
    aligner, reducer = agg.per_series_aligner, agg.cross_series_reducer
    if aligner not in _ALIGNERS:
        raise invalid(f"per_series_aligner {_A(aligner).name} is not supported by the "
                      f"sandbox; use one of {', '.join(_A(a).name for a in _ALIGNERS)}")
    if reducer not in _REDUCERS:
        raise invalid(f"cross_series_reducer {_R(reducer).name} is not supported by the "
                      f"sandbox; use one of {', '.join(_R(r).name for r in _REDUCERS)}")
    period_us = agg.alignment_period.ToMicroseconds() if agg.HasField(
        "alignment_period") else 0
    if aligner != _A.ALIGN_NONE and period_us <= 0:
        raise invalid(f"{_A(aligner).name} needs a positive aggregation.alignment_period")
    if reducer != _R.REDUCE_NONE and aligner == _A.ALIGN_NONE:
        raise invalid(f"{_R(reducer).name} needs a per_series_aligner other than ALIGN_NONE")
    if aligner != _A.ALIGN_NONE:  # refuse bad combinations even when there is no data
        _reduced_type(_aligned_type(spec, aligner)[1], reducer)
    group_by = tuple(_group_field(f, spec) for f in agg.group_by_fields)
    return aligner, period_us, reducer, group_by


def _group_field(text: str, spec: MetricSpec) -> str:
    parts = text.strip().split(".")
    if len(parts) == 3 and parts[1] in ("label", "labels"):
        known = {"resource": RESOURCE_LABELS, "metric": spec.labels}.get(parts[0], ())
        if parts[2] in known:
            return f"{parts[0]}.label.{parts[2]}"
    raise invalid(f"group_by_fields entry {text!r} is not a label of {spec.type}; use "
                  "resource.label.<" + "|".join(RESOURCE_LABELS) + ">"
                  + (" or metric.label.<" + "|".join(spec.labels) + ">"
                     if spec.labels else ""))


# -- the response ----------------------------------------------------------------------------

def _page(query: _Query, series: list[_Series]) -> Any:
    response = ListTimeSeriesResponse.pb()()
    series_index, point_index = query.offset
    budget = query.page_size
    while series_index < len(series) and budget > 0:
        one = series[series_index]
        if query.headers_only:
            _fill(response.time_series.add(), query, one, [])
            budget -= 1
        else:
            points = one.points[point_index:point_index + budget]
            _fill(response.time_series.add(), query, one, points)
            budget -= len(points)
            point_index += len(points)
            if point_index < len(one.points):
                break
        series_index, point_index = series_index + 1, 0
    if series_index < len(series):
        response.next_page_token = _encode_token((series_index, point_index),
                                                 query.fingerprint)
    return response


def _fill(message: Any, query: _Query, series: _Series,
          points: list[tuple[int, int, Value]]) -> None:
    """Write one series (with the given points) into a TimeSeries protobuf."""
    message.metric.CopyFrom(metric_pb2.Metric(type=query.spec.type, labels=dict(series.metric)))
    message.resource.CopyFrom(monitored_resource_pb2.MonitoredResource(
        type=RESOURCE_TYPE, labels=dict(series.resource)))
    message.metric_kind = series.kind
    message.value_type = series.value_type
    message.unit = "1/s" if query.aligner == _A.ALIGN_RATE else query.spec.unit
    for start, end, value in points:
        point = message.points.add()
        point.interval.start_time.CopyFrom(_timestamp(start))
        point.interval.end_time.CopyFrom(_timestamp(end))
        _set_value(point.value, series.value_type, value, query.spec.buckets)


def _timestamp(time_us: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMicroseconds(time_us)
    return stamp


def _set_value(target: Any, value_type: int, value: Value, buckets: Buckets | None) -> None:
    if value_type == _Type.DISTRIBUTION:
        assert isinstance(value, list) and buckets is not None
        target.distribution_value.CopyFrom(_distribution(value, buckets))
    elif value_type == _Type.INT64:
        target.int64_value = int(value)  # type: ignore[arg-type]
    else:
        target.double_value = float(value)  # type: ignore[arg-type]


def _distribution(samples: list[float], buckets: Buckets) -> distribution_pb2.Distribution:
    mean = sum(samples) / len(samples)
    counts = [0] * (buckets.count + 2)
    for sample in samples:
        counts[buckets.index(sample)] += 1
    while counts and counts[-1] == 0:
        counts.pop()
    return distribution_pb2.Distribution(
        count=len(samples), mean=mean,
        sum_of_squared_deviation=sum((s - mean) ** 2 for s in samples),
        range=distribution_pb2.Distribution.Range(min=min(samples), max=max(samples)),
        bucket_options=buckets.options(), bucket_counts=counts,
    )


def _fingerprint(pb: Any) -> str:
    copy = type(pb)()
    copy.CopyFrom(pb)
    copy.page_token = ""
    copy.page_size = 0
    return hashlib.blake2b(copy.SerializeToString(deterministic=True),
                           digest_size=6).hexdigest()


def _encode_token(offset: tuple[int, int], fingerprint: str) -> str:
    raw = json.dumps({"s": offset[0], "p": offset[1], "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, fingerprint: str) -> tuple[int, int]:
    if not token:
        return 0, 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = (int(data["s"]), int(data["p"]))
        matches = data["q"] == fingerprint
    except (ValueError, KeyError, TypeError):
        raise invalid(f"page_token {token!r} is not a token this API returned") from None
    if not matches:
        raise invalid("page_token belongs to a different query; start again without it")
    return offset


# -- the gRPC server -------------------------------------------------------------------------

class _Handler(grpc.GenericRpcHandler):
    """Routes MetricService calls: ListTimeSeries to the service, the rest UNIMPLEMENTED."""

    def __init__(self, service: MonitoringService) -> None:
        self._monitoring = service
        self._list = grpc.unary_unary_rpc_method_handler(
            self._list_time_series,
            request_deserializer=ListTimeSeriesRequest.deserialize,
            response_serializer=ListTimeSeriesResponse.serialize,
        )

    def service(self, handler_call_details: grpc.HandlerCallDetails
                ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method  # type: ignore[attr-defined]
        if method == f"/{SERVICE}/ListTimeSeries":
            return self._list
        if method.startswith(f"/{SERVICE}/"):
            return grpc.unary_unary_rpc_method_handler(functools.partial(self._refuse, method))
        return None

    def _list_time_series(self, request: ListTimeSeriesRequest,
                          context: grpc.ServicerContext) -> Any:
        if self._monitoring.behaviour().fault == "timeout":
            _hang(context)
        try:
            return self._monitoring.list_time_series(request)
        except GoogleApiError as exc:
            context.abort(exc.grpc_code, exc.message)
        except SandboxError as exc:
            logger.warning("ListTimeSeries failed: %s", exc)
            context.abort(grpc.StatusCode.INTERNAL, str(exc))
        raise AssertionError  # unreachable: abort raises

    @staticmethod
    def _refuse(method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        name = method.rsplit("/", 1)[-1]
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      f"the sandbox emulates only {SERVICE}.ListTimeSeries, not {name}")
        raise AssertionError  # unreachable: abort raises


def _hang(context: grpc.ServicerContext) -> None:
    """Hold the call until the client's deadline passes (at most HANG_S): the `timeout`
    fault. Aborts with DEADLINE_EXCEEDED (the client has usually given up by then)."""
    deadline = time.monotonic() + HANG_S
    while context.is_active() and time.monotonic() < deadline:
        time.sleep(0.1)
    context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the Monitoring API did not answer in "
                  "time (sandbox fault monitoring.fault=timeout)")


class MonitoringServer:
    """A gRPC server on loopback emulating Cloud Monitoring's ListTimeSeries.

    In the platform process, next to the Logging routes and sharing their request log:

        requests = RequestLog(state_dir)
        sampler = ProcessSampler(state_dir).start()
        monitoring = MonitoringServer(state_dir, project, service, sampler,
                                      request_log=requests)
        port = monitoring.start("127.0.0.1", monitoring_port)
        routes += logging_routes(state_dir, project, service, request_log=requests)
        ...
        monitoring.stop(); sampler.stop()
    """

    def __init__(self, state_dir: Path, project: str, service_name: str,
                 sampler: ProcessSampler | None = None, *, location: str = "us-central1",
                 request_log: RequestLog | None = None, max_workers: int = 4) -> None:
        self.service = MonitoringService(state_dir, project, service_name, sampler,
                                         location=location, request_log=request_log)
        self.max_workers = max_workers
        self._server: grpc.Server | None = None
        self._executor: futures.ThreadPoolExecutor | None = None
        self.port: int | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port) and serve; returns the actual port."""
        if self._server is not None:
            raise SandboxError("the Monitoring server is already running")
        executor = futures.ThreadPoolExecutor(self.max_workers,
                                              thread_name_prefix="netra-monitoring")
        server = grpc.server(executor, handlers=[_Handler(self.service)],
                             options=[("grpc.so_reuseport", 0)])
        try:
            bound = server.add_insecure_port(f"{host}:{port}")
        except RuntimeError:
            bound = 0
        if bound == 0:
            executor.shutdown(wait=False)
            raise PortInUseError(f"the Monitoring emulation cannot listen on {host}:{port}: "
                                 "the port is taken; free it or choose another port")
        server.start()
        self._server, self._executor, self.port = server, executor, bound
        return bound

    def stop(self, grace_s: float = 1.0) -> None:
        """Stop serving and release every thread (idempotent)."""
        if self._server is not None:
            self._server.stop(grace_s).wait()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._server = self._executor = None
        self.port = None

    def __enter__(self) -> MonitoringServer:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
