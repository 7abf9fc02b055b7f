"""Dependency checks (seed 2.2): PostgreSQL and Redis answer, auth and the frontend are up.

`check_dependencies(env)` asks both stores, as the environment's `[dependencies]` names
them (`netra_ops.probe.postgres_store`, `netra_ops.probe.redis_store`), plus the auth service's
health and the frontend's page (`netra_ops.probe.check_services`), and answers with one
`DependencyChecks` value; `check_dependencies_async` is its asyncio twin. Query latency is
judged against the seed's "Database Connectivity: <100ms query response times".

Connection strings carry passwords, so they come from a secret reference (`env:NAME`,
`file:PATH`) or are passed by the caller; results only ever show them redacted
(`redact_url`: `postgresql://user:***@host:5432/db`). A dependency that does not answer is a
failed result with a reason, never an exception. `DependencyResult`, `redact_url` and
`DEFAULT_BUDGET_MS` live in `netra_ops.probe._dependency_common` and are re-exported here.
Both forms take their keyword defaults from `DependencyOptions`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import pandas as pd

from netra_ops.checks import Check
from netra_ops.config import Environment
from netra_ops.errors import SecretError
from netra_ops.probe._dependency_common import (
    DEFAULT_BUDGET_MS,
    DependencyResult,
    _Clock,
    _failed,
    _not_configured,
    redact_url,
)
from netra_ops.probe._options import shows_options
from netra_ops.probe.health_endpoint import HealthResult
from netra_ops.probe.postgres_store import postgres, postgres_async
from netra_ops.probe.redis_store import redis, redis_async
from netra_ops.probe.services import check_services
from netra_ops.secrets import resolve_secret

__all__ = [
    "DEFAULT_BUDGET_MS",
    "DependencyChecks",
    "DependencyOptions",
    "DependencyResult",
    "check_dependencies",
    "check_dependencies_async",
    "redact_url",
]

DEPENDENCY_COLUMNS = ["name", "kind", "target", "state", "ok", "latency_ms", "query_ms",
                      "budget_ms", "version", "error"]


@dataclass(frozen=True)
class DependencyChecks:
    """Seed 2.2 in one value: PostgreSQL, Redis, the auth service and the frontend.

    `ok` when every configured dependency answered (within budget) and both services are
    healthy; a dependency "not configured" (allowed when `[dependencies] required = false`)
    is reported in `not_configured`, and does not make `ok` false.
    """

    stores: tuple[DependencyResult, ...]
    services: dict[str, HealthResult]

    @property
    def ok(self) -> bool:
        """True when nothing configured failed."""
        return (all(r.ok or r.skipped for r in self.stores)
                and all(r.ok for r in self.services.values()))

    @property
    def not_configured(self) -> tuple[str, ...]:
        """Names of the dependencies that were reported but not checked."""
        return tuple(r.name for r in self.stores if r.skipped)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the dependencies and services that failed."""
        return (tuple(r.name for r in self.stores if r.state == "failed")
                + tuple(name for name, r in self.services.items() if not r.ok))

    def store(self, name: str) -> DependencyResult | None:
        """The PostgreSQL or Redis result by name (`postgres`, `redis`)."""
        return next((r for r in self.stores if r.name == name), None)

    def figures(self) -> dict[str, Any]:
        """The figures a record keeps, by dotted name: each store's `state`, `latency_ms`
        and `query_ms`, each service's `latency_ms`, and `not_configured`."""
        figures: dict[str, Any] = {}
        for r in self.stores:
            figures |= {f"{r.name}.state": r.state, f"{r.name}.latency_ms": r.latency_ms,
                        f"{r.name}.query_ms": r.query_ms}
        figures |= {f"{role}.latency_ms": r.latency_ms for role, r in self.services.items()}
        return figures | {"not_configured": list(self.not_configured)}

    def query_times(self) -> dict[str, float | None]:
        """The seed's "Database Connectivity" figures: `postgres_latency_ms` and
        `redis_latency_ms`, each store's query round trip (None: not measured)."""
        return {f"{name}_latency_ms": getattr(self.store(name), "query_ms", None)
                for name in ("postgres", "redis")}

    def checks(self) -> tuple[Check, ...]:
        """Verdict rows: each dependency answers (seed 2.2); one that is not configured
        passes, its detail saying so."""
        stores = tuple(_store_check(r) for r in self.stores)
        return stores + tuple(Check(f"{role} health (seed 2.2)", r.ok, r.error or r.url,
                                    value=r.status_code, threshold="2xx")
                              for role, r in self.services.items())

    def to_frame(self) -> pd.DataFrame:
        """One row per dependency: name, kind (`store` or `http`), target, state, ok,
        latencies, version, error."""
        rows = [{"name": r.name, "kind": "store", "target": r.target, "state": r.state,
                 "ok": r.ok, "latency_ms": r.latency_ms, "query_ms": r.query_ms,
                 "budget_ms": r.budget_ms, "version": r.server_version, "error": r.error}
                for r in self.stores]
        rows += [{"name": role, "kind": "http", "target": r.url,
                  "state": "ok" if r.ok else "failed", "ok": r.ok, "latency_ms": r.latency_ms,
                  "query_ms": None, "budget_ms": None, "version": r.version, "error": r.error}
                 for role, r in self.services.items()]
        return pd.DataFrame(rows, columns=DEPENDENCY_COLUMNS)


