"""Known good and known bad revisions, recorded on the Cloud Run service itself.

A revision that passed validation is marked good, one that was rolled back from is marked
bad, in its service's annotations (each of the three services keeps its own:
`netra-ops/known-good`, `netra-ops/known-bad`, revision short names, newest first), so
every operator and every machine reading the service sees them (`gcloud run services
describe` shows them too). A revision is in one list at most: marking it good takes it off
the bad list and the other way round. Rollback targets are
chosen from these lists (`netra_ops.deploy.release.rollback_target`).

Marking is a change to the service like any other: a dry run without `execute=True`, only in
an allow-listed environment, with an audit entry. It changes no template and no traffic, so
Cloud Run creates no revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from google.cloud import run_v2

from netra_ops.cloud import KNOWN_BAD, KNOWN_GOOD, ServiceState, read_service
from netra_ops.config import Environment, ServiceRole
from netra_ops.deploy.change import ChangeResult, apply_change
from netra_ops.deploy.release import DEPLOY_ORDER

__all__ = ["MAX_MARKED", "KnownGoodMark", "Verdict", "mark_clean_window", "mark_revision"]

Verdict = Literal["good", "bad"]
MAX_MARKED = 20
"""How many revisions each list keeps (the newest marks)."""


def mark_revision(env: Environment, revision: str, verdict: Verdict, *,
                  role: ServiceRole = "backend", execute: bool = False,
                  deadline_s: float = 60.0) -> ChangeResult:
    """Record `revision` as known good or known bad on the service of `role`."""
    if verdict not in ("good", "bad"):
        raise ValueError(f"verdict must be 'good' or 'bad', got {verdict!r}")

    def planner(state: ServiceState) -> list[str]:
        state.revision(revision)  # ServiceNotFoundError names the known ones
        if state.known(revision) == verdict:
            return []
        return [f"annotation {_key(verdict)}: add {revision}"
                + (f" (and take it off {_key(_other(verdict))})" if state.known(revision)
                   else "")]

    def mutate(service: run_v2.Service, state: ServiceState) -> None:
        marked = {"good": list(state.known_good), "bad": list(state.known_bad)}
        marked[_other(verdict)] = [n for n in marked[_other(verdict)] if n != revision]
        marked[verdict] = [revision, *(n for n in marked[verdict] if n != revision)]
        for which, names in marked.items():
            if names:
                service.annotations[_key(which)] = ",".join(names[:MAX_MARKED])
            elif _key(which) in service.annotations:
                del service.annotations[_key(which)]

    return apply_change(env, f"mark_{verdict}", planner, mutate, execute=execute,
                        deadline_s=deadline_s, role=role)


def _key(verdict: str) -> str:
    return KNOWN_GOOD if verdict == "good" else KNOWN_BAD


def _other(verdict: str) -> Verdict:
    return "bad" if verdict == "good" else "good"


@dataclass(frozen=True)
class KnownGoodMark:
    """The serving revisions marked known good after a clean window: the backend's
    (`revision`, `change`; None: not marked, the window was not clean or nothing serves)
    and every other service's (`others`: role -> (revision, change))."""

    revision: str | None = None
    change: ChangeResult | None = None
    others: dict[str, tuple[str, ChangeResult]] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any] | None:
        """`{"revision", "status", "services": {role: {"revision", "status"}}}` of the
        marks, or None when there was none."""
        if self.change is None:
            return None
        services = {role: {"revision": name, "status": change.status}
                    for role, (name, change) in self.others.items()}
        return {"revision": self.revision, "status": self.change.status, "services": services}

    def describe(self) -> str:
        """The marks for a reader ("" when there was none)."""
        if self.change is None:
            return ""
        others = "".join(f"; {role} `{name}`: {change.status}"
                         for role, (name, change) in self.others.items())
        return f"`{self.revision}` known good: {self.change.status}{others}"


def mark_clean_window(env: Environment, action: str, *, execute: bool) -> KnownGoodMark:
    """After a watch: a clean window (the playbook decision `continue`) marks the serving
    revision of each service known good (the release as a whole served it), so a later
    rollback of any of them lands there (a plan without `execute`)."""
    if action != "continue":
        return KnownGoodMark()
    serving = read_service(env).serving_revision
    if not serving:
        return KnownGoodMark()
    others: dict[str, tuple[str, ChangeResult]] = {}
    for role in DEPLOY_ORDER:
        if role == "backend" or role not in env.services:
            continue
        name = read_service(env, role).serving_revision
        if name:
            others[role] = (name, mark_revision(env, name, "good", role=role, execute=execute))
    return KnownGoodMark(serving, mark_revision(env, serving, "good", execute=execute), others)
