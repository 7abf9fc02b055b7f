"""Reading the sandbox's logs incrementally, and sampling real revision processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from netra_ops.errors import SandboxError
from netra_ops.sandbox.runtime.telemetry import (
    ContainerLogs,
    ProcessSampler,
    RequestLog,
    ResourceSample,
    format_timestamp,
    parse_cpu_quantity,
    parse_memory_quantity,
    read_revisions,
    timestamp_us,
)

T0 = "2025-01-31T12:00:00.000000Z"
T0_US = 1738324800000000


def request_line(offset_s: float, status: int = 200, revision: str | None = "svc-00001-abc",
                 **extra: Any) -> str:
    data = {
        "timestamp": format_timestamp(T0_US + int(offset_s * 1_000_000)),
        "service": "svc", "revision": revision, "method": "GET",
        "url": "http://127.0.0.1:18080/health", "path": "/health", "status": status,
        "latency_s": 0.012, "protocol": "HTTP/1.1", "remote_ip": "127.0.0.1",
        "user_agent": "probe/1", "response_size": 120, **extra,
    }
    return json.dumps(data) + "\n"


def append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture()
def requests_file(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "requests.jsonl"


# -- quantities and revisions.json ---------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), (1024, 1024), (1.5e9, 1_500_000_000), ("512Mi", 512 * 2**20),
    ("4Gi", 4 * 2**30), ("1G", 10**9), ("1.5Gi", int(1.5 * 2**30)), ("2048", 2048),
    ("100k", 100_000),
])
def test_memory_quantities(value: Any, expected: int | None) -> None:
    assert parse_memory_quantity(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (4, 4.0), (0.5, 0.5), ("1", 1.0), ("2.5", 2.5), ("500m", 0.5),
])
def test_cpu_quantities(value: Any, expected: float | None) -> None:
    assert parse_cpu_quantity(value) == expected


@pytest.mark.parametrize("bad", ["4 gigs", "Gi", True, "-1Gi"])
def test_bad_memory_quantity_is_refused(bad: Any) -> None:
    with pytest.raises(SandboxError, match="memory limit"):
        parse_memory_quantity(bad)


def test_bad_cpu_quantity_is_refused() -> None:
    with pytest.raises(SandboxError, match="cpu limit"):
        parse_cpu_quantity("2 cores")


def test_read_revisions_accepts_the_platform_shape(tmp_path: Path) -> None:
    assert read_revisions(tmp_path) == []
    (tmp_path / "revisions.json").write_text(json.dumps({
        "service": "svc", "traffic": [],
        "revisions": [
            {"name": "svc-00001-abc", "pid": 123, "state": "ready", "memory_limit": "4Gi",
             "cpu_limit": "4", "create_time": 1700000000.5},
            {"name": "svc-00002-def", "pid": None, "state": "failed",
             "memory_limit": 536870912, "cpu_limit": 1.0},
            {"pid": 9},  # no name: skipped
        ],
    }))
    first, second = read_revisions(tmp_path)
    assert (first.name, first.pid, first.memory_limit_bytes, first.cpu_limit) == (
        "svc-00001-abc", 123, 4 * 2**30, 4.0)
    assert first.create_time == 1700000000.5 and first.active
    assert second.memory_limit_bytes == 512 * 2**20 and not second.active


def test_read_revisions_accepts_a_bare_list_and_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "revisions.json"
    path.write_text(json.dumps([{"name": "r1", "pid": 5, "state": "ready"}]))
    [revision] = read_revisions(tmp_path)
    assert (revision.name, revision.pid, revision.memory_limit_bytes) == ("r1", 5, None)
    path.write_text(json.dumps({"revisions": {"r1": {}}}))
    with pytest.raises(SandboxError, match="should be a list"):
        read_revisions(tmp_path)
    path.write_text("{not json")
    with pytest.raises(SandboxError, match="not valid JSON"):
        read_revisions(tmp_path)


# -- request log ---------------------------------------------------------------------------

def test_timestamps_round_trip() -> None:
    assert timestamp_us(T0) == T0_US
    assert format_timestamp(T0_US + 1) == "2025-01-31T12:00:00.000001Z"
    assert timestamp_us("2025-01-31T14:00:00+02:00") == T0_US


def test_request_log_reads_incrementally(tmp_path: Path, requests_file: Path) -> None:
    log = RequestLog(tmp_path)
    assert log.records() == []
    append(requests_file, request_line(0) + request_line(1, 500))
    first = log.records()
    assert [(r.status, r.time_us) for r in first] == [(200, T0_US), (500, T0_US + 1_000_000)]
    assert first[0].latency_s == 0.012 and first[0].revision == "svc-00001-abc"
    append(requests_file, request_line(2, 404, revision=None)[:40])  # a line being written
    assert len(log.records()) == 2
    append(requests_file, request_line(2, 404, revision=None)[40:])
    records = log.records()
    assert [r.status for r in records] == [200, 500, 404]
    assert records[2].revision is None
    assert records[:2] == first  # same objects, same ids: nothing re-parsed differently


def test_request_log_ids_are_stable_and_lines_are_sorted(tmp_path: Path,
                                                         requests_file: Path) -> None:
    append(requests_file, request_line(5) + request_line(1) + "not json\n"
           + '{"timestamp": "bad"}\n' + request_line(3) + "\n")
    log = RequestLog(tmp_path)
    records = log.records()
    assert [r.time_us - T0_US for r in records] == [1_000_000, 3_000_000, 5_000_000]
    assert log.skipped_lines == 2
    again = RequestLog(tmp_path).records()
    assert [r.insert_id for r in again] == [r.insert_id for r in records]
    assert len({r.insert_id for r in records}) == 3
    window = log.records(T0_US + 1_000_000, T0_US + 3_000_000)  # inclusive both ends
    assert [r.time_us - T0_US for r in window] == [1_000_000, 3_000_000]


def test_request_log_starts_over_when_the_file_is_replaced(tmp_path: Path,
                                                          requests_file: Path) -> None:
    append(requests_file, request_line(0) + request_line(1) + request_line(2))
    log = RequestLog(tmp_path)
    assert len(log.records()) == 3
    replacement = requests_file.with_suffix(".new")
    replacement.write_text(request_line(9, 503))
    os.replace(replacement, requests_file)
    assert [r.status for r in log.records()] == [503]
    requests_file.write_text("")  # truncated in place
    assert log.records() == []
    requests_file.unlink()
    assert log.records() == []


def test_request_log_is_safe_across_threads(tmp_path: Path, requests_file: Path) -> None:
    log = RequestLog(tmp_path)
    counts: list[int] = []

    def reader() -> None:
        for _ in range(50):
            counts.append(len(log.records()))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(200):
        append(requests_file, request_line(i))
    for thread in threads:
        thread.join()
    assert len(log.records()) == 200
    assert all(0 <= n <= 200 for n in counts)


# -- container logs ------------------------------------------------------------------------

def test_container_logs_json_and_text_lines(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "revisions" / "svc-00001-abc.log"
    append(log_file, json.dumps({"severity": "INFO", "message": "started",
                                 "timestamp": T0, "logger": "netra"}) + "\n")
    append(log_file, json.dumps({"severity": "warn", "message": "slow",
                                 "timestamp": "2025-01-31T12:00:02Z"}) + "\n")
    append(log_file, "Traceback (most recent call last):\n")
    append(log_file, json.dumps({"message": "no severity", "timestamp": "nope"}) + "\n")
    logs = ContainerLogs(tmp_path)
    records = logs.records()
    by_text = {r.text_payload or r.json_payload["message"]: r for r in records}  # type: ignore[index]
    started = by_text["started"]
    assert started.severity == "INFO" and started.time_us == T0_US
    assert started.json_payload == {"message": "started", "logger": "netra"}
    assert by_text["slow"].severity == "WARNING"
    traceback = by_text["Traceback (most recent call last):"]
    assert traceback.severity == "DEFAULT" and traceback.json_payload is None
    assert traceback.time_us == T0_US + 2_000_000  # the last timestamped line's time
    assert by_text["no severity"].severity == "DEFAULT"
    assert [r.insert_id for r in ContainerLogs(tmp_path).records()] == [
        r.insert_id for r in records]


def test_container_logs_find_new_revisions_and_plain_first_lines(tmp_path: Path) -> None:
    logs = ContainerLogs(tmp_path)
    assert logs.records() == []
    second = tmp_path / "logs" / "revisions" / "svc-00002-def.log"
    append(second, "plain text before any timestamp\n")
    mtime_us = int(second.stat().st_mtime * 1_000_000)
    [record] = logs.records()
    assert record.revision == "svc-00002-def" and record.time_us == mtime_us
    assert logs.records() == [record]  # read twice: the same


# -- process sampling ----------------------------------------------------------------------

GROWER = """
import time
chunks = []
for _ in range(25):
    chunks.append(b"x" * (4 * 1024 * 1024))
    time.sleep(0.06)
