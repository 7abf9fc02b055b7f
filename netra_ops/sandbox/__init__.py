"""The local sandbox: a staging on loopback you can break on purpose.

    from netra_ops.config import load_environment
    from netra_ops import sandbox

    env = load_environment("sandbox")
    sandbox.up(env)                      # auth, frontend, platform (router, revisions)
    sandbox.apply_scenario(env, "slow")  # deploy a revision with 700 ms of latency
    sandbox.status(env).to_frame()
    sandbox.down(env)

The public names are loaded on first use, so the sandbox's own processes (`python -m
netra_ops.sandbox ROLE`) do not pay for the supervisor's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netra_ops.sandbox.pause import pause_revision
    from netra_ops.sandbox.scenarios import Scenario
    from netra_ops.sandbox.supervisor import (
        ProcessStatus,
        SandboxStatus,
        apply_scenario,
        down,
        list_scenarios,
        logs,
        push,
        require_running,
        status,
        up,
    )

__all__ = [
    "ProcessStatus",
    "SandboxStatus",
    "Scenario",
    "apply_scenario",
    "down",
    "list_scenarios",
    "logs",
    "pause_revision",
    "push",
    "require_running",
    "status",
    "up",
]

_MODULE_OF = {name: "supervisor" for name in __all__} | {"Scenario": "scenarios",
                                                         "pause_revision": "pause"}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'netra_ops.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"netra_ops.sandbox.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
