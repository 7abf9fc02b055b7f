"""Google's own API clients, built for an environment: the one code path to Google or the sandbox.

For `kind = "sandbox"` the clients talk to the sandbox's loopback emulation with anonymous
credentials (`api_endpoint` must carry the `http://` scheme, or the client assumes https);
for `kind = "gcp"` they use application default credentials and Google's endpoints.

Cloud Logging's client, when it parses entries of its own project, asks the GCE metadata
server for a default resource (a DNS query for `metadata.google.internal.`, off loopback):
`_resource_fixed_logging_client()` hands every logger a fixed resource so that never happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials, Credentials

from netra_ops.config import Environment
from netra_ops.errors import ApiUnreachableError, ConfigError

if TYPE_CHECKING:
    from google.cloud import logging as gcl_logging
    from google.cloud import monitoring_v3, resourcemanager_v3, run_v2, scheduler_v1
    from google.cloud.devtools import cloudbuild_v1
    from google.cloud.storage import Client as StorageClient

__all__ = [
    "api_errors",
    "builds_client",
    "call",
    "executions_client",
    "jobs_client",
    "logging_client",
    "monitoring_client",
    "projects_client",
    "revisions_client",
    "scheduler_client",
    "service_name",
    "services_client",
    "storage_client",
]

T = TypeVar("T")
C = TypeVar("C")


@cache
def _resource_fixed_logging_client() -> type[gcl_logging.Client]:
    """A Logging client class whose loggers never detect their resource from GCE metadata.

    Built on first use: Cloud Logging's, Monitoring's and Resource Manager's packages take
    about a second each to import, and most runbooks need none or one of them.
    """
    from google.cloud import logging as gcl_logging
    from google.cloud.logging_v2.resource import Resource

    class ResourceFixedLoggingClient(gcl_logging.Client):  # type: ignore[misc]
        def logger(self, name: str, *, labels: dict[str, str] | None = None,
                   resource: Resource | None = None) -> Any:
            fixed = resource or Resource(type="global", labels={})
            return super().logger(name, labels=labels, resource=fixed)

    return ResourceFixedLoggingClient


def _credentials(env: Environment) -> Credentials | None:
    return AnonymousCredentials() if env.kind == "sandbox" else None


def _rest_options(env: Environment) -> dict[str, str] | None:
    if env.kind != "sandbox":
        return {"api_endpoint": env.api_endpoint} if env.api_endpoint else None
    if not env.api_endpoint:
        raise ConfigError(f"sandbox environment {env.name} has no api_endpoint")
    return {"api_endpoint": env.api_endpoint}


def services_client(env: Environment) -> run_v2.ServicesClient:
    """Cloud Run Admin v2 services client (REST) for the environment."""
    from google.cloud import run_v2

    return _rest_client(run_v2.ServicesClient, env)


def revisions_client(env: Environment) -> run_v2.RevisionsClient:
    """Cloud Run Admin v2 revisions client (REST) for the environment."""
    from google.cloud import run_v2

    return _rest_client(run_v2.RevisionsClient, env)


def _rest_client(client_class: Callable[..., C], env: Environment) -> C:
    """A GAPIC client of `client_class` on REST for the environment (sandbox or Google)."""
    return client_class(transport="rest", credentials=_credentials(env),
                        client_options=_rest_options(env))


def jobs_client(env: Environment) -> run_v2.JobsClient:
    """Cloud Run Admin v2 jobs client (REST) for the environment."""
    from google.cloud import run_v2

    return _rest_client(run_v2.JobsClient, env)


def executions_client(env: Environment) -> run_v2.ExecutionsClient:
    """Cloud Run Admin v2 executions client (REST): a job's runs."""
    from google.cloud import run_v2

    return _rest_client(run_v2.ExecutionsClient, env)


def scheduler_client(env: Environment) -> scheduler_v1.CloudSchedulerClient:
    """Cloud Scheduler v1 client (REST) for the environment."""
    from google.cloud import scheduler_v1

    return _rest_client(scheduler_v1.CloudSchedulerClient, env)


def logging_client(env: Environment) -> gcl_logging.Client:
    """Cloud Logging v2 client (REST, never the metadata server) for the environment."""
    client_class = _resource_fixed_logging_client()
    return client_class(project=env.project, credentials=_credentials(env), _use_grpc=False,
                        client_options=_rest_options(env))


def monitoring_client(env: Environment) -> monitoring_v3.MetricServiceClient:
    """Cloud Monitoring v3 client; gRPC (its only transport), insecure on the sandbox."""
    import grpc
    from google.cloud import monitoring_v3
    from google.cloud.monitoring_v3.services.metric_service.transports import (
        MetricServiceGrpcTransport,
    )

    if env.kind != "sandbox":
        return monitoring_v3.MetricServiceClient()
    if not env.monitoring_endpoint:
        raise ConfigError(f"sandbox environment {env.name} has no monitoring port")
    channel = grpc.insecure_channel(env.monitoring_endpoint)
    return monitoring_v3.MetricServiceClient(
        transport=MetricServiceGrpcTransport(channel=channel))


def projects_client(env: Environment) -> resourcemanager_v3.ProjectsClient:
    """Resource Manager v3 projects client (REST) for the environment: project-level
    `testIamPermissions` (what `netra-ops doctor` asks)."""
    from google.cloud import resourcemanager_v3

    return resourcemanager_v3.ProjectsClient(transport="rest", credentials=_credentials(env),
                                             client_options=_rest_options(env))


def builds_client(env: Environment) -> cloudbuild_v1.CloudBuildClient:
    """Cloud Build v1 client (REST) for the environment: builds and their operations."""
    from google.cloud.devtools import cloudbuild_v1

    return cloudbuild_v1.CloudBuildClient(transport="rest", credentials=_credentials(env),
                                          client_options=_rest_options(env))


def storage_client(env: Environment) -> StorageClient:
    """Cloud Storage JSON API client for the environment: the records bucket."""
    from google.cloud.storage import Client as StorageClient

    return StorageClient(project=env.project, credentials=_credentials(env),
                          client_options=_rest_options(env))


def service_name(env: Environment, role: str = "backend") -> str:
    """Full resource name of a service: projects/P/locations/R/services/S."""
    service = env.services[role]  # type: ignore[index]
    return f"projects/{env.project}/locations/{env.region}/services/{service.name}"


@contextmanager
def api_errors(env: Environment, what: str) -> Iterator[None]:
    """Turn 'cannot reach the API' into ApiUnreachableError with what to do about it."""
    try:
        yield
    except (requests.exceptions.ConnectionError, gexc.ServiceUnavailable,
            gexc.RetryError) as exc:
        raise ApiUnreachableError(_unreachable_text(env, what, exc)) from None


def call(env: Environment, what: str, function: Callable[[], T]) -> T:
    """Run one API call under `api_errors`."""
    with api_errors(env, what):
        return function()


def _unreachable_text(env: Environment, what: str, exc: BaseException) -> str:
    where = env.api_endpoint or "Google's endpoint"
    hint = ("is the sandbox running? start it with: netra-ops sandbox up"
            + ("" if env.name == "sandbox" else f" --env {env.source}")
            if env.kind == "sandbox" else "check network access and credentials")
    first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return f"{what}: the API at {where} cannot be reached ({first}); {hint}"
