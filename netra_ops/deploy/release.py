"""Deploy a new revision (seed 1.2), move traffic, and roll back (seed 4.2).

All three are dry runs unless `execute=True`; see `netra_ops.deploy.change`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.cloud import run_v2

from netra_ops.cloud import (
    IMAGE_DIGEST_ANNOTATION,
    KNOWN_BAD,
    ServiceState,
    new_build,
    serves_image,
)
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy.change import ChangeResult, apply_change, set_revision_targets
from netra_ops.errors import ConfigError, DeployError, NoRollbackTargetError

__all__ = ["DEPLOY_ORDER", "RollbackTarget", "choose_rollback_target", "deploy", "release_image",
           "release_images", "rollback", "rollback_target", "set_traffic"]

DEPLOY_ORDER: tuple[ServiceRole, ...] = ("auth", "backend", "frontend")

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
    build than the serving revision runs (a push since; `cloud.builds.new_build`), the
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


def release_image(env: Environment, role: ServiceRole = "backend") -> str:
    """The image of the fixed build of one service, from the environment's `[release]`
    (`image` for the backend, `[release.images]` for any service)."""
    image = env.release.image_for(role)
    if not image:
        where = "[release] image" if role == "backend" else f"[release.images] {role}"
        raise ConfigError(f"environment {env.name} has no {where} in "
                          f"{env.source or 'its file'}; set it or pass the image explicitly")
    return image


def release_images(env: Environment) -> dict[ServiceRole, str]:
    """The release image of every service of the environment, in deploy order (auth first,
    frontend last: the backend needs auth, the frontend needs both)."""
    return {role: release_image(env, role) for role in DEPLOY_ORDER if role in env.services}


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


def rollback(env: Environment, to_revision: str | None = None, *,
             avoid: Iterable[str] | None = None, deadline_s: float = 120.0,
             execute: bool = False) -> ChangeResult:
    """All traffic to `to_revision`, or to `rollback_target()` (the newest known good
    revision; `avoid` names the revisions rolled back from, default the serving one).

    A known-bad revision is refused, named or not. The template keeps naming the image last
    deployed, as Cloud Run's does after a traffic-only rollback; what serves is the target.
    Traffic is pinned to the target even when it serves already (so a later Ready revision
    cannot take it).
    """
    avoided = None if avoid is None else tuple(avoid)

    def target_of(state: ServiceState) -> str:
        return to_revision or rollback_target(state, avoided)

    def planner(state: ServiceState) -> list[str]:
        target = target_of(state)
        info = state.revision(target)
        if target in state.known_bad:
            raise NoRollbackTargetError(
                f"revision {target} is recorded as known bad on {state.name} (annotation "
                f"{KNOWN_BAD}); roll back to a known good one: {_names(state.known_good)}")
        if not info.ready:
            raise NoRollbackTargetError(f"revision {target} is not Ready ({info.reason})")
        if state.serving == {target: 100} and not state.traffic_latest:
            return []
        return [f"traffic: {_split(state.serving)} -> {target} 100% pinned ({info.image})"]

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        set_revision_targets(service, {target_of(state): 100})

    return apply_change(env, "rollback", planner, mutate, execute=execute,
                        deadline_s=deadline_s)


@dataclass(frozen=True)
class RollbackTarget:
    """Where a rollback goes, and why: `known_good` says whether the service records it
    as having passed validation (else it is the fallback: the newest Ready revision that
    is not known bad)."""

    revision: str
    known_good: bool
    reason: str


def rollback_target(state: ServiceState, avoid: Iterable[str] | None = None) -> str:
    """The revision `choose_rollback_target()` picks."""
    return choose_rollback_target(state, avoid).revision


def choose_rollback_target(state: ServiceState,
                           avoid: Iterable[str] | None = None) -> RollbackTarget:
    """The newest Ready revision recorded known good, other than those rolled back from
    (`avoid`, default: the serving one); when there is none, the newest Ready revision that
    is neither known bad nor rolled back from (the reason says so). Never a known-bad one:
    NoRollbackTargetError when nothing is left."""
    if avoid is None:
        avoid = [state.serving_revision] if state.serving_revision else []
    avoid = list(avoid)
    skipped = set(avoid) | set(state.known_bad)
    ready = [r.name for r in state.revisions if r.ready and r.name not in skipped]
    good = [name for name in state.known_good if name in ready]
    if good:
        newest = next(name for name in ready if name in good)
        return RollbackTarget(newest, True, f"{newest} is the newest known good revision")
    if ready:
        return RollbackTarget(ready[0], False, (
            f"no known good revision to roll back to (known good: "
            f"{_names(state.known_good)}); {ready[0]} is the newest Ready revision that is "
            f"not known bad ({_names(state.known_bad)}) nor rolled back from "
            f"({_names(sorted(set(avoid)))})"))
    raise NoRollbackTargetError(
        f"no revision of {state.name} to roll back to: none is Ready and neither known bad "
        f"({_names(state.known_bad)}) nor rolled back from ({_names(sorted(set(avoid)))}); "
        "name one with to_revision=")


def _names(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


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
