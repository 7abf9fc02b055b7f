"""Fixtures of the sandbox tests: `env`, a running sandbox of the asking module's own, and
Google's Logging and Monitoring clients on it (module-scoped, closed when the module ends)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)
from google_clients import SafeLoggingClient

from netra_ops import sandbox
from netra_ops.config import Environment
from netra_ops.sandbox.runtime.state import StatePaths


@pytest.fixture(scope="module")
def logs(env: Environment) -> Iterator[Any]:
    """Google's Logging client (REST) on the module's sandbox."""
    client = SafeLoggingClient(project=env.project, credentials=AnonymousCredentials(),
                               _use_grpc=False, client_options={"api_endpoint": env.api_endpoint})
    yield client
    client._http.close()


@pytest.fixture(scope="module")
def metrics(env: Environment) -> Iterator[monitoring_v3.MetricServiceClient]:
    """Google's Monitoring client (gRPC) on the module's sandbox."""
    assert env.monitoring_endpoint is not None
    channel = grpc.insecure_channel(env.monitoring_endpoint)
    client = monitoring_v3.MetricServiceClient(
        transport=MetricServiceGrpcTransport(channel=channel))
    yield client
    client.transport.close()


@pytest.fixture(scope="module")
def env(make_sandbox_env: Callable[[], Environment],
        process_alive: Callable[[int, float | None], bool]) -> Iterator[Environment]:
    """A sandbox of the asking module's own; nothing it started survives `down` (a module
    that defines its own `env` overrides this one)."""
    environment = make_sandbox_env()
    sandbox.up(environment)
    try:
        yield environment
    finally:
        saved = json.loads(StatePaths.of(environment).revisions_json.read_text())["revisions"]
        sandbox.down(environment)
        assert not [r["name"] for r in saved if r["pid"]
                    and process_alive(r["pid"], r["create_time"])]
