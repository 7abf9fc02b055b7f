"""The seed's Phase 1 risk assessment, each row's success criterion checked live; the
database migrations row from 01_preflight's review of the release diff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from netra_ops.config import Environment
from netra_ops.deploy.migrations import MigrationReview
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


def risk_table(env: Environment, checks: Checks | None,
               migrations: MigrationReview | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per seed risk with its success criterion's state and evidence. `checks` is
    the backend's verification (None when it was not verified); `migrations` is
    01_preflight's review (as recorded, `migrations`); without one the row is "not
    checked"."""
    found = checks.checks if checks is not None else ()
    health = next((c for c in found if c.name.startswith("health")), None)
    path = golden_path(env)
    services = check_services(env)
    failing = ", ".join(role for role, r in services.results.items() if not r.ok)
    evidence = [
        ("pass" if health and health.ok else "fail", health.detail if health else "not checked"),
        ("pass" if path.ok else "fail", "golden path: 5/5 events" if path.ok else path.error),
        _migrations_row(migrations),
        ("pass" if services.ok else "fail",
         "backend, auth and frontend healthy" if services.ok else f"unhealthy: {failing}"),
    ]
    columns = ["level", "risk", "mitigation", "success criterion"]
    rows = [{**dict(zip(columns, risk, strict=True)), "state": state, "evidence": detail}
            for risk, (state, detail) in zip(RISKS, evidence, strict=True)]
    return pd.DataFrame(rows)



def _migrations_row(migrations: MigrationReview | Mapping[str, Any] | None) -> tuple[str, str]:
    review = (migrations if isinstance(migrations, MigrationReview)
              else MigrationReview.from_record(migrations))
    connectivity = "database connectivity: runbook 03_config_sync"
    if review is None:
        return "not checked", ("no migration review on record: run 01_preflight in this "
                               f"incident; {connectivity}")
    between = f"between {review.base} and {review.release}"
    if review.error is not None:
        return "fail", f"01_preflight could not list the release diff {between}: {review.error}"
    if not review.files:
        return "pass", (f"verified by 01_preflight: no migration {between} (nothing under "
                        f"{', '.join(review.paths) or 'no configured path'}); {connectivity}")
    listed = f"{len(review.files)} migration file(s) {between}: {', '.join(review.files)}"
    if review.acknowledged:
        return "acknowledged", f"{listed}, acknowledged in 01_preflight; {connectivity}"
    return "fail", f"{listed}, not acknowledged (01_preflight -p acknowledge_migrations=true)"
