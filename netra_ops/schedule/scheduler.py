"""The validation schedule: run the validation runbooks at a cadence's due times, report all.

`Scheduler(schedule).run()` holds the incident's lock (`lock`), then loops: sleep until the
next due time (in steps of at most a minute, watching the wall clock), run every runbook of
the validation into its own record (`netra_ops.record.run_notebook`), escalate each failure
(`escalation`), write `schedule.json` (`state`). Decisions, documented in docs/schedule.md:

- Overlap: runs never overlap. A due time that comes while a validation is still going is
  skipped and reported (`skipped`, with the validation it collided with); the schedule goes
  on at the next due time. Delaying it instead would run validations back to back and load
  the service under test without pause (Kubernetes' `concurrencyPolicy: Forbid` does the
  same). Another process is kept out by the lock.
- Missed due times: when the wall clock has passed more than one due time (the machine
  slept, or no scheduler ran), all but the latest are recorded as `missed` and logged, and
  one validation catches up for the latest, now: one run, not a burst. A validation that
  starts more than `late_after_s` after its due time is logged and recorded as late.
- Failures: a run that does not pass (exit code not 0) is escalated; the validation's other
  runbooks still run. A run stopped by SIGTERM / SIGINT is not a failure: the validation is
  `interrupted`, nothing is escalated, and the scheduler ends (exit 143 / 130).
- Resuming: the schedule is anchored at its start (the deployment); a scheduler started
  again for the same incident resumes from `schedule.json` (a validation that was running
  when its scheduler died is marked `interrupted`) unless a new start is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from netra_ops.errors import NetraOpsError, RunStopped
from netra_ops.notify import Delivery
from netra_ops.record.bucket import pull_incident
from netra_ops.record.incident import incident_path
from netra_ops.record.manifest import write_manifest
from netra_ops.record.runner import EXIT_CODES, STOPPED, RunResult, find_runbook, run_notebook
from netra_ops.record.staging import stored_location
from netra_ops.schedule.cadence import Cadence, format_duration
from netra_ops.schedule.clock import Clock, SystemClock
from netra_ops.schedule.cron import cron_lines, validation_command
from netra_ops.schedule.escalation import FailedRun, escalation_payload
from netra_ops.schedule.lock import LOCK_FILE, ScheduleLock
from netra_ops.schedule.state import ScheduleState, Slot
from netra_ops.schedule.validations import Validation

__all__ = ["Poster", "Runner", "Schedule", "ScheduleOutcome", "Scheduler", "absolute_if_path",
           "runbook_argument", "schedule_cron"]

Runner = Callable[[Validation], RunResult]
"""Runs one runbook of a validation into the incident's record (default: run_notebook)."""


class Poster(Protocol):
    """What delivers an escalation: a `Webhook`, or anything that posts a payload and says how
    it went (`display` names the destination without its secret parts)."""

    display: str

    def post(self, payload: Mapping[str, Any]) -> Delivery:
        """Deliver `payload`; never raises."""
        ...


logger = logging.getLogger("netra_ops.schedule")
_NOT_RUN_EXIT = 2  # the runner refused (bad configuration): the CLI's usage exit code


@dataclass(frozen=True)
class Schedule:
    """What to validate, where, and when (`start` None: the recorded start, else now)."""

    incident: str
    environment: str
    validations: tuple[Validation, ...]
    cadence: Cadence
    start: datetime | None = None
    outputs_dir: str | Path | None = None
    cell_timeout_s: float | None = None
    deadline_s: float | None = None
    depths: tuple[tuple[Validation, ...], ...] = ()

    def validations_at(self, phase: int) -> tuple[Validation, ...]:
        """What a validation of cadence phase `phase` (1-based) runs: that phase's depth when
        `depths` gives one per phase (the seed's mission-critical, full, complete), else
        `validations`."""
        return self.depths[phase - 1] if 0 < phase <= len(self.depths) else self.validations

    def runbooks(self) -> list[str]:
        """Every runbook a validation of this schedule may run, in first-run order."""
        found = [v.runbook for depth in (self.validations, *self.depths) for v in depth]
        return list(dict.fromkeys(found))

    def folder(self) -> Path:
        """The incident's records folder (where the lock and schedule.json live)."""
        return incident_path(self.incident, self.outputs_dir, self.environment)

    def start_at(self, now: datetime) -> datetime:
        """The anchor: the given start, else the recorded one, else `now` (whole seconds)."""
        if self.start is not None:
            return self.start.replace(microsecond=0)
        state = ScheduleState.load(self.folder())
        return state.start if state else now.replace(microsecond=0)


