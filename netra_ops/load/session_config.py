"""The parameters of a session longevity run, checked before anything connects.

A longevity run (`netra_ops.load.sessions`) is the closed model with users who live like
chat users: each holds one connection, sends a turn, stays idle for a think time drawn from
`think` (answering the server's heartbeats), and goes again. `load` is the `LoadConfig` of
the run (users, duration, the turn's budgets, `seed`); the rest is the session's own:

- `think`: the idle time between turns, in the story's seconds (a `ThinkTime`: exponential,
  lognormal or fixed, with a mean and a cap); each user draws from its own generator,
  seeded from `load.seed` and its index, so a seeded run idles the same way every time;
- `staggered_start`: each user first idles for a think time of its own, so turns are spread
  as in a steady state instead of every user's first turn at once (many users);
- `silent_users`: the first N users never answer a heartbeat (a closed laptop, a tab the
  browser froze): the app's idle timeout is theirs to meet;
- `missed_heartbeats`: a user that hears nothing for that many heartbeat intervals while
  idle gives the connection up (a drop, cause `missed_heartbeat`); 0 does not watch;
- `time_scale`: the rehearsal time scale when the server does not state it (a real
  backend does not; the sandbox's `connection_established` carries `time_scale`, and that
  wins). Think times, and the fallbacks below, are divided by it;
- `heartbeat_interval_s`, `connection_timeout_s`: the app's heartbeat interval and idle
  timeout when `connection_established` does not state them (the seed's 15 s and 360 s).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal

from netra_ops.errors import ConfigError
from netra_ops.load.config import LoadConfig

__all__ = ["DISTRIBUTIONS", "MAX_SESSION_USERS", "SessionConfig", "SessionLoad", "ThinkTime"]

DISTRIBUTIONS = ("exponential", "lognormal", "fixed")
MAX_SESSION_USERS = 20_000
"""Mostly idle sessions one process holds (bench/session_capacity.py measures it)."""


@dataclass(frozen=True)
class SessionLoad(LoadConfig):
    """The `LoadConfig` of a longevity run: up to `MAX_SESSION_USERS` users (mostly idle
    sessions are cheap; a load run's users send turn after turn)."""

    user_limit: ClassVar[int] = MAX_SESSION_USERS


@dataclass(frozen=True)
class ThinkTime:
    """How long a user stays idle between turns, in the story's seconds: drawn from
    `distribution` with mean `mean_s` (lognormal: of shape `sigma`), never over `cap_s`."""

    distribution: Literal["exponential", "lognormal", "fixed"] = "lognormal"
    mean_s: float = 90.0
    cap_s: float = 600.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        for problem in _think_problems(self):
            raise ConfigError(f"think time: {problem}")

    def draw(self, rng: random.Random) -> float:
        """One think time (seconds at time scale 1)."""
        if self.distribution == "fixed":
            value = self.mean_s
        elif self.distribution == "exponential":
            value = rng.expovariate(1.0 / self.mean_s)
        else:  # the lognormal of that mean: mu = ln(mean) - sigma^2 / 2
            value = rng.lognormvariate(math.log(self.mean_s) - self.sigma ** 2 / 2, self.sigma)
        return min(value, self.cap_s)

    def describe(self) -> str:
        """`lognormal think time, mean 90 s, cap 600 s` / `fixed think time of 480 s`."""
        if self.distribution == "fixed":
            return f"fixed think time of {min(self.mean_s, self.cap_s):g} s"
        return f"{self.distribution} think time, mean {self.mean_s:g} s, cap {self.cap_s:g} s"

    def to_dict(self) -> dict[str, Any]:
        """The think time as plain JSON data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _think_problems(think: ThinkTime) -> Iterator[str]:
    if think.distribution not in DISTRIBUTIONS:
        yield (f"distribution must be one of {', '.join(DISTRIBUTIONS)}, "
               f"got {think.distribution!r}")
    for name in ("mean_s", "cap_s", "sigma"):
        value = getattr(think, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            yield f"{name} must be a number > 0, got {value!r}"


@dataclass(frozen=True)
class SessionConfig:
    """Everything a longevity run needs but the environment (see the module docstring)."""

    load: LoadConfig = field(default_factory=lambda: SessionLoad(users=10, duration_s=1800))
    think: ThinkTime = field(default_factory=ThinkTime)
    staggered_start: bool = False
    silent_users: int = 0
    missed_heartbeats: int = 3
    time_scale: float | None = None
    heartbeat_interval_s: float = 15.0
    connection_timeout_s: float = 360.0

    def __post_init__(self) -> None:
        for problem in _session_problems(self):
            raise ConfigError(f"session run: {problem}")

    @classmethod
    def of(cls, config: SessionConfig | None, options: Mapping[str, Any]) -> SessionConfig:
        """`config` (or the defaults) with `options` replacing fields: a session field by
        its name (`think`, `silent_users`, ...), a `LoadConfig` field (`users`,
        `duration_s`, `seed`, ...) in `load`. ConfigError names an unknown option."""
        base = config if config is not None else cls()
        own = [f.name for f in fields(cls) if f.name != "load"]
        known = [f.name for f in fields(LoadConfig)]
        unknown = [name for name in options if name not in (*own, *known)]
        if unknown:
            raise ConfigError(f"unknown session option {', '.join(unknown)}; options are: "
                              f"{', '.join(own)} and the load's {', '.join(known)}")
        load_options = {k: v for k, v in options.items() if k not in own}
        load = _session_load(base.load, load_options)
        return replace(base, load=load, **{k: v for k, v in options.items() if k in own})

    def draws(self, index: int) -> random.Random:
        """User `index`'s think-time generator (seeded from `load.seed` when it is set)."""
        seed = self.load.seed
        return random.Random(None if seed is None else f"{seed}:{index}")

    def answers_heartbeats(self, index: int) -> bool:
        """Whether user `index` answers heartbeats (the first `silent_users` do not)."""
        return index >= self.silent_users

    def describe(self) -> str:
        """`sessions: 3 users for 10 s, fixed think time of 480 s, 1 silent`."""
        silent = f", {self.silent_users} silent" if self.silent_users else ""
        scale = f", time scale {self.time_scale:g}" if self.time_scale else ""
        staggered = ", staggered start" if self.staggered_start else ""
        return (f"sessions: {self.load.users} users for {self.load.duration_s:g} s, "
                f"{self.think.describe()}{silent}{staggered}{scale}")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON data."""
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("load", "think")}
        return {"load": self.load.to_dict(), "think": self.think.to_dict(), **data}


def _session_load(load: LoadConfig, options: Mapping[str, Any]) -> SessionLoad:
    """The run's load: `options` applied to `load`, in the closed model."""
    if options.get("model", "closed") != "closed":
        raise ConfigError("session run: users hold their sessions in the closed model; "
                          "model= is not an option here")
    if options.get("think_time_s"):
        raise ConfigError("session run: the idle time between turns is think=ThinkTime(...), "
                          "not think_time_s=")
    if not isinstance(load, SessionLoad):
        load = SessionLoad(**{f.name: getattr(load, f.name) for f in fields(load)})
    return SessionLoad.of(load, options)


def _session_problems(config: SessionConfig) -> Iterator[str]:
    if not isinstance(config.load, LoadConfig) or config.load.model != "closed":
        yield "load must be a closed-model LoadConfig"
    if not isinstance(config.staggered_start, bool):
        yield f"staggered_start must be True or False, got {config.staggered_start!r}"
    if not isinstance(config.think, ThinkTime):
        yield "think must be a ThinkTime(...), e.g. ThinkTime('lognormal', mean_s=90)"
    users = config.load.users if isinstance(config.load, LoadConfig) else 0
    if not (isinstance(config.silent_users, int) and 0 <= config.silent_users <= users):
        yield f"silent_users must be 0..users ({users}), got {config.silent_users!r}"
    if not (isinstance(config.missed_heartbeats, int) and config.missed_heartbeats >= 0):
        yield f"missed_heartbeats must be an integer >= 0, got {config.missed_heartbeats!r}"
    if config.time_scale is not None and not (
            isinstance(config.time_scale, int | float) and 1 <= config.time_scale <= 3600):
        yield ("time_scale must be 1..3600 or None (read from the server), got "
               f"{config.time_scale!r}")
    for name in ("heartbeat_interval_s", "connection_timeout_s"):
        value = getattr(config, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            yield f"{name} must be a number > 0, got {value!r}"
