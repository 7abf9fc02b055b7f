"""Benchmark: the netra-ops load engine against Locust and a bare websockets loop.

Side by side in one run, on the same throwaway sandbox, the same closed-model shape for
each engine (`--users` N, default 10, each sending golden-path turns back to back for
`--duration` D seconds, default 10):

- **netra-ops**: `run_load(env, users=N, duration_s=D, progress="none")` (the engine on its
  own event loop in a worker thread; every turn judged by the probe layer, kept as a sample,
  the samples frame built at the end). CPU: `time.process_time()` deltas around the call
  (every thread of this process: the engine's and the caller's).
- **locust**: `run_locust(env, users=N, duration_s=D, processes=1)` (the netra-ops
  locustfile: the same probe-layer turn and verdict, on websocket-client under gevent, one
  JSON line per turn). CPU: `resource.getrusage(RUSAGE_CHILDREN)` user + system deltas
  around the call, which is exact for the Locust process (run_locust waits for it, so the
  kernel adds its whole CPU to this process's children when it ends), plus this process's
  `process_time()` over the call (reading the turns back into the samples frame). The
  sandbox's processes are children too, but they are reaped only at `sandbox.down()`, after
  the rounds; each round checks that none ended during a Locust call (`children_clean`).
  (psutil on the process tree was the alternative: it cannot read a process after it has
  exited, so it misses the last moments of a run.)
- **bare**: a hand-written asyncio loop on `websockets`: N connections opened as the probe
  opens them (subprotocol `jwt.<token>`, no compression, no pings), each sending the same
  `user_message` (encoded once) and `json.loads`-ing frames until `agent_completed` inside an
  `asyncio.timeout`, keeping only the send and end times: no verdict, no samples frame. The
  floor of what any engine must spend. CPU: `process_time()` deltas, with the logins
  (`login_async`), the connections and the closing measured apart from the turns.
- **bare-judged**: the same loop, each turn through the probe's `agent_turn_async` (send,
  collect, judge: the five events, their order, fields, content and latency) on a
  `TurnConnection` (frames fed to the turn's collector as they are parsed, no `recv()` per
  frame), as the engine's users call it, without the engine around it. It splits netra-ops'
  cost over the bare loop into the probe's turn (bare-judged / bare: the verdict, less what
  the direct path saves) and the engine's own machinery: users, samples, the live record,
  the monitor, the worker thread (netra-ops / bare-judged).

Per engine: turns, turns/s (turns over the span from the first send to the last end),
client CPU seconds, CPU microseconds per turn, turns per client CPU-second, and the p50 and
p95 service latency (send to `agent_completed`, ms). CPU per turn comes two ways:
- *whole run*: everything the call cost (startup, logins, connections, turns, shutdown,
  reading the results), over its turns;
- *excluding startup*: the cost of the turns alone. For netra-ops and Locust, each round
  also makes a *fixed-cost run* of the same N users with a 60 s think time for a short
  duration (1 s for netra-ops, 3 s for Locust, so every user is spawned): N logins and
  connections, one turn each, startup and shutdown. Excluding startup = (CPU of the run -
  CPU of the fixed-cost run) / (turns of the run - turns of the fixed-cost run). For the
  bare loop the turns are timed apart directly. Locust's startup CPU (interpreter, gevent
  and Locust imports, its runner, the spawn) is reported as that fixed-cost run's CPU.

Ratios (each from the figures of the same round, then the median and min/max over rounds):
netra-ops / bare CPU per turn (target <= 1.15), netra-ops / Locust turns per client
CPU-second (target >= 1), bare-judged / bare and netra-ops / bare-judged CPU per turn (where
the overhead is), and netra-ops / Locust, netra-ops / bare, Locust / bare p50 and p95
service latency (agreement: near 1).

The sandbox shares this machine's 2 cores with the clients, so turns/s are bounded by the
sandbox (and by whatever else runs on the machine), and an engine that spends more CPU also
slows the server it measures: CPU per turn is the fair comparison, turns/s only context.
The machine is shared and noisy: rounds interleave the engines (the order rotates every
round: a, b, c, d / b, c, d, a / ..., so no engine always runs first), and each figure is the
median of `--rounds` rounds with min and max. A discarded warm-up round comes first.

Run: `.venv/bin/python bench/load_engines.py [--rounds 3] [--users 10] [--duration 10]`;
results are printed and written to bench/results/load_engines.json. `--profile` adds a
cProfile of one netra-ops run (`run_load_async` on this thread, as cProfile sees one
thread) and of one bare run, CPU time as the clock: the engine's top costs per turn, and
what it spends per turn, function by function, beyond the bare loop.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import platform
import pstats
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from netra_ops import load_environment, sandbox
from netra_ops.config import Environment
from netra_ops.load import run_load, run_load_async, run_locust
from netra_ops.probe._transport.turn_connection import TurnConnection
from netra_ops.probe.auth import login_async
from netra_ops.probe.golden_path_run import DEFAULT_MESSAGE, agent_turn_async
from netra_ops.sandbox.ephemeral import write_sandbox_environment

RESULTS = Path(__file__).resolve().parent / "results" / "load_engines.json"
TARGET_CPU_RATIO = 1.15  # netra-ops CPU per turn / bare loop CPU per turn, at most
TARGET_EFFICIENCY_RATIO = 1.0  # netra-ops / Locust turns per client CPU-second, at least
FIXED_THINK_S = 60.0  # the fixed-cost runs: one turn per user, then a pause past the end
FIXED_DURATION_S = {"netra-ops": 1.0, "locust": 3.0}
TURN_TIMEOUT_S = 30.0
EVENT_BUDGET_MS = 2000.0  # the engine's default
ENGINES = ("netra-ops", "locust", "bare", "bare-judged")
NOTES = [
    "CPU per turn is the fair comparison: the sandbox shares the 2 cores with the clients, "
    "so turns/s are bounded by the sandbox (and whatever else runs), and an engine that "
    "spends more CPU slows the server it measures.",
    "Whole-run figures include each engine's startup: for a 10 s Locust run that is mostly "
    "the interpreter, gevent and Locust imports and its runner (startup_cpu_s); the "
    "excl_startup figures subtract a fixed-cost run of the same users (one turn each).",
    "bare-judged splits netra-ops' cost over the bare loop: bare_judged_over_bare is the "
    "probe's turn (its verdict, which the bare loop skips by design, less what its "
    "TurnConnection saves by feeding frames to the collector without a recv() each), "
    "netra_ops_over_bare_judged the engine around it (users, samples, live record, "
    "monitor, progress snapshots, the worker thread).",
    "Locust here is netra-ops' locustfile: the same probe-layer turn and verdict as the "
    "engine, on websocket-client under gevent, plus Locust's request events and one JSON "
    "line per turn.",
]


@dataclass
class Run:
    """What one engine did in one round."""

    engine: str
    turns: int
    ok: int
    span_s: float
    cpu_s: float
    service_ms: np.ndarray = field(repr=False)
    fixed_cpu_s: float = 0.0  # the cost that does not grow with the turns
    fixed_turns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        turns = max(self.turns, 1)
        marginal_turns = max(self.turns - self.fixed_turns, 1)
        marginal_cpu = self.cpu_s - self.fixed_cpu_s
        p50, p95 = (np.quantile(self.service_ms, (0.5, 0.95)).tolist()
                    if len(self.service_ms) else (None, None))
        return {
            "turns": self.turns, "ok": self.ok, "span_s": self.span_s,
            "turns_per_s": self.turns / self.span_s if self.span_s > 0 else 0.0,
            "cpu_s": self.cpu_s,
            "cpu_us_per_turn": self.cpu_s / turns * 1e6,
            "turns_per_cpu_s": self.turns / self.cpu_s if self.cpu_s > 0 else 0.0,
            "startup_cpu_s": self.fixed_cpu_s, "startup_turns": self.fixed_turns,
            "cpu_us_per_turn_excl_startup": marginal_cpu / marginal_turns * 1e6,
            "turns_per_cpu_s_excl_startup": (marginal_turns / marginal_cpu
                                             if marginal_cpu > 0 else 0.0),
            "p50_service_ms": p50, "p95_service_ms": p95, **self.extra,
        }


# --- the clocks ---------------------------------------------------------------------------


def children_cpu_s() -> float:
    """User + system CPU of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_pids() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=False)}


