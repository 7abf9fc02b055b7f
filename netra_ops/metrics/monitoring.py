"""Cloud Monitoring as a long frame (source `monitoring`), through Google's own client.

Metrics of the backend service, one point per step of `step_s` (Cloud Monitoring's aligned
windows (end - (k+1)·step, end - k·step], labelled with the step's end) and revision:

- `http_error_rate`, `http_5xx_rate`: (4xx + 5xx) or 5xx over all requests of the step,
  from `request_count` by response_code_class; count: the requests.
- `http_5xx_count`: 5xx responses in the step; count 1.
- `latency_p50_ms`, `latency_p95_ms`, `latency_p99_ms`: the step's percentile of
  `request_latencies` per response_code_class (1xx, WebSocket sessions, left out; within a
  class, the worst response code's); count: the requests.
- `memory_utilization`, `cpu_utilization`: mean fraction of the limit in the step, from
  `container/memory/utilizations` and `container/cpu/utilizations`; count: the samples.
- `memory_bytes`: memory utilization times the revision's memory limit.

Cloud Run publishes no absolute memory figure: utilization is a fraction of the revision's
limit, read from the revision (Cloud Run Admin API), else the environment's backend memory.
A Monitoring API that cannot be reached (or refuses access) gives a failed `Reading`; a
query the API refuses as malformed raises QueryError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions

from netra_ops.cloud import api_errors, monitoring_client, revisions_client, service_name
from netra_ops.config import Environment, memory_bytes
from netra_ops.errors import NetraOpsError, QueryError
from netra_ops.metrics.frames import Reading, make_frame

if TYPE_CHECKING:
    from google.cloud import monitoring_v3

__all__ = ["default_step_s", "memory_limits", "monitoring_reading"]

_RUN = "run.googleapis.com/"
_REVISION = "resource.label.revision_name"
_CLASS = "metric.label.response_code_class"
# Aligners and reducers by their names in monitoring_v3.Aggregation (the package is imported
# on the first query: it takes about a second, and most runbooks never query Monitoring).
_PERCENTILES = {"latency_p50_ms": "ALIGN_PERCENTILE_50", "latency_p95_ms": "ALIGN_PERCENTILE_95",
                "latency_p99_ms": "ALIGN_PERCENTILE_99"}
_UNREACHABLE = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.PermissionDenied,
                gexc.Unauthenticated, gexc.RetryError, gexc.InternalServerError)


def default_step_s(env: Environment) -> float:
    """1 s on the sandbox (its sampling interval), 60 s on Google (the smallest period)."""
    return 1.0 if env.kind == "sandbox" else 60.0


def monitoring_reading(env: Environment, start: datetime, end: datetime, *,
                       step_s: float | None = None, limits: Mapping[str, int] | None = None,
                       timeout_s: float = 10.0) -> Reading:
    """The backend's request, latency, memory and CPU metrics in (start, end]."""
    step = step_s or default_step_s(env)
    try:
        client = monitoring_client(env)
    except (NetraOpsError, auth_exceptions.DefaultCredentialsError) as exc:
        return Reading.failed("monitoring", start, end, str(exc))
    query = _Query(env, client, start, end, step, timeout_s)
    try:
        counts = query.series("request_count", "ALIGN_DELTA", "REDUCE_SUM",
                              (_REVISION, _CLASS))
        rows = _request_rows(counts)
        for metric, aligner in _PERCENTILES.items():
            latencies = query.series("request_latencies", aligner, "REDUCE_MAX",
                                     (_REVISION, _CLASS), 'metric.labels.response_code_class'
                                     ' != "1xx"')
            rows += _latency_rows(metric, latencies, counts)
        memory = query.series("container/memory/utilizations", "ALIGN_DELTA")
        cpu = query.series("container/cpu/utilizations", "ALIGN_DELTA")
    except _UNREACHABLE as exc:
        return Reading.failed("monitoring", start, end, _unreachable_text(env, exc))
    except gexc.GoogleAPICallError as exc:
        raise QueryError(f"Cloud Monitoring refused a query: {exc.message}") from None
    finally:
        client.transport.close()
    known = dict(limits) if limits is not None else memory_limits(env)
    rows += _utilization_rows("memory_utilization", memory, env, known)
    rows += _utilization_rows("cpu_utilization", cpu, env, known)
    return Reading("monitoring", start, end, make_frame(rows))


def memory_limits(env: Environment) -> dict[str, int]:
    """Memory limit in bytes of each revision of the backend, from the Cloud Run API.

    Revisions the API does not list (or an API that cannot be reached) are left out; their
    limit is then the environment's `[services.backend] memory`.
    """
    try:
        with api_errors(env, "reading revision limits"), revisions_client(env) as client:
            revisions = list(client.list_revisions(parent=service_name(env), timeout=10.0))
    except (NetraOpsError, gexc.GoogleAPICallError):
        return {}
    limits = {}
    for revision in revisions:
        container = revision.containers[0] if revision.containers else None
        quantity = container.resources.limits.get("memory") if container else None
        if quantity:
            limits[revision.name.rsplit("/", 1)[-1]] = memory_bytes(quantity)
    return limits


