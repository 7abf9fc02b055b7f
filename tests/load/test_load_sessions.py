"""Session longevity: users who hold one connection, idle between turns answering heartbeats.

The pure parts on values; then the shared sandbox at a rehearsal time scale of 60 (the app's
360 s idle timeout is 6 s, its 15 s heartbeat 0.25 s): Cloud Run's request timeout below the
app's cuts every session (1006, no close frame); with Cloud Run's 3600 s, sessions that
answer heartbeats outlive the app's timeout and a silent user is closed when the app says;
a frozen revision sends no heartbeat and idle users give their connections up. The revision
goes back to the environment's timeout, the fixed build and no time scale afterwards.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from websockets.frames import Close

from netra_ops.config import Environment
from netra_ops.deploy import deploy, release_image
from netra_ops.errors import ConfigError
from netra_ops.load import (
    DROP_CAUSES,
    SESSION_COLUMNS,
    ProgressSnapshot,
    SessionConfig,
    SessionResult,
    ThinkTime,
    run_sessions,
    sessions_chart,
)
from netra_ops.load.session_user import close_cause, session_timing
from netra_ops.record.recorder import to_jsonable
from netra_ops.sandbox import apply_scenario
from netra_ops.sandbox.pause import pause_revision

SCALE = "NETRA_REHEARSAL_TIME_SCALE"
# 2 s without a frame while idle (8 heartbeats of 0.25 s): a busy machine does not fake one
QUIET = 8


def test_think_times_are_seeded_capped_and_keep_their_mean() -> None:
    lognormal = ThinkTime("lognormal", mean_s=90, cap_s=10_000, sigma=0.5)
    draws = [lognormal.draw(random.Random(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]  # one seed, one draw
    rng = random.Random(1)
    values = [lognormal.draw(rng) for _ in range(20_000)]
    assert 85 < sum(values) / len(values) < 95
    capped = ThinkTime("exponential", mean_s=90, cap_s=120)
    assert max(capped.draw(rng) for _ in range(5_000)) == 120
    assert ThinkTime("fixed", mean_s=480).draw(rng) == 480
    config = SessionConfig.of(None, {"seed": 3, "users": 2})
    assert config.draws(1).random() == config.draws(1).random() != config.draws(0).random()


def test_options_go_to_the_session_or_its_load_and_bad_ones_say_what_to_do() -> None:
    config = SessionConfig.of(None, {"users": 5000, "duration_s": 30, "silent_users": 2,
                                     "think": ThinkTime("fixed", mean_s=480)})
    assert (config.load.users, config.load.duration_s, config.silent_users) == (5000, 30, 2)
    assert config.describe() == ("sessions: 5000 users for 30 s, fixed think time of 480 s, "
                                 "2 silent")
    staggered = SessionConfig.of(config, {"staggered_start": True, "time_scale": 60})
    assert staggered.describe().endswith("2 silent, staggered start, time scale 60")
    assert staggered.load.users == 5000
    assert [config.answers_heartbeats(i) for i in range(3)] == [False, False, True]
    assert json.loads(json.dumps(config.to_dict()))["think"]["mean_s"] == 480
    for options, says in [({"bogus": 1}, "unknown session option bogus"),
                          ({"model": "open", "rate": 5}, "closed model"),
                          ({"think_time_s": 3}, "think=ThinkTime"),
                          ({"users": 2, "silent_users": 3}, "silent_users must be 0..users"),
                          ({"users": 30_000}, "users must be 1..20000"),
                          ({"time_scale": 0.5}, "time_scale must be 1..3600")]:
        with pytest.raises(ConfigError, match=says):
            SessionConfig.of(None, options)
    with pytest.raises(ConfigError, match="distribution must be one of"):
        ThinkTime("gamma")  # type: ignore[arg-type]


def test_how_a_connection_ended_names_its_cause() -> None:
    assert close_cause(None) == ("cloud_run_timeout", 1006,
                                 "no close frame (abnormal closure)")
    idle = Close(1000, "idle timeout (WEBSOCKET_CONNECTION_TIMEOUT=360s)")
    assert close_cause(idle)[0] == "app_idle_close"
    assert close_cause(Close(1001, "going away")) == ("server_close", 1001, "going away")
    assert close_cause(Close(1000, ""))[0] == "server_close"


def test_the_servers_timing_wins_over_the_parameters() -> None:
    config = SessionConfig.of(None, {"time_scale": 10})
    stated = session_timing({"time_scale": 60, "heartbeat_interval_s": 0.25,
                             "connection_timeout_s": 6}, config)
    assert stated == (60, "connection_established", 0.25, 6)
    assert session_timing({}, config) == (10, "parameter", 1.5, 36)
    assert session_timing({"time_scale": "x"}, SessionConfig()) == (1, "default", 15, 360)


@pytest.fixture(scope="module")
def env(sandbox_env: Environment) -> Iterator[Environment]:
    """The shared sandbox; afterwards its revision is the environment's again."""
    yield sandbox_env
    deploy(sandbox_env, release_image(sandbox_env), timeout_s=sandbox_env.backend.timeout_s,
           env_vars={SCALE: None}, execute=True)
    apply_scenario(sandbox_env, "fixed")


