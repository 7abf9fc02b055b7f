"""The secrets a runbook needs from its environment, resolved before anything runs.

A runbook that logs in (04, 05, 06, 07, 09; 02 when it rolls out in steps, since each step runs
the golden path) needs the test user's password; 03 needs the expected values of
`[secret_env]` and, when `[dependencies] required`, the connection strings. A reference that
does not resolve would otherwise stop the run midway (a cell error, exit 3, perhaps after a
deploy); `require_secrets` reports every missing one at once, before the first runbook
starts (SecretError: the CLI's exit 2), as `netra-ops probe golden-path` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netra_ops.config import Environment
from netra_ops.errors import SecretError
from netra_ops.secrets import unresolved

__all__ = ["CONFIG_RUNBOOKS", "LOGIN_RUNBOOKS", "needed_secrets", "require_secrets"]

LOGIN_RUNBOOKS = ("04_golden_path_validation", "05_performance", "06_rollback",
                  "07_monitoring", "09_session_longevity")
"""Runbooks that log in as the test user: they need `[credentials] password`."""
CONFIG_RUNBOOKS = ("03_config_sync",)
"""Runbooks that compare `[secret_env]` and check the required `[dependencies]`."""
_ROLLOUT = ("02_deploy", "rollout_steps")  # 02 runs the golden path at each rollout step


def needed_secrets(env: Environment, runbook: str,
                   parameters: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(reference, what it is) of every secret `runbook` resolves with these parameters."""
    login = runbook in LOGIN_RUNBOOKS or (
        runbook == _ROLLOUT[0] and bool((parameters or {}).get(_ROLLOUT[1])))
    needs = [(env.credentials.password, "the test user's password")] if login else []
    if runbook in CONFIG_RUNBOOKS:
        needs += [(ref, f"[secret_env] {key}") for key, ref in env.secret_env.items()]
        if env.dependencies.required:
            needs += [(ref, f"[dependencies] {name}") for name, ref in
                      (("postgres", env.dependencies.postgres),
                       ("redis", env.dependencies.redis)) if ref]
    return needs


def require_secrets(env: Environment,
                    runs: Iterable[tuple[str, Mapping[str, Any] | None]]) -> None:
    """SecretError naming every secret the runs (runbook, its parameters) need that does
    not resolve, with the runbooks that need it and what to do; nothing when all resolve."""
    users: dict[tuple[str, str], list[str]] = {}
    for runbook, parameters in runs:
        for need in needed_secrets(env, runbook, parameters):
            users.setdefault(need, []).append(runbook)
    problems = [f"{what} for {', '.join(dict.fromkeys(books))} "
                f"({error.removeprefix(f'secret {reference}: ')})"
                for (reference, what), books in users.items()
                if (error := unresolved(reference))]
    if problems:
        many = len(problems) > 1
        raise SecretError(
            f"missing secret{'s' if many else ''}: {'; '.join(problems)}; nothing was run: "
            f"set {'them' if many else 'it'} and run again (netra-ops doctor --env "
            f"{env.name} checks every secret)")

