"""Success criteria (seed "Critical Success Metrics") evaluated against measured values."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from netra_ops.config import Criterion, Environment

__all__ = ["evaluate_criteria"]

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
COLUMNS = ["criterion", "description", "section", "metric", "value", "comparison",
           "threshold", "unit", "state", "passed", "detail"]


def evaluate_criteria(
    env: Environment,
    values: Mapping[str, float | int | None],
    names: Iterable[str] | None = None,
    details: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per criterion: value, threshold, state `pass` / `fail` / `no data`.

    `values` maps metric names (as the environment's criteria name them) to what was
    measured. `names` picks criteria; by default every criterion whose metric was measured.
    A criterion without a value is `no data`, and `passed` is False: never silently ok.
    `details` adds evidence text per criterion name (what was missing, the error seen).
    """
    chosen = ([env.criterion(n) for n in names] if names is not None
              else [c for c in env.success_criteria if c.metric in values])
    notes = details or {}
    rows = [_row(c, values.get(c.metric), notes.get(c.name, "")) for c in chosen]
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(criterion: Criterion, value: float | int | None, detail: str) -> dict[str, Any]:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    passed = (not missing and value is not None
              and _COMPARE[criterion.comparison](float(value), criterion.threshold))
    return {
        "criterion": criterion.name, "description": criterion.description,
        "section": criterion.section, "metric": criterion.metric,
        "value": None if missing else value, "comparison": criterion.comparison,
        "threshold": criterion.threshold, "unit": criterion.unit,
        "state": "no data" if missing else ("pass" if passed else "fail"), "passed": passed,
        "detail": detail,
    }
