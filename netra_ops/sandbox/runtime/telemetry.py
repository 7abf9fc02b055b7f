"""What the sandbox observed: request logs, container logs, and revision processes' usage.

Sources in the state directory (docs/sandbox-internals.md):

    logs/requests.jsonl             the router's request log, one JSON object a line
    logs/revisions/<revision>.log   a revision's stdout+stderr (JSON lines or plain text)
    logs/builds/<build id>.log      an emulated Cloud Build's log (JSON lines)
    revisions.json                  the platform's revisions: name, pid, state, limits

The logs are read incrementally: each read parses only the complete lines appended since
the last one (a replaced or truncated file is read again from the start), so the Logging
and Monitoring emulation can query often without re-parsing everything. Every line gets a
stable id (a hash of its file, offset and bytes): reading twice gives the same records.

`ProcessSampler` is a daemon thread that samples each revision's RSS and CPU every
`interval_s` into a bounded ring per revision, as fractions of the revision's limits: the
only memory figure Cloud Run publishes is `container/memory/utilizations` (a fraction of
the limit), so that is what the sandbox keeps too.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import psutil

from netra_ops.errors import SandboxError
from netra_ops.processes import same_start
from netra_ops.sandbox.runtime.state import StatePaths

__all__ = [
    "ContainerLogs",
    "ContainerRecord",
    "ProcessSampler",
    "RequestLog",
    "RequestRecord",
    "ResourceSample",
    "RevisionInfo",
    "format_timestamp",
    "parse_cpu_quantity",
    "parse_memory_quantity",
    "read_revisions",
    "timestamp_us",
]

logger = logging.getLogger("netra_ops.sandbox.telemetry")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK_BYTES = 16 * 1024 * 1024
_MEMORY_UNITS = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
_SEVERITY_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR"}
_SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL",
               "ALERT", "EMERGENCY")


# -- time ------------------------------------------------------------------------------------

def timestamp_us(value: str) -> int:
    """µs since the epoch of an RFC 3339 timestamp; ValueError if it is not one."""
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def format_timestamp(time_us: int) -> str:
    """RFC 3339 UTC with microseconds, e.g. `2025-01-31T12:00:00.000001Z`."""
    moment = _EPOCH + timedelta(microseconds=time_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- revisions.json --------------------------------------------------------------------------

def parse_memory_quantity(value: Any) -> int | None:
    """Bytes of a memory limit: an int, or a quantity like "512Mi", "4Gi", "1G" (None if unset)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SandboxError(f"memory limit {value!r} is not a number of bytes")
    if isinstance(value, int | float):
        return int(value)
    match = _QUANTITY.match(str(value))
    if match is None or match.group(2) not in _MEMORY_UNITS:
        raise SandboxError(f"memory limit {value!r} is not a quantity such as 512Mi or 4Gi")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


