"""The watch's plan, clock and messages without a sandbox: the seed's validation points and
depths, watch time that scales and resumes, each message sent once."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from watch_receiver import Receiver

from netra_ops.notify import Webhook, stakeholder_notice
from netra_ops.record.staging import stored_location
from netra_ops.schedule import DEFAULT_CADENCE
from netra_ops.watch import (
    DEPTHS,
    Messenger,
    WatchClock,
    WatchPlan,
    WatchState,
    plan_depths,
    watch_cadence,
    watch_folder,
    watch_notices,
)

START = datetime(2025, 1, 11, 14, 10, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def test_a_24_hour_watch_validates_at_the_seeds_points_and_depths() -> None:
    cadence = watch_cadence(DEFAULT_CADENCE, timedelta(hours=24))
    dues = cadence.due_times(START, 100)
    hours = [(due - START) / timedelta(hours=1) for due in dues]
    assert hours == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    depths = plan_depths(cadence, {"runs": 1})
    by_due = [depths[cadence.phase_of(START, due)][0] for due in dues]
    assert by_due == ["mission-critical"] * 8 + ["full"] * 10 + ["complete"]
    runbooks = {name: [v.runbook for v in runs] for name, runs in depths}
    assert runbooks == {name: list(books) for name, books in DEPTHS}
    complete = {v.runbook: dict(v.parameters) for v in depths[2][1]}
    assert complete["05_performance"]["users"] == 10  # seed 3.3: 10 users x 300 s
    assert complete["05_performance"]["duration_s"] == 300.0
    assert dict(depths[1][1][1].parameters)["duration_s"] < 300  # full: a short 05
    assert dict(depths[0][1][0].parameters) == {"runs": 1}


def test_a_shorter_watch_ends_with_a_validation_at_its_end() -> None:
    cadence = watch_cadence(DEFAULT_CADENCE, timedelta(hours=2))
    hours = [(d - START) / timedelta(hours=1) for d in cadence.due_times(START, 100)]
    assert hours == [0, 0.5, 1, 1.5, 2]


def test_watch_time_scales_runs_at_wall_pace_in_real_time_and_resumes() -> None:
    wall = [100.0]
    clock = WatchClock(START, 1440, monotonic=lambda: wall[0])
    wall[0] += 2.5
    assert clock.elapsed_s() == 3600  # an hour of watching in 2.5 s
    with clock.real_time():
        wall[0] += 30  # a validation of 30 s counts 30 s
    assert clock.elapsed_s() == 3630
    resumed = WatchClock(START, 1440, clock.elapsed_s(), monotonic=lambda: wall[0] + 500)
    assert resumed.now() == START + timedelta(seconds=3630)  # the 500 s down do not count


def test_every_resumed_session_is_a_restart_of_its_period_even_one_down_for_0_s(
        tmp_path: Path) -> None:
    state = WatchState(tmp_path, "INC-1", "sandbox", START, 24, 1440, 1, 1, 0.5, sessions=[
        {"resumed_at_watch_s": 0.0, "down_s": None},  # the first start: no restart
        {"resumed_at_watch_s": 3700.0, "down_s": 0.0, "previous_status": "running"},
        {"resumed_at_watch_s": 7300.0, "down_s": None, "previous_status": "running"},
        {"resumed_at_watch_s": 7400.0, "down_s": 42.0, "previous_status": "terminated"}])
    assert [s["resumed_at_watch_s"] for s in state.restarts(3600, 7200)] == [3700.0]
    assert [s["down_s"] for s in state.restarts(7200, 10800)] == [None, 42.0]
    assert state.restarts(0, 3600) == []


def test_each_notice_is_sent_once_even_by_a_restarted_watch(tmp_path: Path,
                                                            receiver: Receiver) -> None:
    first = Messenger(tmp_path, "INC-1", "watch-1", Webhook(receiver.url), watch_s=lambda: 7200)
    notice = stakeholder_notice("INC-1", "watch-1", "2 Hours", detail="2 of 2 passed")
    notice = replace(notice, phase="watch", key=first.key("stakeholder_update", "2 Hours"))
    assert first.send(notice) is True
    assert first.send(notice) is False
    restarted = Messenger(tmp_path, "INC-1", "watch-1", Webhook(receiver.url))
    assert restarted.done(notice.key) and restarted.send(notice) is False
    assert receiver.keys() == ["INC-1:watch-1:watch:stakeholder_update:2_Hours"]
    body = receiver.bodies[0]
    assert "Deployment complete, running validation tests" in body["text"]
    assert body["netra_ops"]["fields"]["Watch time"] == "+2h00m"
    (entry,) = watch_notices(tmp_path)
    assert entry["delivered"] and "secret-token" not in (tmp_path /
                                                         "notifications.jsonl").read_text()


def test_without_a_webhook_a_notice_is_logged_once_as_not_delivered(tmp_path: Path) -> None:
    messenger = Messenger(tmp_path, "INC-1", "watch-1", None)
    notice = replace(stakeholder_notice("INC-1", "watch-1", "4 Hours"), phase="watch")
    assert messenger.send(notice) is False
    assert Messenger(tmp_path, "INC-1", "watch-1", None).done(notice.key)
    (entry,) = watch_notices(tmp_path)
    assert not entry["delivered"] and "no webhook" in entry["error"]


def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "netra_ops", "watch", "-i", "INC-1",
                           "--time-scale", "0", "--outputs", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --time-scale must be a positive number, got 0.0"]


def test_outputs_is_a_folder_or_a_bucket_and_a_bad_bucket_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "environments" / "sandbox.toml"  # its secret file exists: the
    env_file.parent.mkdir()                                # options are checked past it
    env_file.write_text((ROOT / "environments" / "sandbox.toml").read_text(encoding="utf-8"))
    (tmp_path / ".sandbox" / "secrets").mkdir(parents=True)
    (tmp_path / ".sandbox" / "secrets" / "test-user-password").write_text("pw")
    environ = {**os.environ, "NETRA_OPS_STAGING": str(tmp_path / "staging")}

    def watch(outputs: str) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "netra_ops", "watch", "-i", "INC-1",
                               "--env", str(env_file), "--outputs", outputs,
                               "--webhook-format", "pigeon"], env=environ, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        return done.stderr.strip().splitlines()

    [bad] = watch("gs://Not_A_Bucket!/x")
    assert bad.startswith("error: records location 'gs://Not_A_Bucket!/x' is not gs://BUCKET")
    [accepted] = watch("gs://netra-sandbox-records/watching")  # on to the next option
    assert accepted.startswith("error: ") and "pigeon" in accepted, accepted

    monkeypatch.setenv("NETRA_OPS_STAGING", str(tmp_path / "staging"))
    folder = watch_folder("INC-1", "gs://netra-sandbox-records/watching", str(env_file))
    assert folder.is_relative_to(tmp_path / "staging")  # the bucket's staging copy
    assert stored_location(folder) == "gs://netra-sandbox-records/watching/INC-1/watch"


def test_a_plan_states_its_time_scale() -> None:
    plan = WatchPlan(incident="INC-1", environment="sandbox", time_scale=1440)
    assert "time scale 1440" in plan.scale_note()
    assert plan.periods() == 24
    assert plan.rollback_window == timedelta(hours=24)
