"""Deploy a new revision of a service (seed 1.2), move traffic, and roll back (seed 4.2).

Each acts on one of the three services (`role`: auth, backend, frontend; the backend by
default). All are dry runs unless `execute=True`; see `netra_ops.deploy.change`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from google.cloud import run_v2

from netra_ops.cloud import KNOWN_BAD, ServiceState, pinned_image, registry_tag, short_name
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy.change import (
    ChangeResult,
    apply_change,
    refuse_unless_allowed,
    set_revision_targets,
    split_text,
)
from netra_ops.errors import ConfigError, DeployError, NoRollbackTargetError

__all__ = ["DEPLOY_ORDER", "RollbackTarget", "choose_rollback_target", "deploy", "release_image",
           "release_images", "rollback", "rollback_target", "set_traffic"]

DEPLOY_ORDER: tuple[ServiceRole, ...] = ("auth", "backend", "frontend")


@dataclass(frozen=True)
class _Template:
    """What a deploy asks of the next revision's template (None: keep the service's)."""

    image: str
    env: Mapping[str, str | None]
    limits: Mapping[str, str]
    timeout_s: int | None
    concurrency: int | None
    session_affinity: bool | None = None


def deploy(
    env: Environment,
    image: str,
    *,
    role: ServiceRole = "backend",
    env_vars: Mapping[str, str | None] | None = None,
    memory: str | None = None,
    cpu: str | None = None,
    timeout_s: int | None = None,
    concurrency: int | None = None,
    session_affinity: bool | None = None,
    send_traffic: bool = True,
    deadline_s: float = 900.0,
    execute: bool = False,
) -> ChangeResult:
    """A new revision of the service of `role` from `image` by digest (and env vars,
    resources.limits `memory` / `cpu`, request `timeout_s`, `concurrency`,
    `session_affinity`), serving all traffic once Ready.

    A tag is resolved through Artifact Registry and the template gets
    `REGISTRY/PACKAGE@sha256:...` (`result.image`): a build pushed under the same tag is a
    new template, so a new revision; an image given by digest is deployed as it is, and so is
    a tag Artifact Registry does not have (the plan says so).
    `env_vars` values of None remove a variable. While the new revision starts, traffic
    stays pinned to what serves; once Ready it gets 100% (pinned to it by name), so at every
    moment traffic is on a known revision. Nothing to change (the digest already serves,
    reported by digest as Cloud Run does, with this template) is `unchanged`; when only the
    traffic is elsewhere (after a rollback), it goes back to the template's revision, unless
    that one is known bad (DeployError). On failure or deadline the previous revision keeps
    serving.
    """
    refuse_unless_allowed(env, execute)  # before Artifact Registry is asked
    wanted = _Template(pinned_image(env, image), dict(env_vars or {}),
                       {k: v for k, v in (("memory", memory), ("cpu", cpu)) if v is not None},
                       timeout_s, concurrency, session_affinity)
    secrets = set(env.secret_env)

    def planner(state: ServiceState) -> list[str]:
        return _deploy_plan(state, wanted, secrets, send_traffic)

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        if not _template_plan(state, wanted, secrets):
            set_revision_targets(service, {state.latest_ready: 100})
            return
        _apply_template(service.template, wanted)
        if state.serving:
            set_revision_targets(service, state.serving)

    def settle(service: run_v2.Service, state: ServiceState) -> bool:
        new = short_name(service.latest_ready_revision)
        if not send_traffic or new == state.latest_ready:
            return False
        set_revision_targets(service, {new: 100})
        return True

    change = apply_change(env, "deploy", planner, mutate, execute=execute,
                          deadline_s=deadline_s, role=role, settle=settle)
    return replace(change, image=wanted.image)


def _deploy_plan(state: ServiceState, wanted: _Template, secrets: set[str],
                 send_traffic: bool) -> list[str]:
    """What a deploy of `wanted` changes on a service in `state`: the template's lines, then
    where traffic goes; with nothing to change, traffic back to the template's revision
    (DeployError when that one is known bad)."""
    plan = _template_plan(state, wanted, secrets)
    if plan:
        if registry_tag(wanted.image):
            plan.append(f"image {wanted.image}: Artifact Registry has no such tag; deployed by "
                        "tag, Cloud Run resolves it when the revision starts (or fails it)")
        plan.append(f"traffic: stays on {split_text(state.serving)} (pinned)"
                    + (" while the new revision starts, then 100% to it once Ready"
                       if send_traffic else "; the new revision gets none"))
    elif send_traffic and _template_revision_idle(state, wanted.image):
        if state.latest_ready in state.known_bad:
            raise DeployError(
                f"{state.name}: the template's revision {state.latest_ready} runs "
                f"{wanted.image} with this configuration and is recorded as known bad "
                f"(annotation {KNOWN_BAD}); deploying it again would send traffic back to "
                "it: deploy another build, or change its configuration")
        plan.append(f"traffic: {split_text(state.serving)} -> {state.latest_ready} 100% "
                    "(the template's revision)")
    return plan


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


def set_traffic(env: Environment, split: Mapping[str, int], *, role: ServiceRole = "backend",
                deadline_s: float = 120.0, execute: bool = False) -> ChangeResult:
    """Split traffic of the service of `role` between Ready revisions by percent (short
    names, summing to 100)."""
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
        return [f"traffic: {split_text(state.serving)} -> {split_text(split)}"]

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        set_revision_targets(service, split)

    return apply_change(env, "set_traffic", planner, mutate, execute=execute,
                        deadline_s=deadline_s, role=role)


def rollback(env: Environment, to_revision: str | None = None, *,
             role: ServiceRole = "backend", avoid: Iterable[str] | None = None,
             deadline_s: float = 120.0, execute: bool = False) -> ChangeResult:
    """All traffic of the service of `role` to `to_revision`, or to `rollback_target()` (its
    newest known good revision; `avoid` names the revisions rolled back from, default the
    serving one).

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
        return [f"traffic: {split_text(state.serving)} -> {target} 100% pinned ({info.image})"]

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        set_revision_targets(service, {target_of(state): 100})

    return apply_change(env, "rollback", planner, mutate, execute=execute,
                        deadline_s=deadline_s, role=role)


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


