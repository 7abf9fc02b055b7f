"""Before a run: does the target answer at all? If not, say so and run nothing.

A runbook that acts on or asks the live system declares it in its notebook metadata,
`{"netra_ops": {"reaches_target": true}}` (02-08; the summary 00 and preflight 01 read
records and a repository only). Against a stopped sandbox or without network, such a run
would break at its first call, and a playbook would run every step into "error 3" and take
the rollback branch for a cause the terminal never shows. `require_target` asks first
(`netra_ops.record.reachability`: a TCP connection to each service URL and API endpoint, a few
seconds at most) and raises `TargetUnreachableError` with what does not answer and what to
do: the CLI exits 2, with nothing run, deployed or rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from netra_ops.config import Environment, load_environment
from netra_ops.errors import TargetUnreachableError
from netra_ops.record.reachability import reachability

__all__ = ["METADATA_KEY", "reaches_target", "require_target", "unreachable_text"]

METADATA_KEY = "netra_ops"
"""The notebook metadata key of netra-ops' declarations (`reaches_target`)."""


def reaches_target(source: Path) -> bool:
    """True when the runbook at `source` declares that it reaches the environment's services
    or APIs (notebook metadata `netra_ops.reaches_target`); False for an unreadable file."""
    try:
        metadata = json.loads(source.read_text(encoding="utf-8")).get("metadata") or {}
    except (OSError, ValueError, AttributeError):
        return False
    return (metadata.get(METADATA_KEY) or {}).get("reaches_target") is True


def require_target(environment: str, runbooks: Iterable[Path], *,
                   timeout_s: float = 3.0) -> None:
    """TargetUnreachableError when one of `runbooks` reaches the target and an endpoint of
    `environment` (a name or a TOML path, as the user gave it) does not answer."""
    if not any(reaches_target(source) for source in runbooks):
        return
    env = load_environment(environment)
    reach = reachability(env, timeout_s=timeout_s)
    if not reach.ok:
        raise TargetUnreachableError(unreachable_text(env, environment, reach.describe()))


def unreachable_text(env: Environment, given: str, cause: str) -> str:
    """The one line: which environment, what does not answer, what to do, nothing ran."""
    if env.kind == "sandbox":
        todo = f"is the sandbox running? start it with: netra-ops sandbox up --env {given}"
    else:
        todo = (f"check the network (VPN, proxy, DNS), then: netra-ops doctor --env {given}")
    return f"environment {env.name} does not answer: {cause}; {todo}; nothing was run"
