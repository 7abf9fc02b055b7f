"""Playbooks: the remediation as one headless run of runbooks, with a branch on failure.

A playbook file (`playbooks/*.toml`) names the runbooks in order, their parameters, the
branch a failing step jumps to (validation failed or a trigger fired -> rollback ->
validation again), and a final runbook that always runs (the incident summary). Every step
is an ordinary `run_notebook()` into the same incident, so the record is the same whether
a person runs the runbooks one by one or the playbook does.

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

A step stopped by SIGTERM or Ctrl-C (its record says "terminated" / "interrupted") stops the
playbook there: no branch, no final runbook; the playbook ends with that status and its exit
code (143 / 130), and `start_from` picks it up later.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from netra_ops.errors import ParameterError, RunError, RunStopped
from netra_ops.record.parameters import (
    check_against_runbook,
    check_parameters,
    check_scoped_parameters,
    declared_parameters,
    parameters_for,
)
from netra_ops.record.runner import EXIT_CODES, STOPPED, RunResult, find_runbook, run_notebook

__all__ = [
    "PLAYBOOK_EXIT_CODES",
    "Playbook",
    "PlaybookResult",
    "Scenario",
    "Step",
    "StepOutcome",
    "find_playbook",
    "is_playbook",
    "load_playbook",
    "run_playbook",
]

logger = logging.getLogger("netra_ops.record")

PLAYBOOK_EXIT_CODES = {"remediated": 0, "failed": 1, "rolled_back": 6,
                       **{status: EXIT_CODES[status] for status in STOPPED}}
"""Playbook status -> exit code: 6 says the fix was rolled back and the rollback held;
130 / 143 that the playbook was interrupted / terminated at a step."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Step(_Model):
    """One runbook of a playbook, its parameters, and where to go when it fails."""

    runbook: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    execute: bool = False
    on_failure: str | None = None

    @property
    def name(self) -> str:
        """The runbook's name (a path's stem): how phases are named and resumed."""
        return Path(self.runbook).stem


class Scenario(_Model):
    """A sandbox story: the image (and env vars) serving before the playbook, and
    parameters for its runbooks as `"runbook.parameter" = value`."""

    description: str = ""
    serving_image_tag: str | None = None
    serving_env: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Playbook(_Model):
    """The runbooks in order, the branches, the final runbook and the scenarios."""

    name: str
    description: str = ""
    steps: list[Step] = Field(min_length=1)
    branches: dict[str, list[Step]] = Field(default_factory=dict)
    final: Step | None = Field(default=None, alias="finally")
    scenarios: dict[str, Scenario] = Field(default_factory=dict)
    source: Path | None = None

    @model_validator(mode="after")
    def _branches_exist(self) -> Playbook:
        for step in self.steps:
            if step.on_failure and step.on_failure not in self.branches:
                known = ", ".join(self.branches) or "none"
                raise ValueError(f"step {step.runbook} branches to unknown "
                                 f"{step.on_failure!r} (branches: {known})")
        return self

    def all_steps(self) -> list[Step]:
        """Every step: main, branches, final."""
        branch_steps = [s for steps in self.branches.values() for s in steps]
        return [*self.steps, *branch_steps, *([self.final] if self.final else [])]


@dataclass(frozen=True)
class StepOutcome:
    """How one step ended: its run, or why it was skipped."""

    runbook: str
    branch: str | None
    status: str
    exit_code: int | None
    record_dir: Path | None
    duration_s: float


@dataclass(frozen=True)
class PlaybookResult:
    """The playbook's outcome: remediated, rolled_back or failed, with every step."""

    playbook: str
    incident: str
    status: str
    steps: tuple[StepOutcome, ...]
    duration_s: float
    branch_taken: str | None = None
    incident_dir: Path | None = field(default=None)

    @property
    def exit_code(self) -> int:
        """0 remediated, 6 rolled back (and the rollback validated), 1 failed, 130 / 143
        interrupted / terminated."""
        return PLAYBOOK_EXIT_CODES[self.status]

    def to_frame(self) -> pd.DataFrame:
        """One row per step."""
        return pd.DataFrame([{"runbook": s.runbook, "branch": s.branch or "", "status": s.status,
                              "exit": s.exit_code, "duration_s": round(s.duration_s, 1)}
                             for s in self.steps])


def find_playbook(name_or_path: str | Path) -> Path:
    """A playbook by path, or by name in ./playbooks or the playbooks/ beside the package."""
    text = str(name_or_path)
    if text.endswith(".toml") and Path(text).is_file():
        return Path(text).resolve()
    stem = Path(text).stem
    folders = [Path.cwd() / "playbooks", Path(__file__).resolve().parents[2] / "playbooks"]
    for folder in folders:
        if (folder / f"{stem}.toml").is_file():
            return (folder / f"{stem}.toml").resolve()
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.toml")})
    raise RunError(f"no playbook {text!r} (playbooks: {', '.join(known) or 'none'})")


def is_playbook(name_or_path: str | Path) -> bool:
    """True when the name or path refers to a playbook rather than a runbook."""
    try:
        find_playbook(name_or_path)
    except RunError:
        return False
    return True


