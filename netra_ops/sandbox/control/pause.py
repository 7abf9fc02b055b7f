"""Stall the sandbox's backend on purpose: freeze its serving revision for a few seconds.

    from netra_ops.sandbox.control.pause import pause_revision

    pause_revision(env, 1.0)        # every revision with traffic, frozen for 1 s

The platform stops the revision's process (SIGSTOP) and lets it run on (SIGCONT) after the
given seconds (`POST /_sandbox/revisions/{name}/pause`); connections stay open and requests
queue in the kernel meanwhile, as with a server stalled by a long pause. The call returns at
once: the pause runs on while the caller measures it.
"""

from __future__ import annotations

from typing import Any

import httpx

from netra_ops.config import Environment
from netra_ops.errors import SandboxError
from netra_ops.sandbox.runtime.state import not_running_error, sandbox_settings

__all__ = ["pause_revision"]

_TIMEOUT_S = 10.0


def pause_revision(env: Environment, seconds: float,
                   revision: str | None = None) -> list[dict[str, Any]]:
    """Freeze `revision` (default: every revision receiving traffic) for `seconds` (0 < s
    <= 60); the admin API's answers (`revision`, `pid`, `seconds`, `resumes_at`).
    SandboxError when the sandbox refuses (unknown or not ready revision, bad seconds)."""
    api = sandbox_settings(env).url("api")
    try:
        with httpx.Client(trust_env=False, timeout=_TIMEOUT_S) as client:
            names = [revision] if revision is not None else _serving(client, api)
            return [_pause(client, api, name, seconds) for name in names]
    except httpx.TransportError as exc:
        raise not_running_error(env, f"the admin API at {api} did not answer: {exc}") from None


def _serving(client: httpx.Client, api: str) -> list[str]:
    traffic = client.get(f"{api}/_sandbox/status").raise_for_status().json()["traffic"]
    names = [str(target["revision"]) for target in traffic if target.get("percent")]
    if not names:
        raise SandboxError("no revision receives traffic: nothing to pause (deploy one first, "
                           "e.g. netra_ops.sandbox.apply_scenario(env, 'fixed'))")
    return names


def _pause(client: httpx.Client, api: str, name: str, seconds: float) -> dict[str, Any]:
    response = client.post(f"{api}/_sandbox/revisions/{name}/pause", json={"seconds": seconds})
    if response.status_code != 200:
        detail = response.json().get("error") if response.headers.get(
            "content-type", "").startswith("application/json") else response.text[:300]
        raise SandboxError(f"pausing revision {name} for {seconds:g} s: the admin API "
                           f"answered {response.status_code}: {detail}")
    answer: dict[str, Any] = response.json()
    return answer
