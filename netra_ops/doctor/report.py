"""What `doctor` found: one row per check, each pass / fail / skipped, with the fix in words.

A row never hides a problem behind a colour: its status is a word, its detail says what was
seen, and a row that did not pass says what to do. `DoctorReport` renders as a table for a
terminal, as JSON for scripts and as a frame for notebooks.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd

from netra_ops.checks import STATUSES, Check

__all__ = ["DoctorReport"]

_WIDTH = 120
_COLUMNS = ["name", "status", "detail", "fix"]


@dataclass(frozen=True)
class DoctorReport:
    """Every check of one environment, in the order they ran."""

    environment: str
    checks: tuple[Check, ...]
    project: str | None = None
    region: str | None = None
    kind: str | None = None
    source: str | None = None
    principal: str | None = None

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        """The failed checks."""
        return tuple(check for check in self.checks if check.status == "fail")

    def check(self, name: str) -> Check:
        """The row of that name; KeyError names the rows there are."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r}; checks are {', '.join(c.name for c in self.checks)}")

    def counts(self) -> dict[str, int]:
        """How many rows of each status."""
        counted = Counter(check.status for check in self.checks)
        return {status: counted.get(status, 0) for status in STATUSES}

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, status, detail, fix."""
        return pd.DataFrame([_fields(c) for c in self.checks], columns=_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the environment, `ok`, the counts and every check."""
        return {"environment": self.environment, "project": self.project,
                "region": self.region, "kind": self.kind, "source": self.source,
                "principal": self.principal, "ok": self.ok, "counts": self.counts(),
                "checks": [_fields(c) for c in self.checks]}

    def to_text(self, width: int = _WIDTH) -> str:
        """The table a terminal shows: status, check, detail; the fix under each row that
        did not pass; the counts last."""
        where = ", ".join(p for p in (self.project, self.region) if p)
        names = max((len(c.name) for c in self.checks), default=5) + 2
        lines = [f"doctor: environment {self.environment}" + (f" ({where})" if where else "")
                 + (f", file {self.source}" if self.source else ""), "",
                 f"{'STATUS':<8}{'CHECK':<{names}}DETAIL"]
        for check in self.checks:
            lines += _row_lines(check, names, width)
        counts = self.counts()
        lines += ["", f"doctor: {counts['pass']} pass, {counts['fail']} fail, "
                      f"{counts['skipped']} skipped"]
        return "\n".join(lines)


def _fields(check: Check) -> dict[str, str]:
    return {"name": check.name, "status": check.status, "detail": check.detail,
            "fix": check.fix}


def _row_lines(check: Check, names: int, width: int) -> list[str]:
    indent = " " * (8 + names)
    detail = _wrap(check.detail, width - len(indent)) or [""]
    lines = [f"{check.status.upper():<8}{check.name:<{names}}{detail[0]}"]
    lines += [indent + more for more in detail[1:]]
    if check.fix and check.status != "pass":
        lines += [indent + part for part in _wrap("fix: " + check.fix, width - len(indent))]
    return lines


def _wrap(text: str, width: int) -> list[str]:
    """Wrapped at spaces only: commands, URLs and permission names stay whole."""
    return textwrap.wrap(text, max(width, 40), break_long_words=False, break_on_hyphens=False)
