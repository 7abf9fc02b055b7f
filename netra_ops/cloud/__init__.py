"""Google's clients and the read models of what they return: the one place that knows
Google's shapes.

`clients` builds Google's own API clients for an environment (the sandbox's loopback
emulation or Google's endpoints); `service` reads a Cloud Run service, its revisions and its
traffic (`read_service` -> `ServiceState`); `builds` asks Artifact Registry which build a
tag names; `audit` keeps the trail of changes made to the services. Everything above
(probe, metrics, deploy, ...) reads Google through this package, and it imports nothing
of theirs.
"""

from netra_ops.cloud.audit import AuditEntry, append_audit, audit_trail
from netra_ops.cloud.builds import IMAGE_DIGEST_ANNOTATION, new_build, serves_image, tag_digest
from netra_ops.cloud.clients import (
    api_errors,
    call,
    logging_client,
    monitoring_client,
    projects_client,
    revisions_client,
    service_name,
    services_client,
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
    "IMAGE_DIGEST_ANNOTATION",
    "KNOWN_BAD",
    "KNOWN_GOOD",
    "AuditEntry",
    "RevisionInfo",
    "ServiceState",
    "api_errors",
    "append_audit",
    "audit_trail",
    "call",
    "logging_client",
    "monitoring_client",
    "new_build",
    "projects_client",
    "read_service",
    "revisions_client",
    "serves_image",
    "service_name",
    "services_client",
    "short_name",
    "tag_digest",
]