def parse_cpu_quantity(value: Any) -> float | None:
    """Cores of a CPU limit: a number, "2", "0.5" or "500m" (None if unset)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SandboxError(f"cpu limit {value!r} is not a number of cores")
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value))
    if match is None or match.group(2) not in ("", "m"):
        raise SandboxError(f"cpu limit {value!r} is not a quantity such as 1, 0.5 or 500m")
    cores = float(match.group(1))
    return cores / 1000 if match.group(2) == "m" else cores


@dataclass(frozen=True)
class RevisionInfo:
    """What the sampler needs of a revision from `revisions.json`."""

    name: str
    pid: int | None
    state: str | None
    memory_limit_bytes: int | None
    cpu_limit: float | None
    create_time: float | None = None

    @property
    def active(self) -> bool:
        """Whether its process should be running (not stopped or failed)."""
        return self.pid is not None and self.state not in ("stopped", "failed")


def read_revisions(state_dir: Path) -> list[RevisionInfo]:
    """The revisions recorded in `<state_dir>/revisions.json` ([] when there is none).

    Accepts `{"revisions": [...]}` or a bare list; entries without a name are skipped.
    SandboxError if the file is not JSON or a limit is malformed.
    """
    path = StatePaths(Path(state_dir)).revisions_json
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise SandboxError(f"{path} is not valid JSON ({exc}); the platform rewrites it "
                           "on every change, so a later read may succeed") from None
    if isinstance(data, dict):
        data = data.get("revisions", [])
    if not isinstance(data, list):
        raise SandboxError(f"{path}: 'revisions' should be a list of revision objects")
    return [_revision_info(item) for item in data if isinstance(item, dict) and item.get("name")]


def _revision_info(item: dict[str, Any]) -> RevisionInfo:
    pid = item.get("pid")
    create_time = item.get("create_time")
    return RevisionInfo(
        name=str(item["name"]),
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        state=item.get("state"),
        memory_limit_bytes=parse_memory_quantity(item.get("memory_limit")),
        cpu_limit=parse_cpu_quantity(item.get("cpu_limit")),
        create_time=float(create_time) if isinstance(create_time, int | float) else None,
    )


# -- incremental line reading ----------------------------------------------------------------

class _LineFollower:
    """Yields the complete lines appended to a file since the previous call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._inode: int | None = None

    def read(self) -> tuple[bool, list[tuple[int, bytes]]]:
        """(reset, [(offset, line)]): reset is True when earlier lines are no longer valid."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            reset = self._inode is not None
            self._inode, self._offset = None, 0
            return reset, []
        reset = self._inode is not None and (
            stat.st_ino != self._inode or stat.st_size < self._offset
        )
        if reset:
            self._offset = 0
        self._inode = stat.st_ino
        if stat.st_size <= self._offset:
            return reset, []
        return reset, self._read_from(self._offset, stat.st_size)

    def _read_from(self, offset: int, size: int) -> list[tuple[int, bytes]]:
        lines: list[tuple[int, bytes]] = []
        with self.path.open("rb") as handle:
            handle.seek(offset)
            while offset < size:
                data = handle.read(min(size - offset, _CHUNK_BYTES))
                end = data.rfind(b"\n")
                if end < 0:
                    break  # an unfinished last line: read it once it is complete
                lines.extend(_split_lines(data[: end + 1], offset))
                offset += end + 1
                handle.seek(offset)
        self._offset = offset
        return lines


def _split_lines(data: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    position = 0
    for raw in data.split(b"\n")[:-1]:
        if raw.strip():
            yield offset + position, raw.rstrip(b"\r")
        position += len(raw) + 1


def _line_id(source: str, offset: int, line: bytes) -> str:
    """A stable id: the offset (so equal timestamps keep file order), then a content hash."""
    digest = hashlib.blake2b(f"{source}:{offset}:".encode() + line, digest_size=6)
    return f"{offset:010x}{digest.hexdigest()}"


class _SortedRecords:
    """Records kept sorted by (time_us, insert_id), with a lock and range queries."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.lock = threading.Lock()

    def add(self, new: list[Any]) -> None:
        if not new:
            return
        in_order = all(_key(a) <= _key(b) for a, b in pairwise(new))
        self.items.extend(new)
        if not in_order or (len(self.items) > len(new)
                            and _key(self.items[-len(new) - 1]) > _key(new[0])):
            self.items.sort(key=_key)

    def between(self, start_us: int | None, end_us: int | None) -> list[Any]:
        lo = 0 if start_us is None else bisect.bisect_left(
            self.items, start_us, key=lambda r: r.time_us)
        hi = len(self.items) if end_us is None else bisect.bisect_right(
            self.items, end_us, key=lambda r: r.time_us)
        return self.items[lo:hi]


def _key(record: Any) -> tuple[int, str]:
    return record.time_us, record.insert_id


def _intern(value: Any) -> str:
    """One shared copy of a string that repeats on every line (service, revision ...)."""
    return sys.intern(str(value))


# -- the router's request log ----------------------------------------------------------------

class RequestRecord(NamedTuple):
    """One line of `requests.jsonl` (a named tuple: cheap to build by the hundred thousand)."""

    time_us: int
    insert_id: str
    service: str
    revision: str | None
    method: str
    url: str
    path: str
    status: int
    latency_s: float
    protocol: str
    remote_ip: str
    user_agent: str
    response_size: int


