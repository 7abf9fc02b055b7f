"""Progress displays: log lines headless, a bar by request, chosen by name (no network)."""

from __future__ import annotations

import logging

import pytest

from netra_ops.errors import ConfigError
from netra_ops.load.progress import (
    BarProgress,
    LogProgress,
    NoProgress,
    ProgressSnapshot,
    make_progress,
)

SNAPSHOT = ProgressSnapshot(elapsed_s=12.4, duration_s=300, turns=2400, failed=3,
                            in_flight=10, queued=2, turns_per_s=198.04, p95_ms=31.2)


def test_a_snapshot_reads_as_one_line() -> None:
    assert SNAPSHOT.line() == ("12/300 s: 2400 turns, 3 failed, 198.0 turns/s, p95 31 ms, "
                               "10 in flight, 2 waiting for a connection")


def test_headless_runs_log_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="netra_ops.load")
    progress = LogProgress(interval_s=3600)
    progress.start("closed model: 10 users for 300 s against sandbox", 300)
    progress.update(SNAPSHOT)
    progress.close("2400 turns")
    assert [r.getMessage() for r in caplog.records] == [
        "load test started: closed model: 10 users for 300 s against sandbox",
        "load test finished: 2400 turns"]
    logging_now = LogProgress(interval_s=0)
    logging_now.start("x", 1)
    logging_now.update(SNAPSHOT)
    assert caplog.records[-1].getMessage() == f"load test {SNAPSHOT.line()}"


def test_progress_is_chosen_by_name() -> None:
    assert isinstance(make_progress("auto"), LogProgress)  # not in a Jupyter kernel
    assert isinstance(make_progress("bar"), BarProgress)
    assert isinstance(make_progress("none"), NoProgress)
    mine = NoProgress()
    assert make_progress(mine) is mine
    with pytest.raises(ConfigError, match="progress must be auto, bar, log, none"):
        make_progress("fancy")  # type: ignore[arg-type]
