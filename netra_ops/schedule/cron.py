"""Cron lines equivalent to a cadence, for running the validations from an external scheduler.

Cron repeats a pattern forever; it cannot say "every 30 minutes for the first 4 hours". So:

- a phase with a duration becomes lines with absolute fields (minute, hour, day of month,
  month) that name exactly its due times, computed from the start; a guard on the year keeps
  them from firing again on the same date next year;
- the open-ended last phase becomes a repeating line (every N minutes that divide an hour,
  every N hours that divide a day, daily, or weekly) with a guard that lets it run only from
  the phase's start on: `[ "$(date +\\%s)" -ge EPOCH ] && ...`.

Times are written in this machine's local time zone, the one cron uses. Each line runs the
validation runbooks one after the other with `netra-ops run`, under `flock -n` on the
incident's `schedule.lock` (the lock `netra-ops schedule` takes), so a validation that is
still going makes cron skip the next one, as the built-in scheduler does. What cron does not
do: the escalation webhook and `schedule.json`; cron mails a failing run's output to
`MAILTO`. `%` is cron's newline, hence `\\%`.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from netra_ops.schedule.cadence import Cadence, CadenceError, Phase, format_duration

__all__ = ["cron_lines", "phase_cron_fields", "validation_command"]

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
_CRON_WEEKDAY = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 0}  # Python Monday=0 -> cron Sunday=0


def cron_lines(cadence: Cadence, start: datetime, command: str) -> list[str]:
    """Comment lines, then one or more cron lines per phase, each running `command`.

    `command` is a shell command line (not yet escaped for cron); `start` is the schedule's
    start (the deployment validated), in any time zone.
    """
    local_start = start.astimezone()
    offset = local_start.strftime("%z")
    lines = [
        f"# netra-ops validation schedule: {cadence}, from {local_start.isoformat()}",
        f"# Times are local time (UTC{offset[:3]}:{offset[3:]}), the time zone cron runs in.",
        "# Cron cannot say 'for the first 4 h': a phase with a duration is written with",
        "# absolute fields (day of month, month) and a year guard; the open-ended phase has a",
        "# guard that starts it at its begin time. flock -n skips a run while one still goes.",
        "# Escalations: cron mails failing output to MAILTO; the webhook and schedule.json are",
        "# the built-in scheduler's (netra-ops schedule).",
    ]
    for index, phase, begin, end in cadence.spans(local_start):
        lines.append(f"# phase {index + 1}: {phase.describe()}, from {begin.isoformat()}"
                     + (f" until {end.isoformat()}" if end else ""))
        lines += [f"{fields} " + (guard + command).replace("%", r"\%")
                  for fields, guard in phase_cron_fields(phase, begin, end)]
    return lines


def phase_cron_fields(phase: Phase, begin: datetime,
                      end: datetime | None) -> list[tuple[str, str]]:
    """(five cron fields, guard prefix) pairs covering a phase's due times in `begin`'s zone."""
    if phase.every % timedelta(minutes=1):
        raise CadenceError(f"cron counts in whole minutes; interval {phase} is not one; use "
                           f"the built-in scheduler (netra-ops schedule) for it")
    if end is None:
        return [(_repeating_fields(phase.every, begin), _from_guard(begin))]
    return _dated_fields(_due_times(phase.every, begin, end))


def _due_times(every: timedelta, begin: datetime, end: datetime) -> list[datetime]:
    count = -(-(end - begin) // every)
    return [begin + i * every for i in range(count)]


def _dated_fields(times: Sequence[datetime]) -> list[tuple[str, str]]:
    """Lines with absolute fields: per date, minutes that share the same hours together."""
    by_day: dict[tuple[int, int, int], dict[int, set[int]]] = defaultdict(
        lambda: defaultdict(set))
    for due in times:
        by_day[(due.year, due.month, due.day)][due.minute].add(due.hour)
    found = []
    for (year, month, day), minutes in by_day.items():
        by_hours: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for minute, hours in sorted(minutes.items()):
            by_hours[tuple(sorted(hours))].append(minute)
        for hour_list, minute_list in by_hours.items():
            fields = f"{_list(minute_list)} {_list(hour_list)} {day} {month} *"
            found.append((fields, f'[ "$(date +%Y)" = {year} ] && '))
    return found


def _repeating_fields(every: timedelta, begin: datetime) -> str:
    """Fields of a line due every `every` through `begin` (minutes | hours | 1 day | 1 week)."""
    minute, hour = begin.minute, begin.hour
    if every < _HOUR and _HOUR % every == timedelta(0):
        step = int(every.total_seconds()) // 60
        return f"{_list(range(minute % step, 60, step))} * * * *"
    if every < _DAY and _DAY % every == timedelta(0):
        step = int(every.total_seconds()) // 3600
        if every % _HOUR == timedelta(0):
            hours = "*" if step == 1 else _list(range(hour % step, 24, step))
            return f"{minute} {hours} * * *"
    if every == _DAY:
        return f"{minute} {hour} * * *"
    if every == _WEEK:
        return f"{minute} {hour} * * {_CRON_WEEKDAY[begin.weekday()]}"
    raise CadenceError(f"an open-ended phase every {format_duration(every)} has no cron "
                       f"equivalent (cron repeats within an hour, a day or a week: use an "
                       f"interval dividing 60 minutes or 24 hours, 1d or 1w), or use the "
                       f"built-in scheduler (netra-ops schedule)")


def _from_guard(begin: datetime) -> str:
    return f'[ "$(date +%s)" -ge {int(begin.timestamp())} ] && '


def _list(values: Sequence[int] | range) -> str:
    """Cron list text: 14,15,16,17 -> 14-17; 0,2,...,22 -> 0-22/2; else comma separated."""
    items = list(values)
    steps = {b - a for a, b in pairwise(items)}
    if len(items) > 2 and len(steps) == 1:
        step = steps.pop()
        return f"{items[0]}-{items[-1]}" + (f"/{step}" if step > 1 else "")
    return ",".join(str(i) for i in items)


def validation_command(validations: Sequence[tuple[str, Mapping[str, Any]]], *,
                       environment: str, incident: str, outputs: Path, lock: Path,
                       cell_timeout_s: float | None = None, deadline_s: float | None = None,
                       python: str = sys.executable, workdir: Path | None = None) -> str:
    """The shell command one cron line runs: `cd`, make the incident folder, `flock -n LOCK`,
    then one `netra-ops run` per (runbook, parameters), in order, each its own record
    whatever the others' outcome."""
    runs = []
    for runbook, parameters in validations:
        argv = [python, "-m", "netra_ops", "run", runbook, "--env", environment,
                "--incident", incident, "--outputs", str(outputs)]
        argv += [f"--cell-timeout={cell_timeout_s:g}"] if cell_timeout_s else []
        argv += [f"--deadline={deadline_s:g}"] if deadline_s else []
        for key, value in parameters.items():
            argv += ["-p", f"{key}={json.dumps(value)}"]
        runs.append(shlex.join(argv))
    folder, lock_file = shlex.quote(str(workdir or Path.cwd())), shlex.quote(str(lock))
    return (f"cd {folder} && mkdir -p {shlex.quote(str(lock.parent))} && flock -n {lock_file} "
            f"sh -c {shlex.quote('; '.join(runs))}")
