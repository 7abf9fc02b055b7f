"""A gradual rollout of the backend's new revision (seed Phase 1 risk: "gradual deployment
with health checks"): traffic in steps, the rollback triggers watched at each step.

    options = RolloutOptions(steps=(10, 50, 100), step_s=60, interval_s=5, settle_s=300)
    rollout = roll_out(env, new_revision, previous_revision, options, execute=True)
    rollout.decision()     # continue (at 100 %) / rollback (traffic back) / hold / fail
    rollout.to_frame()     # one row per step: percent, when, verdict, firing rule, evidence

At each step the backend's traffic is split new/previous (`set_traffic`, pinned by name),
then the seed 4.1 triggers are watched for `step_s` (`run_watch`, with `expect` the new
revision). The triggers Cloud Run's data can attribute (request logs, request counts,
latency, memory: `revision_rules`) are judged on the new revision's own samples, so a fault
at 10 % is not diluted by the 90 % the previous revision serves; each tick sends enough
health checks that the new revision answers some of them (`health_checks_for`). The
golden-path rules (WebSocket connections, authentication) are judged on all the traffic:
nothing tells which revision a connection reached but the service itself.

- A firing trigger stops the rollout and sends 100 % back to the previous revision
  (`set_traffic`): the decision is `rollback` (runbook 06 then marks the new one known bad
  and validates the previous one).
- Data that cannot decide within `settle_s` (a rule inconclusive or pending: Monitoring
  late, a source down) stops it where it is: `hold`, traffic stays on the split it is pinned
  to, a human decides. Nobody goes on on undecided data, nobody rolls back on missing data.
- Traffic that cannot be moved (the API fails) stops it: `fail`, the split named.
- A step is not started when what is left of `deadline_s` is shorter than `step_s`: `hold`.

Traffic is on a named split at every moment. An audit entry `started` (action `rollout`)
names the split before each step and one with the outcome ends it, so a run stopped in the
middle (a cell timeout, a deadline, SIGTERM) leaves the rollout in flight in its record
(`netra_ops.record.in_flight`) with the split Cloud Run serves now; an interruption the
process survives (Ctrl-C) appends `interrupted` with that split.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pandas as pd

from netra_ops.checks import Check
from netra_ops.cloud import AuditEntry, ServiceState, append_audit, read_service
from netra_ops.config import Environment, TriggerRule
from netra_ops.deploy.change import ChangeResult, split_text
from netra_ops.deploy.release import set_traffic
from netra_ops.errors import ConfigError, DeployError, NetraOpsError
from netra_ops.metrics.decision import Decision
from netra_ops.metrics.overrides import revision_rules
from netra_ops.metrics.watching import ProbeResult, WatchResult, default_probe, run_watch

__all__ = ["ROLLOUT_ACTIONS", "Rollout", "RolloutOptions", "RolloutStep",
           "health_checks_for", "roll_out", "rollout_options"]

ROLLOUT_ACTIONS = ("continue", "rollback", "hold", "fail")
"""What a rollout decides: at 100 % with every step clean; a trigger fired (traffic back);
the data could not decide (traffic stays on its split); traffic could not be moved."""
_AUDIT_ACTION = "rollout"


@dataclass(frozen=True)
class RolloutOptions:
    """How a rollout goes: the new revision's share at each step (percent, ascending, the
    last 100), how long each step is watched (`step_s`, then up to `settle_s` more while a
    rule cannot decide), every `interval_s`, with data up to `max_lateness_s` late; the rules
    (None: the environment's rollback triggers), golden-path runs per tick, and how many
    health answers of the new revision each tick should get (`new_revision_checks`)."""

    steps: tuple[int, ...] = (10, 50, 100)
    step_s: float = 60.0
    interval_s: float = 5.0
    settle_s: float = 300.0
    max_lateness_s: float = 180.0
    rules: tuple[TriggerRule, ...] | None = None
    golden_path_runs: int = 1
    new_revision_checks: int = 2

    def __post_init__(self) -> None:
        _check_steps(self.steps)
        if not (self.step_s >= 0 and self.interval_s > 0 and self.settle_s >= 0
                and self.max_lateness_s >= 0):
            raise ConfigError(
                "a rollout needs step_s >= 0, interval_s > 0, settle_s >= 0 and "
                f"max_lateness_s >= 0 (seconds), got step_s={self.step_s!r}, "
                f"interval_s={self.interval_s!r}, settle_s={self.settle_s!r}, "
                f"max_lateness_s={self.max_lateness_s!r}")
        if self.golden_path_runs < 0 or self.new_revision_checks < 1:
            raise ConfigError(f"a rollout needs golden_path_runs >= 0 and new_revision_checks "
                              f">= 1, got {self.golden_path_runs!r} and "
                              f"{self.new_revision_checks!r}")

    def describe(self) -> str:
        """The plan in one sentence."""
        steps = " -> ".join(f"{p}%" for p in self.steps)
        return (f"traffic to the new revision in steps {steps}, each watched {self.step_s:g} s "
                f"(every {self.interval_s:g} s, up to {self.settle_s:g} s more while the data "
                "cannot decide); a firing trigger sends all traffic back to the previous "
                "revision, data that cannot decide holds the split")

    def to_record(self) -> dict[str, Any]:
        """What the record keeps of the options."""
        return {"steps": list(self.steps), "step_s": self.step_s, "interval_s": self.interval_s,
                "settle_s": self.settle_s, "max_lateness_s": self.max_lateness_s,
                "golden_path_runs": self.golden_path_runs,
                "new_revision_checks": self.new_revision_checks,
                "rules": None if self.rules is None else [r.name for r in self.rules]}


def rollout_options(steps: Sequence[Any] | None, *, step_s: float = 60.0,
                    interval_s: float = 5.0, settle_s: float = 300.0,
                    max_lateness_s: float = 180.0, rules: Sequence[TriggerRule] | None = None,
                    golden_path_runs: int = 1) -> RolloutOptions | None:
    """The options of a rollout from a runbook's parameters; None for no steps (everything
    at once). ConfigError naming the parameter for steps that are not whole percents in
    (0, 100], strictly ascending, ending at 100."""
    if steps is None or (isinstance(steps, Sequence) and not isinstance(steps, str)
                         and len(steps) == 0):
        return None
    if isinstance(steps, str | bytes) or not isinstance(steps, Sequence):
        raise ConfigError(f"rollout_steps must be a list of percents such as [10, 50, 100] "
                          f"(or [] for everything at once), got {steps!r}")
    return RolloutOptions(tuple(steps), step_s, interval_s, settle_s, max_lateness_s,
                          None if rules is None else tuple(rules), golden_path_runs)


def _check_steps(steps: Sequence[Any]) -> None:
    shown = list(steps)
    if not shown:
        raise ConfigError("rollout_steps is empty: name percents such as [10, 50, 100], or "
                          "pass no rollout for everything at once")
    wrong = [p for p in shown if isinstance(p, bool) or not isinstance(p, int)
             or not 0 < p <= 100]
    if wrong:
        raise ConfigError(f"rollout_steps must be whole percents with 0 < p <= 100 (Cloud Run "
                          f"splits traffic by whole percents), got {shown!r}: "
                          f"{', '.join(map(repr, wrong))} not")
    if any(b <= a for a, b in pairwise(shown)):
        raise ConfigError(f"rollout_steps must be strictly ascending, got {shown!r}")
    if shown[-1] != 100:
        raise ConfigError(f"rollout_steps must end at 100 (the new revision serving all "
                          f"traffic), got {shown!r}: add 100")


def health_checks_for(percent: int, new_revision_checks: int = 2) -> int:
    """Health checks per tick so that about `new_revision_checks` of them reach a revision
    with `percent` of the traffic (Cloud Run splits requests by weight: at 10 % one in ten)."""
    return max(1, math.ceil(new_revision_checks * 100 / percent))


@dataclass(frozen=True)
class RolloutStep:
    """One step: the new revision's share (`percent`) and the split set, when it was
    watched, the traffic change, and the watch (None when traffic could not be set)."""

    percent: int
    split: dict[str, int]
    started_at: datetime
    ended_at: datetime
    change: ChangeResult | None
    watch: WatchResult | None = field(default=None, repr=False)
    health_checks: int = 1
    error: str = ""

    @property
    def decision(self) -> Decision | None:
        """The watch's decision (None: traffic could not be set, nothing was watched)."""
        return self.watch.decision if self.watch is not None else None

    @property
    def action(self) -> str:
        """continue / rollback / hold, or fail when traffic could not be set."""
        return self.decision.action if self.decision is not None else "fail"

    @property
    def reason(self) -> str:
        """Why the step decided what it did."""
        if self.decision is None:
            return f"traffic could not be set to {split_text(self.split)}: {self.error}"
        return self.decision.reason

    @property
    def firing(self) -> str | None:
        """The trigger that fired at this step, if one did."""
        first = self.watch.first_firing if self.watch is not None else None
        return str(first["rule"]) if first else None

    def row(self) -> dict[str, Any]:
        """Percent, split, when, how long, the verdict, the firing rule, the evaluations."""
        watch = self.watch
        return {"percent": self.percent, "split": split_text(self.split),
                "started_at": self.started_at, "ended_at": self.ended_at,
                "watched_s": round((self.ended_at - self.started_at).total_seconds(), 1),
                "decision": self.action, "firing_rule": self.firing,
                "evaluations": len(watch.ticks) if watch else 0,
                "settled_evaluations": watch.settled_ticks if watch else 0,
                "health_checks_per_tick": self.health_checks, "reason": self.reason}

    def to_record(self) -> dict[str, Any]:
        """The row, JSON-ready, with the decision's evidence rows."""
        row = {**self.row(), "started_at": self.started_at.isoformat(),
               "ended_at": self.ended_at.isoformat()}
        evidence = self.decision.to_record()["evidence"] if self.decision else []
        return {**row, "evidence": evidence}


