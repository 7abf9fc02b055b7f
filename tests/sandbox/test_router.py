"""The router and admin API, served by `run_platform` with tiny backend revisions.

The platform runs in a thread of the test process (its own event loop), its revisions are
real processes; the tests talk to it over loopback like any client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from netra_ops.sandbox.control.platform import PlatformSpec, run_platform
from netra_ops.sandbox.runtime.revisions import free_port
from netra_ops.sandbox.runtime.state import StatePaths
from netra_ops.sandbox.services.backend_settings import TIME_SCALE_ENV

pytestmark = pytest.mark.sandbox

TINY_BACKEND = (sys.executable, str(Path(__file__).with_name("tiny_backend.py")))
GOOD = "example.test/repo/backend:good"


@dataclass
class Platform:
    """A running platform: its URLs, state files and an HTTP client."""

    spec: PlatformSpec
    paths: StatePaths
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.spec.service_url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def api(self) -> str:
        return f"http://{self.spec.host}:{self.spec.api_port}/_sandbox"

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.get(f"{self.api}/status").json()
        return answer

    def deploy(self, image: str = GOOD, *, traffic: bool = True) -> httpx.Response:
        return self.client.post(f"{self.api}/revisions", json={"image": image, "traffic": traffic})

    def split(self, *names: str) -> httpx.Response:
        share = 100 // len(names)
        return self.client.put(f"{self.api}/traffic", json={"traffic": [
            {"revision": n, "percent": share} for n in names]})

    def requests(self) -> list[dict[str, Any]]:
        lines = self.paths.requests_log.read_text().splitlines()
        return [json.loads(line) for line in lines]


@contextlib.contextmanager
def running_platform(folder: Path, image: str = GOOD, timeout_s: int = 300
                     ) -> Iterator[Platform]:
    """Run the platform in a thread until the block ends; no revision may survive it."""
    spec = PlatformSpec(service="svc", host="127.0.0.1", router_port=free_port(),
                        api_port=free_port(), image=image, base_env={"ENVIRONMENT": "test"},
                        startup_timeout_s=10, timeout_s=timeout_s)
    paths = StatePaths(folder).ensure()
    loop_ready = threading.Event()
    handle: dict[str, Any] = {}

    async def serve() -> None:
        handle["loop"], handle["stop"] = asyncio.get_running_loop(), asyncio.Event()
        loop_ready.set()
        await run_platform(spec, paths, stop=handle["stop"], command=TINY_BACKEND)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="platform")
    thread.start()
    assert loop_ready.wait(5)
    with httpx.Client(trust_env=False, timeout=15) as client:
        platform = Platform(spec, paths, client)
        try:
            _wait_for(lambda: _answers(client, f"{platform.api}/health"))
            _wait_for(lambda: platform.status()["revisions"]
                      and platform.status()["revisions"][0]["state"] != "starting")
            yield platform
        finally:
            handle["loop"].call_soon_threadsafe(handle["stop"].set)
            thread.join(20)
    assert not thread.is_alive()
    saved = json.loads(paths.revisions_json.read_text())["revisions"]
    assert all(r["state"] in ("stopped", "failed") for r in saved)


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(condition: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One platform with two ready revisions, shared by the non-destructive tests."""
    with running_platform(tmp_path_factory.mktemp("platform")) as running:
        second = running.deploy(traffic=False)
        assert second.status_code == 201, second.text
        yield running


def _revision_names(platform: Platform) -> list[str]:
    return [r["name"] for r in platform.status()["revisions"] if r["state"] == "ready"][:2]


