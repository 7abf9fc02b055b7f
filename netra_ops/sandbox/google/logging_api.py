"""Cloud Logging v2 emulation: `POST /v2/entries:list` over the sandbox's logs.

Entries come from the state directory (see `telemetry`), in the LogEntry JSON shape Cloud
Run produces:

- `projects/<p>/logs/run.googleapis.com%2Frequests`: one entry per line of the router's
  request log, with `httpRequest` {requestMethod, requestUrl, status, latency "0.012s",
  userAgent, remoteIp, protocol, responseSize (a string)} and severity INFO below 400,
  WARNING for 4xx, ERROR for 5xx.
- `projects/<p>/logs/run.googleapis.com%2Fstdout`: one entry per line a revision wrote,
  `jsonPayload` for JSON-object lines (severity and timestamp taken from them), else
  `textPayload` with severity DEFAULT.
- `projects/<p>/logs/cloudbuild`: one entry per line of an emulated Cloud Build's log
  (`build_api`), as Cloud Build writes them: `textPayload` (e.g. `Step #0 - "build-backend":
  Step 3/8 : COPY ...`), resource `build` with labels build_id, build_trigger_id, project_id.

How late entries show and whether the API fails follow `netra_ops.sandbox.google.observability`
(`logging`): an entry newer than `delay_s` is not listed yet and its `receiveTimestamp` is
`timestamp + delay_s`; fault `unavailable` answers 503 `UNAVAILABLE`, `timeout` holds the
call until the client gives up (at most `HANG_S`, then 504 `DEADLINE_EXCEEDED`).

Every entry of a Cloud Run log has resource `cloud_run_revision` with labels project_id,
service_name, revision_name (absent for a request no revision served), location,
configuration_name; every entry a `timestamp`, `receiveTimestamp` and an `insertId` stable
per line. The request body is
`{resourceNames, filter, orderBy ("timestamp asc" | "timestamp desc"), pageSize (default
50, at most 1000), pageToken}`; the answer `{entries, nextPageToken}` omits nextPageToken
on the last page (an empty string would make the Python client page forever). Filters
follow `logging_filter` (Google's precedence: NOT > OR > AND); whatever is unsupported is
an HTTP 400 in Google's error shape `{"error": {"code", "message", "status"}}`.

The client the library uses against the sandbox (google-cloud-logging 3.17):

    client = google.cloud.logging.Client(
        project=project, credentials=AnonymousCredentials(), _use_grpc=False,
        client_options={"api_endpoint": "http://127.0.0.1:PORT"})
    client.list_entries(resource_names=[f"projects/{project}"], filter_=...,
                        order_by=google.cloud.logging.DESCENDING, page_size=...)

`list_entries` appends ` AND timestamp>="<24 h ago, %Y-%m-%dT%H:%M:%S.%f+0000>"` to a
filter without the word `timestamp` (`logging_v2._helpers._add_defaults_to_filter`), or
sends that alone when the filter is None; both are supported.

The metadata-server gotcha, found in the installed sources (logging_v2 3.17):
`_http._LoggingAPI.list_entries` -> `_helpers.entry_from_resource` ->
`LogEntry.from_api_repr`, which for each new logName of the client's own project calls
`client.logger(name)`; `Logger.__init__` without a resource calls
`handlers._monitored_resources.detect_resource(project)`, which always does two
`requests.get("http://metadata.google.internal./computeMetadata/v1/instance/...",
timeout=5)`. So every `list_entries` call that returns entries makes two metadata requests
per distinct logName (the logger cache lives for one call only). The URL is a constant:
GCE_METADATA_HOST / GCE_METADATA_IP / NO_GCE_CHECK (google-auth's variables) do not
change it, and off Google Cloud the lookup of `metadata.google.internal.` goes to the
host's DNS resolver: a non-loopback contact. The emulator cannot avoid it by the shape of
its entries without lying (a logName of another project would skip it). The client-side
fix is to never let `Logger` detect a resource: subclass the client and give `logger()` a
default resource, e.g.

    class _Client(google.cloud.logging.Client):
        def logger(self, name, *, labels=None, resource=None):
            return super().logger(name, labels=labels,
                                  resource=resource or Resource(type="global", labels={}))

`LogEntry.logger` is then a Logger with that resource; nothing else changes. The tests
prove both halves: with the plain client a socket audit hook sees (and blocks) the
metadata lookups; with the subclass it sees no non-loopback contact at all.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.errors import GoogleApiError, guarded, invalid
from netra_ops.sandbox.google.logging_filter import FilterError, LogFilter
from netra_ops.sandbox.google.observability import HANG_S, ApiBehaviour, current_observability
from netra_ops.sandbox.runtime.state import StatePaths
from netra_ops.sandbox.runtime.telemetry import (
    ContainerLogs,
    ContainerRecord,
    RequestLog,
    RequestRecord,
    format_timestamp,
    timestamp_us,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "LoggingService",
    "create_logging_app",
    "format_duration",
    "logging_routes",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
REQUESTS_LOG_ID = "run.googleapis.com%2Frequests"
STDOUT_LOG_ID = "run.googleapis.com%2Fstdout"
BUILD_LOG_ID = "cloudbuild"
_ORDERS = {"timestamp asc": False, "timestamp desc": True}
_BODY_FIELDS = {"resourceNames", "projectIds", "filter", "orderBy", "pageSize", "pageToken"}
logger = logging.getLogger("netra_ops.sandbox.logging_api")

Record = RequestRecord | ContainerRecord


@dataclass(frozen=True)
class _ListRequest:
    filter: str
    descending: bool
    page_size: int
    after: tuple[int, str] | None
    fingerprint: str


class LoggingService:
    """`entries:list` over one sandbox's state directory (thread-safe)."""

    def __init__(self, state_dir: Path, project: str, service_name: str, *,
                 location: str = "us-central1", request_log: RequestLog | None = None,
                 behaviour: Callable[[], ApiBehaviour] = lambda: current_observability().logging
                 ) -> None:
        self.project = project
        self.service_name = service_name
        self.location = location
        self.requests = request_log or RequestLog(Path(state_dir))
        self.containers = ContainerLogs(Path(state_dir))
        self.builds = ContainerLogs(Path(state_dir), StatePaths(Path(state_dir)).build_logs_dir)
        self.behaviour = behaviour

    def list_entries(self, body: Any) -> dict[str, Any]:
        """The answer to a `POST /v2/entries:list` body; GoogleApiError if it is refused."""
        behaviour = self.behaviour()
        if behaviour.fault == "unavailable":
            raise _unavailable()
        request = self._parse(body)
        try:
            log_filter = LogFilter(request.filter)
        except FilterError as exc:
            raise invalid(str(exc)) from None
        entries, more = self._page(request, log_filter, behaviour)
        answer: dict[str, Any] = {"entries": entries}
        if more and entries:
            last = entries[-1]
            answer["nextPageToken"] = _encode_token(
                (timestamp_us(last["timestamp"]), last["insertId"]), request.fingerprint)
        return answer

    # -- request ---------------------------------------------------------------------------
    def _parse(self, body: Any) -> _ListRequest:
        if not isinstance(body, dict):
            raise invalid("the request body must be a JSON object")
        unknown = sorted(set(body) - _BODY_FIELDS)
        if unknown:
            raise invalid(f"unknown field(s) in the request: {', '.join(unknown)}; "
                          f"expected {', '.join(sorted(_BODY_FIELDS))}")
        self._check_resources(body)
        order = str(body.get("orderBy") or "timestamp asc").strip().lower()
        order = " ".join(order.split())
        if order not in _ORDERS:
            raise invalid(f"orderBy {body.get('orderBy')!r} is not supported; use "
                          '"timestamp asc" or "timestamp desc"')
        text = body.get("filter") or ""
        if not isinstance(text, str):
            raise invalid("filter must be a string")
        fingerprint = _fingerprint(text, order)
        return _ListRequest(text, _ORDERS[order], _page_size(body.get("pageSize")),
                            _decode_token(body.get("pageToken"), fingerprint), fingerprint)

    def _check_resources(self, body: dict[str, Any]) -> None:
        names = list(body.get("resourceNames") or [])
        names += [f"projects/{p}" for p in body.get("projectIds") or []]
        if not names:
            raise invalid("resourceNames is required, e.g. "
                          f'["projects/{self.project}"]')
        ours = f"projects/{self.project}"
        others = [n for n in names if not (n == ours or str(n).startswith(ours + "/"))]
        if others:
            raise GoogleApiError(403, "PERMISSION_DENIED",
                                 f"the sandbox holds logs of {ours} only, not of "
                                 f"{', '.join(map(str, others))}")

    # -- paging ----------------------------------------------------------------------------
    def _page(self, request: _ListRequest, log_filter: LogFilter, behaviour: ApiBehaviour
              ) -> tuple[list[dict[str, Any]], bool]:
        entries: list[dict[str, Any]] = []
        for entry in self._matching(request, log_filter, behaviour):
            if len(entries) == request.page_size:
                return entries, True
            entries.append(entry)
        return entries, False

    def _matching(self, request: _ListRequest, log_filter: LogFilter, behaviour: ApiBehaviour
                  ) -> Iterator[dict[str, Any]]:
        low, high = log_filter.time_bounds()
        visible_us = behaviour.horizon_us()  # what happened later has not arrived yet
        high = visible_us if high is None else min(high, visible_us)
        delay_us = int(behaviour.delay_s * 1_000_000)
        after = request.after
        if after is not None and request.descending:
            high = after[0] if high is None else min(high, after[0])
        elif after is not None:
            low = after[0] if low is None else max(low, after[0])
        sources: list[Sequence[Record]] = [self.requests.records(low, high),
                                           self.containers.records(low, high)]
        builds = self.builds.records(low, high)
        if request.descending:
            sources = [list(reversed(s)) for s in sources]
            builds = list(reversed(builds))
        tagged = [((r, self.entry) for r in source) for source in sources]
        tagged.append((r, self._build_entry) for r in builds)
        merged = heapq.merge(*tagged, key=lambda pair: _record_key(pair[0]),
                             reverse=request.descending)
        for record, render in merged:
            if after is not None and _is_before_token(record, after, request.descending):
                continue
            entry = render(record, delay_us)
            if log_filter.matches(entry):
                yield entry

    # -- entries ---------------------------------------------------------------------------
    def entry(self, record: Record, delay_us: int = 0) -> dict[str, Any]:
        """The LogEntry JSON of a request or container record, received `delay_us` later."""
        if isinstance(record, RequestRecord):
            return self._request_entry(record, delay_us)
        return self._container_entry(record, delay_us)

    def _request_entry(self, record: RequestRecord, delay_us: int) -> dict[str, Any]:
        return {
            "logName": f"projects/{self.project}/logs/{REQUESTS_LOG_ID}",
            "resource": self._resource(record.service or self.service_name, record.revision),
            "timestamp": format_timestamp(record.time_us),
            "receiveTimestamp": format_timestamp(record.time_us + delay_us),
            "severity": _request_severity(record.status),
            "insertId": record.insert_id,
            "httpRequest": {
                "requestMethod": record.method,
                "requestUrl": record.url,
                "status": record.status,
                "latency": format_duration(record.latency_s),
                "userAgent": record.user_agent,
                "remoteIp": record.remote_ip,
                "protocol": record.protocol,
                "responseSize": str(record.response_size),
            },
        }

    def _container_entry(self, record: ContainerRecord, delay_us: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "logName": f"projects/{self.project}/logs/{STDOUT_LOG_ID}",
            "resource": self._resource(self.service_name, record.revision),
            "timestamp": format_timestamp(record.time_us),
            "receiveTimestamp": format_timestamp(record.time_us + delay_us),
            "severity": record.severity,
            "insertId": record.insert_id,
        }
        if record.json_payload is not None:
            entry["jsonPayload"] = record.json_payload
        else:
            entry["textPayload"] = record.text_payload
        return entry

    def _build_entry(self, record: Record, delay_us: int = 0) -> dict[str, Any]:
        """A line of a build's log (its record's `revision` is the build id) as Cloud Build
        writes it: textPayload, resource `build`."""
        assert isinstance(record, ContainerRecord)
        payload = record.json_payload or {}
        return {
            "logName": f"projects/{self.project}/logs/{BUILD_LOG_ID}",
            "resource": {"type": "build", "labels": {
                "build_id": record.revision, "build_trigger_id": "",
                "project_id": self.project}},
            "timestamp": format_timestamp(record.time_us),
            "receiveTimestamp": format_timestamp(record.time_us + delay_us),
            "severity": record.severity,
            "insertId": record.insert_id,
            "textPayload": str(payload.get("message", record.text_payload or "")),
        }

    def _resource(self, service: str, revision: str | None) -> dict[str, Any]:
        labels = {"project_id": self.project, "service_name": service,
                  "location": self.location, "configuration_name": service}
        if revision:
            labels["revision_name"] = revision
        return {"type": "cloud_run_revision", "labels": labels}