@dataclass(frozen=True)
class Rollout:
    """A rollout of the backend's `new_revision` from `previous_revision`: the steps
    planned (`options`) and made, the change that sent traffic back (`back`, after a firing
    trigger), where traffic is at the end (`final_split`), the rules judged on the new
    revision alone (`attributed`) and on all traffic (`shared`)."""

    new_revision: str
    previous_revision: str
    options: RolloutOptions
    steps: tuple[RolloutStep, ...] = ()
    executed: bool = False
    back: ChangeResult | None = None
    final_split: dict[str, int] = field(default_factory=dict)
    stopped: str = ""
    attributed: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    back_error: str = ""

    @property
    def sent_back(self) -> bool:
        """True when traffic went back to the previous revision after a firing trigger."""
        return self.back is not None and self.back.ok and not self.back_error

    @property
    def action(self) -> str:
        """continue (every step, 100 % reached) / rollback / hold / fail (`ROLLOUT_ACTIONS`);
        continue for a plan."""
        if not self.executed:
            return "continue"
        if self.stopped:
            return "hold"
        last = self.steps[-1] if self.steps else None
        if last is None:
            return "fail"
        if last.action == "rollback" and not self.sent_back:
            return "fail"
        return last.action

    @property
    def completed(self) -> bool:
        """True when the new revision serves 100 % and every step continued."""
        return (self.executed and self.action == "continue"
                and [s.percent for s in self.steps] == list(self.options.steps))

    @property
    def status(self) -> str:
        """`completed`, `rolled_back`, `held`, `failed`, or `planned`."""
        if not self.executed:
            return "planned"
        return {"continue": "completed", "rollback": "rolled_back", "hold": "held"}.get(
            self.action, "failed")

    @property
    def last_step(self) -> RolloutStep | None:
        """The step the rollout ended at."""
        return self.steps[-1] if self.steps else None

    def decision(self) -> tuple[str, str]:
        """The action with its reason (naming the step, the split, the firing rule)."""
        if not self.executed:
            return "continue", f"plan: {self.options.describe()}"
        step = self.last_step
        where = f"traffic is on {split_text(self.final_split)}"
        if self.stopped:
            return "hold", f"{self.stopped}; {where} (pinned)"
        assert step is not None
        at = f"at the {step.percent}% step"
        if step.action == "rollback":
            sent = ("traffic sent back: " if self.sent_back else
                    f"sending traffic back failed ({self.back_error}): ")
            return self.action, (f"{self.new_revision} rolled out {at}: {step.firing} fired "
                                 f"({step.reason}); {sent}{where}")
        if step.action == "hold":
            return "hold", (f"the data could not decide {at} ({step.reason}); {where} "
                            "(pinned), nothing rolled back: a human decides")
        if step.action == "fail":
            return "fail", f"{step.reason} {at}; {where}"
        steps = ", ".join(f"{s.percent}%" for s in self.steps)
        return "continue", (f"{self.new_revision} at 100% after steps {steps}, no trigger "
                            "fired and every rule had data at each step")

    def describe(self) -> str:
        """The steps and their verdicts, and where traffic is, for a reader (Markdown)."""
        if not self.executed:
            return f"**Gradual rollout** (plan): {self.options.describe()}."
        made = " -> ".join(f"{s.percent}% **{s.action}**"
                           + (f" ({s.firing} fired)" if s.firing else "") for s in self.steps)
        action, reason = self.decision()
        judged = (f" Judged on `{self.new_revision}`'s own samples: "
                  f"{', '.join(self.attributed) or 'none'}; on all traffic: "
                  f"{', '.join(self.shared) or 'none'}.")
        return (f"**Gradual rollout: {action.upper()}** ({made or 'no step made'}). "
                f"{reason}.{judged}")

    def to_frame(self) -> pd.DataFrame:
        """One row per step made (`RolloutStep.row`)."""
        columns = ["percent", "split", "started_at", "ended_at", "watched_s", "decision",
                   "firing_rule", "evaluations", "settled_evaluations",
                   "health_checks_per_tick", "reason"]
        return pd.DataFrame([s.row() for s in self.steps], columns=columns)

    def frame(self) -> pd.DataFrame:
        """The samples every step's watch read (for the chart), one frame."""
        frames = [s.watch.frame for s in self.steps if s.watch is not None
                  and not s.watch.frame.empty]
        if not frames:
            return pd.DataFrame()
        joined = pd.concat(frames, ignore_index=True)
        keys = [c for c in joined.columns if c not in ("value", "count")]
        return joined.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)

    def checks(self) -> tuple[Check, ...]:
        """The verdict's rows: one per step (its decision continues), and the way back."""
        rows = [Check(f"rollout {s.percent}%", s.action == "continue", s.reason,
                      value=s.action, threshold="continue",
                      seconds=(s.ended_at - s.started_at).total_seconds())
                for s in self.steps]
        if self.steps and self.steps[-1].action == "rollback":
            rows.append(Check(f"traffic back to {self.previous_revision}", self.sent_back,
                              self.back_error or split_text(self.final_split)))
        if self.stopped:
            rows.append(Check("rollout", False, self.stopped))
        return tuple(rows)

    def to_record(self) -> dict[str, Any]:
        """What the record keeps: revisions, options, status, decision, each step with its
        evidence, the final split, the rules judged on the new revision alone."""
        action, reason = self.decision()
        return {"new_revision": self.new_revision,
                "previous_revision": self.previous_revision,
                "options": self.options.to_record(), "status": self.status,
                "decision": action, "reason": reason,
                "steps": [s.to_record() for s in self.steps],
                "final_split": self.final_split, "stopped": self.stopped or None,
                "traffic_back": None if self.back is None else self.back.status,
                "traffic_back_error": self.back_error or None,
                "rules_on_new_revision": list(self.attributed),
                "rules_on_all_traffic": list(self.shared)}


