"""The Logging v2 emulation, driven by Google's own client (google-cloud-logging, REST)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import logging as cloud_logging
from google.cloud.logging import Resource
from starlette.applications import Starlette

from netra_ops.sandbox.google.logging_api import create_logging_app
from netra_ops.sandbox.runtime.telemetry import format_timestamp

PROJECT = "netra-sandbox"
SERVICE = "netra-backend-staging"
REV_A = f"{SERVICE}-00001-aaa"
REV_B = f"{SERVICE}-00002-bbb"
REQUESTS_LOG = f"projects/{PROJECT}/logs/run.googleapis.com%2Frequests"
STDOUT_LOG = f"projects/{PROJECT}/logs/run.googleapis.com%2Fstdout"


# -- a guard: no DNS lookup or connection may leave loopback --------------------------------

class LoopbackGuard:
    """An audit hook that blocks (and records) any non-loopback DNS lookup or connect."""

    def __init__(self) -> None:
        self.active = False
        self.blocked: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "socket.getaddrinfo":
            host = args[0]
        elif event == "socket.connect" and isinstance(args[1], tuple):
            host = args[1][0]
        else:
            return
        if isinstance(host, bytes):
            host = host.decode()
        if host is None or _is_loopback(host):
            return
        self.blocked.append(str(host))
        raise socket.gaierror(socket.EAI_NONAME, f"blocked by the test's loopback guard: {host}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


GUARD = LoopbackGuard()
sys.addaudithook(GUARD)


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[LoopbackGuard]:
    """Every test runs with the guard on, and must end with nothing blocked."""
    GUARD.blocked.clear()
    GUARD.active = True
    try:
        yield GUARD
    finally:
        GUARD.active = False
    assert GUARD.blocked == [], f"non-loopback contact attempted: {GUARD.blocked}"


# -- a real server on loopback, and the client the library uses ------------------------------

@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run the app with uvicorn in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-logging-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class SafeClient(cloud_logging.Client):
    """The Logging client with a fixed default resource: parsing entries never calls
    detect_resource(), so the GCE metadata server is never looked up."""

    def logger(self, name: str, *, labels: Any = None, resource: Any = None) -> Any:
        return super().logger(name, labels=labels,
                              resource=resource or Resource(type="global", labels={}))


def make_client(url: str, cls: type[cloud_logging.Client] = SafeClient) -> Any:
    return cls(project=PROJECT, credentials=AnonymousCredentials(), _use_grpc=False,
               client_options={"api_endpoint": url})


# -- the synthetic sandbox logs ------------------------------------------------------------

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def at(seconds: float) -> str:
    return format_timestamp(int((BASE + timedelta(seconds=seconds)).timestamp() * 1_000_000))


REQUESTS = [  # (seconds after BASE, status, revision)
    (0, 200, REV_A), (1, 200, REV_A), (2, 401, REV_A), (3, 404, REV_B), (4, 500, REV_A),
    (5, 503, None), (6, 200, REV_B), (7, 101, REV_B), (8, 502, REV_B), (9, 200, REV_B),
]
OLD_REQUEST = (-2 * 86_400, 500, REV_A)  # two days ago: outside the client's default day


def request_json(seconds: float, status: int, revision: str | None) -> str:
    return json.dumps({
        "timestamp": at(seconds), "service": SERVICE, "revision": revision,
        "method": "GET", "url": f"http://127.0.0.1:18080/r{int(seconds)}",
        "path": f"/r{int(seconds)}", "status": status, "latency_s": 0.0125 + seconds / 1000,
        "protocol": "websocket" if status == 101 else "HTTP/1.1", "remote_ip": "127.0.0.1",
        "user_agent": "netra-ops-probe/1.0", "response_size": 100 + int(seconds),
    })


def write_logs(state_dir: Path) -> None:
    logs = state_dir / "logs"
    (logs / "revisions").mkdir(parents=True, exist_ok=True)
    lines = [request_json(*OLD_REQUEST)] + [request_json(*r) for r in REQUESTS]
    (logs / "requests.jsonl").write_text("\n".join(lines) + "\n")
    (logs / "revisions" / f"{REV_A}.log").write_text("\n".join([
        json.dumps({"severity": "INFO", "message": "starting", "timestamp": at(0.5),
                    "service": SERVICE}),
        json.dumps({"severity": "ERROR", "message": "agent execution failed",
                    "timestamp": at(4.5), "error": "TypeError: session_id"}),
        "Traceback (most recent call last):",
    ]) + "\n")
    (logs / "revisions" / f"{REV_B}.log").write_text("\n".join([
        json.dumps({"severity": "INFO", "message": "ready", "timestamp": at(3.5)}),
        json.dumps({"severity": "WARNING", "message": "slow upstream", "timestamp": at(8.5)}),
    ]) + "\n")


def label(entry: Any) -> str:
    """A short name per entry: r<seconds> for requests, a:/b:<message> for stdout lines."""
    if entry.log_name == REQUESTS_LOG:
        return "r" + entry.http_request["requestUrl"].rsplit("/r", 1)[1]
    revision = entry.resource.labels["revision_name"]
    text = entry.payload["message"] if isinstance(entry.payload, dict) else entry.payload
    return f"{'a' if revision == REV_A else 'b'}:{text.split()[0]}"


ALL = ["r0", "a:starting", "r1", "r2", "r3", "b:ready", "r4", "a:agent", "a:Traceback",
       "r5", "r6", "r7", "r8", "b:slow", "r9"]


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state_dir = tmp_path_factory.mktemp("logging-state")
    write_logs(state_dir)
    with serve(create_logging_app(state_dir, PROJECT, SERVICE)) as url:
        yield url


@pytest.fixture()
def client(api_url: str) -> Any:
    return make_client(api_url)


def listed(client: Any, filter_: str | None = None, **kwargs: Any) -> list[Any]:
    return list(client.list_entries(resource_names=[f"projects/{PROJECT}"], filter_=filter_,
                                    **kwargs))


# -- tests ---------------------------------------------------------------------------------

def test_entries_have_cloud_runs_shape(client: Any) -> None:
    entries = listed(client, order_by=cloud_logging.ASCENDING)
    assert [label(e) for e in entries] == ALL
    r4 = entries[ALL.index("r4")]
    assert r4.log_name == REQUESTS_LOG and r4.severity == "ERROR"
    assert r4.http_request == {
        "requestMethod": "GET", "requestUrl": "http://127.0.0.1:18080/r4", "status": 500,
        "latency": "0.016500s", "userAgent": "netra-ops-probe/1.0", "remoteIp": "127.0.0.1",
        "protocol": "HTTP/1.1", "responseSize": "104",
    }
    assert r4.resource.type == "cloud_run_revision"
    assert r4.resource.labels == {
        "project_id": PROJECT, "service_name": SERVICE, "revision_name": REV_A,
        "location": "us-central1", "configuration_name": SERVICE,
    }
    assert r4.timestamp == BASE + timedelta(seconds=4) and r4.received_timestamp == r4.timestamp
    assert "revision_name" not in entries[ALL.index("r5")].resource.labels
    assert [entries[ALL.index(n)].severity for n in ("r0", "r2", "r3", "r7", "r8")] == [
        "INFO", "WARNING", "WARNING", "INFO", "ERROR"]
    failed = entries[ALL.index("a:agent")]
    assert isinstance(failed, cloud_logging.StructEntry) and failed.log_name == STDOUT_LOG
    assert failed.payload == {"message": "agent execution failed",
                              "error": "TypeError: session_id"}
    assert failed.severity == "ERROR"
    traceback = entries[ALL.index("a:Traceback")]
    assert isinstance(traceback, cloud_logging.TextEntry)
    assert traceback.severity == "DEFAULT" and traceback.timestamp == failed.timestamp
    assert len({e.insert_id for e in entries}) == len(entries)


@pytest.mark.parametrize(("filter_", "expected"), [
    (f'resource.labels.service_name="{SERVICE}"', ALL),
    (f'resource.type="cloud_run_revision" AND resource.labels.revision_name="{REV_B}"',
     ["r3", "b:ready", "r6", "r7", "r8", "b:slow", "r9"]),
    ("severity>=ERROR", ["r4", "a:agent", "r5", "r8"]),
    ("severity=WARNING", ["r2", "r3", "b:slow"]),
    ("httpRequest.status>=500", ["r4", "r5", "r8"]),
    ("httpRequest.status>=400 httpRequest.status<500", ["r2", "r3"]),
    (f'logName="{STDOUT_LOG}" AND severity<=INFO', ["a:starting", "b:ready", "a:Traceback"]),
    pytest.param(f'timestamp>="{at(3)}" AND timestamp<"{at(5)}"',  # times: a stable test id
                 ["r3", "b:ready", "r4", "a:agent", "a:Traceback"], id="timestamp-range"),
    (f'logName="{REQUESTS_LOG}" AND (httpRequest.status=401 OR httpRequest.status=404)',
     ["r2", "r3"]),
    (f'NOT resource.labels.revision_name="{REV_A}" AND logName="{REQUESTS_LOG}"',
     ["r3", "r5", "r6", "r7", "r8", "r9"]),
    # Google's precedence: (500 OR 502) AND revision B -- not 500 OR (502 AND B)
    (f'httpRequest.status=500 OR httpRequest.status=502 AND '
     f'resource.labels.revision_name="{REV_B}"', ["r8"]),
    ('severity=(ERROR OR WARNING) -logName:"x"', None),  # has operator: refused below
])
def test_filters_select_exactly_the_right_entries(client: Any, filter_: str,
                                                  expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(exceptions.BadRequest):
            listed(client, filter_)
        return
    assert sorted(label(e) for e in listed(client, filter_)) == sorted(expected)


def test_the_clients_default_day_and_an_explicit_window(client: Any) -> None:
    assert "r-172800" not in [label(e) for e in listed(client, "httpRequest.status=500")]
    since = format_timestamp(int((BASE - timedelta(days=3)).timestamp() * 1_000_000))
    old = listed(client, f'httpRequest.status=500 AND timestamp>="{since}"')
    assert [label(e) for e in old] == ["r-172800", "r4"]


def test_descending_order(client: Any) -> None:
    entries = listed(client, order_by=cloud_logging.DESCENDING)
    assert [label(e) for e in entries] == list(reversed(ALL))


@pytest.mark.parametrize("order", [cloud_logging.ASCENDING, cloud_logging.DESCENDING])
def test_paging_terminates_and_returns_everything(client: Any, api_url: str,
                                                  order: str) -> None:
    whole = [e.insert_id for e in listed(client, order_by=order)]
    paged = [e.insert_id for e in listed(client, order_by=order, page_size=4)]
    assert paged == whole and len(paged) == 15
    # Without a filter (the raw API adds no default day) all 16 lines count.
    for size, lengths in ((5, [5, 5, 5, 1]), (4, [4, 4, 4, 4])):  # 4: an exact boundary
        pages = raw_pages(api_url, {"orderBy": order, "pageSize": size})
        assert [len(page["entries"]) for page in pages] == lengths
        assert all("nextPageToken" in page for page in pages[:-1])
        assert "nextPageToken" not in pages[-1]


def raw_pages(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token = None
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        while True:
            request = {"resourceNames": [f"projects/{PROJECT}"], **body}
            if token:
                request["pageToken"] = token
            page = http.post("/v2/entries:list", json=request).raise_for_status().json()
            pages.append(page)
            token = page.get("nextPageToken")
            if token is None:
                return pages
            assert len(pages) < 20, "paging does not end"


def test_an_empty_answer_has_no_token(api_url: str) -> None:
    empty = raw_pages(api_url, {"filter": "httpRequest.status=418"})
    assert empty == [{"entries": []}]


@pytest.mark.parametrize(("filter_", "message"), [
    ('textPayload:"session_id"', "has operator ':'"),
    ('jsonPayload.message="agent execution failed"', "cannot filter on field"),
    ('severity=~"ERR"', "regular expressions"),
    ('log_id("run.googleapis.com/requests")', "functions such as log_id()"),
    ("session_id", "global restriction"),
    ("severity>=ERROR or severity=INFO", "must be uppercase"),
])
def test_unsupported_filters_are_a_bad_request(client: Any, filter_: str,
                                               message: str) -> None:
    with pytest.raises(exceptions.BadRequest) as raised:
        listed(client, filter_)
    assert message in raised.value.message


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"resourceNames": [f"projects/{PROJECT}"], "filter": "a:b"}, 400, "has operator"),
    ({"resourceNames": [f"projects/{PROJECT}"], "orderBy": "severity"}, 400, "orderBy"),
    ({"resourceNames": [f"projects/{PROJECT}"], "pageSize": -1}, 400, "negative"),
    ({"resourceNames": [f"projects/{PROJECT}"], "pageToken": "garbage"}, 400, "pageToken"),
    ({"resourceNames": [f"projects/{PROJECT}"], "maxResults": 3}, 400, "unknown field"),
    ({}, 400, "resourceNames is required"),
    ({"resourceNames": ["projects/someone-else"]}, 403, "projects/netra-sandbox only"),
])
def test_errors_have_googles_shape(api_url: str, body: dict[str, Any], status: int,
                                   message: str) -> None:
    with httpx.Client(base_url=api_url, trust_env=False, timeout=10) as http:
        response = http.post("/v2/entries:list", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and message in error["message"]
    assert error["status"] == ("INVALID_ARGUMENT" if status == 400 else "PERMISSION_DENIED")


def test_a_page_token_is_bound_to_its_query(api_url: str) -> None:
    [first, *_] = raw_pages(api_url, {"pageSize": 2})
    with httpx.Client(base_url=api_url, trust_env=False, timeout=10) as http:
        response = http.post("/v2/entries:list", json={
            "resourceNames": [f"projects/{PROJECT}"], "filter": "severity>=ERROR",
            "pageToken": first["nextPageToken"]})
    assert response.status_code == 400
    assert "different filter" in response.json()["error"]["message"]


def test_other_project_is_forbidden(client: Any) -> None:
    with pytest.raises(exceptions.Forbidden):
        list(client.list_entries(resource_names=["projects/elsewhere"]))


def test_reading_twice_gives_the_same_entries(client: Any) -> None:
    def snapshot() -> list[tuple[Any, ...]]:
        return [(e.insert_id, e.timestamp, e.severity, e.payload, e.http_request)
                for e in listed(client)]

    assert snapshot() == snapshot()


def test_new_lines_show_up_and_half_lines_wait(tmp_path: Path) -> None:
    write_logs(tmp_path)
    with serve(create_logging_app(tmp_path, PROJECT, SERVICE)) as url:
        client = make_client(url)
        assert len(listed(client, "httpRequest.status=504")) == 0
        line = request_json(11, 504, REV_B) + "\n"
        with (tmp_path / "logs" / "requests.jsonl").open("a") as handle:
            handle.write(line[:30])
            handle.flush()
            assert len(listed(client, "httpRequest.status=504")) == 0
            handle.write(line[30:])
        [entry] = listed(client, "httpRequest.status=504")
        assert entry.severity == "ERROR" and label(entry) == "r11"


def test_the_plain_client_looks_up_the_metadata_server(api_url: str,
                                                       loopback_only: LoopbackGuard) -> None:
    """The gotcha this module documents: a plain Client resolves metadata.google.internal
    (twice per log name per call) while parsing entries. The guard blocks it here."""
    plain = make_client(api_url, cloud_logging.Client)
    entries = listed(plain, "severity>=ERROR")
    assert len(entries) == 4  # parsing still works: the failed lookup is swallowed
    assert set(loopback_only.blocked) == {"metadata.google.internal."}
    assert len(loopback_only.blocked) == 2 * len({e.log_name for e in entries})
    loopback_only.blocked.clear()


def test_the_safe_client_never_leaves_loopback(client: Any,
                                               loopback_only: LoopbackGuard) -> None:
    entries = listed(client)
    assert len(entries) == 15 and loopback_only.blocked == []
    assert entries[0].logger is not None and entries[0].logger.project == PROJECT
