"""netra-ops: runbooks and a local staging sandbox for restoring Netra's Golden Path.

The public face of the library; the layers live in `netra_ops.deploy`, `netra_ops.probe`,
`netra_ops.metrics`, `netra_ops.record` and `netra_ops.sandbox`.
"""

from importlib.metadata import PackageNotFoundError, version

from netra_ops.config import Environment, list_environments, load_environment
from netra_ops.errors import ConfigError, NetraOpsError
from netra_ops.logs_setup import configure_logging

try:
    __version__ = version("netra-ops")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"

__all__ = [
    "ConfigError",
    "Environment",
    "NetraOpsError",
    "__version__",
    "configure_logging",
    "list_environments",
    "load_environment",
]
