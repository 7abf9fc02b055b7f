"""The runbooks a scheduled validation runs, each with its own parameters, checked up front.

A scheduled validation runs its runbooks one after the other (default: the Golden Path
validation, then monitoring), each into its own record of the incident. Parameters are given
once for all of them, as `netra-ops run` on a playbook takes them: `key=value` goes to every
runbook that declares `key`, `RUNBOOK.key=value` to that runbook only. Everything is checked
when the schedule starts (runbooks exist, each parameter is declared by some runbook and has
a fitting type, no secret), so a typo fails at once, not at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netra_ops.errors import ParameterError
from netra_ops.record.parameters import (
    check_against_runbook,
    check_parameters,
    check_scoped_parameters,
    declared_parameters,
    parameters_for,
)
from netra_ops.record.runner import find_runbook

__all__ = ["DEFAULT_RUNBOOKS", "Validation", "plan_validations"]

DEFAULT_RUNBOOKS = ("04_golden_path_validation", "07_monitoring")
"""Seed 3.1-3.2 (the Golden Path) and post-deployment monitoring (the rollback triggers)."""


@dataclass(frozen=True)
class Validation:
    """One runbook of a scheduled validation: its name, file and parameters."""

    runbook: str
    source: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)


def plan_validations(runbooks: Sequence[str],
                     overrides: Mapping[str, Any] | None = None) -> tuple[Validation, ...]:
    """The runbooks found and their parameters chosen and checked; see the module docstring.

    NotebookNotFoundError for an unknown runbook; ParameterError for a parameter no runbook
    takes, a wrong type, or a secret.
    """
    if not runbooks:
        raise ParameterError("a scheduled validation needs at least one runbook, e.g. "
                             f"--runbooks {','.join(DEFAULT_RUNBOOKS)}")
    sources = [find_runbook(name) for name in runbooks]
    declared = {source.stem: declared_parameters(source) for source in sources}
    check_scoped_parameters(overrides or {}, declared, "the scheduled runbooks")
    plan = []
    for source in sources:
        chosen = parameters_for(source.stem, overrides or {}, declared[source.stem])
        check_against_runbook(source, check_parameters(chosen))
        plan.append(Validation(source.stem, source, chosen))
    return tuple(plan)

