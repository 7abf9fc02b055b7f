"""Deploy a new revision (seed 1.2), move traffic, and roll back (seed 4.2).

All three are dry runs unless `execute=True`; see `netra_ops.deploy.change`.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.cloud import run_v2

from netra_ops.config import Environment
from netra_ops.deploy.change import ChangeResult, apply_change, set_revision_targets
from netra_ops.deploy.image_digest import IMAGE_DIGEST_ANNOTATION, new_build, serves_image
from netra_ops.deploy.service import ServiceState
from netra_ops.errors import ConfigError, DeployError, NoRollbackTargetError

__all__ = ["deploy", "release_image", "rollback", "rollback_target", "set_traffic"]

_LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST


def deploy(
    env: Environment,
    image: str,
    *,
    env_vars: Mapping[str, str | None] | None = None,
    memory: str | None = None,
    cpu: str | None = None,
    send_traffic: bool = True,
    deadline_s: float = 900.0,
    execute: bool = False,
) -> ChangeResult:
    """A new revision from `image` (and env vars / limits), serving all traffic once Ready.

    `env_vars` values of None remove a variable. Deploying what already serves, with the
    same template, changes nothing (`unchanged`); but when `image`'s tag names a newer
    build than the serving revision runs (a push since; `image_digest.new_build`), the
    template is marked with that digest, so a new revision resolves the tag again. On
    failure or deadline the previous revision keeps serving.
    """
    wanted_env = dict(env_vars or {})
    limits = {k: v for k, v in (("memory", memory), ("cpu", cpu)) if v is not None}
    fresh: list[str | None] = [None]

    def planner(state: ServiceState) -> list[str]:
        plan = _template_plan(state, image, wanted_env, limits, set(env.secret_env))
        fresh[0] = new_build(env, state, image)
        if fresh[0] is not None:
            plan.append(f"image: {image} now names {fresh[0]}, serving {state.serving_image}")
        if send_traffic and (not serves_image(env, state, image) or not state.traffic_latest):
            plan.append(f"traffic: {_split(state.serving)} -> 100% latest ({image})")
        return plan

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        container = service.template.containers[0]
        container.image = image
        if fresh[0] is not None:
            service.template.annotations[IMAGE_DIGEST_ANNOTATION] = fresh[0]
        _apply_env(container, wanted_env)
        for key, value in limits.items():
            container.resources.limits[key] = value
        if send_traffic:
            del service.traffic[:]
            service.traffic.append(run_v2.TrafficTarget(type_=_LATEST, percent=100))

    return apply_change(env, "deploy", planner, mutate, execute=execute, deadline_s=deadline_s)


def release_image(env: Environment) -> str:
    """The image of the fixed build, from the environment's `[release] image`."""
    if not env.release.image:
        raise ConfigError(f"environment {env.name} has no [release] image in "
                          f"{env.source or 'its file'}; set it or pass the image explicitly")
    return env.release.image


def set_traffic(env: Environment, split: Mapping[str, int], *, deadline_s: float = 120.0,
                execute: bool = False) -> ChangeResult:
    """Split traffic between Ready revisions by percent (short names, summing to 100)."""
    total = sum(split.values())
    if total != 100 or any(p < 0 for p in split.values()):
        raise DeployError(f"traffic percents must be >= 0 and sum to 100, got {dict(split)} "
                          f"(sum {total})")

    def planner(state: ServiceState) -> list[str]:
        for name in split:
            if not state.revision(name).ready:
                raise DeployError(f"revision {name} is not Ready and cannot take traffic")
        if state.serving == {k: v for k, v in split.items() if v > 0}:
            return []
        return [f"traffic: {_split(state.serving)} -> {_split(split)}"]

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        set_revision_targets(service, split)

    return apply_change(env, "set_traffic", planner, mutate, execute=execute,
                        deadline_s=deadline_s)


def rollback(env: Environment, to_revision: str | None = None, *, deadline_s: float = 120.0,
             execute: bool = False) -> ChangeResult:
    """All traffic to `to_revision`, or to the Ready revision before the one serving.

    The template keeps naming the image last deployed, as Cloud Run's does after a
    traffic-only rollback; what serves is the target revision.
    """

    def planner(state: ServiceState) -> list[str]:
        target = to_revision or rollback_target(state)
        info = state.revision(target)
        if not info.ready:
            raise NoRollbackTargetError(f"revision {target} is not Ready ({info.reason})")
        if state.serving == {target: 100}:
            return []
        return [f"traffic: {_split(state.serving)} -> {target} 100% ({info.image})"]

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        set_revision_targets(service, {to_revision or rollback_target(state): 100})

    return apply_change(env, "rollback", planner, mutate, execute=execute,
                        deadline_s=deadline_s)


def rollback_target(state: ServiceState) -> str:
    """The newest Ready revision created before the one serving now."""
    serving = state.serving_revision
    names = [r.name for r in state.revisions]
    start = names.index(serving) + 1 if serving in names else 0
    for info in state.revisions[start:]:
        if info.ready:
            return info.name
    raise NoRollbackTargetError(
        f"no Ready revision older than {serving or 'the serving one'} in {state.name}; "
        "name one with to_revision=")


def _template_plan(state: ServiceState, image: str, wanted_env: Mapping[str, str | None],
                   limits: Mapping[str, str], secret_keys: set[str]) -> list[str]:
    plan = [f"image: {state.template_image} -> {image}"] if state.template_image != image else []
    for key, value in sorted(wanted_env.items()):
        current = state.template_env.get(key)
        if current != value:
            hidden = key in secret_keys
            plan.append(f"env {key}: {_shown(key, current, hidden)} -> "
                        f"{_shown(key, value, hidden)}")
    for key, value in sorted(limits.items()):
        if state.template_limits.get(key) != value:
            plan.append(f"limit {key}: {state.template_limits.get(key)} -> {value}")
    return plan


def _apply_env(container: run_v2.Container, wanted: Mapping[str, str | None]) -> None:
    current = {e.name: e.value for e in container.env}
    current.update({k: v for k, v in wanted.items() if v is not None})
    for key in [k for k, v in wanted.items() if v is None]:
        current.pop(key, None)
    del container.env[:]
    container.env.extend(run_v2.EnvVar(name=k, value=v) for k, v in current.items())


def _shown(key: str, value: str | None, secret: bool = False) -> str:
    """Env values in plans; values of secret keys (declared in `[secret_env]` or
    secret-looking by name) are never shown."""
    if value is None:
        return "(unset)"
    secret_words = ("SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL")
    hidden = secret or any(w in key.upper() for w in secret_words)
    return "(secret)" if hidden else repr(value)


def _split(split: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {p}%" for n, p in split.items()) or "nothing"
