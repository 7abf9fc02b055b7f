"""The decision a rule table leads to (seed 4.1): roll back, hold, or continue.

- `rollback` when a rule that is not a dry run is `firing`;
- `hold` when none fires but one (not a dry run) is `inconclusive`: the data cannot tell,
  so nobody should declare the deployment good;
- `continue` otherwise (`pending` rules are named in the reason: a condition is true but
  has not held long enough yet).

A firing rule decides `rollback` whatever the other rules' states: early in a watch some
rules always lack samples, and a trigger must not wait for them.

Dry-run rules never decide; when one fires the reason says so. The decision carries its
evidence: the rows of the rules behind it, with values, thresholds, windows and since when
their conditions hold.

`playbook_decision` adds the success criteria for a playbook: a missed criterion is reported
and escalated (`escalate`), never a rollback (only the seed 4.1 triggers roll back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

__all__ = ["ACTIONS", "EVIDENCE_COLUMNS", "PLAYBOOK_DECISIONS", "Decision", "decide",
           "decision_text", "first_rollback", "pending_rules", "playbook_decision"]

ACTIONS = ("rollback", "hold", "continue")
PLAYBOOK_DECISIONS = ("rollback", "hold", "escalate", "continue")
"""What a step tells the playbook (`netra_ops.playbook`): roll back, hold (the data
could not decide), escalate (a success criterion missed; keep the fix, ask a human), go on."""
EVIDENCE_COLUMNS = ["rule", "state", "value", "comparison", "threshold", "unit", "samples",
                    "window_start", "window_end", "since", "held_s", "group", "source",
                    "evaluated_at", "detail"]


@dataclass(frozen=True)
class Decision:
    """What to do, why, and the rule rows that say so."""

    action: str
    reason: str
    decided_at: datetime
    rules: pd.DataFrame

    @property
    def evidence(self) -> pd.DataFrame:
        """The rows behind the action: firing rules for a rollback, inconclusive ones for a
        hold, every rule for continue."""
        live = _live(self.rules)
        wanted = {"rollback": ["firing"], "hold": ["inconclusive", "pending"]}.get(self.action)
        rows = live if wanted is None else live[live["state"].isin(wanted)]
        return rows[[c for c in EVIDENCE_COLUMNS if c in rows.columns]].reset_index(drop=True)

    def to_record(self) -> dict[str, Any]:
        """JSON-ready: action, reason, time and evidence rows (for `record()`)."""
        evidence = self.evidence.astype(object).where(self.evidence.notna(), None)
        return {"action": self.action, "reason": self.reason,
                "decided_at": self.decided_at.isoformat(),
                "evidence": [{k: _plain(v) for k, v in row.items()}
                             for row in evidence.to_dict(orient="records")]}

    def __str__(self) -> str:
        return f"{self.action.upper()}: {self.reason}"


def decide(rules: pd.DataFrame, at: datetime | None = None) -> Decision:
    """The decision of one rule table (`evaluate_rules()` or a watch tick's table)."""
    moment = at or _latest(rules)
    live = _live(rules)
    dry = rules[rules["dry_run"].astype(bool)] if not rules.empty else rules
    firing = _names(live, "firing")
    inconclusive = _names(live, "inconclusive")
    notes = _notes(live, dry)
    if rules.empty:
        return Decision("hold", "no rules to evaluate: nothing says the service is healthy",
                        moment, rules)
    if firing:
        return Decision("rollback", f"firing: {_described(live, firing)}" + notes, moment,
                        rules)
    if inconclusive:
        return Decision("hold", f"inconclusive: {_described(live, inconclusive)}" + notes,
                        moment, rules)
    return Decision("continue", "no rule fires and every rule has data" + notes, moment, rules)


def playbook_decision(decision: Decision,
                      criteria: pd.DataFrame | None = None) -> tuple[str, str]:
    """The decision for a playbook, with its reason: the watch's `rollback` or `hold` as
    they are; a `continue` becomes `escalate` when a measured success criterion failed."""
    if decision.action != "continue" or criteria is None or criteria.empty:
        return decision.action, decision.reason
    measured = criteria[criteria["state"] != "no data"]
    missed = measured[~measured["passed"].astype(bool)]
    if missed.empty:
        return "continue", decision.reason
    listed = "; ".join(f"{r['criterion']} {r['value']} (wants {r['comparison']} "
                       f"{r['threshold']:g})" for r in missed.to_dict(orient="records"))
    return "escalate", (f"no trigger fires ({decision.reason}), but success criteria missed: "
                        f"{listed}; the fix stays, a human decides")


def decision_text(action: str, reason: str, title: str = "Decision") -> str:
    """A decision for the reader: the action as a heading, then why (Markdown)."""
    return f"### {title}: **{action.upper()}**\n\n{reason}"


def first_rollback(decisions: Iterable[Decision]) -> Decision | None:
    """The first rollback among decisions (a watch's ticks), if any."""
    return next((d for d in decisions if d.action == "rollback"), None)


def pending_rules(rules: pd.DataFrame) -> list[str]:
    """The rules of a table (not dry runs) whose condition holds but not yet long enough to
    fire."""
    return _names(_live(rules), "pending")


def _live(rules: pd.DataFrame) -> pd.DataFrame:
    """The rules that act (not dry runs)."""
    return rules[~rules["dry_run"].astype(bool)] if not rules.empty else rules


def _names(rules: pd.DataFrame, state: str) -> list[str]:
    return [] if rules.empty else list(rules.loc[rules["state"] == state, "rule"])


def _described(rules: pd.DataFrame, names: list[str]) -> str:
    parts = []
    for row in rules[rules["rule"].isin(names)].to_dict(orient="records"):
        value = row["value"]
        shown = "no value" if value is None or pd.isna(value) else f"{value:.4g}"
        extra = f" ({row['detail']})" if row.get("detail") else ""
        parts.append(f"{row['rule']} {shown} {row['comparison']} {row['threshold']:g}{extra}")
    return "; ".join(parts)


def _notes(live: pd.DataFrame, dry: pd.DataFrame) -> str:
    notes = []
    if pending := pending_rules(live):
        notes.append(f"pending: {', '.join(pending)}")
    if dry_firing := _names(dry, "firing"):
        notes.append(f"dry-run rules firing (not acted on): {', '.join(dry_firing)}")
    return "".join(f"; {n}" for n in notes)


def _latest(rules: pd.DataFrame) -> datetime:
    if rules.empty or rules["evaluated_at"].isna().all():
        return datetime.now(UTC)
    return pd.Timestamp(rules["evaluated_at"].max()).to_pydatetime()


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
