"""Playbooks: the remediation as one headless run of runbooks, branching on decisions.

A playbook file (`playbooks/*.toml`) names the runbooks in order, their parameters, the
branch a step's *rollback decision* jumps to (`on_rollback`), and a final runbook that
always runs (the incident summary). Every step is an ordinary `run_notebook()` into the same
incident, so the record is the same whether a person runs the runbooks one by one or the
playbook does.

Each step tells the playbook what to do by recording `decision` (and `decision.reason`):

- `continue`: go on to the next step;
- `rollback`: a seed 4.1 trigger fired, or the new revision itself failed to deploy or
  verify: the step's `on_rollback` branch runs (the rollback and its validation);
- `hold`: the data could not decide (watching went on up to its limit): stop, ask a human;
- `escalate`: a success criterion was missed: report it, keep the fix, ask a human.

A step that records no decision continues when it passed; when its verdict failed it decides
its `when_failed` (`fail`, the default, or `escalate`); a run that broke (cell error, timeout,
dead kernel, deadline) decides `fail`, unless it had already recorded `rollback` (a trigger
that fired stays fired). A failed step never rolls back by itself: only a recorded
`rollback` does.

The playbook ends in one of four outcomes, each with its exit code (`PLAYBOOK_EXIT_CODES`):
`remediated` (every step continued), `rolled_back` (a rollback decision, and every step of the
branch continued: the rollback is validated; its record says whether the golden path works
there), `held` (a step decided hold or escalate: nothing was rolled back) and `failed`
(netra-ops could not act: a step failed, a rollback was decided where no branch exists, or
the branch did not complete). `PlaybookResult.reason` says which step decided what, and why.

Safe by default: a step gets `execute = True` only when the playbook is run with
`execute=True` and the step asks for it. `start_from` resumes an interrupted incident at a
phase without redoing the ones before it. Sandbox scenarios stage a story first (what
serves before the playbook starts) and set per-runbook parameters.

Parameters: `key` goes to every step whose runbook declares it, `runbook.key` to that
runbook only, and the scoped value wins over `key` given in the same place. A step's own
parameters (the playbook file) give way to the scenario's, and those to the caller's. All of
them are checked before anything runs (every step, branches and final included): a name no
runbook takes, a scope that names no step, a wrong type or a secret fails at once, not after
the deploy.

The record: each step's summary.json says which playbook run it belongs to (`playbook`:
the run's id, playbook, scenario, rehearsal or real, branch); the outcome goes to the
incident's `playbook_runs/<run id>.json` once decided (before the final runbook, which reads
it) and again at the end, and the incident's index groups the runs by playbook run.

A step stopped by SIGTERM or Ctrl-C (its record says "terminated" / "interrupted") stops the
playbook there: no branch, no final runbook; the playbook ends with that status and its exit
code (143 / 130), and `start_from` picks it up later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netra_ops.config import load_environment
from netra_ops.errors import ParameterError, RunError, RunStopped
from netra_ops.playbook.book import Playbook, Scenario, Step, load_playbook
from netra_ops.playbook.progress import StepProgress, check_target
from netra_ops.record.in_flight import in_flight_text
from netra_ops.record.incident import (
    NOTIFICATIONS,
    PLAYBOOK_RUNS,
    check_incident,
    outputs_root,
    record_playbook_run,
)
from netra_ops.record.parameters import (
    check_against_runbook,
    check_parameters,
    check_scoped_parameters,
    declared_parameters,
    parameters_for,
)
from netra_ops.record.progress import RunProgress
from netra_ops.record.runner import EXIT_CODES, STOPPED, RunResult, find_runbook, run_notebook
from netra_ops.record.secret_needs import require_secrets

if TYPE_CHECKING:  # see _LAZY
    import pandas as pd

    from netra_ops.notify import Webhook
    from netra_ops.playbook.checkpoints import Checkpoints

__all__ = ["PLAYBOOK_EXIT_CODES", "PlaybookResult", "StepOutcome", "run_playbook",
           "step_decision"]

logger = logging.getLogger("netra_ops.record")

# _LAZY: `netra_ops.deploy` and `netra_ops.metrics` (matplotlib, Google's clients: 0.8 s of
# CPU), the checkpoints (notify, the standing: metrics again) and pandas (0.5 s) are
# imported where a playbook needs them, not with this module: every `netra-ops run` imports
# it to ask whether its argument is a playbook.

PREFLIGHT_RUNBOOK = "01_preflight"
"""The step whose environment must name a repository before the playbook starts."""

PLAYBOOK_EXIT_CODES = {"remediated": 0, "failed": 1, "rolled_back": 6, "held": 8,
                       **{status: EXIT_CODES[status] for status in STOPPED}}
"""Playbook status -> exit code: 0 remediated; 1 failed (netra-ops could not act); 6 rolled
back and the rollback validated; 8 held (the data could not decide, or a success criterion
was missed: nothing rolled back, a human decides); 130 / 143 interrupted / terminated at a
step."""


@dataclass(frozen=True)
class StepOutcome:
    """How one step ended: its run's status and the decision it led to, with the reason."""

    runbook: str
    branch: str | None
    status: str
    exit_code: int | None
    record_dir: Path | None
    duration_s: float
    decision: str = "continue"
    reason: str = ""


