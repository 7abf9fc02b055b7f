"""The seed's Phase 1 risk assessment, each row's success criterion checked live."""

from __future__ import annotations

import pandas as pd

from netra_ops.config import Environment
from netra_ops.deploy.verify import Checks
from netra_ops.probe.golden_path_run import golden_path
from netra_ops.probe.services import check_services

__all__ = ["RISKS", "risk_table"]

RISKS = (
    ("HIGH", "Deployment failure", "Automated rollback in deployment script",
     "Health endpoint returns 200"),
    ("MEDIUM", "API breaking changes", "Gradual deployment with health checks",
     "WebSocket tests pass"),
    ("MEDIUM", "Database migrations", "No schema changes in recent commits",
     "Database connectivity maintained"),
    ("LOW", "Configuration drift", "Environment variable sync validation",
     "All services start successfully"),
)


def risk_table(env: Environment, checks: Checks) -> pd.DataFrame:
    """One row per seed risk with its success criterion's state and evidence."""
    health = next((c for c in checks.checks if c.name.startswith("health")), None)
    path = golden_path(env)
    services = check_services(env)
    failing = ", ".join(role for role, r in services.results.items() if not r.ok)
    evidence = [
        ("pass" if health and health.ok else "fail", health.detail if health else "not checked"),
        ("pass" if path.ok else "fail", "golden path: 5/5 events" if path.ok else path.error),
        ("not checked", "database probes: see runbook 03_config_sync"),
        ("pass" if services.ok else "fail",
         "backend, auth and frontend healthy" if services.ok else f"unhealthy: {failing}"),
    ]
    columns = ["level", "risk", "mitigation", "success criterion"]
    rows = [{**dict(zip(columns, risk, strict=True)), "state": state, "evidence": detail}
            for risk, (state, detail) in zip(RISKS, evidence, strict=True)]
    return pd.DataFrame(rows)

