"""What the control panel shows of an environment at one moment: health, what serves, traffic.

`read_state(env)` asks the three services for their health (`probe.check_services`) and
Cloud Run for each service's revisions and traffic (`deploy.read_service`), and returns a
`PanelState`: one `ServiceTile` per service (health, serving revision, image) and the
backend's revisions with their share of traffic. It never raises for an unreachable target:
what could not be read is a failed tile or a line in `errors`, in words.

A service the Cloud Run API does not know (the sandbox emulates only the backend's) shows
the revision and version its health answer names, and says where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from netra_ops.checks import Check
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy import ServiceState, read_service
from netra_ops.errors import NetraOpsError, ServiceNotFoundError
from netra_ops.probe import HealthResult, check_services
from netra_ops.ui.marks import marked
from netra_ops.ui.watch_run import watch_status
from netra_ops.watch import WatchStatus

__all__ = ["REVISION_COLUMNS", "SERVICE_ROLES", "PanelState", "ServiceTile", "read_state"]

SERVICE_ROLES: tuple[ServiceRole, ...] = ("backend", "auth", "frontend")
REVISION_COLUMNS = ["revision", "traffic", "serving", "ready", "image", "created (UTC)"]


@dataclass(frozen=True)
class ServiceTile:
    """One service at a glance: its health in words, what serves, and where that came from."""

    role: str
    name: str
    healthy: bool
    health: str
    revision: str | None
    image: str | None
    version: str | None
    latency_ms: float | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        """The tile as a record value."""
        return {"role": self.role, "healthy": self.healthy, "health": self.health,
                "revision": self.revision, "image": self.image}


@dataclass(frozen=True)
class PanelState:
    """An environment as the panel saw it at `read_at`."""

    environment: str
    read_at: datetime
    tiles: tuple[ServiceTile, ...]
    backend: ServiceState | None
    errors: tuple[str, ...] = ()
    watch: WatchStatus | None = None  # the incident's post-deployment watch, if any

    @property
    def healthy(self) -> bool:
        """True when every service answered healthy."""
        return all(tile.healthy for tile in self.tiles)

    def tile(self, role: str) -> ServiceTile:
        """The tile of `backend`, `auth` or `frontend`."""
        return next(t for t in self.tiles if t.role == role)

    def revisions_frame(self) -> pd.DataFrame:
        """The backend's revisions, newest first: traffic share, serving and readiness in
        words (`▶ serving`, `✔ Ready`)."""
        revisions = self.backend.revisions if self.backend else ()
        rows = [{"revision": r.name, "traffic": f"{r.percent}%",
                 "serving": "▶ serving" if r.percent > 0 else "",
                 "ready": marked(r.ready, "Ready", f"not ready {r.reason}".strip()),
                 "image": r.image,
                 "created (UTC)": f"{r.created:%Y-%m-%d %H:%M:%S}" if r.created else ""}
                for r in revisions]
        return pd.DataFrame(rows, columns=REVISION_COLUMNS)

    def checks(self) -> tuple[Check, ...]:
        """Verdict rows: each service healthy, and the backend serving all its traffic from
        Ready revisions."""
        healthy = tuple(Check(f"{t.role} healthy", t.healthy, t.health) for t in self.tiles)
        return (*healthy, Check("backend traffic on Ready revisions", *self._traffic_check()))

    def summary(self) -> dict[str, Any]:
        """What a record keeps of the state."""
        return {"environment": self.environment, "read_at": self.read_at.isoformat(),
                "healthy": self.healthy, "services": [t.as_dict() for t in self.tiles],
                "traffic": self.backend.serving if self.backend else None,
                "errors": list(self.errors),
                **({"watch": self.watch.as_dict()} if self.watch else {})}

    def _traffic_check(self) -> tuple[bool, str]:
        if self.backend is None:
            return False, "; ".join(self.errors) or "the Cloud Run API was not read"
        serving = self.backend.serving
        ready = all(self.backend.revision(name).ready for name in serving)
        split = ", ".join(f"{name} {pct}%" for name, pct in serving.items()) or "no revision"
        return bool(serving) and ready and sum(serving.values()) == 100, split


def read_state(env: Environment, *, timeout_s: float = 5.0, incident: str | None = None,
               outputs_dir: str | None = None) -> PanelState:
    """Health of every service and Cloud Run's view of them, now (never raises for an
    unreachable or failing target); with `incident`, its post-deployment watch too."""
    read_at = datetime.now(UTC)
    health = check_services(env, timeout_s=timeout_s).results
    services: dict[str, ServiceState | None] = {}
    errors: list[str] = []
    for role in SERVICE_ROLES:
        services[role], error = _read_service(env, role)
        if error:
            errors.append(error)
    tiles = tuple(_tile(env, role, health[role], services[role]) for role in SERVICE_ROLES)
    return PanelState(env.name, read_at, tiles, services["backend"], tuple(errors),
                      watch_status(incident, outputs_dir))


def _read_service(env: Environment, role: ServiceRole) -> tuple[ServiceState | None, str | None]:
    try:
        return read_service(env, role), None
    except ServiceNotFoundError as exc:
        return None, (f"{role}: {exc}" if role == "backend" else None)
    except NetraOpsError as exc:
        return None, f"{role}: {exc}"


def _tile(env: Environment, role: ServiceRole, health: HealthResult,
          service: ServiceState | None) -> ServiceTile:
    text = marked(health.ok, "healthy", f"unhealthy: {health.error}")
    if service is not None:
        revision, image, source = service.serving_revision, service.serving_image, "Cloud Run"
    else:
        revision, image = health.revision, None
        source = "health answer (not a Cloud Run service here)"
    return ServiceTile(role=role, name=env.services[role].name, healthy=health.ok,
                       health=text, revision=revision, image=image, version=health.version,
                       latency_ms=health.latency_ms, source=source)