def format_duration(seconds: float) -> str:
    """A protobuf Duration in JSON: "0.012s" (0, 3, 6 or 9 fractional digits)."""
    nanos = round(max(seconds, 0.0) * 1e9)
    whole, frac = divmod(nanos, 1_000_000_000)
    if frac == 0:
        return f"{whole}s"
    if frac % 1_000_000 == 0:
        return f"{whole}.{frac // 1_000_000:03d}s"
    if frac % 1_000 == 0:
        return f"{whole}.{frac // 1_000:06d}s"
    return f"{whole}.{frac:09d}s"


def _request_severity(status: int) -> str:
    if status >= 500:
        return "ERROR"
    return "WARNING" if status >= 400 else "INFO"


def _record_key(record: Record) -> tuple[int, str]:
    return record.time_us, record.insert_id


def _is_before_token(record: Record, after: tuple[int, str], descending: bool) -> bool:
    key = _record_key(record)
    return key >= after if descending else key <= after


def _page_size(value: Any) -> int:
    if value in (None, "", 0):
        return DEFAULT_PAGE_SIZE
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise invalid(f"pageSize must be an integer, not {value!r}") from None
    if size < 0:
        raise invalid(f"pageSize must not be negative, got {size}")
    return min(size, MAX_PAGE_SIZE)


