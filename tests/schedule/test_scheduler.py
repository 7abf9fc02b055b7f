"""The scheduler on a fake clock: the seed's cadence, no overlap, missed due times reported
and caught up once, escalations to a real receiver, resuming, and the incident's record."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from schedule_fakes import START, FakeClock, Receiver, ScriptedRunner

from netra_ops.errors import EnvironmentNotFoundError
from netra_ops.record import verify_incident
from netra_ops.schedule import (
    DEFAULT_CADENCE,
    DEFAULT_RUNBOOKS,
    Schedule,
    ScheduleLock,
    ScheduleLockedError,
    ScheduleOutcome,
    Scheduler,
    ScheduleState,
    Webhook,
    parse_cadence,
    plan_validations,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
GOLDEN, MONITORING = DEFAULT_RUNBOOKS
TOKEN = "T0KEN-5e4d3c2b1a"
INCIDENT = "INC-42"


def scheduler(tmp_path: Path, clock: FakeClock, runner: ScriptedRunner,
              cadence: str = DEFAULT_CADENCE, start: datetime | None = START,
              webhook: Webhook | None = None) -> Scheduler:
    plan = Schedule(incident=INCIDENT, environment="sandbox",
                    validations=plan_validations(DEFAULT_RUNBOOKS),
                    cadence=parse_cadence(cadence), start=start, outputs_dir=tmp_path)
    return Scheduler(plan, clock=clock, runner=runner, webhook=webhook)


def runner_for(tmp_path: Path, clock: FakeClock, **kw: Any) -> ScriptedRunner:
    return ScriptedRunner(clock, tmp_path, INCIDENT, **kw)


def state(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / INCIDENT / "schedule.json").read_text()))


def offsets(times: list[datetime]) -> list[float]:
    return [(t - START) / H for t in times]


def test_the_seeds_cadence_runs_both_runbooks_at_every_due_time(
        tmp_path: Path, clock: FakeClock) -> None:
    runner = runner_for(tmp_path, clock)
    outcome = scheduler(tmp_path, clock, runner).run(max_runs=20)
    assert offsets([s.due for s in outcome.slots]) == [
        0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 48]
    assert [s.status for s in outcome.slots] == ["passed"] * 20
    assert [book for book, _ in runner.calls[:4]] == [GOLDEN, MONITORING] * 2
    assert offsets([t for _, t in runner.calls[:4]]) == pytest.approx([0, 2 / 60, 0.5, 32 / 60])
    assert (outcome.exit_code, outcome.finished) == (0, False)
    assert max(clock.sleeps) <= 60  # short steps, so a wall-clock jump is seen within a minute
    saved = state(tmp_path)
    assert saved["cadence"] == DEFAULT_CADENCE and saved["runbooks"] == list(DEFAULT_RUNBOOKS)
    assert saved["start"] == START.isoformat() and saved["counts"] == {"passed": 20}
    assert saved["next_due"] == (START + 72 * H).isoformat() and saved["missed"] == []
    first = saved["slots"][0]
    assert set(first) == {"due", "phase", "schedule_start", "status", "started", "finished",
                          "late_s", "reason", "runs"}
    assert first["runs"][0]["runbook"] == GOLDEN and first["runs"][0]["status"] == "passed"
    assert Path(first["runs"][0]["record"]).parent == tmp_path / INCIDENT
    assert not (tmp_path / INCIDENT / "schedule.lock").exists()
    assert verify_incident(tmp_path / INCIDENT).ok  # schedule.json is in the manifest


def test_a_due_time_reached_while_a_validation_runs_is_skipped_and_reported(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    runner = runner_for(tmp_path, clock, duration=20 * M)  # two runbooks: 40 min > 30 min
    with caplog.at_level(logging.WARNING, logger="netra_ops.schedule"):
        outcome = scheduler(tmp_path, clock, runner, cadence="30m for 4h").run()
    assert outcome.finished
    assert [(offsets([s.due])[0], s.status) for s in outcome.slots] == [
        (0, "passed"), (0.5, "skipped"), (1, "passed"), (1.5, "skipped"),
        (2, "passed"), (2.5, "skipped"), (3, "passed"), (3.5, "skipped")]
    skipped = outcome.slots[1]
    assert skipped.reason == ("due while the validation due 2025-01-11T14:10:00+00:00 was "
                              "still running (it finished at 2025-01-11T14:50:00+00:00)")
    starts = [t for _, t in runner.calls]
    assert all(later - earlier >= 20 * M for earlier, later in pairwise(starts))
    assert "validation due 2025-01-11T14:40:00+00:00 skipped" in caplog.text
    assert state(tmp_path)["counts"] == {"passed": 4, "skipped": 4}


def test_due_times_the_wall_clock_jumped_past_are_missed_and_caught_up_with_one_run(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    runner = runner_for(tmp_path, clock)
    clock.suspend_at(START + 45 * M, 2 * H)  # asleep from +0:45 to +2:45
    with caplog.at_level(logging.WARNING, logger="netra_ops.schedule"):
        outcome = scheduler(tmp_path, clock, runner).run(max_runs=4)
    assert [(offsets([s.due])[0], s.status) for s in outcome.slots] == [
        (0, "passed"), (0.5, "passed"), (1, "missed"), (1.5, "missed"), (2, "missed"),
        (2.5, "passed"), (3, "passed")]
    catch_up = outcome.slots[5]
    assert catch_up.reason == "catch-up for 3 missed due time(s)"
    assert catch_up.late_s == 15 * 60  # started at +2:45 for the +2:30 due time
    assert offsets([t for _, t in runner.calls][4:]) == pytest.approx(
        [2.75, 2.75 + 2 / 60, 3, 3 + 2 / 60])  # one catch-up, not a burst
    assert outcome.slots[2].reason is not None and outcome.slots[2].reason.startswith(
        "the wall clock jumped past it (machine asleep or suspended?)")
    assert ("3 due validation(s) missed (the wall clock jumped past it (machine asleep or "
            "suspended?)): 2025-01-11T15:10:00+00:00, 2025-01-11T15:40:00+00:00, "
            "2025-01-11T16:10:00+00:00; catching up with one now") in caplog.text
    saved = state(tmp_path)
    assert saved["missed"] == [(START + h * H).isoformat() for h in (1, 1.5, 2)]
    assert saved["counts"] == {"passed": 4, "missed": 3}


def test_a_late_single_due_time_runs_late_and_says_so(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    clock.suspend_at(START + 10 * M, 25 * M)  # asleep +0:10 to +0:35; +0:30 comes 5 min late
    with caplog.at_level(logging.WARNING, logger="netra_ops.schedule"):
        outcome = scheduler(tmp_path, clock, runner_for(tmp_path, clock)).run(max_runs=2)
    assert [s.status for s in outcome.slots] == ["passed", "passed"]
    assert outcome.slots[1].late_s == 5 * 60 and outcome.slots[1].reason is None
    assert "validation due 2025-01-11T14:40:00+00:00 starts 5m late" in caplog.text


def test_a_failed_run_escalates_to_the_webhook_with_what_where_and_when(
        tmp_path: Path, clock: FakeClock, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    runner = runner_for(tmp_path, clock, statuses={GOLDEN: ["passed", "failed"]})
    hook = Webhook(f"{receiver.url}/services/{TOKEN}?token={TOKEN}", sleep=clock.sleep)
    with caplog.at_level(logging.INFO):
        outcome = scheduler(tmp_path, clock, runner, cadence="30m for 1h", webhook=hook).run()
    assert [s.status for s in outcome.slots] == ["passed", "failed"]
    assert outcome.exit_code == 1
    [sent] = receiver.received
    body = sent.body
    failed_run = outcome.slots[1].runs[0]
    assert body["incident"] == INCIDENT and body["runbook"] == GOLDEN
    assert (body["status"], body["exit_code"]) == ("failed", 1)
    assert body["record"] == failed_run["record"] and Path(body["record"]).is_dir()
    assert body["due_at"] == (START + 30 * M).isoformat()
    assert body["phase"] == "every 30m for 1h"
    assert body["failing_cell"]["ename"] == "VerdictFailed"
    assert body["schedule_state"] == str(tmp_path / INCIDENT / "schedule.json")
    assert failed_run["escalation"] == {
        "delivered": True, "attempts": 1, "status_code": 200, "error": None,
        "severity": "error", "seed_escalation_triggers": []}
    assert outcome.slots[1].runs[1]["status"] == "passed"  # monitoring still ran
    assert f"ESCALATION: [{INCIDENT}] scheduled validation {GOLDEN} failed" in caplog.text
    saved_text = (tmp_path / INCIDENT / "schedule.json").read_text()
    assert TOKEN not in caplog.text and TOKEN not in saved_text
    assert json.loads(saved_text)["webhook"] == f"{receiver.url}/…"


def test_starting_late_reports_what_no_scheduler_ran_and_escalates_seed_triggers(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    runner = runner_for(tmp_path, clock, statuses={MONITORING: ["failed"]},
                        records={MONITORING: {"decision": "rollback"}})
    with caplog.at_level(logging.WARNING, logger="netra_ops.schedule"):
        outcome = scheduler(tmp_path, clock, runner, start=START - 5 * H).run(max_runs=1)
    statuses = [s.status for s in outcome.slots]
    assert statuses == ["missed"] * 8 + ["failed"]
    assert outcome.slots[0].reason is not None and outcome.slots[0].reason.startswith(
        "no scheduler was running at that time")
    escalation = outcome.slots[-1].runs[1]["escalation"]
    assert escalation["delivered"] is False and "no webhook configured" in escalation["error"]
    assert escalation["seed_escalation_triggers"] == [
        "Rollback required due to critical issues",
        ">4 hours to restore Golden Path functionality"]
    assert escalation["severity"] == "critical"
    assert "ESCALATION: [INC-42] scheduled validation 07_monitoring failed" in caplog.text


def test_runner_errors_are_escalated_and_the_schedule_goes_on(
        tmp_path: Path, clock: FakeClock) -> None:
    runner = runner_for(tmp_path, clock)

    def refuse_first(call: int) -> None:
        if call == 1:
            raise EnvironmentNotFoundError("unknown environment 'sandbox'; pass --env")

    runner.on_call = refuse_first
    outcome = scheduler(tmp_path, clock, runner, cadence="30m for 1h").run()
    first = outcome.slots[0].runs[0]
    assert (first["status"], first["exit_code"], first["record"]) == ("not_run", 2, None)
    assert first["error"] == "unknown environment 'sandbox'; pass --env"
    assert first["escalation"]["error"].startswith("no webhook configured")
    assert [s.status for s in outcome.slots] == ["failed", "passed"]


def test_an_interrupted_scheduler_leaves_a_clean_state_and_a_new_one_resumes(
        tmp_path: Path, clock: FakeClock) -> None:
    runner = runner_for(tmp_path, clock)

    def interrupt_third(call: int) -> None:
        if call == 3:
            raise KeyboardInterrupt

    runner.on_call = interrupt_third
    with pytest.raises(KeyboardInterrupt):
        scheduler(tmp_path, clock, runner).run()
    saved = state(tmp_path)
    assert [s["status"] for s in saved["slots"]] == ["passed", "interrupted"]
    assert not (tmp_path / INCIDENT / "schedule.lock").exists()
    assert verify_incident(tmp_path / INCIDENT).ok

    clock.advance(H)  # restarted an hour later, without --start: the recorded start holds
    resumed = scheduler(tmp_path, clock, runner_for(tmp_path, clock), start=None).run(
        max_runs=1)
    assert [(offsets([s.due])[0], s.status) for s in resumed.slots] == [
        (1, "missed"), (1.5, "passed")]
    assert resumed.slots[0].reason is not None and "no scheduler was running" in \
        resumed.slots[0].reason


def test_a_run_stopped_by_a_signal_ends_the_schedule_without_escalating(
        tmp_path: Path, clock: FakeClock, receiver: Receiver) -> None:
    runner = runner_for(tmp_path, clock, statuses={GOLDEN: ["passed", "terminated"]})
    hook = Webhook(receiver.url, sleep=clock.sleep)
    outcome = scheduler(tmp_path, clock, runner, webhook=hook).run()
    assert [s.status for s in outcome.slots] == ["passed", "interrupted"]
    assert (outcome.stopped, outcome.exit_code, outcome.finished) == ("terminated", 143, False)
    assert [book for book, _ in runner.calls] == [GOLDEN, MONITORING, GOLDEN]
    assert receiver.received == [] and "escalation" not in outcome.slots[1].runs[0]
    assert outcome.slots[1].reason == ("the scheduler was stopped (terminated) during this "
                                       "validation")
    assert not (tmp_path / INCIDENT / "schedule.lock").exists()


def test_a_validation_left_running_by_a_killed_scheduler_is_marked_interrupted(
        tmp_path: Path, clock: FakeClock) -> None:
    scheduler(tmp_path, clock, runner_for(tmp_path, clock)).run(max_runs=1)
    path = tmp_path / INCIDENT / "schedule.json"
    saved = json.loads(path.read_text())
    saved["slots"][-1]["status"] = "running"  # as a SIGKILL during the run leaves it
    path.write_text(json.dumps(saved))
    outcome = scheduler(tmp_path, clock, runner_for(tmp_path, clock), start=None).run(
        max_runs=1)
    assert [s["status"] for s in state(tmp_path)["slots"]] == ["interrupted", "passed"]
    assert state(tmp_path)["slots"][0]["reason"] == \
        "its scheduler stopped during this validation"
    assert isinstance(outcome, ScheduleOutcome)


def test_a_stop_just_after_the_running_slot_is_saved_marks_it_interrupted(
        tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM can land the moment `schedule.json` shows the slot running (a watcher of the
    file sees it and signals at once): the slot on disk must still end `interrupted`."""
    real_save = ScheduleState.save

    def save_then_stop(self: ScheduleState, *args: Any, **kwargs: Any) -> None:
        real_save(self, *args, **kwargs)
        if any(slot.status == "running" for slot in self.slots):
            raise SystemExit(143)  # what the CLI's SIGTERM handler raises

    monkeypatch.setattr(ScheduleState, "save", save_then_stop)
    runner = runner_for(tmp_path, clock)
    with pytest.raises(SystemExit):
        scheduler(tmp_path, clock, runner).run()
    assert runner.calls == []
    [slot] = state(tmp_path)["slots"]
    assert slot["status"] == "interrupted"
    assert slot["reason"] == "the scheduler was stopped during this validation"