@dataclass(frozen=True)
class ScheduleOutcome:
    """What one scheduler process did: its slots (in order), whether the cadence ended, and
    the run status that stopped it (`interrupted` / `terminated`), if one did."""

    state_file: Path
    slots: tuple[Slot, ...]
    finished: bool
    stopped: str | None = None

    @property
    def exit_code(self) -> int:
        """130 / 143 when stopped by SIGINT / SIGTERM; else 1 when a validation of this
        session failed; else 0."""
        if self.stopped:
            return EXIT_CODES[self.stopped]
        return 1 if any(s.status == "failed" for s in self.slots) else 0

    def to_frame(self) -> pd.DataFrame:
        """One row per slot: due, status, late_s, runs (runbook:status), reason."""
        return pd.DataFrame([{
            "due": s.due.isoformat(), "phase": s.phase, "status": s.status,
            "late_s": s.late_s, "runs": ", ".join(f"{r['runbook']}:{r['status']}"
                                                  for r in s.runs),
            "reason": s.reason or ""} for s in self.slots],
            columns=["due", "phase", "status", "late_s", "runs", "reason"])


@dataclass
class _Session:
    state: ScheduleState
    slots: list[Slot] = field(default_factory=list)
    ran: int = 0
    looped: bool = False
    stopped: str | None = None