@dataclass(frozen=True)
class PlaybookResult:
    """The playbook's outcome: remediated, rolled_back, held or failed, with every step
    and the reason (which step decided what, and why)."""

    playbook: str
    incident: str
    status: str
    steps: tuple[StepOutcome, ...]
    duration_s: float
    branch_taken: str | None = None
    incident_dir: Path | None = field(default=None)
    reason: str = ""

    @property
    def exit_code(self) -> int:
        """0 remediated, 6 rolled back (and the rollback validated), 8 held, 1 failed,
        130 / 143 interrupted / terminated."""
        return PLAYBOOK_EXIT_CODES[self.status]

    @property
    def outcome(self) -> str:
        """The status as people read it: REMEDIATED, ROLLED BACK, HELD, FAILED, ..."""
        return self.status.replace("_", " ").upper()

    def to_frame(self) -> pd.DataFrame:
        """One row per step."""
        import pandas as pd

        return pd.DataFrame([{"runbook": s.runbook, "branch": s.branch or "", "status": s.status,
                              "decision": s.decision, "exit": s.exit_code,
                              "duration_s": round(s.duration_s, 1)} for s in self.steps])


Stager = Callable[[Scenario], None]


def run_playbook(
    playbook: str | Path | Playbook,
    *,
    environment: str,
    incident: str,
    execute: bool = False,
    parameters: Mapping[str, Any] | None = None,
    scenario: str | None = None,
    start_from: str | None = None,
    outputs_dir: str | Path | None = None,
    cell_timeout_s: float | None = None,
    deadline_s: float | None = None,
    stage: Stager | None = None,
    with_steps: Collection[str] = (),
    webhook: Webhook | None = None,
    webhook_format: str = "auto",
    progress: RunProgress | None = None,
) -> PlaybookResult:
    """Run the playbook's steps into `incident`; see the module docstring.

    `parameters` apply to every step whose runbook declares them (`key`) or to one runbook
    (`runbook.key`), over the scenario's and the playbook's own (see the module docstring);
    ParameterError before anything runs when one reaches no step or does not fit. `stage`
    performs a scenario's set-up (the CLI passes the sandbox's). `cell_timeout_s` and
    `deadline_s` apply to each step's run. `with_steps` names the optional steps to run
    (`05_performance`, or its number `05`). With a `webhook`, every checkpoint is notified
    in `webhook_format` (`netra_ops.playbook.checkpoints`); the index is updated either way.
    Before the scenario and the first step, TargetUnreachableError when a step reaches the
    environment's services or APIs and they do not answer (`netra_ops.record.target`):
    nothing runs, nothing is changed. `progress`
    shows each step's start, its run, and its end with its decision
    (`netra_ops.playbook.progress`).
    """
    from netra_ops.playbook.checkpoints import Checkpoints  # see _LAZY

    check_incident(incident)
    book = playbook if isinstance(playbook, Playbook) else load_playbook(playbook)
    chosen = _scenario(book, scenario)
    steps = _steps_from(book, start_from, _optional_steps(book, with_steps))
    run = _PlaybookRun(environment, incident, execute,
                       (chosen.parameters if chosen else {}, dict(parameters or {})),
                       outputs_dir, {"cell_timeout_s": cell_timeout_s, "deadline_s": deadline_s},
                       StepProgress(progress, steps, book.final))
    run.check(book)
    run.check_preflight(steps)
    run.check_secrets(book, steps)  # local and at once; then the network's answer
    check_target(environment, book, steps)
    folder = outputs_root(outputs_dir, environment) / incident
    run.marks = Checkpoints.open(book, steps, incident=incident,
                                 environment=environment, execute=execute,
                                 folder=folder, webhook=webhook,
                                 webhook_format=webhook_format, start_from=start_from)
    if chosen is not None:
        if stage is None:
            raise RunError(f"scenario {scenario!r} needs a sandbox to stage it")
        run.progress.note(f"scenario {scenario}: staging it")
        stage(chosen)
    run.marks.started()
    started = time.monotonic()
    run.begin(book, scenario)
    try:
        status, branch, reason = run.main(book, steps)
        logger.info("playbook %s: %s: %s", book.name, status, reason)
        if book.final is not None:
            run.record(status, branch, reason, final="pending")
            run.step(book.final, None, "finally")
    except RunStopped as stopped:
        status, branch = stopped.status, None
        reason = f"{stopped.status} at step {run.outcomes[-1].runbook}"
        logger.warning("playbook %s %s at step %s; resume with start_from (--from)",
                       book.name, stopped.status, run.outcomes[-1].runbook)
    incident_dir = run.last_dir.parent if run.last_dir else None
    result = PlaybookResult(book.name, incident, status, tuple(run.outcomes),
                            time.monotonic() - started, branch, incident_dir, reason)
    run.marks.finished(result)
    run.record(status, branch, reason)  # after the outcome's message, which it lists
    return result