time.sleep(60)
"""
SPINNER = """
import time
end = time.time() + 60
while time.time() < end:
    pass
"""


@pytest.fixture()
def spawn(tmp_path: Path) -> Iterator[Callable[[str], psutil.Process]]:
    """Starts small python children (own session, output to a file); kills them after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(code: str) -> psutil.Process:
        out = (tmp_path / f"child-{len(started)}.log").open("wb")
        with out:
            process = subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        started.append(process)
        return psutil.Process(process.pid)

    yield start
    for process in started:
        process.kill()
        process.wait(5)


def write_revisions(state_dir: Path, *revisions: dict[str, Any]) -> None:
    (state_dir / "revisions.json").write_text(json.dumps({"revisions": list(revisions)}))


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_sampler_sees_a_real_process_grow(tmp_path: Path,
                                          spawn: Callable[[str], psutil.Process]) -> None:
    child = spawn(GROWER)
    write_revisions(tmp_path, {"name": "svc-00001-abc", "pid": child.pid, "state": "ready",
                               "memory_limit": "512Mi", "cpu_limit": "1",
                               "create_time": child.create_time()})
    with ProcessSampler(tmp_path, interval_s=0.05) as sampler:
        assert sampler.running
        wait_for(lambda: len(sampler.samples("svc-00001-abc")) >= 20
                 and _grown_by(sampler.samples("svc-00001-abc"), 30 * 2**20), timeout_s=60)
    assert not sampler.running
    samples = sampler.samples("svc-00001-abc")
    assert samples == sorted(samples, key=lambda s: s.time_us)
    assert _grown_by(samples, 30 * 2**20)
    for sample in samples:
        assert sample.pid == child.pid
        assert sample.memory_fraction == pytest.approx(sample.rss_bytes / 2**29)
        assert sample.cpu_fraction is not None and 0 <= sample.cpu_fraction < 2


