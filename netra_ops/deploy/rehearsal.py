"""Staging a rehearsal: put a given build (and fault variables) into service on the sandbox.

A playbook scenario starts from a known story, e.g. the stale build serving (seed: "staging
running code from weeks/months ago"), or serving with a wrong `AUTH_SERVICE_URL` (seed:
"Service URL mismatch"). This deploys it through the same Cloud Run client as any deploy,
and only ever on a sandbox environment. A value may name a service's URL as `{auth_url}`,
`{frontend_url}` or `{backend_url}` (a sandbox's ports are its own).
"""

from __future__ import annotations

from collections.abc import Mapping

from netra_ops.cloud import read_service
from netra_ops.config import Environment
from netra_ops.deploy.change import ChangeResult
from netra_ops.deploy.release import deploy, release_image
from netra_ops.errors import ChangesNotAllowedError, DeployError
from netra_ops.probe.url_consistency import URL_VARIABLES

__all__ = ["FAULT_PREFIX", "serve_for_rehearsal"]

FAULT_PREFIX = "NETRA_FAULT_"


def serve_for_rehearsal(env: Environment, image_tag: str,
                        env_vars: Mapping[str, str] | None = None) -> ChangeResult:
    """Deploy the release image's repository at `image_tag` with exactly these fault
    variables (others are removed) and service URLs (`AUTH_SERVICE_URL`, `FRONTEND_URL`:
    those of `[expected_env]` unless named), and send it all traffic. Sandbox only."""
    if env.kind != "sandbox":
        raise ChangesNotAllowedError(
            f"rehearsal scenarios stage the sandbox only; environment {env.name} is "
            f"{env.kind}")
    image = release_image(env).rsplit(":", 1)[0] + ":" + image_tag
    wanted: dict[str, str | None] = {k: _with_urls(env, v) for k, v in (env_vars or {}).items()}
    current = read_service(env).template_env
    wanted.update({k: None for k in current if k.startswith(FAULT_PREFIX) and k not in wanted})
    wanted.update({k: env.expected_env[k] for k in URL_VARIABLES
                   if k in env.expected_env and k not in wanted})
    change = deploy(env, image, env_vars=wanted, execute=True, deadline_s=60)
    if not change.ok:
        raise DeployError(f"could not stage {image} for the rehearsal: {change.error}")
    return change


def _with_urls(env: Environment, value: str) -> str:
    """`value` with `{auth_url}`, `{frontend_url}` and `{backend_url}` replaced."""
    for role, service in env.services.items():
        value = value.replace(f"{{{role}_url}}", service.url)
    return value
