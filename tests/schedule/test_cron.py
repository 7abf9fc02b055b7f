"""`--print-cron`: lines that fire exactly at the cadence's due times, checked by a small
cron evaluator minute by minute, in a local time zone that is not UTC; and the command of a
line, run by a real shell, makes a record (or, while the lock is held, is skipped)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from schedule_fakes import NOTEBOOKS, START

from netra_ops.schedule import (
    DEFAULT_CADENCE,
    CadenceError,
    Schedule,
    ScheduleLock,
    parse_cadence,
    plan_validations,
    schedule_cron,
)
from netra_ops.schedule.cron import cron_lines

_LINE = re.compile(r"^(?P<fields>(?:\S+ ){5})(?P<guard>\[ [^]]+ \] && )(?P<command>.+)$")


@pytest.fixture
def kolkata(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time UTC+05:30, so a 14:10 UTC start is 19:40 local and phases cross midnight."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _values(field: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        first, last = (low, high) if base == "*" else (
            (int(base.split("-")[0]), int(base.split("-")[-1])))
        found |= set(range(first, last + 1, int(step or 1)))
    return found


def _fires(line: str, when: datetime) -> bool:
    """Whether cron (and the line's guard) runs `line` at local time `when`."""
    match = _LINE.match(line)
    assert match, line
    minute, hour, day, month, weekday = match["fields"].split()
    if not (when.minute in _values(minute, 0, 59) and when.hour in _values(hour, 0, 23)
            and when.day in _values(day, 1, 31) and when.month in _values(month, 1, 12)
            and (when.isoweekday() % 7) in _values(weekday, 0, 6)):
        return False
    guard = match["guard"].replace("\\%", "%")
    if year := re.search(r'"\$\(date \+%Y\)" = (\d+)', guard):
        return when.year == int(year[1])
    epoch = re.search(r'"\$\(date \+%s\)" -ge (\d+)', guard)
    assert epoch, guard
    return when.timestamp() >= int(epoch[1])


def _fire_times(lines: list[str], begin: datetime, minutes: int) -> list[datetime]:
    """Every minute from `begin` at which a line fires (never two lines at once)."""
    jobs = [line for line in lines if not line.startswith("#")]
    found = []
    for when in (begin.astimezone() + timedelta(minutes=i) for i in range(minutes)):
        firing = [line for line in jobs if _fires(line, when)]
        assert len(firing) <= 1, f"{len(firing)} lines fire at {when}"
        found += [when] if firing else []
    return found


@pytest.mark.parametrize("cadence", [DEFAULT_CADENCE, "45m for 4h, 2h for 20h, 1d",
                                     "15m for 1h, 3h for 1d, 1w", "20m for 1h, 6h",
                                     "10m for 1h, 1h"])
def test_cron_lines_fire_exactly_at_the_due_times(kolkata: None, cadence: str) -> None:
    parsed = parse_cadence(cadence)
    lines = cron_lines(parsed, START, "netra-ops run x")
    begin, minutes = START - timedelta(hours=1), 9 * 24 * 60
    expected = [d for d in parsed.due_times(START, 500) if d < begin + timedelta(minutes=minutes)]
    assert _fire_times(lines, begin, minutes) == expected
    assert "(UTC+05:30)" in lines[1]


def test_finite_phases_do_not_fire_again_next_year(kolkata: None) -> None:
    lines = cron_lines(parse_cadence("30m for 4h, 2h for 20h"), START, "true")
    next_year = START.replace(year=2026) - timedelta(hours=1)
    assert _fire_times(lines, next_year, 2 * 24 * 60) == []


def test_the_default_schedule_reads_as_the_seed_says(kolkata: None) -> None:
    lines = cron_lines(parse_cadence(DEFAULT_CADENCE), START, "cmd 50%")
    jobs = [line for line in lines if not line.startswith("#")]
    assert jobs[0] == '10 20-23 11 1 * [ "$(date +\\%Y)" = 2025 ] && cmd 50\\%'
    assert jobs[1].startswith("40 19-22 11 1 * ")
    assert jobs[-1].startswith("40 19 * * * ")  # daily, guarded to start a day later
    assert f"-ge {int((START + timedelta(days=1)).timestamp())} ]" in jobs[-1]
    assert any("cannot say 'for the first 4 h'" in line for line in lines)


@pytest.mark.parametrize("cadence", ["45m for 4h, 90m", "30m for 1h, 5h", "10s", "2d"])
def test_open_ended_intervals_cron_cannot_repeat_are_refused(cadence: str) -> None:
    with pytest.raises(CadenceError, match=r"cron|whole minutes"):
        cron_lines(parse_cadence(cadence), START, "true")


@pytest.mark.slow
def test_a_cron_line_runs_the_validation_and_flock_skips_it_while_locked(
        env_file: Path, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    plan = Schedule(incident="INC-cron", environment=str(env_file),
                    validations=plan_validations([str(NOTEBOOKS / "ok.ipynb")], {"runs": 2}),
                    cadence=parse_cadence("5m"), start=START, outputs_dir=outputs)
    line = schedule_cron(plan, START)[-1]
    match = _LINE.match(line)
    assert match and match["fields"] == "0-55/5 * * * * "
    command = (match["guard"] + match["command"]).replace("\\%", "%")

    with ScheduleLock(outputs / "INC-cron"):
        skipped = subprocess.run(["sh", "-c", command], capture_output=True, timeout=60)
    assert skipped.returncode == 1 and sorted(p.name for p in (outputs / "INC-cron").iterdir()) \
        == []

    ran = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    summaries = list((outputs / "INC-cron").glob("*-ok/summary.json"))
    assert len(summaries) == 1
    summary = json.loads(summaries[0].read_text())
    assert summary["status"] == "passed" and summary["parameters"] == {"runs": 2}