# --- (a) the netra-ops engine -------------------------------------------------------------


def netra_ops_call(env: Environment, users: int, duration_s: float,
                   think_time_s: float = 0.0) -> tuple[float, Any]:
    cpu = time.process_time()
    result = run_load(env, users=users, duration_s=duration_s, think_time_s=think_time_s,
                      progress="none")
    return time.process_time() - cpu, result


def netra_ops_run(env: Environment, users: int, duration_s: float) -> Run:
    cpu, result = netra_ops_call(env, users, duration_s)
    fixed_cpu, fixed = netra_ops_call(env, users, FIXED_DURATION_S["netra-ops"], FIXED_THINK_S)
    samples = result.samples
    return Run("netra-ops", len(samples), int(samples["ok"].sum()), _span_s(samples), cpu,
               samples["service_ms"].to_numpy(dtype=float), fixed_cpu, len(fixed.samples),
               {"errors": {r.error_class: int(r.count) for r in result.errors().itertuples()},
                "setup_errors": result.setup_errors})


# --- (b) Locust ---------------------------------------------------------------------------


def locust_call(env: Environment, users: int, duration_s: float, folder: Path,
                think_time_s: float = 0.0) -> tuple[float, float, bool, Any]:
    """(Locust's CPU, this process's CPU, whether no other child ended meanwhile, result)."""
    before_pids = child_pids()
    children, own = children_cpu_s(), time.process_time()
    result = run_locust(env, users=users, duration_s=duration_s, processes=1,
                        think_time_s=think_time_s, results_dir=folder)
    own, children = time.process_time() - own, children_cpu_s() - children
    return children, own, before_pids <= child_pids(), result