class RequestLog:
    """The router's request log, read incrementally; thread-safe."""

    def __init__(self, state_dir: Path) -> None:
        self.path = StatePaths(Path(state_dir)).requests_log
        self._follower = _LineFollower(self.path)
        self._records = _SortedRecords()
        self.skipped_lines = 0

    def records(self, start_us: int | None = None, end_us: int | None = None
                ) -> list[RequestRecord]:
        """Requests with start_us <= time <= end_us (µs, inclusive), oldest first."""
        with self._records.lock:
            self._refresh()
            return list(self._records.between(start_us, end_us))

    def _refresh(self) -> None:
        reset, lines = self._follower.read()
        if reset:
            self._records.items.clear()
        parsed = [self._parse(offset, line) for offset, line in lines]
        self._records.add([r for r in parsed if r is not None])

    def _parse(self, offset: int, line: bytes) -> RequestRecord | None:
        try:
            data = json.loads(line)
            get = data.get
            revision = get("revision")
            return RequestRecord(
                timestamp_us(data["timestamp"]), _line_id("requests", offset, line),
                _intern(get("service") or ""), _intern(revision) if revision else None,
                _intern(get("method") or "GET"), str(get("url") or get("path") or ""),
                str(get("path") or ""), int(data["status"]), float(get("latency_s") or 0.0),
                _intern(get("protocol") or "HTTP/1.1"), _intern(get("remote_ip") or ""),
                _intern(get("user_agent") or ""), int(get("response_size") or 0),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            self.skipped_lines += 1
            logger.debug("skipping a malformed line at offset %d of %s", offset, self.path)
            return None


# -- revisions' container logs ---------------------------------------------------------------

class ContainerRecord(NamedTuple):
    """One line a revision wrote to stdout or stderr."""

    time_us: int
    insert_id: str
    revision: str
    severity: str
    json_payload: dict[str, Any] | None
    text_payload: str | None


class ContainerLogs:
    """Every revision's log under `logs/revisions/` (or the logs in `directory`, one file per
    source named by its stem: the builds' under `logs/builds/`), read incrementally;
    thread-safe.

    A JSON-object line gives severity, timestamp and a jsonPayload (its other fields); any
    other line is a textPayload of severity DEFAULT, timestamped like the last timestamped
    line of its file (or, before any, the file's modification time when first read).
    """

    def __init__(self, state_dir: Path, directory: Path | None = None) -> None:
        self.directory = directory or StatePaths(Path(state_dir)).revision_logs_dir
        self._followers: dict[str, _LineFollower] = {}
        self._last_time: dict[str, int] = {}
        self._records = _SortedRecords()

    def records(self, start_us: int | None = None, end_us: int | None = None
                ) -> list[ContainerRecord]:
        """Lines with start_us <= time <= end_us (µs, inclusive), oldest first."""
        with self._records.lock:
            self._refresh()
            return list(self._records.between(start_us, end_us))

    def _refresh(self) -> None:
        for path in sorted(self.directory.glob("*.log")):
            self._followers.setdefault(path.stem, _LineFollower(path))
        for revision, follower in self._followers.items():
            reset, lines = follower.read()
            if reset:
                self._records.items[:] = [r for r in self._records.items
                                          if r.revision != revision]
                self._last_time.pop(revision, None)
            self._records.add([self._parse(revision, follower.path, o, line)
                               for o, line in lines])

    def _parse(self, revision: str, path: Path, offset: int, line: bytes) -> ContainerRecord:
        insert_id = _line_id(f"revisions/{revision}", offset, line)
        text = line.decode("utf-8", errors="replace")
        data = _json_object(text)
        if data is None:
            return ContainerRecord(self._fallback_time(revision, path), insert_id,
                                   _intern(revision), "DEFAULT", None, text)
        time_us = self._json_time(revision, path, data.pop("timestamp", None))
        severity = _severity(data.pop("severity", None))
        return ContainerRecord(time_us, insert_id, _intern(revision), severity, data, None)

    def _json_time(self, revision: str, path: Path, value: Any) -> int:
        try:
            time_us = timestamp_us(value) if isinstance(value, str) else None
        except ValueError:
            time_us = None
        if time_us is None:
            return self._fallback_time(revision, path)
        self._last_time[revision] = time_us
        return time_us

    def _fallback_time(self, revision: str, path: Path) -> int:
        if revision not in self._last_time:
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                mtime = time.time()
            self._last_time[revision] = int(mtime * 1_000_000)
        return self._last_time[revision]


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _severity(value: Any) -> str:
    if not isinstance(value, str):
        return "DEFAULT"
    name = value.strip().upper()
    name = _SEVERITY_ALIASES.get(name, name)
    return name if name in _SEVERITIES else "DEFAULT"


# -- revision processes' memory and CPU ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ResourceSample:
    """One measurement of a revision's process."""

    time_us: int
    revision: str
    pid: int
    rss_bytes: int
    cpu_fraction: float | None
    memory_fraction: float | None


@dataclass
class _Tracked:
    process: psutil.Process
    cpu_seconds: float
    wall: float


class ProcessSampler:
    """Samples each active revision's RSS and CPU every `interval_s` (a daemon thread).

    `cpu_fraction` is CPU time per wall second over the last interval divided by the
    revision's cpu_limit (cores); `memory_fraction` is RSS over its memory_limit. Either
    is None when the revision has no such limit. Each revision keeps at most `capacity`
    samples (the oldest are dropped), and at most `max_revisions` revisions are kept.
    """

    def __init__(self, state_dir: Path, *, interval_s: float = 1.0, capacity: int = 3600,
                 max_revisions: int = 32) -> None:
        if interval_s <= 0:
            raise SandboxError(f"interval_s must be positive, got {interval_s}")
        self.state_dir = Path(state_dir)
        self.interval_s = interval_s
        self.capacity = capacity
        self.max_revisions = max_revisions
        self._rings: dict[str, deque[ResourceSample]] = {}
        self._tracked: dict[int, _Tracked] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the sampling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> ProcessSampler:
        """Start the sampling thread (no-op if it runs); returns self."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="netra-sandbox-sampler",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the sampling thread and wait for it (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def __enter__(self) -> ProcessSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def samples(self, revision: str | None = None, start_us: int | None = None,
                end_us: int | None = None) -> list[ResourceSample]:
        """Samples (of one revision, or all) with start_us <= time <= end_us, oldest first."""
        with self._lock:
            rings = [self._rings.get(revision, deque())] if revision else self._rings.values()
            found = [s for ring in rings for s in ring
                     if (start_us is None or s.time_us >= start_us)
                     and (end_us is None or s.time_us <= end_us)]
        return sorted(found, key=lambda s: (s.time_us, s.revision))

    def sample_once(self) -> list[ResourceSample]:
        """Sample every active revision now; returns the new samples."""
        revisions = [r for r in read_revisions(self.state_dir) if r.active]
        taken = [s for s in (self._measure(r) for r in revisions) if s is not None]
        self._forget_gone({r.pid for r in revisions if r.pid is not None})
        with self._lock:
            for sample in taken:
                self._ring(sample.revision).append(sample)
        return taken

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:  # a bad tick must not end sampling; the next one may work
                logger.exception("sampling revision processes failed")
            self._stop.wait(self.interval_s)

    def _ring(self, revision: str) -> deque[ResourceSample]:
        if revision not in self._rings:
            while len(self._rings) >= self.max_revisions:
                oldest = min(self._rings, key=lambda k: self._rings[k][-1].time_us
                             if self._rings[k] else 0)
                del self._rings[oldest]
            self._rings[revision] = deque(maxlen=self.capacity)
        return self._rings[revision]

    def _measure(self, revision: RevisionInfo) -> ResourceSample | None:
        assert revision.pid is not None
        try:
            tracked = self._track(revision)
            if tracked is None:
                return None
            with tracked.process.oneshot():
                rss = tracked.process.memory_info().rss
                times = tracked.process.cpu_times()
        except psutil.Error:
            self._tracked.pop(revision.pid, None)
            return None
        now = time.time()
        cpu_seconds = times.user + times.system
        busy = (cpu_seconds - tracked.cpu_seconds) / max(now - tracked.wall, 1e-6)
        tracked.cpu_seconds, tracked.wall = cpu_seconds, now
        return ResourceSample(
            time_us=int(now * 1_000_000), revision=revision.name, pid=revision.pid,
            rss_bytes=rss,
            cpu_fraction=busy / revision.cpu_limit if revision.cpu_limit else None,
            memory_fraction=rss / revision.memory_limit_bytes
            if revision.memory_limit_bytes else None,
        )

    def _track(self, revision: RevisionInfo) -> _Tracked | None:
        """The tracked process of a revision; None if its pid now belongs to another one."""
        assert revision.pid is not None
        tracked = self._tracked.get(revision.pid)
        if tracked is None:
            process = psutil.Process(revision.pid)
            if revision.create_time is not None and not same_start(process,
                                                                   revision.create_time):
                return None
            tracked = _Tracked(process, 0.0, process.create_time())
            self._tracked[revision.pid] = tracked
        elif not tracked.process.is_running():
            self._tracked.pop(revision.pid, None)
            return None
        return tracked

    def _forget_gone(self, pids: Iterable[int]) -> None:
        keep = set(pids)
        for pid in [p for p in self._tracked if p not in keep]:
            with contextlib.suppress(KeyError):
                del self._tracked[pid]