def test_a_second_scheduler_for_the_incident_is_refused_before_touching_anything(
        tmp_path: Path, clock: FakeClock) -> None:
    runner = runner_for(tmp_path, clock)
    with ScheduleLock(tmp_path / INCIDENT), pytest.raises(
            ScheduleLockedError, match="already running"):
        scheduler(tmp_path, clock, runner).run()
    assert runner.calls == [] and not (tmp_path / INCIDENT / "schedule.json").exists()


def test_a_new_start_reanchors_the_schedule_and_keeps_the_history(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    scheduler(tmp_path, clock, runner_for(tmp_path, clock)).run(max_runs=1)
    clock.advance(10 * H)
    with caplog.at_level(logging.WARNING, logger="netra_ops.schedule"):
        outcome = scheduler(tmp_path, clock, runner_for(tmp_path, clock),
                            start=clock.now()).run(max_runs=1)
    assert [s.status for s in outcome.slots] == ["passed"]
    saved = state(tmp_path)
    restart = (START + 10 * H + 2 * 2 * M).isoformat()  # after the first validation's 4 min
    assert saved["start"] == restart and saved["counts"] == {"passed": 1}
    assert [(s["schedule_start"], s["due"]) for s in saved["slots"]] == [
        (START.isoformat(), START.isoformat()), (restart, restart)]
    assert f"new start {restart} for the schedule of {INCIDENT}" in caplog.text
