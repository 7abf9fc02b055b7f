"""Rollback rules adjusted for one run: a rehearsal's scale, stated and recorded.

The environment's rules are the seed's (e.g. memory above 3.5 GiB held for 5 minutes). A
rehearsal on the sandbox cannot wait five minutes for a leak to cross 3.5 GiB, so a runbook
may take `rule_overrides`: `{rule name: {field: value}}`, e.g.
`{"memory_high": {"threshold": 268435456, "for_s": 10}}`. Each override is validated like
the environment file (unknown rule, unknown field or wrong type: `ConfigError` naming which),
and the rule's description says what was changed, so the record never passes a rehearsal's
threshold off as the seed's.

During a gradual rollout the new revision has a share of the traffic only: `revision_rules`
judges each rule whose metric Cloud Run labels with the revision (request counts, request
logs, latency, memory) on that revision's own samples, from the sources that label every
answer (`REVISION_SOURCES`); the others (the probes' WebSocket and authentication rates)
stay judged on all the traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from netra_ops.config import TriggerRule
from netra_ops.errors import ConfigError
from netra_ops.metrics.frames import METRIC_SOURCES, REVISION_SOURCES

__all__ = ["FIXED_FIELDS", "override_rules", "overrides_note", "revision_rules"]

FIXED_FIELDS = ("name", "metric")
"""Fields an override may not change: it adjusts a rule, it does not make another one."""


def override_rules(rules: Sequence[TriggerRule],
                   overrides: Mapping[str, Mapping[str, Any]] | None, *,
                   dry_run: bool = False) -> list[TriggerRule]:
    """`rules` with `overrides` applied (a new list; the environment's rules are unchanged);
    with `dry_run` every rule is a dry run (shown and recorded, never a rollback)."""
    overrides = dict(overrides or {})
    known = {rule.name for rule in rules}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"rule_overrides names unknown rules {', '.join(map(repr, unknown))}; "
                          f"the environment's rules are {', '.join(sorted(known)) or 'none'}")
    changed = [_override(rule, overrides[rule.name]) if rule.name in overrides else rule
               for rule in rules]
    return [r.model_copy(update={"dry_run": True}) for r in changed] if dry_run else changed


def overrides_note(overrides: Mapping[str, Mapping[str, Any]] | None) -> str:
    """What a run's `rule_overrides` changed, for the reader (Markdown; "" without any)."""
    if not overrides:
        return ""
    changed = "; ".join(f"`{name}`: {changes}" for name, changes in overrides.items())
    return ("**Rules overridden for this run** (a rehearsal's scale, not the seed's "
            f"thresholds): {changed}")


def revision_rules(rules: Sequence[TriggerRule], revision: str) -> list[TriggerRule]:
    """`rules` (a new list) with each rule that can be judged per revision judged on
    `revision`'s own samples only: `where` revision, and the source restricted to one that
    labels every answer with its revision when the metric has another (`REVISION_SOURCES`);
    its description says so. A rule that names another source, or a metric no source labels
    by revision, is returned as it is (judged on all the traffic)."""
    return [_for_revision(rule, revision) for rule in rules]


def _for_revision(rule: TriggerRule, revision: str) -> TriggerRule:
    labelled = REVISION_SOURCES.get(rule.metric, ())
    if not labelled or (rule.source is not None and rule.source not in labelled):
        return rule
    unlabelled = set(METRIC_SOURCES.get(rule.metric, ())) - set(labelled)
    source = rule.source or (labelled[0] if unlabelled else None)
    return rule.model_copy(update={
        "where": {**rule.where, "revision": revision}, "source": source,
        "description": f"{rule.description} [judged on revision {revision} only"
                       + (f", from {source}]" if source else "]")})


def _override(rule: TriggerRule, changes: Mapping[str, Any]) -> TriggerRule:
    if not isinstance(changes, Mapping) or not changes:
        raise ConfigError(f"rule_overrides[{rule.name!r}] must be a non-empty table of "
                          f"field = value, got {changes!r}")
    fixed = sorted(set(changes) & set(FIXED_FIELDS))
    if fixed:
        raise ConfigError(f"rule_overrides[{rule.name!r}] may not change {', '.join(fixed)}")
    stated = ", ".join(f"{field} {getattr(rule, field, None)!r} -> {value!r}"
                       for field, value in changes.items())
    fields = {**rule.model_dump(), **changes,
              "description": f"{rule.description} [overridden for this run: {stated}]"}
    try:
        return TriggerRule.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"rule_overrides[{rule.name!r}] is invalid: {problems}") from None