def _template_plan(state: ServiceState, wanted: _Template, secret_keys: set[str]) -> list[str]:
    """What changes in the template: the image (unless the digest already serves), env
    vars, limits, timeout, concurrency, session affinity."""
    plan = []
    if state.template_image != wanted.image and state.serving_image != wanted.image:
        plan.append(f"image: {state.template_image} -> {wanted.image}")
    for key, value in sorted(wanted.env.items()):
        current = state.template_env.get(key)
        if current != value:
            hidden = key in secret_keys
            plan.append(f"env {key}: {_shown(key, current, hidden)} -> "
                        f"{_shown(key, value, hidden)}")
    for key, value in sorted(wanted.limits.items()):
        if state.template_limits.get(key) != value:
            plan.append(f"limit {key}: {state.template_limits.get(key)} -> {value}")
    if wanted.timeout_s is not None and state.template_timeout_s != wanted.timeout_s:
        plan.append(f"timeout: {state.template_timeout_s:g} s -> {wanted.timeout_s} s")
    if wanted.concurrency is not None and state.template_concurrency != wanted.concurrency:
        plan.append(f"concurrency: {state.template_concurrency} -> {wanted.concurrency}")
    if (wanted.session_affinity is not None
            and state.template_session_affinity != wanted.session_affinity):
        plan.append(f"session affinity: {_on(state.template_session_affinity)} -> "
                    f"{_on(wanted.session_affinity)}")
    return plan


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _template_revision_idle(state: ServiceState, image: str) -> bool:
    """Whether the template already names `image`, its revision is Ready, and it does not
    have all the traffic (e.g. after a rollback from it)."""
    return (state.template_image == image and state.latest_ready == state.latest_created
            and state.serving != {state.latest_ready: 100})


def _apply_template(template: run_v2.RevisionTemplate, wanted: _Template) -> None:
    container = template.containers[0]
    container.image = wanted.image
    _apply_env(container, wanted.env)
    for key, value in wanted.limits.items():
        container.resources.limits[key] = value
    if wanted.timeout_s is not None:
        template.timeout = timedelta(seconds=wanted.timeout_s)
    if wanted.concurrency is not None:
        template.max_instance_request_concurrency = wanted.concurrency
    if wanted.session_affinity is not None:
        template.session_affinity = wanted.session_affinity


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
