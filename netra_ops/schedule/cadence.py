"""A validation cadence: phases of "every INTERVAL for DURATION", and the due times they give.

The seed's "Validation Schedule" is the default: every 30 minutes for the first 4 hours, every
2 hours for the next 20 hours, then every 24 hours. Written as text:

    30m for 4h, 2h for 20h, 1d

Phases follow one another from the schedule's start (the deployment being validated). A phase
is due at its own start and then every interval while it lasts, so the default is due at
+0:00, +0:30 ... +3:30 (8 runs), +4:00, +6:00 ... +22:00 (10 runs), +24:00, +48:00 ... Only
the last phase may omit "for DURATION" (it then lasts until the scheduler is stopped); a
cadence whose phases all have a duration ends. Durations are numbers with a unit (`s`, `m`,
`h`, `d`, `w`), combinable (`1h30m`); a leading `every` is allowed (`every 30m for 4h`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from netra_ops.errors import CadenceError

__all__ = [
    "DEFAULT_CADENCE",
    "Cadence",
    "CadenceError",
    "Phase",
    "format_duration",
    "parse_cadence",
    "parse_duration",
]

DEFAULT_CADENCE = "30m for 4h, 2h for 20h, 1d"
"""The seed's Validation Schedule."""

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)\s*([wdhms]))", re.IGNORECASE)
_PHASE = re.compile(r"^(?:every\s+)?(?P<every>\S.*?)(?:\s+for\s+(?P<lasting>\S.*))?$",
                    re.IGNORECASE)
_EXAMPLE = f"e.g. --cadence {DEFAULT_CADENCE!r}"


def parse_duration(text: str) -> timedelta:
    """`"30m"` -> 30 minutes; `"1h30m"`, `"2d"`, `"45s"` likewise; CadenceError otherwise."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise CadenceError(f"duration {text!r} is not a number with a unit (s, m, h, d, w), "
                           f"like 30m, 2h or 1h30m; {_EXAMPLE}")
    seconds = sum(int(number) * _UNITS[unit.lower()] for number, unit in parts)
    if seconds <= 0:
        raise CadenceError(f"duration {text!r} must be longer than zero; {_EXAMPLE}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest text `parse_duration` reads back: 4 hours -> "4h", 90 minutes -> "1h30m"."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Phase:
    """Due every `every`, for `lasting` (None: until the scheduler is stopped)."""

    every: timedelta
    lasting: timedelta | None = None

    def __str__(self) -> str:
        text = format_duration(self.every)
        return f"{text} for {format_duration(self.lasting)}" if self.lasting else text

    def describe(self) -> str:
        """Words for logs and comments: "every 30m for 4h"."""
        return f"every {self}" if self.lasting else f"every {self} from then on"


@dataclass(frozen=True)
class Cadence:
    """Phases that follow one another from a start time; see the module docstring."""

    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if not self.phases:
            raise CadenceError(f"a cadence needs at least one phase; {_EXAMPLE}")
        if any(p.lasting is None for p in self.phases[:-1]):
            raise CadenceError("only the last phase of a cadence may run without 'for "
                               f"DURATION'; {_EXAMPLE}")

    def __str__(self) -> str:
        return ", ".join(str(p) for p in self.phases)

    @property
    def lasting(self) -> timedelta | None:
        """How long the whole cadence lasts (None: until stopped)."""
        if self.phases[-1].lasting is None:
            return None
        return sum((p.lasting for p in self.phases if p.lasting), timedelta())

    def spans(self, start: datetime) -> Iterator[tuple[int, Phase, datetime, datetime | None]]:
        """(index, phase, begin, end) of each phase for a schedule started at `start`."""
        begin = start
        for index, phase in enumerate(self.phases):
            end = begin + phase.lasting if phase.lasting else None
            yield index, phase, begin, end
            if end is None:
                return
            begin = end

    def phase_of(self, start: datetime, due: datetime) -> int:
        """The index of the phase a due time belongs to (the last one if past them all)."""
        for index, _, begin, end in self.spans(start):
            if begin <= due and (end is None or due < end):
                return index
        return len(self.phases) - 1

    def next_due(self, start: datetime, after: datetime | None = None) -> datetime | None:
        """The first due time strictly after `after` (from `start` on if None); None when
        the cadence has ended."""
        for _, phase, begin, end in self.spans(start):
            candidate = _first_at_or_after(begin, phase.every, after)
            if end is None or candidate < end:
                return candidate
        return None

    def due_between(self, start: datetime, after: datetime | None,
                    until: datetime) -> list[datetime]:
        """Every due time in (`after`, `until`], oldest first (`after` None: from `start`)."""
        found = []
        due = self.next_due(start, after)
        while due is not None and due <= until:
            found.append(due)
            due = self.next_due(start, due)
        return found

    def due_times(self, start: datetime, limit: int) -> list[datetime]:
        """The first `limit` due times (fewer if the cadence ends first)."""
        found: list[datetime] = []
        due = self.next_due(start)
        while due is not None and len(found) < limit:
            found.append(due)
            due = self.next_due(start, due)
        return found

    def describe(self, start: datetime) -> list[str]:
        """One line per phase: its interval, its span, and how many runs it holds."""
        lines = []
        for index, phase, begin, end in self.spans(start):
            count = "" if end is None else \
                f" ({math.ceil((end - begin) / phase.every)} runs)"
            until = f" until {end.isoformat()}" if end else ""
            lines.append(f"phase {index + 1}: {phase.describe()}, from {begin.isoformat()}"
                         f"{until}{count}")
        return lines


def _first_at_or_after(begin: datetime, every: timedelta, after: datetime | None) -> datetime:
    """The first of begin, begin+every, ... strictly after `after` (begin if None/earlier)."""
    if after is None or after < begin:
        return begin
    steps = (after - begin) // every + 1
    return begin + steps * every


def parse_cadence(text: str) -> Cadence:
    """A Cadence from its text (`"30m for 4h, 2h for 20h, 1d"`); CadenceError if malformed."""
    phases = []
    for part in text.split(","):
        match = _PHASE.match(part.strip())
        if not part.strip() or match is None:
            raise CadenceError(f"cadence {text!r}: empty phase; phases are 'INTERVAL for "
                               f"DURATION' separated by commas; {_EXAMPLE}")
        every = parse_duration(match["every"])
        lasting = parse_duration(match["lasting"]) if match["lasting"] else None
        phases.append(Phase(every, lasting))
    return Cadence(tuple(phases))
