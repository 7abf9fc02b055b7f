"""Fixtures of the sandbox tests: Google's Logging and Monitoring clients on the `env`
sandbox of the module that asks for them (module-scoped, closed when the module ends)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)
from google_clients import SafeLoggingClient

from netra_ops.config import Environment


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
