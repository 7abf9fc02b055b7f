"""One list of scenario names on the command line: the sandbox's states and the rehearsals.

Two kinds of scenario stage the sandbox. A *sandbox state* (`netra_ops.sandbox.scenarios`)
is a build and its faults serving now (`stale-build`, `slow`, ...). A *rehearsal* is a
playbook's `[scenarios.NAME]`: what serves before the playbook starts, the parameters that
make its story happen, and the outcome the story ends in (`bad-deploy`: ROLLED BACK). The
sandbox and the playbook never import each other (the layers keep them apart); the command
line is where they meet, here: `sandbox scenarios` lists both kinds, `sandbox scenario NAME`
stages either (a rehearsal's starting state), `run PLAYBOOK --scenario NAME` and `rehearse
NAME` take a rehearsal and point to `sandbox scenario` for a sandbox state, and an unknown
name is answered with every valid one of both kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from netra_ops.config import Environment
from netra_ops.errors import ParameterError

if TYPE_CHECKING:  # the playbook package is imported when a scenario is asked for
    from netra_ops.playbook import Scenario

__all__ = ["REHEARSED_PLAYBOOK", "describe_scenarios", "rehearsal", "scenario_catalog",
           "scenario_kind", "stage_rehearsal", "unknown_scenario"]

REHEARSED_PLAYBOOK = "golden_path_remediation"
"""The playbook whose scenarios `netra-ops rehearse` and `make rehearse` run."""


def _sandbox_states() -> dict[str, str]:
    from netra_ops.sandbox.scenarios import SCENARIOS

    return {name: scenario.description for name, scenario in SCENARIOS.items()}


def _rehearsals(playbook: str) -> dict[str, Scenario]:
    from netra_ops.playbook import load_playbook

    return dict(load_playbook(playbook).scenarios)


def scenario_catalog(playbook: str = REHEARSED_PLAYBOOK) -> pd.DataFrame:
    """Every scenario name, once per kind: the rehearsals of `playbook` (with the outcome
    each expects), then the sandbox states."""
    rows = [{"scenario": name, "kind": "rehearsal", "expect": _outcome(chosen.expect),
             "description": chosen.description}
            for name, chosen in _rehearsals(playbook).items()]
    rows += [{"scenario": name, "kind": "sandbox state", "expect": "",
              "description": description} for name, description in _sandbox_states().items()]
    return pd.DataFrame(rows)


def describe_scenarios(playbook: str = REHEARSED_PLAYBOOK) -> str:
    """The catalog as people read it: each kind under a heading that says how to run it."""
    catalog = scenario_catalog(playbook)
    width = int(catalog["scenario"].str.len().max()) + 2
    rehearsals = catalog[catalog["kind"] == "rehearsal"]
    states = catalog[catalog["kind"] == "sandbox state"]
    return "\n".join([
        f"Rehearsals of {playbook}: netra-ops rehearse NAME (make rehearse SCENARIO=NAME)",
        *(f"  {row.scenario:<{width}}{row.expect:<13}{row.description}"
          for row in rehearsals.itertuples()),
        "",
        "Sandbox states: netra-ops sandbox scenario NAME (a name of both kinds is this one)",
        *(f"  {row.scenario:<{width}}{row.description}" for row in states.itertuples())])


def scenario_kind(name: str, playbook: str = REHEARSED_PLAYBOOK) -> str:
    """`sandbox state` or `rehearsal` (of `playbook`); a name that is both, such as
    `memory-leak`, is the sandbox state. ParameterError with every valid name otherwise."""
    if name in _sandbox_states():
        return "sandbox state"
    if name in _rehearsals(playbook):
        return "rehearsal"
    raise unknown_scenario(name, playbook)


def rehearsal(name: str, playbook: str = REHEARSED_PLAYBOOK) -> Scenario:
    """The rehearsal `name` of `playbook`; ParameterError pointing a sandbox state to
    `sandbox scenario`, and listing every valid name for one that is neither."""
    found = _rehearsals(playbook)
    if name in found:
        return found[name]
    if name in _sandbox_states():
        raise ParameterError(
            f"{name!r} is a sandbox state, not a rehearsal of {playbook}: stage it with "
            f"netra-ops sandbox scenario {name}, then run the playbook without --scenario; "
            f"rehearsals: {', '.join(found)}")
    raise unknown_scenario(name, playbook)


def unknown_scenario(name: str, playbook: str = REHEARSED_PLAYBOOK) -> ParameterError:
    """The error for a name that is no scenario of either kind: every valid name."""
    return ParameterError(
        f"unknown scenario {name!r}: rehearsals of {playbook} (netra-ops rehearse NAME): "
        f"{', '.join(_rehearsals(playbook))}; sandbox states (netra-ops sandbox scenario "
        f"NAME): {', '.join(_sandbox_states())}")


def stage_rehearsal(environment: Environment) -> Callable[[Scenario], None]:
    """What stages a rehearsal on the sandbox of `environment`: the APIs' behaviour it
    names, then the build (and fault variables) serving before the playbook starts."""
    def stage(chosen: Scenario) -> None:
        from netra_ops.deploy import serve_for_rehearsal

        if chosen.observability:
            from netra_ops.sandbox.google.observability import update_observability
            update_observability(environment, chosen.observability)
        if chosen.serving_image_tag:
            serve_for_rehearsal(environment, chosen.serving_image_tag, chosen.serving_env)

    return stage


def _outcome(status: str | None) -> str:
    return status.replace("_", " ").upper() if status else ""
