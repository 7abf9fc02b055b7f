"""Re-exports `netra_ops.sandbox.control.scenarios` at its first path (tests and guides
import from here)."""

from netra_ops.sandbox.control.scenarios import (
    SCENARIOS,
    Scenario,
    apply_scenario,
    get_scenario,
    image_with_tag,
    list_scenarios,
    scenario_request,
)

__all__ = [
    "SCENARIOS",
    "Scenario",
    "apply_scenario",
    "get_scenario",
    "image_with_tag",
    "list_scenarios",
    "scenario_request",
]
