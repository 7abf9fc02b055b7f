"""Benchmark: client CPU of one golden-path turn through the probe vs a bare websockets loop.

Against a throwaway sandbox, side by side in one run, interleaved (the order alternates
every iteration so neither side always runs on warmer caches):

- **turn on an open connection** (the figure the target is about): the probe's
  `agent_turn(ws, ...)` (send, collect the five events, judge presence, order, fields,
  content, duplicates and latency, build the result) against a bare loop that sends the
  same `user_message` and `json.loads` frames until `agent_completed` (with a receive
  timeout, as any careful loop has) and judges nothing. Each side has its own connection,
  opened the same way (`websockets.sync`, no compression, no keepalive pings) before the
  timing starts; each turn gets a fresh thread id made outside the timed region.
- **full run** (login + connect + connection_established + turn + close): `golden_path(env)`
  against the bare equivalent (an httpx client per run, made with a TLS context built once,
  for the login; `websockets.sync` connect, the same turn, close). The probe logs in
  through its own deadline-bounded HTTP/1.1 client (`netra_ops.probe._transport.http`).

Client CPU is `time.process_time()` (every thread of this process: the websockets reader
thread included; the sandbox's processes are not counted), summed per side; the ratio is
probe / bare. `--turns` per side (default 1000) in `--blocks` blocks; the ratio of each
block is kept so the spread shows. A same-code A/A block (bare vs bare) calibrates the noise.
Run: `.venv/bin/python bench/probe_overhead.py`; results go to
bench/results/probe_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from netra_ops import load_environment, sandbox
from netra_ops.config import Environment
from netra_ops.probe.golden_path_run import DEFAULT_MESSAGE, agent_turn, golden_path
from netra_ops.sandbox.ephemeral import write_sandbox_environment
from netra_ops.secrets import resolve_secret

RESULTS = Path(__file__).resolve().parent / "results" / "probe_overhead.json"
TLS = httpx.create_ssl_context()  # made once, as a long-running script would
TARGET_RATIO = 1.10
NOTES = [
    "turn_on_open_connection is the target's figure: agent_turn() on one open connection "
    "against the hand-written loop on another, opened the same way; calibration is the bare "
    "loop against itself on two connections (the noise floor of this machine).",
    "Per turn the probe does more than the bare loop: it times every event from the send, "
    "keeps the five events, checks presence, order, duplicates, 11 required fields, the "
    "reasoning and the final response (length, apology/error/placeholder text, a number or "
    "a recommendation) and the latency budget, and builds a frozen result.",
    "Where the probe started: 1.79x. What brought it down: content checks as substring "
    "tests on the lower-cased head of the text instead of case-insensitive regex "
    "alternations (the judge went from ~490 to ~15 us when warm); one pass over the events "
    "for fields, texts and latency, with a fast path for the usual five-in-order turn; "
    "EventObservation as a named tuple made with tuple.__new__; agent_turn calling the "
    "exchange directly instead of through the step driver; the user_message frame "
    "assembled from two encoded strings instead of encoding a dict.",
    "What remains is the judging itself: ~15 us of Python when warm, 80-100 us measured "
    "in place, where each turn starts with cold caches after the thread wakes from recv.",
    "full_run: the probe is cheaper than httpx + websockets by hand because it logs in "
    "through its own h11-based bounded HTTP client instead of building an httpx.Client.",
]
Turn = Callable[[ClientConnection, str], object]


def bare_turn(ws: ClientConnection, thread_id: str) -> int:
    """The same exchange, by hand: send, read frames until the agent is done."""
    ws.send(json.dumps({"type": "user_message",
                        "payload": {"text": DEFAULT_MESSAGE, "thread_id": thread_id}}))
    deadline = time.monotonic() + 45
    events = 0
    while True:
        message = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        kind = message.get("type")
        if kind in ("heartbeat", "pong"):
            continue
        events += 1
        if kind in ("agent_completed", "agent_error", "error"):
            return events


def probe_turn(ws: ClientConnection, thread_id: str) -> bool:
    """One turn through the probe; the verdict is read, as a caller would."""
    result = agent_turn(ws, DEFAULT_MESSAGE, thread_id=thread_id)
    if not result.ok:
        raise SystemExit(f"probe turn failed: {result.error}")
    return result.ok


def bare_login(env: Environment, client: httpx.Client) -> str:
    body = {"email": env.credentials.email,
            "password": resolve_secret(env.credentials.password)}
    return str(client.post(env.auth.url + "/auth/login", json=body).json()["access_token"])


def bare_connect(env: Environment, token: str) -> ClientConnection:
    return connect(env.backend.websocket_url, subprotocols=[Subprotocol(f"jwt.{token}")],
                   compression=None, ping_interval=None, max_size=4 * 2**20,
                   open_timeout=10, close_timeout=1)


def bare_full_run(env: Environment, thread_id: str) -> int:
    """login + connect + connection_established + one turn + close, by hand."""
    with httpx.Client(verify=TLS) as client:
        token = bare_login(env, client)
    with bare_connect(env, token) as ws:
        json.loads(ws.recv(timeout=10))  # connection_established
        return bare_turn(ws, thread_id)


def probe_full_run(env: Environment, thread_id: str) -> bool:
    result = golden_path(env, thread_id=thread_id)
    if not result.ok:
        raise SystemExit(f"probe run failed: {result.error}")
    return result.ok


def interleave(run_a: Callable[[str], object], run_b: Callable[[str], object], count: int,
               tag: str) -> tuple[float, float, list[float], list[float]]:
    """CPU seconds of `count` calls of each, alternating which goes first; wall ms of each."""
    cpu_a = cpu_b = 0.0
    wall_a: list[float] = []
    wall_b: list[float] = []
    for i in range(count):
        threads = f"{tag}-a-{i}", f"{tag}-b-{i}"
        order = ((run_a, 0), (run_b, 1)) if i % 2 else ((run_b, 1), (run_a, 0))
        for run, side in order:
            wall, cpu = time.perf_counter(), time.process_time()
            run(threads[side])
            cpu = time.process_time() - cpu
            wall = (time.perf_counter() - wall) * 1000
            if side == 0:
                cpu_a += cpu
                wall_a.append(wall)
            else:
                cpu_b += cpu
                wall_b.append(wall)
    return cpu_a, cpu_b, wall_a, wall_b


def measure(run_a: Callable[[str], object], run_b: Callable[[str], object], turns: int,
            blocks: int, tag: str) -> dict[str, Any]:
    """Probe (a) against bare (b): per-turn CPU, ratio overall and per block, wall p50."""
    interleave(run_a, run_b, max(20, turns // 20), f"{tag}-warmup")
    per_block = max(1, turns // blocks)
    totals = [0.0, 0.0]
    ratios: list[float] = []
    walls: tuple[list[float], list[float]] = ([], [])
    for block in range(blocks):
        cpu_a, cpu_b, wall_a, wall_b = interleave(run_a, run_b, per_block, f"{tag}-{block}")
        totals[0] += cpu_a
        totals[1] += cpu_b
        ratios.append(cpu_a / cpu_b)
        walls[0].extend(wall_a)
        walls[1].extend(wall_b)
    count = per_block * blocks
    return {
        "turns_each": count,
        "probe_cpu_us_per_turn": totals[0] / count * 1e6,
        "bare_cpu_us_per_turn": totals[1] / count * 1e6,
        "ratio": totals[0] / totals[1],
        "block_ratios": ratios,
        "probe_wall_ms_p50": statistics.median(walls[0]),
        "bare_wall_ms_p50": statistics.median(walls[1]),
    }


def run(turns: int, blocks: int, full_runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="netra-bench-") as folder:
        env = load_environment(write_sandbox_environment(Path(folder)))
        sandbox.up(env)
        try:
            with httpx.Client(verify=TLS) as client:
                token = bare_login(env, client)
            with bare_connect(env, token) as probe_ws, bare_connect(env, token) as bare_ws, \
                    bare_connect(env, token) as calib_ws:
                for ws in (probe_ws, bare_ws, calib_ws):
                    ws.recv(timeout=10)  # connection_established
                calibration = measure(lambda t: bare_turn(calib_ws, t),
                                      lambda t: bare_turn(bare_ws, t), turns // 2, blocks, "aa")
                open_connection = measure(lambda t: probe_turn(probe_ws, t),
                                          lambda t: bare_turn(bare_ws, t), turns, blocks, "turn")
            full = measure(lambda t: probe_full_run(env, t), lambda t: bare_full_run(env, t),
                           full_runs, max(1, blocks // 2), "full")
        finally:
            sandbox.down(env)
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": f"{platform.machine()} python {platform.python_version()} "
                   f"websockets {websockets.__version__}",
        "cpu_clock": "time.process_time (all threads of the client process)",
        "target_ratio": TARGET_RATIO,
        "calibration_bare_vs_bare": calibration,
        "turn_on_open_connection": open_connection,
        "full_run_login_connect_turn_close": full,
        "target_met": open_connection["ratio"] <= TARGET_RATIO,
        "notes": NOTES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000, help="turns per side")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--full-runs", type=int, default=100, help="full runs per side")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = run(args.turns, args.blocks, args.full_runs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for name in ("calibration_bare_vs_bare", "turn_on_open_connection",
                 "full_run_login_connect_turn_close"):
        r = results[name]
        blocks = ", ".join(f"{x:.3f}" for x in r["block_ratios"])
        print(f"{name}: probe {r['probe_cpu_us_per_turn']:.0f} us vs bare "
              f"{r['bare_cpu_us_per_turn']:.0f} us CPU per turn -> ratio {r['ratio']:.3f} "
              f"(blocks {blocks})")
    verdict = "met" if results["target_met"] else "NOT met"
    print(f"target: probe <= {TARGET_RATIO:.2f}x bare CPU per turn on an open connection: "
          f"{verdict}; written to {args.output}")


if __name__ == "__main__":
    main()