@dataclass(frozen=True)
class DependencyOptions:
    """The keyword options of `check_dependencies` and `check_dependencies_async`, with
    their one set of defaults: `timeout_s` bounds each check."""

    timeout_s: float = 5.0


class _DependencyKeywords(TypedDict, total=False):
    timeout_s: float


def _store_check(result: DependencyResult) -> Check:
    """Passes when the store answered within budget, or is not configured."""
    return Check(f"{result.name} answers (seed 2.2)", result.ok or result.skipped,
                 (f"not configured: {result.error}" if result.skipped
                  else result.error or f"version {result.server_version}"),
                 value=result.query_ms if result.query_ms is not None else result.state,
                 threshold=f"< {result.budget_ms:g} ms" if result.budget_ms else "answers",
                 unit="ms" if result.query_ms is not None else "")


def _budget(env: Environment) -> float:
    """The environment's `database_latency` criterion, or the seed's 100 ms."""
    criterion = next((c for c in env.success_criteria if c.name == "database_latency"), None)
    return criterion.threshold if criterion is not None else DEFAULT_BUDGET_MS


def _unusable(env: Environment, name: str) -> DependencyResult | None:
    """The result for a dependency without a usable reference, or None when it has one.

    "not configured" when the environment allows it, else a failure saying what is missing.
    """
    reference: str | None = getattr(env.dependencies, name)
    try:
        if reference is None:
            raise SecretError(f"no [dependencies] {name} in {env.source or env.name}")
        resolve_secret(reference)
    except SecretError as exc:
        if env.dependencies.required:
            return _failed(name, reference or "", _Clock(), None, "config",
                           f"not configured: {exc}")
        return _not_configured(name, reference or "", str(exc))
    return None


def _health_of(env: Environment, options: DependencyOptions) -> dict[str, HealthResult]:
    """The auth service's health and the frontend's page (seed 2.2's two curl lines)."""
    results = check_services(env, timeout_s=options.timeout_s).results
    return {role: results[role] for role in ("auth", "frontend")}


@shows_options(DependencyOptions)
def check_dependencies(env: Environment,
                       **keywords: Unpack[_DependencyKeywords]) -> DependencyChecks:
    """PostgreSQL and Redis as `[dependencies]` names them, auth health and the frontend.

    Query latency is judged against the environment's `database_latency` criterion (seed:
    100 ms). A dependency that is not configured, or whose reference does not resolve, is
    "not configured" unless `[dependencies] required = true`, where it fails.
    """
    options = DependencyOptions(**keywords)
    budget = _budget(env)
    stores = [_unusable(env, name) or probe(getattr(env.dependencies, name),
                                            timeout_s=options.timeout_s, budget_ms=budget)
              for name, probe in (("postgres", postgres), ("redis", redis))]
    return DependencyChecks(tuple(stores), _health_of(env, options))


@shows_options(DependencyOptions)
async def check_dependencies_async(env: Environment,
                                   **keywords: Unpack[_DependencyKeywords]) -> DependencyChecks:
    """The asyncio twin of `check_dependencies()`: the four checks run concurrently.

    The HTTP checks use the sync health probe on a private one-thread executor, shut down
    before returning, so no thread outlives the call.
    """
    options = DependencyOptions(**keywords)
    budget = _budget(env)
    probes = {"postgres": postgres_async, "redis": redis_async}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="netra-ops-health") as pool:
        http = asyncio.get_running_loop().run_in_executor(pool, _health_of, env, options)
        stores = await asyncio.gather(*(_store_async(env, name, probes[name], budget,
                                                     options) for name in probes))
        services = await http
    return DependencyChecks(tuple(stores), services)


async def _store_async(env: Environment, name: str, probe: Any, budget: float,
                       options: DependencyOptions) -> DependencyResult:
    unusable = _unusable(env, name)
    if unusable is not None:
        return unusable
    result: DependencyResult = await probe(getattr(env.dependencies, name),
                                           timeout_s=options.timeout_s, budget_ms=budget)
    return result