def locust_run(env: Environment, users: int, duration_s: float, folder: Path) -> Run:
    tag = uuid.uuid4().hex[:6]
    child, own, clean, result = locust_call(env, users, duration_s, folder / f"run-{tag}")
    fixed_child, fixed_own, fixed_clean, fixed = locust_call(
        env, users, FIXED_DURATION_S["locust"], folder / f"fixed-{tag}", FIXED_THINK_S)
    samples = result.samples
    return Run("locust", len(samples), int(samples["ok"].sum()), _span_s(samples), child + own,
               samples["service_ms"].to_numpy(dtype=float), fixed_child + fixed_own,
               len(fixed.samples),
               {"locust_process_cpu_s": child, "reader_cpu_s": own,
                "startup_locust_process_cpu_s": fixed_child,
                "children_clean": clean and fixed_clean, "counts_agree": result.counts_agree})


def _span_s(samples: Any) -> float:
    if samples.empty:
        return 0.0
    return float((samples["ended_at"].max() - samples["started_at"].min()).total_seconds())


def locust_import_cpu_s() -> float:
    """CPU of a Python that only imports Locust (its gevent monkey-patching included)."""
    import subprocess
    import sys

    before = children_cpu_s()
    subprocess.run([sys.executable, "-c", "import locust"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return children_cpu_s() - before


# --- (c) the bare websockets loop ---------------------------------------------------------


UserLoop = Callable[[ClientConnection, str, float, list[tuple[float, float]]],
                   Awaitable[int]]


async def bare_user(ws: ClientConnection, thread_id: str, end: float,
                    times: list[tuple[float, float]]) -> int:
    """Turns back to back until `end`: send, read frames until the agent is done."""
    message = json.dumps({"type": "user_message",
                          "payload": {"text": DEFAULT_MESSAGE, "thread_id": thread_id}})
    ok = 0
    clock = time.perf_counter
    while clock() < end:
        started = clock()
        async with asyncio.timeout(TURN_TIMEOUT_S):
            await ws.send(message)
            while True:
                kind = json.loads(await ws.recv()).get("type")
                if kind in ("agent_completed", "agent_error", "error"):
                    break
        times.append((started, clock()))
        ok += kind == "agent_completed"
    return ok


async def judged_user(ws: ClientConnection, thread_id: str, end: float,
                      times: list[tuple[float, float]]) -> int:
    """The bare loop with the probe's turn: `agent_turn_async` (send, collect, judge), as
    the engine's users call it, without the engine around it."""
    ok = 0
    clock = time.perf_counter
    while clock() < end:
        started = clock()
        result = await agent_turn_async(ws, DEFAULT_MESSAGE, thread_id=thread_id,
                                        timeout_s=TURN_TIMEOUT_S,
                                        event_budget_ms=EVENT_BUDGET_MS)
        times.append((started, clock()))
        ok += result.ok
    return ok


async def bare_open(env: Environment, token: str,
                    kind: type[ClientConnection] = ClientConnection) -> ClientConnection:
    ws = await connect(env.backend.websocket_url, subprotocols=[Subprotocol(f"jwt.{token}")],
                       compression=None, ping_interval=None, max_size=4 * 2**20,
                       open_timeout=10, close_timeout=1, create_connection=kind)
    await asyncio.wait_for(ws.recv(), 10)  # connection_established
    return ws


async def bare_async(env: Environment, users: int, duration_s: float, engine: str,
                     user_loop: UserLoop,
                     kind: type[ClientConnection] = ClientConnection) -> Run:
    clock = time.process_time
    cpu = clock()
    logins = await asyncio.gather(*(login_async(env) for _ in range(users)))
    tokens = [login.token.reveal() for login in logins if login.token is not None]
    if len(tokens) < users:
        raise SystemExit(f"{engine} loop: {users - len(tokens)} logins failed")
    login_cpu, cpu = clock() - cpu, clock()
    sockets = await asyncio.gather(*(bare_open(env, token, kind) for token in tokens))
    connect_cpu, cpu = clock() - cpu, clock()
    run = uuid.uuid4().hex[:8]
    times: list[tuple[float, float]] = []
    end = time.perf_counter() + duration_s
    outcomes = await asyncio.gather(*(user_loop(ws, f"{engine}-{run}-{i}", end, times)
                                      for i, ws in enumerate(sockets)),
                                    return_exceptions=True)
    turns_cpu, cpu = clock() - cpu, clock()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    close_cpu = clock() - cpu
    ok = sum(o for o in outcomes if isinstance(o, int))
    failed_users = sum(isinstance(o, BaseException) for o in outcomes)
    span = max(e for _, e in times) - min(s for s, _ in times) if times else 0.0
    fixed = login_cpu + connect_cpu + close_cpu
    return Run(engine, len(times), ok, span, fixed + turns_cpu,
               np.array([(e - s) * 1000.0 for s, e in times]), fixed, 0,
               {"login_cpu_s": login_cpu, "connect_cpu_s": connect_cpu,
                "close_cpu_s": close_cpu, "users_stopped_by_error": failed_users})


def bare_run(env: Environment, users: int, duration_s: float) -> Run:
    return asyncio.run(bare_async(env, users, duration_s, "bare", bare_user))


def judged_run(env: Environment, users: int, duration_s: float) -> Run:
    return asyncio.run(bare_async(env, users, duration_s, "bare-judged", judged_user,
                                  TurnConnection))


# --- rounds, summary, profile -------------------------------------------------------------


def one_round(env: Environment, users: int, duration_s: float, folder: Path,
              number: int) -> dict[str, Run]:
    runners: dict[str, Callable[[], Run]] = {
        "netra-ops": lambda: netra_ops_run(env, users, duration_s),
        "locust": lambda: locust_run(env, users, duration_s, folder),
        "bare": lambda: bare_run(env, users, duration_s),
        "bare-judged": lambda: judged_run(env, users, duration_s),
    }
    shift = number % len(ENGINES)
    order = ENGINES[shift:] + ENGINES[:shift]
    return {engine: runners[engine]() for engine in order}


def ratios(figures: dict[str, dict[str, Any]]) -> dict[str, float]:
    n, lo, bare, judged = (figures[e] for e in ENGINES)
    out = {
        "netra_ops_over_bare_cpu_per_turn": n["cpu_us_per_turn"] / bare["cpu_us_per_turn"],
        "netra_ops_over_bare_cpu_per_turn_excl_startup":
            n["cpu_us_per_turn_excl_startup"] / bare["cpu_us_per_turn_excl_startup"],
        "netra_ops_over_locust_turns_per_cpu_s": n["turns_per_cpu_s"] / lo["turns_per_cpu_s"],
        "netra_ops_over_locust_turns_per_cpu_s_excl_startup":
            n["turns_per_cpu_s_excl_startup"] / lo["turns_per_cpu_s_excl_startup"],
        "locust_over_bare_cpu_per_turn": lo["cpu_us_per_turn"] / bare["cpu_us_per_turn"],
        "bare_judged_over_bare_cpu_per_turn":
            judged["cpu_us_per_turn"] / bare["cpu_us_per_turn"],
        "netra_ops_over_bare_judged_cpu_per_turn":
            n["cpu_us_per_turn"] / judged["cpu_us_per_turn"],
    }
    for q in ("p50", "p95"):
        key = f"{q}_service_ms"
        out[f"netra_ops_over_locust_{q}"] = n[key] / lo[key]
        out[f"netra_ops_over_bare_{q}"] = n[key] / bare[key]
        out[f"locust_over_bare_{q}"] = lo[key] / bare[key]
    return out


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    numeric = ("turns", "turns_per_s", "cpu_s", "cpu_us_per_turn", "turns_per_cpu_s",
               "startup_cpu_s", "cpu_us_per_turn_excl_startup",
               "turns_per_cpu_s_excl_startup", "p50_service_ms", "p95_service_ms")
    engines = {engine: {key: spread([r["engines"][engine][key] for r in rounds])
                        for key in numeric} for engine in ENGINES}
    names = rounds[0]["ratios"].keys()
    return {"engines": engines,
            "ratios": {name: spread([r["ratios"][name] for r in rounds]) for name in names}}


def profiled(call: Callable[[], int]) -> tuple[dict[str, float], int, float]:
    """Own CPU seconds per function (`file:function`) of `call()` on this thread, the
    turns it made, and the CPU it took under the profiler. The profiler's clock is
    `process_time`: waiting in epoll costs nothing."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    turns = call()
    profiler.disable()
    own: dict[str, float] = {}
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    for (path, _, name), (_, _, seconds, _, _) in stats.items():
        key = f"{Path(path).name}:{name}"
        own[key] = own.get(key, 0.0) + seconds
    return own, turns, sum(own.values())


def profile_costs(env: Environment, users: int, duration_s: float,
                  top: int = 25) -> dict[str, Any]:
    """cProfile of one netra-ops run (`run_load_async` on this thread: cProfile sees one
    thread) and of one bare run: the engine's top functions by own CPU per turn, the
    functions whose CPU per turn the engine has beyond the bare loop's (the overhead), and
    those where it has less (the bare loop's own `bare_user` does the receive loop's work,
    which in the engine is `TurnConnection.process_event`'s)."""
    def netra_ops() -> int:
        result = asyncio.run(run_load_async(env, users=users, duration_s=duration_s,
                                            progress="none"))
        return result.turns

    engine, engine_turns, engine_cpu = profiled(netra_ops)
    bare, bare_turns, bare_cpu = profiled(lambda: bare_run(env, users, duration_s).turns)

    def per_turn(seconds: float, turns: int) -> float:
        return seconds / max(turns, 1) * 1e6

    rows: list[dict[str, Any]] = []
    for key in engine.keys() | bare.keys():
        mine = per_turn(engine.get(key, 0.0), engine_turns)
        floor = per_turn(bare.get(key, 0.0), bare_turns)
        rows.append({"function": key, "netra_ops_us_per_turn": mine,
                     "bare_us_per_turn": floor, "extra_us_per_turn": mine - floor})
    return {
        "clock": "cProfile with time.process_time (profiled CPU is inflated by the profiler; "
                 "compare rows, not absolute figures)",
        "netra_ops": {"turns": engine_turns, "us_per_turn": per_turn(engine_cpu, engine_turns)},
        "bare": {"turns": bare_turns, "us_per_turn": per_turn(bare_cpu, bare_turns)},
        "netra_ops_top": sorted(rows, key=lambda r: -r["netra_ops_us_per_turn"])[:top],
        "extra_over_bare": sorted(rows, key=lambda r: -r["extra_us_per_turn"])[:top],
        "less_than_bare": sorted(rows, key=lambda r: r["extra_us_per_turn"])[:5],
    }


def run(rounds: int, users: int, duration_s: float, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="netra-bench-") as folder:
        env = load_environment(write_sandbox_environment(Path(folder)))
        sandbox.up(env)
        try:
            import_cpu = locust_import_cpu_s()
            one_round(env, users, min(duration_s, 2.0), Path(folder) / "warmup", 0)
            measured: list[dict[str, Any]] = []
            for number in range(rounds):
                runs = one_round(env, users, duration_s, Path(folder) / f"round-{number}",
                                 number)
                figures = {engine: runs[engine].figures() for engine in ENGINES}
                measured.append({"order": list(runs), "engines": figures,
                                 "ratios": ratios(figures)})
                print(f"round {number + 1}: " + "; ".join(
                    f"{e} {figures[e]['turns']} turns, {figures[e]['cpu_us_per_turn']:.0f} us "
                    f"CPU/turn" for e in ENGINES), flush=True)
            profile_report = profile_costs(env, users, duration_s) if profile else None
        finally:
            sandbox.down(env)
    summary = summarize(measured)
    cpu_ratio = summary["ratios"]["netra_ops_over_bare_cpu_per_turn"]["median"]
    efficiency = summary["ratios"]["netra_ops_over_locust_turns_per_cpu_s"]["median"]
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": f"{platform.machine()} python {platform.python_version()}, "
                   f"{psutil.cpu_count()} cores shared with the sandbox, websockets "
                   f"{websockets.__version__}",
        "shape": {"users": users, "duration_s": duration_s, "rounds": rounds,
                  "model": "closed", "locust_processes": 1},
        "cpu_clocks": {
            "netra-ops": "time.process_time() around run_load (all threads of this process)",
            "locust": "getrusage(RUSAGE_CHILDREN) user+system around run_locust (the Locust "
                      "process, waited for) + this process's process_time() (reading back)",
            "bare": "time.process_time() (logins, connects and close timed apart)",
            "bare-judged": "as bare",
        },
        "locust_import_cpu_s": import_cpu,
        "targets": {"netra_ops_over_bare_cpu_per_turn_max": TARGET_CPU_RATIO,
                    "netra_ops_over_locust_turns_per_cpu_s_min": TARGET_EFFICIENCY_RATIO,
                    "cpu_target_met": cpu_ratio <= TARGET_CPU_RATIO,
                    "efficiency_target_met": efficiency >= TARGET_EFFICIENCY_RATIO},
        "summary": summary,
        "rounds": measured,
        "profile": profile_report,
        "notes": NOTES,
    }


def print_table(results: dict[str, Any]) -> None:
    engines = results["summary"]["engines"]
    print(f"{'engine':12} {'turns':>7} {'turns/s':>8} {'CPU s':>7} {'us/turn':>8} "
          f"{'excl.st':>8} {'turns/CPU-s':>11} {'p50 ms':>7} {'p95 ms':>7}")
    for engine in ENGINES:
        f = {key: value["median"] for key, value in engines[engine].items()}
        print(f"{engine:12} {f['turns']:7.0f} {f['turns_per_s']:8.1f} {f['cpu_s']:7.2f} "
              f"{f['cpu_us_per_turn']:8.0f} {f['cpu_us_per_turn_excl_startup']:8.0f} "
              f"{f['turns_per_cpu_s']:11.0f} {f['p50_service_ms']:7.1f} "
              f"{f['p95_service_ms']:7.1f}")
    print("ratios (median [min, max] over rounds):")
    for name, value in results["summary"]["ratios"].items():
        print(f"  {name:52} {value['median']:.3f} [{value['min']:.3f}, {value['max']:.3f}]")
    targets = results["targets"]
    print(f"netra-ops CPU per turn <= {TARGET_CPU_RATIO} x bare: "
          f"{'met' if targets['cpu_target_met'] else 'NOT met'}; netra-ops turns per CPU-s "
          f">= Locust's: {'met' if targets['efficiency_target_met'] else 'NOT met'}")
    profile = results["profile"]
    if profile:
        print(f"profiled: netra-ops {profile['netra_ops']['us_per_turn']:.0f} us/turn, bare "
              f"{profile['bare']['us_per_turn']:.0f} us/turn; netra-ops' CPU beyond the bare "
              "loop's, per turn:")
        for row in profile["extra_over_bare"] + profile["less_than_bare"]:
            print(f"  {row['extra_us_per_turn']:6.1f} us  (netra-ops "
                  f"{row['netra_ops_us_per_turn']:6.1f}, bare {row['bare_us_per_turn']:6.1f})  "
                  f"{row['function']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one netra-ops and one bare run (cProfile): the "
                             "engine's top costs and its costs beyond the bare loop's")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = run(args.rounds, args.users, args.duration, args.profile)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