def roll_out(env: Environment, new_revision: str, previous_revision: str,
             options: RolloutOptions | None = None, *, execute: bool = False,
             deadline_s: float = 3600.0, show: bool = True) -> Rollout:
    """Move the backend's traffic to `new_revision` in `options.steps`, watching the
    triggers at each step; stop at the first firing trigger (traffic back to
    `previous_revision`) or the first step the data cannot decide (traffic held where it
    is). See the module docstring. Without `execute`, the plan (nothing changes)."""
    chosen = options or RolloutOptions()
    if new_revision == previous_revision:
        raise DeployError(f"a rollout needs two revisions, got {new_revision} twice")
    base = list(env.rollback_triggers if chosen.rules is None else chosen.rules)
    rules = revision_rules(base, new_revision)
    attributed = tuple(r.name for r, b in zip(rules, base, strict=True) if r is not b)
    shared = tuple(r.name for r, b in zip(rules, base, strict=True) if r is b)
    plan = Rollout(new_revision, previous_revision, chosen, attributed=attributed,
                   shared=shared)
    if not execute:
        return plan
    return _Rolling(env, plan, rules, deadline_s, show).run()


class _Rolling:
    """One rollout under way: its steps, the shared probe log, the audit trail."""

    def __init__(self, env: Environment, plan: Rollout, rules: list[TriggerRule],
                 deadline_s: float, show: bool) -> None:
        self.env, self.plan, self.rules, self.show = env, plan, rules, show
        self.deadline = time.monotonic() + deadline_s
        self.deadline_s = deadline_s
        self.probes: list[ProbeResult] = []
        self.steps: list[RolloutStep] = []

    def run(self) -> Rollout:
        try:
            return self._steps()
        except BaseException:  # Ctrl-C, SIGTERM in a script: say where traffic is, then stop
            self._audit("interrupted", "interrupted; traffic stays on "
                        + self._split_now() + " (pinned)")
            raise

    def _steps(self) -> Rollout:
        options = self.plan.options
        for percent in options.steps:
            left = self.deadline - time.monotonic()
            if left < options.step_s:
                return self._end(stopped=(
                    f"the deadline of {self.deadline_s:g} s leaves {max(left, 0):.0f} s, less "
                    f"than a {percent}% step of {options.step_s:g} s: not started"))
            step = self._step(percent)
            self.steps.append(step)
            if step.action == "rollback":
                return self._end(back=self._send_back())
            if step.action != "continue":
                return self._end()
        return self._end()

    def _step(self, percent: int) -> RolloutStep:
        options, new = self.plan.options, self.plan.new_revision
        split = {new: percent, self.plan.previous_revision: 100 - percent}
        split = {name: share for name, share in split.items() if share > 0}
        self._audit("started", f"step {percent}%: traffic to {split_text(split)} (pinned), "
                    "then watched; a stop leaves it there")
        started = datetime.now(UTC)
        change, error = _move(self.env, split)
        checks = health_checks_for(percent, options.new_revision_checks)
        if change is None or not change.ok:
            return RolloutStep(percent, split, started, datetime.now(UTC), change,
                               health_checks=checks, error=error)
        watched = run_watch(self.env, self.rules, duration_s=options.step_s,
                            interval_s=options.interval_s,
                            probe=default_probe(options.golden_path_runs,
                                                health_checks=checks),
                            stop_on_rollback=True, settle_s=options.settle_s,
                            max_lateness_s=options.max_lateness_s, expect={"revision": new},
                            show=self.show, probe_log=self.probes)
        return RolloutStep(percent, split, started, datetime.now(UTC), change, watched, checks)

    def _send_back(self) -> tuple[ChangeResult | None, str]:
        return _move(self.env, {self.plan.previous_revision: 100})

    def _end(self, *, back: tuple[ChangeResult | None, str] | None = None,
             stopped: str = "") -> Rollout:
        final = _serving(self.env)
        change, error = back or (None, "")
        done = Rollout(self.plan.new_revision, self.plan.previous_revision, self.plan.options,
                       tuple(self.steps), True, change, final, stopped, self.plan.attributed,
                       self.plan.shared, back_error=error if back else "")
        action, reason = done.decision()
        outcome = {"continue": "done", "rollback": "rolled_back", "hold": "held"}.get(
            action, "failed")
        self._audit(outcome, reason, after=final)
        return done

    def _split_now(self) -> str:
        return split_text(_serving(self.env))

    def _audit(self, outcome: str, note: str, after: Mapping[str, int] | None = None) -> None:
        state = _state(self.env)
        steps = " -> ".join(f"{p}%" for p in self.plan.options.steps)
        append_audit(AuditEntry(
            action=_AUDIT_ACTION, environment=self.env.name, project=self.env.project,
            service=state.name if state else self.env.backend.name, executed=True,
            outcome=outcome, plan=(f"traffic to {self.plan.new_revision} in steps {steps}",),
            before=state.summary() if state else {},
            after=None if after is None else {"serving": dict(after)}, note=note))


def _state(env: Environment) -> ServiceState | None:
    try:
        return read_service(env)
    except NetraOpsError:
        return None


def _serving(env: Environment) -> dict[str, int]:
    state = _state(env)
    return dict(state.serving) if state else {}


def _move(env: Environment, split: Mapping[str, int]) -> tuple[ChangeResult | None, str]:
    """Traffic to `split` (pinned): the change, or None and why when it was refused before
    anything changed (a revision not Ready)."""
    try:
        change = set_traffic(env, split, execute=True)
    except DeployError as exc:
        return None, str(exc)
    return change, change.error or ""
