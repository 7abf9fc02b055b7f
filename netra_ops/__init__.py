"""netra-ops: runbooks and a local staging sandbox for restoring Netra's Golden Path.

The public face of the library; the layers live in `netra_ops.deploy`, `netra_ops.probe`,
`netra_ops.metrics`, `netra_ops.record` and `netra_ops.sandbox`.

The names below are loaded on first use (PEP 562), not when the package is imported: every
process of the sandbox (a revision, the auth and frontend services, the platform) imports
this package before its own module, and the configuration's pydantic models and the
installed version cost it a quarter of a second of CPU it never needs; the suite starts
hundreds of them (`bench/process_start.py`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netra_ops.config import Environment, list_environments, load_environment
    from netra_ops.errors import ConfigError, NetraOpsError
    from netra_ops.logs_setup import configure_logging

__all__ = [
    "ConfigError",
    "Environment",
    "NetraOpsError",
    "__version__",
    "configure_logging",
    "list_environments",
    "load_environment",
]

_HOMES = {"Environment": "netra_ops.config", "list_environments": "netra_ops.config",
          "load_environment": "netra_ops.config", "ConfigError": "netra_ops.errors",
          "NetraOpsError": "netra_ops.errors", "configure_logging": "netra_ops.logs_setup"}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("netra-ops")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            found = "0+unknown"
        globals()["__version__"] = found
        return found
    if name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'netra_ops' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