def _fingerprint(text: str, order: str) -> str:
    return hashlib.blake2b(f"{order}\n{text}".encode(), digest_size=6).hexdigest()


def _encode_token(after: tuple[int, str], fingerprint: str) -> str:
    raw = json.dumps({"t": after[0], "i": after[1], "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: Any, fingerprint: str) -> tuple[int, str] | None:
    if not token:
        return None
    try:
        text = str(token)
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        after = (int(data["t"]), str(data["i"]))
        matches = data["q"] == fingerprint
    except (ValueError, KeyError, TypeError):
        raise invalid(f"pageToken {token!r} is not a token this API returned") from None
    if not matches:
        raise invalid("pageToken belongs to a different filter or orderBy; start again "
                      "without a pageToken")
    return after


# -- HTTP ------------------------------------------------------------------------------------

def logging_routes(state_dir: Path, project: str, service_name: str, *,
                   location: str = "us-central1", request_log: RequestLog | None = None
                   ) -> list[Route]:
    """The Starlette routes of the emulated Logging v2 API (to mount in the platform).

    Pass the `request_log` the Monitoring emulation uses to parse `requests.jsonl` once.
    """
    service = LoggingService(state_dir, project, service_name, location=location,
                             request_log=request_log)

    async def entries_list(request: Request) -> Response:
        if service.behaviour().fault == "timeout":
            raise await _hang(request)
        try:
            body = await request.json()
        except ValueError:
            raise invalid("the request body is not valid JSON") from None
        try:
            answer = await run_in_threadpool(service.list_entries, body)
        except GoogleApiError:
            raise
        except SandboxError as exc:
            logger.warning("entries:list failed: %s", exc)
            raise GoogleApiError(500, "INTERNAL", str(exc)) from None
        return JSONResponse(answer)

    return [Route("/v2/entries:list", guarded(entries_list), methods=["POST"])]


def _unavailable() -> GoogleApiError:
    return GoogleApiError(503, "UNAVAILABLE", "the Logging API is unavailable (sandbox fault "
                          "logging.fault=unavailable; PUT /_sandbox/observability clears it)")


async def _hang(request: Request) -> GoogleApiError:
    """Hold the call until the client gives up (at most HANG_S): the `timeout` fault."""
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.25)
    return GoogleApiError(504, "DEADLINE_EXCEEDED", "the Logging API did not answer in time "
                          "(sandbox fault logging.fault=timeout)")


def create_logging_app(state_dir: Path, project: str, service_name: str, *,
                       location: str = "us-central1") -> Starlette:
    """A Starlette app serving only the Logging routes (for tests and standalone use)."""
    return Starlette(routes=logging_routes(state_dir, project, service_name,
                                           location=location))
