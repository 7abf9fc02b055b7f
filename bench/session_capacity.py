"""Benchmark: how many mostly idle chat sessions one client process holds, netra-ops and
Locust side by side in one run.

The workload is a longevity run's (`netra_ops.load.run_sessions`) at time scale 1: each user
logs in, holds one WebSocket, idles for a first think time (a staggered start), then sends a
golden-path turn (judged by the probe layer) and idles again, think times lognormal with
mean `--think-mean` (90 s) and cap 600 s; while idle it reads the connection and answers
every heartbeat (every `--heartbeat` s, 15 s: the seed's WEBSOCKET_HEARTBEAT_INTERVAL) with
a pong. For each size N of `--sizes`:

- **netra-ops**: `run_sessions_async` on this process's event loop (`staggered_start=True`);
- **locust**: the same users in one Locust process (`bench/session_locustfile.py`: the
  Locust path's blocking user on websocket-client under gevent, the same idle loop and think
  draws), spawned at `--spawn-rate` users/s.

The server is not the client's: `bench/session_server.py`, a minimal server in its own
process (raw asyncio HTTP for login and health, `websockets` for `/ws`: heartbeats, five
events per turn, nothing else), so the sessions a client holds are the client's limit. (The
sandbox would put its router, a revision and the auth service, three Python processes, on
the same 2 cores, and the auth service validates every connection.)

Measured per client, over a window of `--window` s that starts once every user is
connected (netra-ops: the end of its setup; Locust: the sample where all N are connected):
event-loop lag (a task / greenlet that sleeps 0.1 s and records how late it woke; p50, p99,
max), the client process's CPU time (`time.process_time()` sampled at the same moments: all
threads of that process), turns, heartbeats, drops. A size *holds* when no session dropped
and lag p99 < 50 ms; `sessions_per_core` is N divided by the cores the client used (CPU
seconds per second of the window): what one fully used core would hold at that per-session
cost (an extrapolation, beyond N: stated as such). `ratio_to_locust` divides netra-ops'
sessions per core by Locust's at the same N.

Run: `.venv/bin/python bench/session_capacity.py [--sizes 1000,2000,5000,10000]
[--window 60]`; results printed and written to bench/results/session_capacity.json. The
machine is shared: run it when others are not testing heavily, or with smaller sizes (the
results say which sizes ran).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import websockets

from netra_ops import load_environment
from netra_ops.config import Environment
from netra_ops.load import ProgressSnapshot, ThinkTime, run_sessions_async
from netra_ops.load.locustfile import ENV_PASSWORD, LocustSettings
from netra_ops.sandbox.ephemeral import write_sandbox_environment

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "session_capacity.json"
LAG_BUDGET_MS = 50.0
TARGET_SESSIONS_PER_CORE = 10_000
SAMPLE_EVERY_S = 0.1
PASSWORD = "bench-password"  # the minimal server accepts any; never a real secret


@dataclass(frozen=True)
class Shape:
    """The workload of every run."""

    window_s: float
    think_mean_s: float
    think_cap_s: float
    heartbeat_s: float
    spawn_rate: float
    seed: int = 1


# --- the minimal server -----------------------------------------------------------------


def bench_environment(folder: Path) -> Environment:
    """An environment whose backend and auth URLs are two free loopback ports (the
    sandbox's file, nothing started), the test user's password in `ENV_PASSWORD`."""
    os.environ[ENV_PASSWORD] = PASSWORD
    env = load_environment(write_sandbox_environment(folder))
    credentials = env.credentials.model_copy(update={"password": f"env:{ENV_PASSWORD}"})
    return env.model_copy(update={"credentials": credentials})


def start_server(env: Environment, heartbeat_s: float) -> subprocess.Popen[str]:
    ws_port = int(env.backend.url.rsplit(":", 1)[1])
    http_port = int(env.auth.url.rsplit(":", 1)[1])
    server = subprocess.Popen(
        [sys.executable, str(HERE / "session_server.py"), "--http-port", str(http_port),
         "--ws-port", str(ws_port), "--heartbeat-s", str(heartbeat_s)],
        stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    assert server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        server.kill()
        raise RuntimeError("bench/session_server.py did not start")
    return server


# --- the window's figures ----------------------------------------------------------------


Sampled = tuple[float, float, float, int, int, int]


def window_figures(samples: list[Sampled], start: float, window_s: float,
                   users: int) -> dict[str, Any]:
    """Lag, CPU and memory over the samples (perf time, CPU time, lag s, connected, turns
    so far, RSS bytes or -1) from `start` for `window_s` seconds."""
    rows = [s for s in samples if start <= s[0] <= start + window_s]
    if len(rows) < 2:
        return {"window_s": 0.0, "error": "no samples in the window"}
    lags = np.array([row[2] for row in rows]) * 1000
    wall = rows[-1][0] - rows[0][0]
    cores = (rows[-1][1] - rows[0][1]) / wall
    connected = [row[3] for row in rows if row[3] >= 0]
    rss = max((row[5] for row in rows), default=-1)
    p99 = float(np.quantile(lags, 0.99))
    return {"window_s": wall, "turns_in_window": rows[-1][4] - rows[0][4],
            "lag_p50_ms": float(np.quantile(lags, 0.5)), "lag_p99_ms": p99,
            "lag_max_ms": float(lags.max()), "cpu_cores": cores,
            "cpu_us_per_session_s": cores / users * 1e6,
            "sessions_per_core": users / cores if cores > 0 else None,
            "min_connected": min(connected) if connected else None,
            "rss_mib": rss / 2**20 if rss > 0 else None,
            "rss_kib_per_session": rss / 1024 / users if rss > 0 else None,
            "lag_ok": p99 < LAG_BUDGET_MS}


# --- netra-ops ---------------------------------------------------------------------------


class _Window:
    """A progress display that notes when the measured period starts (setup done)."""

    started: float | None = None
    turns = 0

    def start(self, description: str, duration_s: float) -> None:
        self.started = time.perf_counter()

    def update(self, snapshot: ProgressSnapshot) -> None:
        self.turns = snapshot.turns

    def close(self, summary: str) -> None:
        pass


async def _netra_ops(env: Environment, users: int, shape: Shape) -> dict[str, Any]:
    samples: list[Sampled] = []
    window = _Window()

    async def sample() -> None:
        process = psutil.Process()
        for tick in itertools.count():
            before = time.perf_counter()
            await asyncio.sleep(SAMPLE_EVERY_S)
            now = time.perf_counter()
            rss = process.memory_info().rss if tick % 10 == 0 else -1
            samples.append((now, time.process_time(), now - before - SAMPLE_EVERY_S, -1,
                            window.turns, rss))

    sampler = asyncio.create_task(sample())
    setup_started = time.perf_counter()
    try:
        result = await run_sessions_async(
            env, users=users, duration_s=shape.window_s + 5, seed=shape.seed,
            think=ThinkTime("lognormal", mean_s=shape.think_mean_s, cap_s=shape.think_cap_s),
            staggered_start=True, connect_timeout_s=60, progress=window)
    finally:
        sampler.cancel()
    assert window.started is not None
    figures = window_figures(samples, window.started + 2, shape.window_s, users)
    drops = result.drops().set_index("cause")["drops"]
    return {**figures, "setup_s": window.started - setup_started,
            "sessions": len(result.sessions), "turns": result.load.turns,
            "failed_turns": int((~result.load.samples["ok"]).sum()),
            "heartbeats": int(result.sessions["heartbeats"].sum()),
            "drops": int(drops.sum()), "drops_by_cause": {k: int(v) for k, v in drops.items()},
            "setup_errors": result.load.setup_errors,
            "holds": figures.get("lag_ok", False) and int(drops.sum()) == 0
            and not result.load.setup_errors}


def netra_ops_run(env: Environment, users: int, shape: Shape) -> dict[str, Any]:
    return asyncio.run(_netra_ops(env, users, shape))


# --- Locust ------------------------------------------------------------------------------


def locust_run(env: Environment, users: int, shape: Shape, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "samples.json"
    spawn_s = users / shape.spawn_rate
    settings = LocustSettings(str(env.source), PASSWORD, folder)
    run_s = int(spawn_s * 2 + 30 + shape.window_s)  # spawning and logins, then the window
    command = [sys.executable, "-m", "locust", "-f", str(HERE / "session_locustfile.py"),
               "--headless", "-u", str(users), "-r", str(shape.spawn_rate), "-t",
               f"{run_s}s", "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    environ = {**os.environ, **settings.environ(), "BENCH_SESSION_SAMPLES": str(out),
               "BENCH_THINK_MEAN_S": str(shape.think_mean_s),
               "BENCH_THINK_CAP_S": str(shape.think_cap_s), "BENCH_SEED": str(shape.seed)}
    started = time.perf_counter()
    done = subprocess.run(command, env=environ, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=run_s + 120)
    if not out.exists():
        return {"error": f"Locust exited {done.returncode}: {done.stderr[-500:]}"}
    state = json.loads(out.read_text())
    samples: list[Sampled] = [tuple(row) for row in state["samples"]]  # type: ignore[misc]
    full = next((row[0] for row in samples if row[3] >= users), None)
    if full is None:
        most = max((row[3] for row in samples), default=0)
        return {"error": f"only {most} of {users} users were connected at once",
                "connect_failures": state["connect_failures"]}
    figures = window_figures(samples, full + 2, shape.window_s, users)
    return {**figures, "setup_s": full - samples[0][0] + 0.0,
            "run_s": time.perf_counter() - started, "turns": state["turns"],
            "failed_turns": state["failed"], "heartbeats": state["heartbeats"],
            "drops": state["drops"], "connect_failures": state["connect_failures"],
            "holds": figures.get("lag_ok", False) and state["drops"] == 0
            and figures.get("min_connected") == users}


# --- the run ------------------------------------------------------------------------------


def run(sizes: list[int], shape: Shape) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="session-capacity-") as folder:
        env = bench_environment(Path(folder))
        server = start_server(env, shape.heartbeat_s)
        try:
            for users in sizes:
                ours = netra_ops_run(env, users, shape)
                print(f"{users} sessions, netra-ops: {_line(ours)}", flush=True)
                theirs = locust_run(env, users, shape, Path(folder) / f"locust-{users}")
                print(f"{users} sessions, locust:    {_line(theirs)}", flush=True)
                ratio = (ours["sessions_per_core"] / theirs["sessions_per_core"]
                         if ours.get("sessions_per_core") and theirs.get("sessions_per_core")
                         else None)
                rows.append({"users": users, "netra-ops": ours, "locust": theirs,
                             "ratio_to_locust": ratio})
        finally:
            server.kill()
            server.wait()
    return {"measured_at": datetime.now(UTC).isoformat(),
            "machine": f"{platform.machine()} python {platform.python_version()}, "
                       f"{psutil.cpu_count()} cores shared with the server and other users, "
                       f"load average {os.getloadavg()[0]:.1f} at the end, websockets "
                       f"{websockets.__version__}",
            "server": "bench/session_server.py (minimal asyncio HTTP + websockets, own "
                      "process), not the sandbox",
            "shape": shape.__dict__ | {"sizes": sizes},
            "targets": {"lag_p99_ms_below": LAG_BUDGET_MS,
                        "sessions_per_core": TARGET_SESSIONS_PER_CORE},
            "sizes": rows, "summary": summarize(rows)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest size each client held, its sessions per core there, the ratio."""
    summary: dict[str, Any] = {}
    for client in ("netra-ops", "locust"):
        held = [row for row in rows if row[client].get("holds")]
        best = max(held, key=lambda row: row["users"]) if held else None
        summary[client] = None if best is None else {
            "largest_held": best["users"],
            "sessions_per_core": best[client]["sessions_per_core"],
            "lag_p99_ms": best[client]["lag_p99_ms"]}
    both = [row for row in rows if row["ratio_to_locust"] is not None]
    summary["ratio_to_locust_at_largest_size"] = both[-1]["ratio_to_locust"] if both else None
    ours = summary["netra-ops"]
    summary["target_met"] = bool(ours and ours["sessions_per_core"] >= TARGET_SESSIONS_PER_CORE
                                 and ours["largest_held"] >= TARGET_SESSIONS_PER_CORE)
    return summary


def _line(figures: dict[str, Any]) -> str:
    if "error" in figures:
        return figures["error"]
    return (f"lag p99 {figures['lag_p99_ms']:.1f} ms, {figures['cpu_cores']:.3f} cores, "
            f"{figures['sessions_per_core'] or 0:.0f} sessions/core, "
            f"{figures['turns_in_window']} turns in the window, "
            f"{figures['heartbeats']} heartbeats, {figures['drops']} drops, setup "
            f"{figures['setup_s']:.0f} s, RSS {figures['rss_mib'] or 0:.0f} MiB, "
            f"holds: {figures['holds']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000",
                        help="comma-separated session counts, smallest first")
    parser.add_argument("--window", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--think-mean", type=float, default=90.0)
    parser.add_argument("--think-cap", type=float, default=600.0)
    parser.add_argument("--heartbeat", type=float, default=15.0)
    parser.add_argument("--spawn-rate", type=float, default=100.0,
                        help="Locust users started per second")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    shape = Shape(args.window, args.think_mean, args.think_cap, args.heartbeat,
                  args.spawn_rate)
    results = run([int(size) for size in args.sizes.split(",")], shape)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["summary"], indent=2))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
