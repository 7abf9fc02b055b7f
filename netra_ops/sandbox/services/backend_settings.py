"""A backend revision's settings: the Cloud Run contract, its env vars and its faults.

`BackendSettings.from_environ` reads what the sandbox platform puts in a revision's
environment (docs/sandbox-internals.md): `PORT`, `K_SERVICE`, `K_REVISION`,
`NETRA_SANDBOX_IMAGE`, `AUTH_SERVICE_URL`, `ENVIRONMENT`, `WEBSOCKET_HEARTBEAT_INTERVAL`,
`WEBSOCKET_CONNECTION_TIMEOUT`, `NETRA_REHEARSAL_TIME_SCALE`, `NETRA_SANDBOX_PARENT_PID`,
`NETRA_AGENT_TURN_S` (how long an agent turn takes) and the `NETRA_FAULT_*` variables.
`build_of` maps the deployed image's tag to the behaviour the revision reproduces, unless
`NETRA_SANDBOX_BUILD` says which build the image is: an image the emulated Cloud Build made
carries that in its labels (`BUILD_LABEL`), read from the code of the commit it was built
from, so an image of the stale code is stale by digest or under any tag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from netra_ops.errors import ConfigError

__all__ = [
    "APP_CONNECTION_TIMEOUT_S",
    "BUILD_ENV",
    "BUILD_LABEL",
    "DEFAULT_IMAGE",
    "GOLDEN_PATH_EVENTS",
    "TIME_SCALE_ENV",
    "BackendSettings",
    "Build",
    "build_of",
    "image_tag",
    "time_scale",
]

Build = Literal["fixed", "stale", "crash"]
BUILD_LABEL = "netra.sandbox.build"
"""An image config label: which build the image is (`fixed`, `stale`, `crash`)."""
BUILD_ENV = "NETRA_SANDBOX_BUILD"
"""A revision's env var: its image's BUILD_LABEL, which wins over the tag."""
_BUILDS: tuple[Build, ...] = ("fixed", "stale", "crash")
DEFAULT_IMAGE = "us-central1-docker.pkg.dev/netra-sandbox/netra/netra-backend:develop-long-lived"
GOLDEN_PATH_EVENTS: tuple[str, ...] = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
APP_CONNECTION_TIMEOUT_S = 900.0
"""The app's idle timeout without `WEBSOCKET_CONNECTION_TIMEOUT` (15 min; the seed sets 360)."""
TIME_SCALE_ENV = "NETRA_REHEARSAL_TIME_SCALE"
"""A revision's env var: how many times faster than real time a rehearsal runs the clocks of
chat sessions (the app's heartbeat and idle timeout, Cloud Run's request timeout for a
WebSocket): 60 plays the seed's 360 s story in 6 s. Default 1 (real time)."""
_MAX_TIME_SCALE = 3600.0
_MAX_TURN_S = 600.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def image_tag(image: str) -> str:
    """The tag of an image reference (`latest` when it has none; a digest is ignored)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def build_of(image: str) -> Build:
    """Which build an image is: `crash`, `stale` (the seed's bug) or `fixed`.

    The tag decides: containing `crash` -> crash; starting with `main` or containing
    `stale` -> stale; anything else (e.g. `develop-long-lived`) -> fixed.
    """
    tag = image_tag(image).lower()
    if "crash" in tag:
        return "crash"
    if tag.startswith("main") or "stale" in tag:
        return "stale"
    return "fixed"


@dataclass(frozen=True)
class BackendSettings:
    """Everything a backend revision process is configured with."""

    port: int = 8080
    service: str = "netra-backend"
    revision: str = "netra-backend-local"
    image: str = DEFAULT_IMAGE
    auth_service_url: str = ""
    environment: str = "sandbox"
    heartbeat_interval_s: float = 15.0
    connection_timeout_s: float = APP_CONNECTION_TIMEOUT_S
    time_scale: float = 1.0
    parent_pid: int | None = None
    http_error_rate: float = 0.0
    latency_ms: float = 0.0
    crash_on_start: bool = False
    drop_event: str | None = None
    memory_growth_kb: int = 0
    memory_growth_kb_per_s: int = 0
    echo_secrets: tuple[str, ...] = ()
    fault_seed: int = 0
    warmup_s: float = 0.2
    agent_turn_s: tuple[float, float] | None = None
    delivery_delay_ms: float = 0.0
    memory_report_factor: float = 1.0
    built_as: Build | None = None

    @property
    def build(self) -> Build:
        """The build of the deployed image: its label (`BUILD_ENV`), else `build_of`."""
        return self.built_as or build_of(self.image)

    @property
    def heartbeat_every_s(self) -> float:
        """Seconds between heartbeats on an idle connection, on the rehearsal's clock."""
        return self.heartbeat_interval_s / self.time_scale

    @property
    def idle_close_after_s(self) -> float:
        """Seconds without a client message (or a turn) before the app closes the connection
        (`WEBSOCKET_CONNECTION_TIMEOUT`), on the rehearsal's clock."""
        return self.connection_timeout_s / self.time_scale

    @property
    def version(self) -> str:
        """The service version reported by /health: the image tag."""
        return image_tag(self.image)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> BackendSettings:
        """Settings from a process environment; ConfigError names any invalid variable."""
        drop_event = environ.get("NETRA_FAULT_DROP_EVENT", "").strip() or None
        if drop_event is not None and drop_event not in GOLDEN_PATH_EVENTS:
            raise ConfigError(
                f"NETRA_FAULT_DROP_EVENT={drop_event!r} is not a golden-path event; "
                f"use one of {', '.join(GOLDEN_PATH_EVENTS)}"
            )
        auth_url = environ.get("AUTH_SERVICE_URL", "").strip().rstrip("/")
        if auth_url and not auth_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"AUTH_SERVICE_URL={auth_url!r} must start with http:// or https://"
            )
        parent = environ.get("NETRA_SANDBOX_PARENT_PID", "").strip()
        built_as = environ.get(BUILD_ENV, "").strip() or None
        if built_as is not None and built_as not in _BUILDS:
            raise ConfigError(f"{BUILD_ENV}={built_as!r} is not a build; use one of "
                              f"{', '.join(_BUILDS)}")
        return cls(
            built_as=built_as,  # type: ignore[arg-type]
            port=_int(environ, "PORT", 8080, low=1, high=65535),
            service=environ.get("K_SERVICE", "").strip() or cls.service,
            revision=environ.get("K_REVISION", "").strip() or cls.revision,
            image=environ.get("NETRA_SANDBOX_IMAGE", "").strip() or DEFAULT_IMAGE,
            auth_service_url=auth_url,
            environment=environ.get("ENVIRONMENT", "").strip() or cls.environment,
            heartbeat_interval_s=_float(
                environ, "WEBSOCKET_HEARTBEAT_INTERVAL", 15.0, low=0.01, high=86400
            ),
            connection_timeout_s=_float(environ, "WEBSOCKET_CONNECTION_TIMEOUT",
                                        APP_CONNECTION_TIMEOUT_S, low=1, high=86400),
            time_scale=time_scale(environ),
            parent_pid=_int(environ, "NETRA_SANDBOX_PARENT_PID", 0, low=1) if parent else None,
            http_error_rate=_float(environ, "NETRA_FAULT_HTTP_ERROR_RATE", 0.0, low=0, high=1),
            latency_ms=_float(environ, "NETRA_FAULT_LATENCY_MS", 0.0, low=0, high=600_000),
            crash_on_start=_bool(environ, "NETRA_FAULT_CRASH_ON_START"),
            drop_event=drop_event,
            memory_growth_kb=_int(environ, "NETRA_FAULT_MEMORY_GROWTH_KB", 0, low=0),
            memory_growth_kb_per_s=_int(environ, "NETRA_FAULT_MEMORY_GROWTH_KB_PER_S", 0, low=0),
            echo_secrets=tuple(name.strip() for name in
                               environ.get("NETRA_FAULT_ECHO_SECRETS", "").split(",")
                               if name.strip()),
            fault_seed=_int(environ, "NETRA_FAULT_SEED", 0),
            agent_turn_s=_seconds_range(environ, "NETRA_AGENT_TURN_S"),
            delivery_delay_ms=_float(environ, "NETRA_FAULT_DELIVERY_DELAY_MS", 0.0, low=0,
                                     high=600_000),
            memory_report_factor=_float(environ, "NETRA_FAULT_MEMORY_REPORT_FACTOR", 1.0,
                                        low=1, high=64),
            warmup_s=_float(environ, "NETRA_SANDBOX_WARMUP_S", cls.warmup_s, low=0,
                            high=3600),
        )


