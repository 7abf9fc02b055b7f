"""Cadence text and due times: the seed's schedule by default, others as configured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from schedule_fakes import START

from netra_ops.schedule import DEFAULT_CADENCE, CadenceError, Phase, parse_cadence, parse_duration

H = timedelta(hours=1)
M = timedelta(minutes=1)


def test_the_default_is_the_seeds_validation_schedule() -> None:
    cadence = parse_cadence(DEFAULT_CADENCE)
    assert cadence.phases == (Phase(30 * M, 4 * H), Phase(2 * H, 20 * H), Phase(24 * H))
    dues = cadence.due_times(START, 21)
    offsets = [(d - START) / H for d in dues]
    assert offsets == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5,        # every 30 min for 4 h
                       4, 6, 8, 10, 12, 14, 16, 18, 20, 22,   # every 2 h for 20 h
                       24, 48, 72]                             # then daily
    assert [cadence.phase_of(START, d) for d in dues] == [0] * 8 + [1] * 10 + [2] * 3
    assert cadence.lasting is None and str(cadence) == DEFAULT_CADENCE


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", 30 * M), ("2h", 2 * H), ("1d", 24 * H), ("1w", 7 * 24 * H), ("45s", M * 0.75),
    ("1h30m", 90 * M), (" 1h 30m ", 90 * M), ("90M", 90 * M)])
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty phase"), ("30", "not a number with a unit"), ("30x for 4h", "'30x'"),
    ("0m", "longer than zero"), ("30m for 4h,, 1d", "empty phase"),
    ("30m, 2h for 20h", "only the last phase"), ("-5m", "not a number with a unit"),
    ("30m for", "not a number with a unit")])
def test_malformed_cadences_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(CadenceError, match=message) as caught:
        parse_cadence(text)
    assert "--cadence" in str(caught.value)


def test_every_keyword_and_round_trip() -> None:
    cadence = parse_cadence("every 45m for 1h30m, every 1h30m for 3h")
    assert str(cadence) == "45m for 1h30m, 1h30m for 3h"
    assert parse_cadence(str(cadence)) == cadence


def test_a_finite_cadence_ends_and_uneven_phases_start_on_time() -> None:
    cadence = parse_cadence("45m for 2h, 1h for 2h")
    offsets = [(d - START) / M for d in cadence.due_times(START, 100)]
    assert offsets == [0, 45, 90, 120, 180]  # phase 2 starts at 2 h, not at 135 min
    assert cadence.lasting == 4 * H
    assert cadence.next_due(START, START + 3 * H) is None


def test_next_due_is_strictly_after_and_due_between_is_half_open() -> None:
    cadence = parse_cadence(DEFAULT_CADENCE)
    assert cadence.next_due(START) == START
    assert cadence.next_due(START, START) == START + 30 * M
    assert cadence.next_due(START, START + 29 * M) == START + 30 * M
    assert cadence.next_due(START, START + 3 * H + 45 * M) == START + 4 * H
    assert cadence.next_due(START, START + 30 * H) == START + 48 * H
    assert cadence.due_between(START, START, START + 90 * M) == [
        START + 30 * M, START + 60 * M, START + 90 * M]
    assert cadence.due_between(START, None, START) == [START]
    assert cadence.due_between(START, START + 90 * M, START + 100 * M) == []


def test_describe_counts_the_runs_of_each_phase() -> None:
    lines = parse_cadence(DEFAULT_CADENCE).describe(START)
    assert lines[0].startswith("phase 1: every 30m for 4h, from 2025-01-11T14:10:00+00:00")
    assert lines[0].endswith("(8 runs)") and lines[1].endswith("(10 runs)")
    assert lines[2] == "phase 3: every 1d from then on, from 2025-01-12T14:10:00+00:00"