class Scheduler:
    """Runs a Schedule; see the module docstring. `clock`, `runner` and `webhook` are the
    replaceable edges (a fake clock in tests; None webhook: escalations are only logged; any
    `Poster`, such as a `Webhook`, delivers them)."""

    def __init__(self, schedule: Schedule, *, webhook: Poster | None = None,
                 clock: Clock | None = None, runner: Runner | None = None,
                 max_sleep_s: float = 60.0, late_after_s: float = 60.0) -> None:
        self.schedule = schedule
        self.webhook = webhook
        self.clock: Clock = clock or SystemClock()
        self.runner: Runner = runner or self._run_notebook
        self.max_sleep_s = max_sleep_s
        self.late_after_s = late_after_s

    def run(self, max_runs: int | None = None) -> ScheduleOutcome:
        """Validate at every due time until the cadence ends (or `max_runs` validations ran).

        ScheduleLockedError if another process runs this incident's schedule. A run stopped
        by SIGTERM / SIGINT (`RunStopped` from `run_notebook`, its record complete) marks the
        validation `interrupted` and ends the schedule (`ScheduleOutcome.stopped`); a
        KeyboardInterrupt or SystemExit elsewhere does the same and is re-raised. The lock is
        always released.
        """
        with self._session() as session:
            finished = self._loop(session, max_runs)
        return ScheduleOutcome(session.state.path, tuple(session.slots), finished,
                               session.stopped)

    def run_due(self, phase: int | None = None, early_s: float = 60.0) -> ScheduleOutcome:
        """One validation for the due time reached now, then return: what a triggered run
        (a Cloud Run job's execution, fired by Cloud Scheduler) does.

        The latest due time not yet validated is run (up to `early_s` ahead: the trigger's
        clock may run ahead; it is waited for), earlier ones are recorded `missed`, as
        `run` catches up. Nothing is run when no due time has come, or when `phase` (1 for
        the first) is given and the due time belongs to another phase (a trigger that
        repeats past its phase: a cron line cannot stop, nor start later). Same lock,
        state and escalations as `run`.
        """
        with self._session() as session:
            due = self._due_now(session.state, phase, early_s)
            if due is not None:
                self._sleep_until(due)
                self._due(session, due)
        state = session.state
        return ScheduleOutcome(state.path, tuple(session.slots),
                               self.schedule.cadence.next_due(state.start,
                                                              state.last_due()) is None,
                               session.stopped)

    @contextmanager
    def _session(self) -> Iterator[_Session]:
        """The incident's schedule state under its lock (pulled from a bucket first); the
        lock released and the manifest rewritten without it, whatever happens."""
        folder = self.schedule.folder()
        pull_incident(folder)  # a bucket's records: schedule.json as the bucket has it
        lock = ScheduleLock(folder)
        lock.acquire()
        try:
            yield _Session(self._open_state(folder))
        finally:
            lock.release()
            write_manifest(folder)  # without the lock file, which is gone now

    def _due_now(self, state: ScheduleState, phase: int | None,
                 early_s: float) -> datetime | None:
        """The due time to validate now, if any (see `run_due`)."""
        horizon = self.clock.now() + timedelta(seconds=early_s)
        reached = self.schedule.cadence.due_between(state.start, state.last_due(), horizon)
        if not reached:
            logger.info("nothing due for %s now (next due %s)", state.incident,
                        self._next(state) or "none: the schedule is complete")
            return None
        due = reached[-1]
        found = self.schedule.cadence.phase_of(state.start, due) + 1
        if phase is not None and found != phase:
            logger.info("the validation due %s belongs to phase %d, not to phase %d: not "
                        "run by this trigger", due.isoformat(), found, phase)
            return None
        return due

    def _loop(self, session: _Session, max_runs: int | None) -> bool:
        state, cadence = session.state, self.schedule.cadence
        while max_runs is None or session.ran < max_runs:
            due = cadence.next_due(state.start, state.last_due())
            if due is None:
                logger.info("schedule of %s complete: %s", state.incident, state.counts())
                return True
            self._sleep_until(due)
            self._due(session, due)
            if session.stopped:
                logger.warning("schedule of %s stopped (%s); it resumes from %s when started "
                               "again", state.incident, session.stopped, state.path)
                return False
            session.looped = True
        return cadence.next_due(state.start, state.last_due()) is None

    def _open_state(self, folder: Path) -> ScheduleState:
        now = self.clock.now()
        start = self.schedule.start_at(now)
        state = ScheduleState.load(folder) or ScheduleState(
            folder, self.schedule.incident, self.schedule.environment, start,
            str(self.schedule.cadence), [])
        if state.start != start:
            logger.warning("new start %s for the schedule of %s (was %s); earlier slots are "
                           "kept in %s", start.isoformat(), state.incident,
                           state.start.isoformat(), state.path)
        elif state.cadence != str(self.schedule.cadence):
            logger.warning("cadence of %s changed from %r to %r", state.incident,
                           state.cadence, str(self.schedule.cadence))
        self._settle_dead_runs(state)
        state.start, state.cadence = start, str(self.schedule.cadence)
        state.environment = self.schedule.environment
        state.runbooks = self.schedule.runbooks()
        state.webhook = self.webhook.display if self.webhook else None
        for line in self.schedule.cadence.describe(start):
            logger.info("schedule of %s: %s", state.incident, line)
        logger.info("runbooks: %s; escalations: %s; state: %s", ", ".join(state.runbooks),
                    state.webhook or "log only (no webhook configured)", state.path)
        state.save(now, self._next(state))
        return state

    def _settle_dead_runs(self, state: ScheduleState) -> None:
        for slot in state.slots:
            if slot.status == "running":
                slot.status = "interrupted"
                slot.reason = "its scheduler stopped during this validation"
                logger.warning("validation due %s was interrupted (its scheduler stopped)",
                               slot.due.isoformat())

    def _next(self, state: ScheduleState) -> datetime | None:
        return self.schedule.cadence.next_due(state.start, state.last_due())

    def _sleep_until(self, due: datetime) -> None:
        """Sleep in steps of at most `max_sleep_s`, so a wall-clock jump is seen soon."""
        while (remaining := (due - self.clock.now()).total_seconds()) > 0:
            self.clock.sleep(min(remaining, self.max_sleep_s))

    def _due(self, session: _Session, first: datetime) -> None:
        """Handle what is due now (`first` at least): record missed due times, run one
        validation, record the due times skipped while it ran."""
        state, cadence = session.state, self.schedule.cadence
        now = max(self.clock.now(), first)  # a wall clock stepped back counts as `first`
        *missed, due = cadence.due_between(state.start, state.last_due(), now)
        why = ("the wall clock jumped past it (machine asleep or suspended?)" if session.looped
               else "no scheduler was running at that time")
        for time in missed:
            session.slots.append(self._add(state, time, "missed",
                                           reason=f"{why}; caught up by the validation due "
                                                  f"{due.isoformat()}"))
        if missed:
            logger.warning("%d due validation(s) missed (%s): %s; catching up with one now",
                           len(missed), why, ", ".join(t.isoformat() for t in missed))
        slot = self._add(state, due, "running", started=now, late_s=round(
            (now - due).total_seconds(), 1))
        if missed:
            slot.reason = f"catch-up for {len(missed)} missed due time(s)"
        elif slot.late_s is not None and slot.late_s > self.late_after_s:
            logger.warning("validation due %s starts %s late (%s)", due.isoformat(),
                           format_duration(now - due), why)
        session.slots.append(slot)
        self._validate(session, slot, now)

    def _validate(self, session: _Session, slot: Slot, now: datetime) -> None:
        """Save the slot as running, run its validations, save how it ended. A stop from the
        moment the running slot can be on disk marks it `interrupted` before it spreads."""
        state = session.state
        try:
            state.save(now, self._next(state))
            for validation in self.schedule.validations_at(slot.phase):
                slot.runs.append(self._run_one(state, slot, validation))
                if slot.runs[-1]["status"] in STOPPED:  # SIGTERM / SIGINT during the run
                    session.stopped = slot.runs[-1]["status"]
                    break
        except (KeyboardInterrupt, SystemExit):
            self._interrupted(state, slot, "the scheduler was stopped during this validation")
            raise
        if session.stopped:
            self._interrupted(state, slot, f"the scheduler was stopped ({session.stopped}) "
                                           f"during this validation")
            return
        slot.finished = self.clock.now()
        slot.status = "failed" if any(r["exit_code"] != 0 for r in slot.runs) else "passed"
        session.ran += 1
        for time in self.schedule.cadence.due_between(state.start, slot.due, slot.finished):
            session.slots.append(self._add(
                state, time, "skipped", reason=f"due while the validation due "
                f"{slot.due.isoformat()} was still running (it finished at "
                f"{slot.finished.isoformat()})"))
            logger.warning("validation due %s skipped: the one due %s was still running",
                           time.isoformat(), slot.due.isoformat())
        next_due = self._next(state)
        logger.info("validation due %s %s in %s; next due %s", slot.due.isoformat(),
                    slot.status, format_duration(slot.finished - (slot.started or slot.due)),
                    next_due.isoformat() if next_due else "none (schedule complete)")
        state.save(slot.finished, next_due)

    def _interrupted(self, state: ScheduleState, slot: Slot, reason: str) -> None:
        slot.status, slot.finished, slot.reason = "interrupted", self.clock.now(), reason
        state.save(slot.finished, self._next(state))

    def _add(self, state: ScheduleState, due: datetime, status: str, **facts: Any) -> Slot:
        phase = self.schedule.cadence.phase_of(state.start, due) + 1
        slot = Slot(due=due, phase=phase, schedule_start=state.start, status=status, **facts)
        state.slots.append(slot)
        return slot

    def _run_one(self, state: ScheduleState, slot: Slot,
                 validation: Validation) -> dict[str, Any]:
        started = self.clock.now()
        logger.info("validation due %s: running %s", slot.due.isoformat(), validation.runbook)
        result: RunResult | None = None
        error: str | None = None
        stopped: RunStopped | None = None
        try:
            result = self.runner(validation)
        except RunStopped as exc:  # recorded, then raised so that we stop too
            stopped = exc
            result = exc.result if isinstance(exc.result, RunResult) else None
        except NetraOpsError as exc:
            error = str(exc)
        except Exception as exc:  # a long-running scheduler reports a bug and goes on
            logger.exception("running %s raised", validation.runbook)
            error = f"{type(exc).__name__}: {exc}"
        entry: dict[str, Any] = {
            "runbook": validation.runbook,
            "status": stopped.status if stopped else result.status if result else "not_run",
            "exit_code": (stopped.exit_code if stopped else result.exit_code if result
                          else _NOT_RUN_EXIT),
            "record": stored_location(result.record_dir) if result else None,
            "started": started.isoformat(), "finished": self.clock.now().isoformat(),
            "error": error,
        }
        logger.info("%s: %s (exit %s)%s", validation.runbook, entry["status"],
                    entry["exit_code"], f"; record: {entry['record']}" if result else
                    f": {error}")
        if entry["exit_code"] != 0 and entry["status"] not in STOPPED:
            entry["escalation"] = self._escalate(state, slot, validation, result, entry)
        return entry

    def _escalate(self, state: ScheduleState, slot: Slot, validation: Validation,
                  result: RunResult | None, entry: dict[str, Any]) -> dict[str, Any]:
        summary = result.summary if result else {}
        payload = escalation_payload(FailedRun(
            incident=state.incident, environment=state.environment,
            runbook=validation.runbook, status=entry["status"],
            exit_code=entry["exit_code"], record_dir=result.record_dir if result else None,
            due=slot.due, started=datetime.fromisoformat(entry["started"]),
            finished=datetime.fromisoformat(entry["finished"]),
            schedule_start=state.start,
            phase=self.schedule.cadence.phases[slot.phase - 1].describe(),
            state_file=state.path, failing_cell=summary.get("failing_cell"),
            records=summary.get("records"), error=entry["error"]))
        logger.error("ESCALATION: %s", payload["text"])
        if self.webhook is None:
            delivery = Delivery(False, 0, None, "no webhook configured (--webhook or "
                                                "NETRA_OPS_WEBHOOK_URL)")
        else:
            delivery = self.webhook.post(payload)
        return {**delivery.to_dict(), "severity": payload["severity"],
                "seed_escalation_triggers": payload["seed_escalation_triggers"]}

    def _run_notebook(self, validation: Validation) -> RunResult:
        return run_notebook(validation.source, environment=self.schedule.environment,
                            incident=self.schedule.incident,
                            parameters=dict(validation.parameters),
                            outputs_dir=self.schedule.outputs_dir,
                            cell_timeout_s=self.schedule.cell_timeout_s,
                            deadline_s=self.schedule.deadline_s)


def schedule_cron(schedule: Schedule, now: datetime) -> list[str]:
    """Cron lines equivalent to the schedule (see `netra_ops.schedule.cron`)."""
    folder = schedule.folder()
    command = validation_command(
        [(runbook_argument(v), v.parameters) for v in schedule.validations],
        environment=absolute_if_path(schedule.environment), incident=schedule.incident,
        outputs=folder.parent, lock=folder / LOCK_FILE,
        cell_timeout_s=schedule.cell_timeout_s, deadline_s=schedule.deadline_s)
    return cron_lines(schedule.cadence, schedule.start_at(now), command)


def runbook_argument(validation: Validation) -> str:
    """The runbook's name when `netra-ops run NAME` finds this very file, else its path."""
    try:
        found = find_runbook(validation.runbook)
    except NetraOpsError:
        found = None
    return validation.runbook if found == validation.source else str(validation.source)


def absolute_if_path(environment: str) -> str:
    """An environment name as it is; a path made absolute (for a command run elsewhere)."""
    path = Path(environment)
    return str(path.resolve()) if path.suffix == ".toml" or len(path.parts) > 1 else environment
