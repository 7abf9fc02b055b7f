"""What a Cloud Run service really serves: now `netra_ops.cloud.service`, the cloud layer.

Kept so that `from netra_ops.deploy.service import ...` goes on working; new code imports
`netra_ops.cloud`.
"""

from netra_ops.cloud.service import (
    KNOWN_BAD,
    KNOWN_GOOD,
    RevisionInfo,
    ServiceState,
    read_service,
    short_name,
)

__all__ = ["KNOWN_BAD", "KNOWN_GOOD", "RevisionInfo", "ServiceState", "read_service",
           "short_name"]
