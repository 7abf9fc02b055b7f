"""The idle chat sessions of bench/session_capacity.py as a Locust test (one process).

Each Locust user does what a netra-ops `SessionUser` does, with the Locust path's own
blocking pieces (`netra_ops.load.locustfile.VirtualUser`: the probe's login, connection and
judged turn on websocket-client under gevent): log in and connect, idle for a first think
time (a staggered start), then turn and idle, again and again; while idle it reads the
connection and answers each heartbeat with a pong, and reconnects after a drop. Think times
are the same lognormal draws (`ThinkTime`, seeded per user).

A greenlet samples every 0.1 s: how late its sleep woke (the gevent hub's lag), this
process's CPU time, the users connected, the turns so far, and its RSS every second. At exit
the samples and the counts go to the JSON file `BENCH_SESSION_SAMPLES` names.
Configuration: the Locust path's variables (`LocustSettings`) plus `BENCH_THINK_MEAN_S`,
`BENCH_THINK_CAP_S`, `BENCH_SEED`.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import User, constant, events, task
from websockets.exceptions import ConnectionClosed, WebSocketException

from netra_ops.load.locustfile import LocustSettings, VirtualUser
from netra_ops.load.session_config import ThinkTime

SETTINGS = LocustSettings.from_environ()
ENV = SETTINGS.load_environment()
THINK = ThinkTime("lognormal", float(os.environ.get("BENCH_THINK_MEAN_S", "90")),
                  float(os.environ.get("BENCH_THINK_CAP_S", "600")))
SEED = os.environ.get("BENCH_SEED", "1")
SAMPLE_EVERY_S = 0.1
_INDEX = itertools.count()
STATE: dict[str, Any] = {"connected": 0, "turns": 0, "failed": 0, "heartbeats": 0,
                         "drops": 0, "connect_failures": 0, "samples": []}
_PONG = '{"type": "pong"}'


def _sample() -> None:
    process = psutil.Process()
    for tick in itertools.count():
        before = time.perf_counter()
        gevent.sleep(SAMPLE_EVERY_S)
        now = time.perf_counter()
        rss = process.memory_info().rss if tick % 10 == 0 else -1
        STATE["samples"].append((now, time.process_time(), now - before - SAMPLE_EVERY_S,
                                 STATE["connected"], STATE["turns"], rss))


@events.test_start.add_listener
def _started(**_: Any) -> None:
    gevent.spawn(_sample)


@events.quitting.add_listener
def _write(**_: Any) -> None:
    Path(os.environ["BENCH_SESSION_SAMPLES"]).write_text(json.dumps(STATE))


class IdleSession(User):
    """A chat user on one connection: a turn, an idle stretch answering heartbeats."""

    wait_time = constant(0)

    def on_start(self) -> None:
        index = next(_INDEX)
        self.user = VirtualUser(ENV, index, SETTINGS.plan, f"bench-{index}")
        self.draws = random.Random(f"{SEED}:{index}")
        self._connect()
        self._idle(THINK.draw(self.draws))

    @task
    def session(self) -> None:
        held = self.user.connected
        record = self.user.turn()
        STATE["turns"] += 1
        STATE["failed"] += not record.sample.ok
        self._count(held)
        self._idle(THINK.draw(self.draws))

    def on_stop(self) -> None:
        if self.user.connected:
            STATE["connected"] -= 1
        self.user.close(timeout_s=0.2)

    def _connect(self) -> None:
        error_class, _ = self.user.connect()
        if error_class is None:
            STATE["connected"] += 1
        else:
            STATE["connect_failures"] += 1

    def _count(self, held: bool) -> None:
        """Keep the connected count after a turn that may have (re)connected or dropped."""
        STATE["connected"] += int(self.user.connected) - int(held)

    def _idle(self, seconds: float) -> None:
        until = time.perf_counter() + seconds
        while (now := time.perf_counter()) < until:
            link = self.user._link  # the bench reads the user's connection
            if link is None:
                gevent.sleep(min(0.25, until - now))
                self._connect()
                continue
            try:
                frame = link.connection.recv(timeout=until - now)
                if json.loads(frame).get("type") == "heartbeat":  # as the engine: every frame
                    STATE["heartbeats"] += 1
                    link.connection.send(_PONG)
            except TimeoutError:
                continue
            except (ConnectionClosed, WebSocketException, OSError):
                STATE["drops"] += 1
                STATE["connected"] -= 1
                self.user.close(timeout_s=0.2)
