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

Sub-packages by role; each imports only those listed before it:

    services/  Netra as the sandbox emulates it: auth, backend (WebSocket, agent, faults),
               frontend, their structured logs, and a stand-in for Netra's repository
    runtime/   what Cloud Run does with them: revision processes, the traffic router, the
               state directory, and what the revisions log and use (telemetry)
    google/    Google's APIs over that runtime: Cloud Run Admin v2, Artifact Registry,
               Cloud Build, Resource Manager, Cloud Logging v2, Cloud Monitoring v3; one
               error shape
    control/   the platform process that serves all of it, the `/_sandbox` admin API, and
               what drives the sandbox from outside: supervisor, scenarios, pause, throwaway
               environments

`netra_ops.sandbox.ephemeral`, `.scenarios` and `.pause` stay importable at their first
paths (tests, benchmarks and guides use them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netra_ops.sandbox.control.pause import pause_revision
    from netra_ops.sandbox.control.scenarios import Scenario
    from netra_ops.sandbox.control.supervisor import (
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

_MODULE_OF = {name: "control.supervisor" for name in __all__} | {
    "Scenario": "control.scenarios", "pause_revision": "control.pause"}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'netra_ops.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"netra_ops.sandbox.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