def _scenario(book: Playbook, name: str | None) -> Scenario | None:
    if name is None:
        return None
    if name not in book.scenarios:
        known = ", ".join(book.scenarios) or "none"
        raise ParameterError(f"playbook {book.name} has no scenario {name!r} ({known})")
    return book.scenarios[name]


def _optional_steps(book: Playbook, wanted: Collection[str]) -> set[str]:
    """The optional steps' names `wanted` names (by name or number); ParameterError for a
    name that is no optional step of the playbook."""
    optional = [s.name for s in book.steps if s.optional]
    chosen = set()
    for name in wanted:
        found = [o for o in optional if name in (o, o.split("_", 1)[0])]
        if not found:
            raise ParameterError(f"--with {name!r} is not an optional step of playbook "
                                 f"{book.name} (optional: {', '.join(optional) or 'none'})")
        chosen.update(found)
    return chosen


def _steps_from(book: Playbook, start_from: str | None, chosen: set[str]) -> list[Step]:
    steps = [s for s in book.steps if not s.optional or s.name in chosen]
    if start_from is None:
        return steps
    names = [s.name for s in steps]
    if start_from not in names:
        hint = (f"; it is optional: add --with {start_from}" if start_from in
                {s.name for s in book.steps} else "")
        raise ParameterError(f"--from {start_from!r} is not a phase of playbook {book.name} "
                             f"(phases: {', '.join(names)}){hint}")
    return steps[names.index(start_from):]