def _grown_by(samples: list[ResourceSample], bytes_: int) -> bool:
    return samples[-1].rss_bytes > samples[0].rss_bytes + bytes_


def test_sampler_measures_cpu_against_the_limit(tmp_path: Path,
                                               spawn: Callable[[str], psutil.Process]) -> None:
    busy = spawn(SPINNER)
    write_revisions(tmp_path, {"name": "busy", "pid": busy.pid, "state": "ready",
                               "memory_limit": None, "cpu_limit": "500m"})
    sampler = ProcessSampler(tmp_path, interval_s=0.1)
    # Bracket the sampler's interval with our own readings of the spinner's CPU time and of
    # the clock, so the check holds however much CPU a busy machine leaves the spinner.
    before_first = _cpu_and_clock(busy)
    sampler.sample_once()
    after_first = _cpu_and_clock(busy)
    wait_for(lambda: _cpu_and_clock(busy)[0] > after_first[0] + 0.2, timeout_s=60)
    before_second = _cpu_and_clock(busy)
    [sample] = sampler.sample_once()
    after_second = _cpu_and_clock(busy)
    lowest = (before_second[0] - after_first[0]) / (after_second[1] - before_first[1])
    highest = (after_second[0] - before_first[0]) / (before_second[1] - after_first[1])
    assert sample.memory_fraction is None
    assert sample.cpu_fraction is not None
    assert lowest / 0.5 <= sample.cpu_fraction <= highest / 0.5  # CPU seconds per second / 500m
    assert sample.cpu_fraction > 0


def _cpu_and_clock(process: psutil.Process) -> tuple[float, float]:
    times = process.cpu_times()
    return times.user + times.system, time.time()


def test_sampler_skips_stopped_gone_and_reused_pids(tmp_path: Path,
                                                   spawn: Callable[[str], psutil.Process]
                                                   ) -> None:
    child = spawn(SPINNER)
    gone = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gone.wait(10)
    write_revisions(
        tmp_path,
        {"name": "stopped", "pid": child.pid, "state": "stopped", "memory_limit": "1Gi"},
        {"name": "reused", "pid": child.pid, "state": "ready", "create_time": 1.0},
        {"name": "gone", "pid": gone.pid, "state": "ready"},
        {"name": "ok", "pid": child.pid, "state": "ready"},
    )
    sampler = ProcessSampler(tmp_path)
    assert [s.revision for s in sampler.sample_once()] == ["ok"]


def test_sampler_ring_is_bounded_and_survives_bad_ticks(
    tmp_path: Path, spawn: Callable[[str], psutil.Process], caplog: pytest.LogCaptureFixture
) -> None:
    child = spawn(SPINNER)
    write_revisions(tmp_path, {"name": "r", "pid": child.pid, "state": "ready"})
    sampler = ProcessSampler(tmp_path, capacity=3)
    for _ in range(5):
        sampler.sample_once()
    assert len(sampler.samples("r")) == 3
    (tmp_path / "revisions.json").write_text("{broken")
    with ProcessSampler(tmp_path, interval_s=0.02) as failing:
        wait_for(lambda: _failed_ticks(caplog) >= 2, timeout_s=60)  # it goes on after one
        assert failing.running  # a bad file is logged, not fatal
    assert not failing.running


def _failed_ticks(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.getMessage() == "sampling revision processes failed" for r in caplog.records)


def test_sampler_threads_do_not_leak(tmp_path: Path) -> None:
    before = {t.ident for t in threading.enumerate()}
    sampler = ProcessSampler(tmp_path, interval_s=0.01)
    for _ in range(3):
        sampler.start()
        sampler.start()  # idempotent
        sampler.stop()
    sampler.stop()
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(SandboxError, match="interval_s"):
        ProcessSampler(tmp_path, interval_s=0)
