"""Google's API clients for an environment: now `netra_ops.cloud.clients`, the cloud layer.

Kept so that `from netra_ops.gcp import ...` goes on working; new code imports
`netra_ops.cloud`.
"""

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

__all__ = [
    "api_errors",
    "call",
    "logging_client",
    "monitoring_client",
    "projects_client",
    "revisions_client",
    "service_name",
    "services_client",
]