def step_decision(step: Step, result: RunResult) -> tuple[str, str]:
    """What a step's run tells the playbook (see the module docstring), with the reason:
    its recorded `decision` when it acts (rollback, hold, escalate), else from its status."""
    from netra_ops.metrics.decision import PLAYBOOK_DECISIONS  # see _LAZY

    records = result.summary.get("records") or {}
    recorded = records.get("decision")
    reason = str(records.get("decision.reason") or "")
    acts = recorded in PLAYBOOK_DECISIONS and recorded != "continue"
    if acts and (result.status in ("passed", "failed") or recorded == "rollback"):
        return str(recorded), reason or f"recorded {recorded}"
    if result.status == "passed":
        return "continue", reason or "passed"
    if result.status == "failed":
        failed = records.get("verdict.failed") or []
        return step.when_failed, reason or ("verdict failed" + (
            f": {', '.join(str(f) for f in failed)}" if failed else ""))
    failing = result.summary.get("failing_cell") or {}
    detail = f" (cell {failing.get('index')}: {failing.get('ename')})" if failing else ""
    changes = in_flight_text(result.summary.get("in_flight") or [])
    return "fail", f"the run ended {result.status}{detail}" + (f"; {changes}" if changes else "")


class _PlaybookRun:
    """Runs steps into one incident and keeps their outcomes."""

    def __init__(self, environment: str, incident: str, execute: bool,
                 layers: tuple[Mapping[str, Any], ...], outputs_dir: str | Path | None,
                 limits: Mapping[str, float | None], progress: StepProgress) -> None:
        self.environment = environment
        self.incident = incident
        self.execute = execute
        self.layers = layers  # parameters over the steps' own, the last one winning
        self._declared: dict[Path, dict[str, Any]] = {}
        self.outputs_dir = outputs_dir
        self.limits = limits
        self.progress = progress
        self.outcomes: list[StepOutcome] = []
        self.last_dir: Path | None = None
        self.context: dict[str, Any] = {}
        self.marks: Checkpoints

    def begin(self, book: Playbook, scenario: str | None) -> None:
        """Name this playbook run (`<UTC stamp>-<playbook>`, unique in the incident): what
        each step's summary.json and the outcome's file say about it."""
        now = datetime.now(UTC)
        folder = outputs_root(self.outputs_dir, self.environment) / self.incident / PLAYBOOK_RUNS
        base = f"{now:%Y%m%dT%H%M%SZ}-{book.name}"
        run_id = next(f"{base}{suffix}" for suffix in ("", *(f"-{n}" for n in range(2, 1000)))
                      if not (folder / f"{base}{suffix}.json").exists())
        self.context = {"run": run_id, "playbook": book.name, "scenario": scenario,
                        "environment": load_environment(self.environment).name,
                        "rehearsal": load_environment(self.environment).sandbox is not None,
                        "execute": self.execute,
                        "started_at": now.isoformat(timespec="milliseconds")}

    def record(self, status: str, branch: str | None, reason: str,
               final: str | None = None) -> None:
        """Write the playbook run's outcome to the incident (and its index and manifest)."""
        folder = self.last_dir.parent if self.last_dir else None
        if folder is None or not self.context:
            return
        entry = {"id": self.context["run"], **self.context, "status": status,
                 "outcome": status.replace("_", " ").upper(), "reason": reason,
                 "branch_taken": branch, "final": final or "done",
                 "finished_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                 "steps": [{"runbook": o.runbook, "branch": o.branch, "status": o.status,
                            "decision": o.decision, "reason": o.reason,
                            "folder": o.record_dir.name if o.record_dir else None}
                           for o in self.outcomes],
                 NOTIFICATIONS: self.marks.sent()}
        record_playbook_run(folder, entry)

    def main(self, book: Playbook, steps: list[Step]) -> tuple[str, str | None, str]:
        """Run the steps until one decides other than `continue`: (status, branch taken,
        reason)."""
        for step in steps:
            outcome = self.step(step, None)
            said = f"{step.name} decided {outcome.decision}: {outcome.reason}"
            if outcome.decision == "continue":
                continue
            if outcome.decision in ("hold", "escalate"):
                return "held", None, said + "; nothing was rolled back"
            if outcome.decision != "rollback":
                return "failed", None, said
            if step.on_rollback is None:
                return "failed", None, f"{said}; but the step names no branch (on_rollback)"
            return self._roll_back(book, step.on_rollback, said)
        return "remediated", None, "every step continued"

    def _roll_back(self, book: Playbook, branch: str, said: str) -> tuple[str, str, str]:
        notes = [said]
        for step in book.branches[branch]:
            outcome = self.step(step, branch, "branch")
            if outcome.decision != "continue":
                notes.append(f"then {step.name} decided {outcome.decision}: {outcome.reason}")
                return "failed", branch, "; ".join(notes)
            notes.append(f"{step.name}: {outcome.reason}")
        return "rolled_back", branch, "; ".join(notes)

    def step(self, step: Step, branch: str | None, kind: str | None = None) -> StepOutcome:
        source = find_runbook(step.runbook)
        params = self._parameters(step, source)
        logger.info("playbook step %s%s", step.name, f" (branch {branch})" if branch else "")
        context: dict[str, Any] = {key: self.context[key] for key in (
            "run", "playbook", "scenario", "rehearsal", "execute") if key in self.context}
        self.marks.phase_started(step, branch)
        self.progress.step_started(step, branch)
        try:
            result = run_notebook(source, environment=self.environment,
                                  incident=self.incident, parameters=params,
                                  outputs_dir=self.outputs_dir,
                                  cell_timeout_s=self.limits.get("cell_timeout_s"),
                                  deadline_s=self.limits.get("deadline_s"),
                                  playbook={**context, "branch": branch,
                                            "step": kind or ("branch" if branch else "main")},
                                  progress=self.progress.for_runs)
        except RunStopped as stopped:
            if isinstance(stopped.result, RunResult):
                self._add(step, branch, stopped.result)
            raise
        return self._add(step, branch, result)

    def _add(self, step: Step, branch: str | None, result: RunResult) -> StepOutcome:
        self.last_dir = result.record_dir
        decision, reason = step_decision(step, result)
        outcome = StepOutcome(step.name, branch, result.status, result.exit_code,
                              result.record_dir, float(result.summary.get("duration_s") or 0.0),
                              decision, reason)
        self.outcomes.append(outcome)
        self.marks.phase_ended(step, outcome, result)
        self.progress.step_finished(outcome)
        return outcome

    def check(self, book: Playbook) -> None:
        """ParameterError unless every parameter reaches a step and fits its runbook."""
        sources = {step.name: find_runbook(step.runbook) for step in book.all_steps()}
        declared = {name: self._declared_by(source) for name, source in sources.items()}
        for layer in self.layers:
            check_scoped_parameters(layer, declared, f"the runbooks of playbook {book.name}")
        for step in book.all_steps():
            source = sources[step.name]
            check_against_runbook(source, check_parameters(self._parameters(step, source)))

    def check_preflight(self, steps: list[Step]) -> None:
        """ConfigError before the first step when a preflight step would find no repository
        to check (the environment names none and no `repository` parameter is given)."""
        from netra_ops.deploy.preflight import require_repository  # see _LAZY

        for step in steps:
            if step.runbook == PREFLIGHT_RUNBOOK:
                params = self._parameters(step, find_runbook(step.runbook))
                require_repository(load_environment(self.environment), params.get("repository"))

    def check_secrets(self, book: Playbook, steps: list[Step]) -> None:
        """SecretError before the first step (and before a scenario is staged) when a step
        that may run (`steps`, the branches, the final runbook) needs a secret that does
        not resolve."""
        branches = [s for branch in book.branches.values() for s in branch]
        may_run = [*steps, *branches, *([book.final] if book.final else [])]
        require_secrets(load_environment(self.environment), [
            (step.name, self._parameters(step, find_runbook(step.runbook)))
            for step in may_run])

    def _declared_by(self, source: Path) -> dict[str, Any]:
        if source not in self._declared:
            self._declared[source] = declared_parameters(source)
        return self._declared[source]

    def _parameters(self, step: Step, source: Path) -> dict[str, Any]:
        declared = self._declared_by(source)
        params = dict(step.parameters)
        for layer in self.layers:
            params |= parameters_for(step.name, layer, declared)
        if "execute" in declared:
            params["execute"] = self.execute and step.execute
        return params