def test_http_traffic_splits_exactly_50_50(platform: Platform) -> None:
    first, second = _revision_names(platform)
    assert platform.split(first, second).status_code == 200
    served = [platform.client.get(f"{platform.url}/echo").json()["revision"]
              for _ in range(100)]
    assert Counter(served) == {first: 50, second: 50}
    assert all(a != b for a, b in itertools.pairwise(served))  # interleaved

    logged = [e for e in platform.requests() if e["path"] == "/echo"][-100:]
    assert [e["revision"] for e in logged] == served
    entry = logged[-1]
    assert entry["status"] == 200 and entry["method"] == "GET"
    assert entry["protocol"] == "HTTP/1.1" and entry["service"] == "svc"
    assert entry["url"] == f"{platform.url}/echo" and entry["remote_ip"] == "127.0.0.1"
    assert entry["user_agent"].startswith("python-httpx/") and entry["response_size"] > 0
    assert isinstance(entry["latency_s"], float) and entry["timestamp"].endswith("Z")


def test_http_requests_pass_through_unchanged(platform: Platform) -> None:
    answer = platform.client.post(
        f"{platform.url}/some/path?q=1&token=s3cret&status=201", content=b"payload",
        headers={"Authorization": "Bearer abc", "X-Custom": "yes"},
    )
    assert answer.status_code == 201
    echo = answer.json()
    assert (echo["method"], echo["path"], echo["body"]) == ("POST", "/some/path", "payload")
    assert echo["query"] == "q=1&token=s3cret&status=201"
    assert echo["headers"]["authorization"] == "Bearer abc"
    assert echo["headers"]["x-custom"] == "yes"
    assert echo["headers"]["x-forwarded-for"] == "127.0.0.1"
    logged = platform.requests()[-1]
    assert logged["status"] == 201 and logged["method"] == "POST"
    assert "s3cret" not in json.dumps(logged) and "token=REDACTED" in logged["url"]


def test_websocket_connections_are_routed_per_connection(platform: Platform) -> None:
    def websocket_entries() -> list[dict[str, Any]]:
        return [e for e in platform.requests() if e["protocol"] == "websocket"]

    first, second = _revision_names(platform)
    platform.split(first, second)
    before = len(websocket_entries())
    seen = []
    for _ in range(4):
        with connect(platform.ws_url, subprotocols=["jwt.good"], proxy=None,
                     additional_headers={"Authorization": "Bearer xyz"}) as ws:
            assert ws.subprotocol == "jwt.good"
            hello = json.loads(ws.recv())
            assert hello["authorization"] == "Bearer xyz"
            replies = []
            for text in ("a", "b", "c"):
                ws.send(text)
                replies.append(ws.recv())
            assert replies == [f"{hello['revision']}:{t}" for t in "abc"]
            seen.append(hello["revision"])
    assert Counter(seen) == {first: 2, second: 2}
    # a client's close completes at the server before the router logs the connection's end
    _wait_for(lambda: len(websocket_entries()) == before + 4, 5)
    logged = websocket_entries()[-4:]  # in the order the connections ended at the router
    assert Counter(e["revision"] for e in logged) == Counter(seen)
    assert all(e["status"] == 101 and e["url"] == platform.ws_url for e in logged)


def test_an_auth_failure_closes_with_1008_through_the_router(platform: Platform) -> None:
    with connect(platform.ws_url, subprotocols=["jwt.bad"], proxy=None) as ws:
        assert json.loads(ws.recv())["error_code"] == "AUTH_FAILED"
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "AUTH_FAILED")


def test_the_client_close_code_reaches_the_revision(platform: Platform) -> None:
    with connect(platform.ws_url, subprotocols=["jwt.good"], proxy=None) as ws:
        revision = json.loads(ws.recv())["revision"]
        ws.close(code=4001, reason="bye")
    log = platform.paths.revision_log(revision)
    _wait_for(lambda: "client closed 4001" in log.read_text(), timeout_s=5)


