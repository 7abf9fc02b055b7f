"""The post-deployment watch (seed "Post-Deployment Monitoring"), from start to "System stable".

    outcome = run_watch(WatchPlan(incident="INC-358", environment="staging"), notify=...)

One process per incident (a lock in `watch/`). It drives the incident's validation schedule
(`netra_ops.schedule.Scheduler`, its `schedule.json` and lock) on the watch clock
(`netra_ops.watch.clock`): the seed's cadence cut at the watch's end, each phase at its
depth (`netra_ops.watch.plan`). While the schedule waits for its next due time, the clock
lets the monitor watch (`netra_ops.watch.monitor`): rules every interval, ERROR entries,
rollback or escalation on a trigger. After each evaluation the period records that are due
are written and the milestones of the seed's communication plan are sent
(`netra_ops.watch.periods`, `netra_ops.watch.messages`). At the end: the last period, the
rolling summary with its charts, and "System stable" (or why not).

Killed and started again with the same incident, it resumes from `watch/state.json`: the
same start, the watch time it had reached, the schedule where it was (a validation that
was running is `interrupted`), no message sent twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from netra_ops.config import TriggerRule, load_environment
from netra_ops.metrics import override_rules
from netra_ops.notify import (
    COMMUNICATION_PLAN,
    Notice,
    Severity,
    Webhook,
    new_run_id,
    resolve_format,
    stakeholder_notice,
)
from netra_ops.record import RunResult, run_notebook, write_manifest
from netra_ops.record.bucket import pull_incident
from netra_ops.record.incident import incident_path
from netra_ops.record.runner import EXIT_CODES, known_secrets
from netra_ops.schedule import (
    Cadence,
    Schedule,
    ScheduleLock,
    Scheduler,
    ScheduleState,
    Validation,
)
from netra_ops.watch.clock import WatchClock, hours_text
from netra_ops.watch.messages import Messenger
from netra_ops.watch.monitor import Monitor
from netra_ops.watch.periods import SUMMARY_HTML, Records
from netra_ops.watch.plan import Depths, WatchPlan, plan_depths, watch_cadence
from netra_ops.watch.state import WATCH_DIR, WatchState

__all__ = ["EXIT_ROLLED_BACK", "WatchOutcome", "run_watch", "watch_folder"]

EXIT_ROLLED_BACK = 6  # as a playbook that rolled back
logger = logging.getLogger("netra_ops.watch")


@dataclass(frozen=True)
class WatchOutcome:
    """How a watch process ended: `finished` (the whole span watched), `stable`, the
    rollbacks made, the stop status if a signal stopped it, and where its state is."""

    folder: Path
    finished: bool
    stable: bool
    rollbacks: int
    stopped: str | None = None
    reasons: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0 stable; 6 rolled back; 1 not stable; 130 / 143 stopped by SIGINT / SIGTERM."""
        if self.stopped:
            return EXIT_CODES[self.stopped]
        if self.stable:
            return 0
        return EXIT_ROLLED_BACK if self.rollbacks else 1


def watch_folder(incident: str, outputs_dir: str | Path | None = None,
                 environment: str | None = None) -> Path:
    """`<outputs>/<incident>/watch`, where a watch keeps its state (`environment`: whose
    `records_url` applies when no outputs folder is given)."""
    return incident_path(incident, outputs_dir, environment) / WATCH_DIR


def run_watch(plan: WatchPlan, *, webhook: Webhook | None = None,
              webhook_format: str = "auto") -> WatchOutcome:
    """Watch `plan`'s incident to the end of its span, or resume it; see the module
    docstring. Notices go to `webhook` in `webhook_format` (`netra_ops.notify`; None: only
    the incident's sent-log). ScheduleLockedError if a watch (or schedule) of the incident
    runs already; ParameterError / ConfigError for bad settings, before anything runs."""
    resolve_format(webhook_format, "")
    env = load_environment(plan.environment)
    rules = override_rules(env.rollback_triggers, dict(plan.rule_overrides))
    cadence = watch_cadence(plan.cadence, plan.span)
    depths = plan_depths(cadence, plan.parameters)
    folder = watch_folder(plan.incident, plan.outputs_dir, plan.environment)
    pull_incident(folder.parent)  # records in a bucket: resume from what the bucket holds
    try:
        with ScheduleLock(folder):
            return _Watch(plan, rules, cadence, depths, folder,
                          (webhook, webhook_format)).run()
    finally:
        if folder.parent.is_dir():
            write_manifest(folder.parent)  # without the lock file, which is gone now