def load_playbook(name_or_path: str | Path) -> Playbook:
    """Read and validate a playbook; every runbook it names must exist."""
    path = find_playbook(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        playbook = Playbook.model_validate({**data, "source": path})
    except tomllib.TOMLDecodeError as exc:
        raise RunError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise RunError(f"{path}: key '{key}': {first['msg']}") from None
    for step in playbook.all_steps():
        find_runbook(step.runbook)
    return playbook


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
) -> PlaybookResult:
    """Run the playbook's steps into `incident`; see the module docstring.

    `parameters` apply to every step whose runbook declares them (`key`) or to one runbook
    (`runbook.key`), over the scenario's and the playbook's own (see the module docstring);
    ParameterError before anything runs when one reaches no step or does not fit. `stage`
    performs a scenario's set-up (the CLI passes the sandbox's). `cell_timeout_s` and
    `deadline_s` apply to each step's run.
    """
    book = playbook if isinstance(playbook, Playbook) else load_playbook(playbook)
    chosen = _scenario(book, scenario)
    steps = _steps_from(book, start_from)
    run = _PlaybookRun(environment, incident, execute,
                       (chosen.parameters if chosen else {}, dict(parameters or {})),
                       outputs_dir, {"cell_timeout_s": cell_timeout_s, "deadline_s": deadline_s})
    run.check(book)
    if chosen is not None:
        if stage is None:
            raise RunError(f"scenario {scenario!r} needs a sandbox to stage it")
        stage(chosen)
    started = time.monotonic()
    try:
        status, branch = run.main(book, steps)
        if book.final is not None:
            run.step(book.final, None)
    except RunStopped as stopped:
        status, branch = stopped.status, None
        logger.warning("playbook %s %s at step %s; resume with start_from (--from)",
                       book.name, stopped.status, run.outcomes[-1].runbook)
    incident_dir = run.last_dir.parent if run.last_dir else None
    return PlaybookResult(book.name, incident, status, tuple(run.outcomes),
                          time.monotonic() - started, branch, incident_dir)


def _scenario(book: Playbook, name: str | None) -> Scenario | None:
    if name is None:
        return None
    if name not in book.scenarios:
        known = ", ".join(book.scenarios) or "none"
        raise ParameterError(f"playbook {book.name} has no scenario {name!r} ({known})")
    return book.scenarios[name]


def _steps_from(book: Playbook, start_from: str | None) -> list[Step]:
    if start_from is None:
        return list(book.steps)
    names = [s.name for s in book.steps]
    if start_from not in names:
        raise ParameterError(f"--from {start_from!r} is not a phase of playbook {book.name} "
                             f"(phases: {', '.join(names)})")
    return book.steps[names.index(start_from):]


class _PlaybookRun:
    """Runs steps into one incident and keeps their outcomes."""

    def __init__(self, environment: str, incident: str, execute: bool,
                 layers: tuple[Mapping[str, Any], ...], outputs_dir: str | Path | None,
                 limits: Mapping[str, float | None]) -> None:
        self.environment = environment
        self.incident = incident
        self.execute = execute
        self.layers = layers  # parameters over the steps' own, the last one winning
        self._declared: dict[Path, dict[str, Any]] = {}
        self.outputs_dir = outputs_dir
        self.limits = limits
        self.outcomes: list[StepOutcome] = []
        self.last_dir: Path | None = None

    def main(self, book: Playbook, steps: list[Step]) -> tuple[str, str | None]:
        for step in steps:
            if self.step(step, None).ok:
                continue
            if step.on_failure is None:
                return "failed", None
            branch_ok = all(self.step(s, step.on_failure).ok
                            for s in book.branches[step.on_failure])
            return ("rolled_back" if branch_ok else "failed"), step.on_failure
        return "remediated", None

    def step(self, step: Step, branch: str | None) -> RunResult:
        source = find_runbook(step.runbook)
        params = self._parameters(step, source)
        logger.info("playbook step %s%s", step.name, f" (branch {branch})" if branch else "")
        try:
            result = run_notebook(source, environment=self.environment,
                                  incident=self.incident, parameters=params,
                                  outputs_dir=self.outputs_dir,
                                  cell_timeout_s=self.limits.get("cell_timeout_s"),
                                  deadline_s=self.limits.get("deadline_s"))
        except RunStopped as stopped:
            if isinstance(stopped.result, RunResult):
                self._add(step, branch, stopped.result)
            raise
        self._add(step, branch, result)
        return result

    def _add(self, step: Step, branch: str | None, result: RunResult) -> None:
        self.last_dir = result.record_dir
        self.outcomes.append(StepOutcome(step.name, branch, result.status, result.exit_code,
                                         result.record_dir,
                                         float(result.summary.get("duration_s") or 0.0)))

    def check(self, book: Playbook) -> None:
        """ParameterError unless every parameter reaches a step and fits its runbook."""
        sources = {step.name: find_runbook(step.runbook) for step in book.all_steps()}
        declared = {name: self._declared_by(source) for name, source in sources.items()}
        for layer in self.layers:
            check_scoped_parameters(layer, declared, f"the runbooks of playbook {book.name}")
        for step in book.all_steps():
            source = sources[step.name]
            check_against_runbook(source, check_parameters(self._parameters(step, source)))

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