def test_admin_api_rejects_bad_requests(platform: Platform) -> None:
    client, api = platform.client, platform.api
    assert client.post(f"{api}/revisions", json={"env": {}}).status_code == 400
    assert client.post(f"{api}/revisions", json={"image": "x", "env": {"A": 1}}).status_code == 400
    bad_split = client.put(f"{api}/traffic", json={"traffic": [
        {"revision": _revision_names(platform)[0], "percent": 60}]})
    assert bad_split.status_code == 400
    assert "must sum to 100, got 60" in bad_split.json()["error"]
    assert client.put(f"{api}/traffic", content=b"not json").status_code == 400
    status = platform.status()
    assert status["service"] == "svc" and status["url"] == platform.url


def test_a_crashing_deploy_is_422_and_keeps_traffic(tmp_path: Path) -> None:
    with running_platform(tmp_path) as platform:
        before = platform.status()["traffic"]
        answer = platform.deploy("example.test/repo/backend:crash-on-start")
        assert answer.status_code == 422
        failed = answer.json()
        assert failed["state"] == "failed" and "crash image" in failed["reason"]
        assert platform.status()["traffic"] == before
        assert platform.client.get(f"{platform.url}/health").status_code == 200


def test_no_serving_revision_answers_503(tmp_path: Path) -> None:
    with running_platform(tmp_path, image="example.test/repo/backend:crash") as platform:
        (revision,) = platform.status()["revisions"]
        assert revision["state"] == "failed" and platform.status()["traffic"] == []

        answer = platform.client.get(f"{platform.url}/health")
        assert answer.status_code == 503
        assert answer.json()["error"] == "no revision is serving"
        with pytest.raises(InvalidStatus) as refused:
            connect(platform.ws_url, subprotocols=["jwt.good"], proxy=None)
        assert refused.value.response.status_code == 503
        logged = platform.requests()[-2:]
        assert [(e["revision"], e["status"], e["protocol"]) for e in logged] == [
            (None, 503, "HTTP/1.1"), (None, 503, "websocket")]


def test_a_killed_revision_answers_503_against_it(tmp_path: Path) -> None:
    with running_platform(tmp_path) as platform:
        (revision,) = platform.status()["revisions"]
        os.kill(revision["pid"], signal.SIGKILL)
        answers = [platform.client.get(f"{platform.url}/health") for _ in range(3)]
        assert [a.status_code for a in answers] == [503, 503, 503]
        assert answers[-1].json()["revision"] == revision["name"]
        logged = platform.requests()[-3:]
        assert {(e["revision"], e["status"]) for e in logged} == {(revision["name"], 503)}
        _wait_for(lambda: platform.status()["revisions"][0]["state"] == "failed", 5)
        assert "exited with code -9" in platform.status()["revisions"][0]["reason"]


def test_a_websocket_ends_at_the_request_timeout_without_a_close_frame(tmp_path: Path) -> None:
    """Cloud Run ends a WebSocket at the service's request timeout like any request: the
    client's connection drops (1006, no close frame), the revision is told 1001. Here 300 s
    at a rehearsal time scale of 150: 2 s."""
    with running_platform(tmp_path, timeout_s=300) as platform:
        deployed = platform.client.post(f"{platform.api}/revisions", json={
            "image": GOOD, "traffic": True, "env": {TIME_SCALE_ENV: "150"}})
        assert deployed.status_code == 201, deployed.text
        revision = deployed.json()["name"]
        with connect(platform.ws_url, subprotocols=["jwt.good"], proxy=None) as ws:
            assert json.loads(ws.recv())["revision"] == revision
            started = time.monotonic()
            ws.send("still here")
            assert ws.recv() == f"{revision}:still here"
            with pytest.raises(ConnectionClosedError) as closed:
                ws.recv(timeout=60)
            lasted = time.monotonic() - started
        _wait_for(lambda: "client closed 1001" in platform.paths.revision_log(revision)
                  .read_text(), timeout_s=10)
        [entry] = [e for e in platform.requests()
                   if e["protocol"] == "websocket" and e["revision"] == revision]
    assert closed.value.rcvd is None  # dropped, as Cloud Run's front end does: 1006
    assert lasted >= 1.5  # not before the timeout (a busy machine only makes it later)
    assert entry["status"] == 504