class _Query:
    """ListTimeSeries calls for one window of one environment's backend."""

    def __init__(self, env: Environment, client: monitoring_v3.MetricServiceClient,
                 start: datetime, end: datetime, step_s: float, timeout_s: float) -> None:
        from google.cloud import monitoring_v3

        self.env, self.client, self.timeout_s = env, client, timeout_s
        self.aggregation = monitoring_v3.Aggregation
        self.interval = monitoring_v3.TimeInterval(start_time=start, end_time=end)
        seconds = int(step_s)
        self.period = {"seconds": seconds, "nanos": round((step_s - seconds) * 1e9)}

    def series(self, metric: str, aligner: str, reducer: str = "REDUCE_NONE",
               group_by: Iterable[str] = (), extra: str = "") -> list[Any]:
        """The series of `metric` aligned and reduced (by the names of their enum values)."""
        filter_ = " AND ".join(filter(None, [
            f'metric.type = "{_RUN}{metric}"', 'resource.type = "cloud_run_revision"',
            f'resource.labels.service_name = "{self.env.backend.name}"', extra]))
        request = {
            "name": f"projects/{self.env.project}", "filter": filter_, "interval": self.interval,
            "aggregation": {"alignment_period": self.period,
                            "per_series_aligner": getattr(self.aggregation.Aligner, aligner),
                            "cross_series_reducer": getattr(self.aggregation.Reducer, reducer),
                            "group_by_fields": list(group_by)},
        }
        return list(self.client.list_time_series(request=request, retry=None,
                                                 timeout=self.timeout_s))


def _revision(series: Any) -> str | None:
    return series.resource.labels.get("revision_name") or None


def _end(point: Any) -> datetime:
    moment: datetime = point.interval.end_time
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _request_rows(counts: list[Any]) -> list[dict[str, Any]]:
    by_step: dict[tuple[datetime, str | None], dict[str, int]] = {}
    for series in counts:
        klass = series.metric.labels.get("response_code_class", "")
        for point in series.points:
            step = by_step.setdefault((_end(point), _revision(series)), {})
            step[klass] = step.get(klass, 0) + int(point.value.int64_value)
    rows = []
    for (time, revision), classes in by_step.items():
        total = sum(classes.values())
        if total == 0:
            continue
        errors = classes.get("4xx", 0) + classes.get("5xx", 0)
        server = classes.get("5xx", 0)
        base = {"time": time, "source": "monitoring", "revision": revision}
        rows += [{**base, "metric": "http_error_rate", "value": errors / total, "count": total},
                 {**base, "metric": "http_5xx_rate", "value": server / total, "count": total},
                 {**base, "metric": "http_5xx_count", "value": float(server), "count": 1.0}]
    return rows


def _latency_rows(metric: str, latencies: list[Any], counts: list[Any]
                  ) -> list[dict[str, Any]]:
    requests = {(_end(p), _revision(s), s.metric.labels.get("response_code_class")):
                float(p.value.int64_value) for s in counts for p in s.points}
    rows = []
    for series in latencies:
        klass = series.metric.labels.get("response_code_class")
        for point in series.points:
            key = (_end(point), _revision(series), klass)
            rows.append({"time": key[0], "metric": metric, "value": point.value.double_value,
                         "count": requests.get(key, 1.0), "source": "monitoring",
                         "revision": key[1], "response_code_class": klass})
    return rows


def _utilization_rows(metric: str, series_list: list[Any], env: Environment,
                      limits: Mapping[str, int]) -> list[dict[str, Any]]:
    rows = []
    for series in series_list:
        revision = _revision(series)
        limit = limits.get(revision or "", env.backend.memory_limit_bytes)
        for point in series.points:
            distribution = point.value.distribution_value
            if not distribution.count:
                continue
            base = {"time": _end(point), "count": float(distribution.count),
                    "source": "monitoring", "revision": revision}
            rows.append({**base, "metric": metric, "value": distribution.mean})
            if metric == "memory_utilization":
                rows.append({**base, "metric": "memory_bytes",
                             "value": distribution.mean * limit})
    return rows


def _unreachable_text(env: Environment, exc: Exception) -> str:
    where = env.monitoring_endpoint or "monitoring.googleapis.com"
    first = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).splitlines()[0]
    hint = ("is the sandbox running? netra-ops sandbox up" if env.kind == "sandbox"
            else "check network access and the monitoring.timeSeries.list permission")
    return f"Cloud Monitoring at {where} cannot be read ({first[:160]}); {hint}"

