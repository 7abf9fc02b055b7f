"""Google's clients and the read models of what they return: the one place that knows
Google's shapes.

`clients` builds Google's own API clients for an environment (the sandbox's loopback
emulation or Google's endpoints); `service` reads a Cloud Run service, its revisions and its
traffic (`read_service` -> `ServiceState`); `builds` asks Artifact Registry which build a
tag names (deploys are by digest); `cloud_build` runs builds on Cloud Build and reads them
back (`BuildRun`); `audit` keeps the trail of changes made to the services. Everything above
(probe, metrics, deploy, ...) reads Google through this package, and it imports nothing of
theirs.
"""

from netra_ops.cloud.audit import AUDIT_LOG_ENV, AuditEntry, append_audit, audit_trail
from netra_ops.cloud.builds import pinned_image, registry_tag, serves_image, tag_digest
from netra_ops.cloud.clients import (
    api_errors,
    builds_client,
    call,
    executions_client,
    jobs_client,
    logging_client,
    monitoring_client,
    projects_client,
    revisions_client,
    scheduler_client,
    service_name,
    services_client,
)
from netra_ops.cloud.cloud_build import (
    BuildRun,
    BuildStepRun,
    build_log_tail,
    cancel_build,
    docker_build_step,
    get_build,
    read_build,
    submit_build,
    wait_build,
)
from netra_ops.cloud.service import (
    KNOWN_BAD,
    KNOWN_GOOD,
    RevisionInfo,
    ServiceState,
    read_service,
    short_name,
)

__all__ = [
    "AUDIT_LOG_ENV",
    "KNOWN_BAD",
    "KNOWN_GOOD",
    "AuditEntry",
    "BuildRun",
    "BuildStepRun",
    "RevisionInfo",
    "ServiceState",
    "api_errors",
    "append_audit",
    "audit_trail",
    "build_log_tail",
    "builds_client",
    "call",
    "cancel_build",
    "docker_build_step",
    "executions_client",
    "get_build",
    "jobs_client",
    "logging_client",
    "monitoring_client",
    "pinned_image",
    "projects_client",
    "read_build",
    "read_service",
    "registry_tag",
    "revisions_client",
    "scheduler_client",
    "serves_image",
    "service_name",
    "services_client",
    "short_name",
    "submit_build",
    "tag_digest",
    "wait_build",
]
