"""Known good and known bad revisions, recorded on the Cloud Run service itself.

A revision that passed validation is marked good, one that was rolled back from is marked
bad, in the service's annotations (`netra-ops/known-good`, `netra-ops/known-bad`: revision
short names, newest first), so every operator and every machine reading the service sees
them (`gcloud run services describe` shows them too). A revision is in one list at most:
marking it good takes it off the bad list and the other way round. Rollback targets are
chosen from these lists (`netra_ops.deploy.release.rollback_target`).

Marking is a change to the service like any other: a dry run without `execute=True`, only in
an allow-listed environment, with an audit entry. It changes no template and no traffic, so
Cloud Run creates no revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from google.cloud import run_v2

from netra_ops.cloud import KNOWN_BAD, KNOWN_GOOD, ServiceState, read_service
from netra_ops.config import Environment
from netra_ops.deploy.change import ChangeResult, apply_change

__all__ = ["MAX_MARKED", "KnownGoodMark", "Verdict", "mark_clean_window", "mark_revision"]

Verdict = Literal["good", "bad"]
MAX_MARKED = 20
"""How many revisions each list keeps (the newest marks)."""


def mark_revision(env: Environment, revision: str, verdict: Verdict, *,
                  execute: bool = False, deadline_s: float = 60.0) -> ChangeResult:
    """Record `revision` as known good or known bad on the backend service."""
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
                        deadline_s=deadline_s)


def _key(verdict: str) -> str:
    return KNOWN_GOOD if verdict == "good" else KNOWN_BAD


def _other(verdict: str) -> Verdict:
    return "bad" if verdict == "good" else "good"


@dataclass(frozen=True)
class KnownGoodMark:
    """The serving revision marked known good after a clean window (`change` None: not
    marked, the window was not clean or nothing serves)."""

    revision: str | None = None
    change: ChangeResult | None = None

    def to_record(self) -> dict[str, Any] | None:
        """`{"revision", "status"}` of the mark, or None when there was none."""
        if self.change is None:
            return None
        return {"revision": self.revision, "status": self.change.status}

    def describe(self) -> str:
        """The mark for a reader ("" when there was none)."""
        return f"`{self.revision}` known good: {self.change.status}" if self.change else ""


def mark_clean_window(env: Environment, action: str, *, execute: bool) -> KnownGoodMark:
    """After a watch: a clean window (the playbook decision `continue`) marks the serving
    revision known good, so a later rollback lands on it (a plan without `execute`)."""
    if action != "continue":
        return KnownGoodMark()
    serving = read_service(env).serving_revision
    if not serving:
        return KnownGoodMark()
    return KnownGoodMark(serving, mark_revision(env, serving, "good", execute=execute))
