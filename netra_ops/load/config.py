"""The parameters of a load run, checked before anything connects.

Two models (docs/load.md):

- `closed`: `users` concurrent users for `duration_s`; each sends its next turn as soon as
  the previous one ended (plus `think_time_s`). The load adapts to the server: a slow
  server gets fewer turns, so its slowness touches few samples.
- `open`: turns arrive at `rate` per second for `duration_s` (evenly spaced, or `poisson`
  with `seed`), whatever the server does. `users` is the pool of connections that serve
  them, all opened before the run (at most `MAX_USERS`); a turn that finds every connection
  busy waits for one, and its latency includes the wait. A turn that waited longer than
  `max_wait_s` (default `turn_timeout_s`) is not sent: it counts as a `timeout`.

Every turn is judged as the probes judge one (`netra_ops.probe.event_timing`): its first
event within `event_budget_ms` of the send and each event delivered within `event_budget_ms`
of its own timestamp (2000 ms: the seed's "< 2 s response times"; the probes' own 500 ms is
runbook 04's), its answer within `answer_budget_s` (30 s: a real agent thinks for seconds).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Literal, Self

from netra_ops.errors import ConfigError
from netra_ops.load.thresholds import Threshold
from netra_ops.load.users import TurnPlan
from netra_ops.probe.event_timing import DEFAULT_ANSWER_BUDGET_S
from netra_ops.probe.golden_path_run import DEFAULT_MESSAGE

__all__ = ["MAX_USERS", "MODELS", "LoadConfig", "arrival_offsets"]

MODELS = ("closed", "open")
MAX_USERS = 1000  # connections one client process holds; more: scale out (the Locust path)
_ARRIVALS = ("constant", "poisson")


@dataclass(frozen=True)
class LoadConfig:
    """Everything a load run needs but the environment (see the module docstring)."""

    user_limit: ClassVar[int] = MAX_USERS
    """The most users a run of this kind may have (a subclass may hold more)."""

    model: Literal["closed", "open"] = "closed"
    users: int = 10
    duration_s: float = 300.0
    rate: float | None = None
    think_time_s: float = 0.0
    arrivals: Literal["constant", "poisson"] = "constant"
    seed: int | None = None
    message: str = DEFAULT_MESSAGE
    turn_timeout_s: float = 30.0
    event_budget_ms: float = 2000.0
    answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S
    connect_timeout_s: float = 10.0
    max_wait_s: float | None = None
    graceful_stop_s: float = 10.0
    thresholds: Sequence[Threshold] = ()
    eval_interval_s: float = 1.0
    log_interval_s: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", tuple(self.thresholds))
        for problem in _problems(self):
            raise ConfigError(f"load test: {problem}")

    @classmethod
    def of(cls, config: Self | None, options: Mapping[str, Any]) -> Self:
        """`config` (or the defaults) with `options` replacing fields; ConfigError names
        an unknown option and the valid ones."""
        valid = [f.name for f in fields(cls)]
        unknown = [name for name in options if name not in valid]
        if unknown:
            raise ConfigError(f"unknown load option {', '.join(unknown)}; options are: "
                              f"{', '.join(valid)}")
        return replace(config if config is not None else cls(), **options)

    @property
    def plan(self) -> TurnPlan:
        """What each turn sends and its time bounds."""
        return TurnPlan(self.message, self.turn_timeout_s, self.event_budget_ms,
                        self.connect_timeout_s, self.answer_budget_s)

    @property
    def wait_limit_s(self) -> float:
        """How long an open-model turn may wait for a free connection."""
        return self.turn_timeout_s if self.max_wait_s is None else self.max_wait_s

    def describe(self) -> str:
        """`closed model: 10 users for 300 s` / `open model: 50 turns/s for 60 s (pool 64)`."""
        if self.model == "closed":
            think = f", {self.think_time_s:g} s think time" if self.think_time_s else ""
            return f"closed model: {self.users} users for {self.duration_s:g} s{think}"
        return (f"open model: {self.rate:g} turns/s ({self.arrivals}) for "
                f"{self.duration_s:g} s, pool of {self.users} connections")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON data."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "thresholds"}
        return {**data, "thresholds": [t.to_dict() for t in self.thresholds]}


def _problems(config: LoadConfig) -> Iterator[str]:
    if config.model not in MODELS:
        yield f"model must be one of {', '.join(MODELS)}, got {config.model!r}"
    if not 1 <= config.users <= config.user_limit:
        yield (f"users must be 1..{config.user_limit} (one process; for more, scale out "
               f"with the Locust path), got {config.users}")
    yield from _positive(config, ("duration_s", "turn_timeout_s", "event_budget_ms",
                                  "answer_budget_s", "connect_timeout_s", "eval_interval_s",
                                  "log_interval_s"))
    yield from _not_negative(config, ("think_time_s", "graceful_stop_s", "max_wait_s"))
    if config.model == "open" and (config.rate is None or not config.rate > 0):
        yield "the open model needs rate= (turns per second, > 0)"
    if config.model == "closed" and config.rate is not None:
        yield "rate= is for the open model; the closed model's load is users= (+ think_time_s=)"
    if config.arrivals not in _ARRIVALS:
        yield f"arrivals must be one of {', '.join(_ARRIVALS)}, got {config.arrivals!r}"
    if not isinstance(config.message, str) or not config.message.strip():
        yield "message must be a non-empty text"
    if not all(isinstance(t, Threshold) for t in config.thresholds):
        yield "thresholds must be Threshold(...) objects, e.g. Threshold('error_rate', '>', 0.05)"


def _positive(config: LoadConfig, names: Sequence[str]) -> Iterator[str]:
    for name in names:
        value = getattr(config, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            yield f"{name} must be a number > 0, got {value!r}"


def _not_negative(config: LoadConfig, names: Sequence[str]) -> Iterator[str]:
    for name in names:
        value = getattr(config, name)
        if value is not None and not (isinstance(value, int | float) and value >= 0):
            yield f"{name} must be a number >= 0, got {value!r}"


def arrival_offsets(config: LoadConfig) -> Iterator[float]:
    """Seconds from the start at which open-model turns are due (within `duration_s`)."""
    rate = config.rate or 0.0
    if config.arrivals == "constant":
        count = math.ceil(config.duration_s * rate - 1e-9)
        yield from (k / rate for k in range(count))
        return
    draw = random.Random(config.seed)
    offset = draw.expovariate(rate)
    while offset < config.duration_s:
        yield offset
        offset += draw.expovariate(rate)