class _Watch:
    """One watch process: state, clock, messages, records, monitor and schedule wired."""

    def __init__(self, plan: WatchPlan, rules: Sequence[TriggerRule], cadence: Cadence,
                 depths: Depths, folder: Path, hook: tuple[Webhook | None, str]) -> None:
        self.plan = plan
        self.env = load_environment(plan.environment)
        self.state = self._open_state(folder)
        self.clock = WatchClock(self.state.start, plan.time_scale, self.state.elapsed_s)
        secrets = known_secrets(plan.environment)
        self.messenger = Messenger(folder.parent, plan.incident,
                                   f"watch-{new_run_id(self.state.start)}", hook[0],
                                   fmt=hook[1], watch_s=self.clock.elapsed_s)
        self.records = Records(plan, self.state, secrets, self.messenger.run_id,
                               {index + 1: name for index, (name, _) in enumerate(depths)})
        self.monitor = Monitor(self.env, plan, rules, self.clock, self.state, self.messenger,
                               self._after_tick)
        self.clock.on_wait = self.monitor.run_for
        self.schedule = Schedule(
            incident=plan.incident, environment=plan.environment,
            validations=depths[0][1], cadence=cadence, start=self.state.start,
            outputs_dir=plan.outputs_dir, depths=tuple(runs for _, runs in depths))

    # -- the whole watch --------------------------------------------------------------------

    def run(self) -> WatchOutcome:
        logger.info("watch of %s: %s h from %s, %s; state %s", self.plan.incident,
                    f"{self.plan.hours:g}", self.state.start.isoformat(),
                    self.plan.scale_note(), self.state.path)
        self._started_message()
        scheduler = Scheduler(self.schedule, webhook=self.messenger.poster(),
                              clock=self.clock, runner=self._run_validation,
                              max_sleep_s=60.0,
                              late_after_s=60.0 + 2 * self.plan.interval_s * self.plan.time_scale)
        try:
            done = scheduler.run()
            if done.stopped:
                return self._stop(done.stopped)
            self.clock.sleep(self.plan.span.total_seconds() - self.clock.elapsed_s())
        except KeyboardInterrupt:
            self._stop("interrupted")
            raise
        except SystemExit:
            self._stop("terminated")
            raise
        return self._finish()

    def _open_state(self, folder: Path) -> WatchState:
        exact = datetime.now(UTC)
        now = exact.replace(microsecond=0)
        state = WatchState.load(folder)
        plan = self.plan
        if state is None:
            state = WatchState(folder, plan.incident, plan.environment, now, plan.hours,
                               plan.time_scale, plan.period_h,
                               plan.rollback_window.total_seconds() / 3600, plan.interval_s)
            state.sessions.append({"pid": os.getpid(), "started": now.isoformat(),
                                   "resumed_at_watch_s": 0.0, "down_s": None})
        else:
            # the last save is stamped with its evaluation's grid time, which can be a
            # little ahead of this wall clock: a quick restart is down 0 s, never less
            down = max(0.0, (exact - datetime.fromisoformat(state.updated_at)).total_seconds()) \
                if state.updated_at else None
            logger.warning("resuming the watch of %s at %s of watch time (down %s s of wall "
                           "time); it was %s", plan.incident, hours_text(state.elapsed_s),
                           f"{down:.0f}" if down is not None else "?", state.status)
            state.sessions.append({"pid": os.getpid(), "started": now.isoformat(),
                                   "resumed_at_watch_s": round(state.elapsed_s, 1),
                                   "down_s": round(down, 1) if down is not None else None,
                                   "previous_status": state.status})
            state.time_scale, state.interval_s = plan.time_scale, plan.interval_s
        state.status = "running"
        state.save(now)
        return state

    def _run_validation(self, validation: Validation) -> RunResult:
        """A runbook of a validation, at the wall clock's pace; then a new series of
        evaluations (the process was busy)."""
        try:
            with self.clock.real_time():
                return run_notebook(validation.source, environment=self.plan.environment,
                                    incident=self.plan.incident,
                                    parameters=dict(validation.parameters),
                                    outputs_dir=self.plan.outputs_dir)
        finally:
            self.monitor.restart_series()

    def _after_tick(self) -> None:
        elapsed = self.clock.elapsed_s()
        # a period is sealed only once the saved state has watched past its end: a watch
        # killed now resumes at that saved point, which must lie in a period not yet written
        self.records.write_due(self.state.elapsed_s)
        for at, milestone, _ in COMMUNICATION_PLAN[1:-1]:
            if at.total_seconds() <= min(elapsed, self.plan.span.total_seconds() - 1):
                self._milestone(milestone)

    # -- messages -----------------------------------------------------------------------------

    def _update(self, event: str, milestone: str, *, detail: str = "", update: str = "",
                severity: Severity = "info", verdict: str = "") -> Notice:
        """The communication plan's update at `milestone`, as a watch notice."""
        notice = stakeholder_notice(self.plan.incident, self.messenger.run_id, milestone,
                                    update=update, detail=detail, verdict=verdict,
                                    record=str(self.state.folder / SUMMARY_HTML),
                                    severity=severity)
        return replace(notice, phase="watch", key=self.messenger.key(event, milestone))

    def _started_message(self) -> None:
        text = (f"post-deployment watch started on {self.plan.environment}: "
                f"{self.plan.hours:g} h, health every {self.plan.interval_s:g} s, rollback "
                f"window {self.plan.rollback_window.total_seconds() / 3600:g} h"
                f"{'' if self.plan.execute else ' (rollbacks planned only: no --execute)'}; "
                f"{self.plan.scale_note()}")
        self.messenger.send(self._update("started", "Watch started", update=text))

    def _milestone(self, milestone: str) -> None:
        notice = self._update("stakeholder_update", milestone, detail="")
        if self.messenger.done(notice.key):
            return
        counts = self._slot_counts()
        fired = len(self.state.triggers)
        facts = (f"{hours_text(self.clock.elapsed_s())} of watch time; validations so far: "
                 f"{_counted(counts)}; rollback triggers fired: {fired}")
        severity: Severity = "warning" if fired or counts.get("failed") else "info"
        self.messenger.send(self._update("stakeholder_update", milestone, detail=facts,
                                         severity=severity))

    def _slot_counts(self) -> dict[str, int]:
        schedule = ScheduleState.load(self.state.folder.parent)
        return schedule.counts() if schedule else {}

    # -- the end --------------------------------------------------------------------------------

    def _stop(self, how: str) -> WatchOutcome:
        self.state.status = f"stopped ({how})"
        self.state.save(datetime.now(UTC))
        self.records.write_summary()
        logger.warning("watch of %s stopped (%s) at %s; started again it resumes from %s",
                       self.plan.incident, how, hours_text(self.state.elapsed_s),
                       self.state.path)
        return WatchOutcome(self.state.folder, False, False, len(self.state.rollbacks), how)

    def _finish(self) -> WatchOutcome:
        reasons = self._unstable()
        stable = not reasons
        self.state.status = "finished"
        self.state.outcome = {"stable": stable, "reasons": reasons,
                              "rollbacks": len(self.state.rollbacks),
                              "watched": hours_text(self.clock.elapsed_s())}
        self.state.save(datetime.now(UTC))
        self.records.write_due(self.clock.elapsed_s(), final=True)
        _, milestone, _ = COMMUNICATION_PLAN[-1]
        if stable:
            notice = self._update("final", milestone, verdict="stable", detail=(
                f"the {self.plan.hours:g} h watch is complete: no rollback trigger fired, "
                "every validation passed"))
        else:
            text = (f"[{self.plan.incident}] NOT stable at the end of the "
                    f"{self.plan.hours:g} h watch: {'; '.join(reasons)}")
            notice = Notice(self.plan.incident, self.messenger.run_id, "escalation",
                            self.messenger.key("final", milestone),
                            f"{self.plan.incident} · watch ended NOT stable", text,
                            phase="watch", verdict="not stable",
                            record=str(self.state.folder / SUMMARY_HTML), severity="critical",
                            fields=(("Trigger", "not stable after the watch"),))
        self.messenger.send(notice)
        self.records.write_summary(final=True)
        return WatchOutcome(self.state.folder, True, stable, len(self.state.rollbacks),
                            reasons=tuple(reasons))

    def _unstable(self) -> list[str]:
        reasons = [f"trigger {t['rule']} fired at {hours_text(t['watch_s'])} "
                   f"({t['action']})" for t in self.state.triggers.values()]
        schedule = ScheduleState.load(self.state.folder.parent)
        slots = [s for s in (schedule.slots if schedule else [])
                 if s.schedule_start == self.state.start]
        failed = [s.due for s in slots if s.status == "failed"]
        if failed:
            reasons.append(f"{len(failed)} validation(s) failed (first due "
                           f"{hours_text((failed[0] - self.state.start).total_seconds())})")
        if not slots or slots[-1].status != "passed":
            reasons.append("the last validation did not pass (" + (
                slots[-1].status if slots else "none ran") + ")")
        return reasons


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items()) or "none yet"
