"""How the emulated Logging and Monitoring APIs behave: how late data shows, and faults.

Real Cloud Monitoring shows a point one to three minutes after it happened, Cloud Logging an
entry a few seconds after; either API can answer 503 or hang. The sandbox's emulations do
the same when told to, through one settings object of the platform process:

- `delay_s`: data newer than `delay_s` is not shown yet (a Logging entry's
  `receiveTimestamp` is its `timestamp` + `delay_s`); 0, the default, shows it at once.
- `fault`: `null` (default), `"unavailable"` (Logging: HTTP 503 `UNAVAILABLE`; Monitoring:
  gRPC `UNAVAILABLE`) or `"timeout"` (the call hangs until the client gives up, at most
  `HANG_S`, then `DEADLINE_EXCEEDED`).

They change at runtime through the admin API (a scenario applies its own with
`configure_observability`):

- `GET /_sandbox/observability` -> `{"monitoring": {"delay_s", "fault"}, "logging": {...}}`
- `PUT /_sandbox/observability` with the same shape -> 200 the new settings; an API left
  out gets the defaults (no delay, no fault); 400 names what is malformed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import httpx

from netra_ops.config import Environment
from netra_ops.errors import SandboxError
from netra_ops.sandbox.runtime.state import not_running_error, sandbox_settings

__all__ = [
    "HANG_S",
    "ApiBehaviour",
    "Fault",
    "Observability",
    "configure_observability",
    "current_observability",
    "set_observability",
    "update_observability",
]

Fault = Literal["unavailable", "timeout"]
HANG_S = 120.0
"""The longest a `timeout` fault holds a call (past the Google clients' 60 s default)."""
MAX_DELAY_S = 3600.0
_APIS = ("monitoring", "logging")


@dataclass(frozen=True)
class ApiBehaviour:
    """One emulated API's behaviour: how late its data shows, and its fault (None: none)."""

    delay_s: float = 0.0
    fault: Fault | None = None

    def horizon_us(self, now_s: float | None = None) -> int:
        """µs since the epoch of the newest data shown now (now - delay_s)."""
        now = time.time() if now_s is None else now_s
        return int((now - self.delay_s) * 1_000_000)

    @classmethod
    def from_dict(cls, api: str, data: Any) -> ApiBehaviour:
        """Parse `{"delay_s", "fault"}`; SandboxError names the bad field."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping) or set(data) - {"delay_s", "fault"}:
            raise SandboxError(f'{api} must be an object with "delay_s" and/or "fault", '
                               f"got {data!r}")
        delay = data.get("delay_s", 0.0)
        if (isinstance(delay, bool) or not isinstance(delay, int | float)
                or not 0 <= delay <= MAX_DELAY_S or math.isnan(delay)):
            raise SandboxError(f"{api}.delay_s must be seconds from 0 to {MAX_DELAY_S:g}, "
                               f"got {delay!r}")
        fault = data.get("fault")
        if fault is not None and fault not in get_args(Fault):
            raise SandboxError(f"{api}.fault must be null, \"unavailable\" or \"timeout\", "
                               f"got {fault!r}")
        return cls(float(delay), fault)


@dataclass(frozen=True)
class Observability:
    """The behaviour of the Monitoring and the Logging emulation."""

    monitoring: ApiBehaviour = field(default_factory=ApiBehaviour)
    logging: ApiBehaviour = field(default_factory=ApiBehaviour)

    def to_dict(self) -> dict[str, Any]:
        """`{"monitoring": {"delay_s", "fault"}, "logging": {...}}`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Observability:
        """Parse the admin API's shape (an API left out gets the defaults)."""
        if not isinstance(data, Mapping) or set(data) - set(_APIS):
            raise SandboxError('observability must be an object with "monitoring" and/or '
                               f'"logging", got {data!r}')
        return cls(**{api: ApiBehaviour.from_dict(api, data.get(api)) for api in _APIS})


_lock = threading.Lock()
_current = Observability()


def current_observability() -> Observability:
    """The platform process's settings (the defaults until `set_observability`)."""
    with _lock:
        return _current


def set_observability(value: Observability) -> None:
    """Replace the platform process's settings (the admin API's PUT)."""
    global _current
    with _lock:
        _current = value


def configure_observability(env: Environment, value: Observability) -> Observability:
    """Set the running sandbox's Logging and Monitoring behaviour; the settings now in force."""
    settings = sandbox_settings(env)
    url = f"{settings.url('api')}/_sandbox/observability"
    try:
        with httpx.Client(trust_env=False, timeout=10) as client:
            response = client.put(url, json=value.to_dict())
    except httpx.TransportError as exc:
        raise not_running_error(env, f"the admin API at {url} did not answer: {exc}") from None
    if response.status_code != 200:
        raise SandboxError(f"setting the observability: the admin API answered "
                           f"{response.status_code}: {response.text[:300]}")
    return Observability.from_dict(response.json())


def update_observability(env: Environment, changes: Mapping[str, Any]) -> Observability:
    """Set the behaviour of the APIs named in `changes` (`{"monitoring": {"fault":
    "unavailable"}}`), keeping the others' as they are (e.g. `realistic`'s Logging delay);
    the settings now in force."""
    settings = sandbox_settings(env)
    url = f"{settings.url('api')}/_sandbox/observability"
    try:
        with httpx.Client(trust_env=False, timeout=10) as client:
            response = client.get(url)
    except httpx.TransportError as exc:
        raise not_running_error(env, f"the admin API at {url} did not answer: {exc}") from None
    if response.status_code != 200:
        raise SandboxError(f"reading the observability: the admin API answered "
                           f"{response.status_code}: {response.text[:300]}")
    merged = {**response.json(), **{api: dict(value) for api, value in changes.items()}}
    return configure_observability(env, Observability.from_dict(merged))