def rehearse(env: Environment, timeout_s: int) -> None:
    """Serve the fixed build at time scale 60 with Cloud Run's request timeout `timeout_s`."""
    done = deploy(env, release_image(env), env_vars={SCALE: "60"}, timeout_s=timeout_s,
                  execute=True)
    assert done.status in ("done", "unchanged"), done


def check(result: SessionResult, name: str) -> tuple[bool, object]:
    [row] = [c for c in result.checks() if c.name.startswith(name)]
    return row.ok, row.value


@pytest.mark.sandbox
@pytest.mark.slow
def test_sessions_answering_heartbeats_outlive_the_apps_timeout_and_silent_ones_are_closed(
        env: Environment) -> None:
    rehearse(env, 3600)
    result = run_sessions(env, users=3, silent_users=1, duration_s=9, seed=1,
                          think=ThinkTime("fixed", mean_s=480), missed_heartbeats=QUIET,
                          progress="none")

    sessions = result.sessions
    assert tuple(sessions.columns) == SESSION_COLUMNS
    assert (result.time_scale, result.scale_source) == (60, "connection_established")
    assert result.connection_timeout_s == 6
    answering = sessions[sessions["answers_heartbeats"]]
    assert set(answering["end"]) == {"held"}, answering  # 9 s on one connection each
    assert answering["past_app_timeout"].all() and (answering["heartbeats"] > 0).all()
    assert (answering["unscaled_age_s"] > 360).all()
    silent = sessions[~sessions["answers_heartbeats"]]
    closed = silent[silent["end"] == "app_idle_close"]
    assert len(closed) >= 1, silent
    assert set(closed["close_code"]) == {1000}
    assert set(closed["close_reason"]) == {"idle timeout (WEBSOCKET_CONNECTION_TIMEOUT=360s)"}
    assert (closed["unscaled_age_s"] >= 360).all() and closed["expected"].all()
    assert result.reconnects >= 1 and result.unexpected_drops == 0
    drops = result.drops().set_index("cause")
    assert list(drops.index) == list(DROP_CAUSES)
    assert drops.loc["app_idle_close", "drops"] == len(closed)
    assert check(result, "session drops") == (True, 0.0)
    assert check(result, "sessions outlive")[0]
    assert result.load.ok, result.load.error_examples

    after = result.latency_after_idle().iloc[0]
    assert after["count"] >= 2 and after["failed"] == 0  # the second turns, after 480 s
    live = result.live("1s")
    assert live["live"].max() == 3 and live["app_idle_close"].sum() == len(closed)
    assert any(a.get_gid() == "drops:app_idle_close"
               for a in sessions_chart(live).axes[0].patches)
    record = result.to_record()
    assert to_jsonable(record, "sessions") == record
    assert record["time_scale"] == 60 and record["drops"]["app_idle_close"] == len(closed)
    assert "eyJ" not in json.dumps(record)


@dataclass
class PauseWhenIdle:
    """A progress display that freezes the serving revision once every user has sent a
    turn (they are idle then: a fixed think time of 120 s is 2 s here)."""

    env: Environment
    users: int
    paused: bool = False

    def start(self, description: str, duration_s: float) -> None:
        pass

    def update(self, snapshot: ProgressSnapshot) -> None:
        if not self.paused and snapshot.turns >= self.users:
            pause_revision(self.env, 4)
            self.paused = True

    def close(self, summary: str) -> None:
        pass


@pytest.mark.sandbox
@pytest.mark.slow
def test_idle_users_give_up_a_connection_that_sends_no_heartbeat(env: Environment) -> None:
    rehearse(env, 3600)
    frozen = PauseWhenIdle(env, users=2)
    result = run_sessions(env, users=2, duration_s=8, seed=2, progress=frozen,
                          think=ThinkTime("fixed", mean_s=240), missed_heartbeats=QUIET)

    assert frozen.paused
    missed = result.sessions[result.sessions["end"] == "missed_heartbeat"]
    assert len(missed) >= 1, result.sessions
    assert missed["close_reason"].str.startswith("no heartbeat for 8 intervals of 0.25 s").all()
    assert (~missed["expected"]).all() and result.unexpected_drops >= 1
    assert result.reconnects >= 1
    assert check(result, "session drops")[0] is False


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_cloud_run_timeout_below_the_apps_cuts_every_session_there(env: Environment) -> None:
    rehearse(env, 300)
    result = run_sessions(env, users=2, duration_s=8, seed=3, progress="none",
                          think=ThinkTime("fixed", mean_s=120), missed_heartbeats=QUIET)

    cut = result.sessions[result.sessions["end"] == "cloud_run_timeout"]
    assert len(cut) >= 2, result.sessions  # each user's first connection, at 300 s
    assert set(cut["close_code"]) == {1006}
    assert (cut["unscaled_age_s"] < 360).all()  # before the app's 360 s: never reached
    assert (cut["unscaled_age_s"] > 150).all()
    assert result.held_past_app_timeout == 0 and result.reconnects >= 2
    ok, share = check(result, "session drops")
    assert not ok and isinstance(share, float) and share >= 0.5
    assert check(result, "sessions outlive") == (False, 0)
    drops = result.drops().set_index("cause")["drops"]
    assert drops["cloud_run_timeout"] == len(cut) == drops.sum()
    assert f"drops {len(cut)} cloud_run_timeout;" in result.summary()