def time_scale(environ: Mapping[str, str]) -> float:
    """`NETRA_REHEARSAL_TIME_SCALE` of a revision's environment (1 when unset)."""
    return _float(environ, TIME_SCALE_ENV, 1.0, low=1, high=_MAX_TIME_SCALE)


def _seconds_range(environ: Mapping[str, str], name: str) -> tuple[float, float] | None:
    """`"3-8"` -> (3.0, 8.0), `"5"` -> (5.0, 5.0), unset -> None; ConfigError otherwise."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    low_text, _, high_text = raw.partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if high_text.strip() else low
    except ValueError:
        low = high = math.nan
    if not 0 <= low <= high <= _MAX_TURN_S:
        raise ConfigError(
            f"{name}={raw!r} must be seconds (e.g. 5) or a range LOW-HIGH (e.g. 3-8), "
            f"0 <= LOW <= HIGH <= {_MAX_TURN_S:g}"
        )
    return low, high


def _float(
    environ: Mapping[str, str], name: str, default: float, *, low: float, high: float
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be a number from {low:g} to {high:g}")
    return value


def _int(
    environ: Mapping[str, str],
    name: str,
    default: int,
    *,
    low: int | None = None,
    high: int | None = None,
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be a whole number") from None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        raise ConfigError(f"{name}={raw!r} must be {bounds}")
    return value


def _bool(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} must be one of 1/true/yes/on or 0/false/no/off")
