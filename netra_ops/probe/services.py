"""The three services asked for their health in one call (seed 1.3, 2.2 and 4.3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from netra_ops.config import Environment
from netra_ops.probe.health_endpoint import HealthResult, health

__all__ = ["SUMMARY_COLUMNS", "ServiceChecks", "check_services"]

SUMMARY_COLUMNS = ["role", "url", "ok", "status_code", "latency_ms", "status", "revision",
                   "error"]


@dataclass(frozen=True)
class ServiceChecks:
    """Health of backend, auth and frontend, keyed by role."""

    results: dict[str, HealthResult]

    @property
    def ok(self) -> bool:
        """True when every service answered healthy."""
        return all(r.ok for r in self.results.values())

    @property
    def server_errors(self) -> int:
        """How many of the answers had a 5xx status."""
        return sum(r.status_code is not None and r.status_code >= 500
                   for r in self.results.values())

    def to_frame(self, full: bool = False) -> pd.DataFrame:
        """One row per service: role, url, ok, status code, latency, error (all fields
        with `full=True`)."""
        rows = [{"role": role, **asdict(result)} for role, result in self.results.items()]
        frame = pd.DataFrame(rows)
        return frame if full else frame[SUMMARY_COLUMNS]


def check_services(env: Environment, *, timeout_s: float = 5.0) -> ServiceChecks:
    """GET the backend's and auth's health endpoints; HEAD the frontend's page."""
    results = {
        "backend": health(env.backend.url, path=env.backend.health_path, timeout_s=timeout_s),
        "auth": health(env.auth.url, path=env.auth.health_path, timeout_s=timeout_s),
        "frontend": health(env.frontend.url, path=env.frontend.health_path, method="HEAD",
                           expect_json=False, timeout_s=timeout_s),
    }
    return ServiceChecks(results)
