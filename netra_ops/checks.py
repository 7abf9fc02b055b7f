"""One check row for every verdict, and the one table runbooks show of them.

Every layer that judges something says so with `Check` rows: deploy's verification and
preflight, doctor's checkup, the probes' drift and dependencies, the success criteria, a
load run, a watch, the incident summary. One naming convention:

- a result's `checks` (an attribute, or a method when it needs inputs) are its rows;
- a function that judges something is `<what>_checks(...)` and returns rows;
- `checks_table(rows)` is the one table of them, the columns `netra_ops.record.verdict`
  shows: `criterion`, `value`, `threshold`, `passed`, `detail`.

A check without a threshold is judged pass/fail: its table row shows `pass` or `fail`
against the threshold `pass`. A check with a threshold shows the value it measured (None
when nothing was measured) against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHECK_COLUMNS", "STATUSES", "Check", "Status", "checks_table", "skipped"]

Status = Literal["pass", "fail", "skipped"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "skipped")
CHECK_COLUMNS = ("criterion", "value", "threshold", "passed", "detail")


@dataclass(frozen=True)
class Check:
    """One check: what was checked (`name`), whether it passed, and the evidence.

    `value` and `threshold` are what was measured and what it was judged against (both None
    for a plain pass/fail check). The rest is evidence some checks carry: how long the check
    took (`seconds`), a command's `exit_code` and the tail of its `output`, and what to do
    when it did not pass (`fix`). A `skipped` check was not made; it does not fail. `unit`
    names the unit of a numeric `value` (`bytes`, `ms`, `s`, `ratio`, ...: see
    `netra_ops.display`), so that tables show it as 51.2 MiB rather than 53688613.
    """

    name: str
    ok: bool
    detail: str = ""
    value: Any = None
    threshold: Any = None
    seconds: float | None = None
    skipped: bool = False
    fix: str = ""
    exit_code: int | None = None
    output: str = field(default="", repr=False)
    unit: str = ""

    @property
    def status(self) -> Status:
        """`pass`, `fail` or `skipped`, in words."""
        return "skipped" if self.skipped else "pass" if self.ok else "fail"

    def row(self) -> dict[str, Any]:
        """The check as a row of `checks_table`; a failed check's detail ends with its fix,
        so that a runbook's table and its verdict say what to do."""
        detail = self.detail
        if self.fix and not self.ok and not self.skipped:
            detail = f"{detail}; fix: {self.fix}" if detail else f"fix: {self.fix}"
        judged = self.threshold is None  # pass/fail against "pass"
        return {"criterion": self.name,
                "value": ("pass" if self.ok else "fail") if judged else self.value,
                "threshold": "pass" if judged else self.threshold,
                "passed": bool(self.ok), "detail": detail}


def skipped(name: str, reason: str, fix: str = "") -> Check:
    """A check that was not made, and why (it does not fail)."""
    return Check(name, True, reason, skipped=True, fix=fix)


def checks_table(checks: Iterable[Check]) -> pd.DataFrame:
    """One row per check: criterion, value, threshold, passed, detail (what
    `netra_ops.record.verdict` shows). The checks' units are the frame's
    `attrs["row_units"]` (row label to unit), for `netra_ops.display`."""
    import pandas as pd

    rows = list(checks)
    table = pd.DataFrame([check.row() for check in rows], columns=list(CHECK_COLUMNS))
    units = {i: check.unit for i, check in enumerate(rows) if check.unit}
    if units:
        table.attrs["row_units"] = units
    return table
