"""Probe results as a long frame: what each result counts toward, and what it does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from netra_ops.metrics import probe_frame
from netra_ops.probe import (
    GOLDEN_PATH_EVENTS,
    EventObservation,
    GoldenPathResult,
    HealthResult,
    check_agent_events,
)

T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)


SENT = T0.timestamp()
EVENTS = tuple(EventObservation(name, 10.0 * (i + 1),  # each stamped 4 ms before it arrived
                                {"type": name, "timestamp": SENT + (10.0 * (i + 1) - 4) / 1000})
               for i, name in enumerate(GOLDEN_PATH_EVENTS))


def run(**changes: Any) -> GoldenPathResult:
    values: dict[str, Any] = {
        "ok": True, "environment": "sandbox", "started_at": T0, "thread_id": "t",
        "message": "hi", "event_budget_ms": 500.0, "login_ms": 5.0, "connect_ms": 3.0,
        "events": EVENTS, "report": check_agent_events(EVENTS, sent_wall=SENT),
    }
    return GoldenPathResult(**(values | changes))


def checked(status: int | None, ok: bool, revision: str | None = "rev-1") -> HealthResult:
    return HealthResult("http://x/health", ok, status, 4.0, status is not None, None, None,
                        None, revision, None if ok else "bad", T0)


def metrics_of(*results: Any) -> dict[str, list[float]]:
    frame = probe_frame(results)
    return {m: list(frame.loc[frame["metric"] == m, "value"]) for m in set(frame["metric"])}


def test_a_good_run_counts_a_pass_a_connection_an_accepted_login_and_five_events() -> None:
    frame = probe_frame([run()])
    events = frame[frame["metric"] == "event_latency_ms"]
    assert list(events["event"]) == list(GOLDEN_PATH_EVENTS)
    assert events["time"].iloc[-1] == T0 + timedelta(milliseconds=50)
    assert list(events["value"]) == pytest.approx([4.0] * 5, abs=0.01)  # delivery, not from send
    assert metrics_of(run())["auth_failure_rate"] == [0.0]
    assert metrics_of(run())["websocket_connection_success_rate"] == [1.0]
    assert set(frame["source"]) == {"probe"} and (frame["count"] == 1.0).all()


@pytest.mark.parametrize(("result", "auth", "connected"), [
    (run(ok=False, failed_step="login", http_status=401, connect_ms=None), [1.0], None),
    (run(ok=False, failed_step="login", http_status=None, error="refused"), None, None),
    (run(ok=False, failed_step="handshake", error="AUTH_FAILED: bad token"), [1.0], [0.0]),
    (run(ok=False, failed_step="connect", http_status=503, connect_ms=None), [0.0], [0.0]),
    (run(ok=False, failed_step="agent", error="agent_error: TypeError"), [0.0], [1.0]),
])
def test_failed_runs_count_only_what_they_measured(result: GoldenPathResult,
                                                   auth: list[float] | None,
                                                   connected: list[float] | None) -> None:
    seen = metrics_of(result)
    assert seen["golden_path_pass_rate"] == [0.0]
    assert seen.get("auth_failure_rate") == auth
    assert seen.get("websocket_connection_success_rate") == connected


def test_health_checks_count_5xx_only_when_answered() -> None:
    seen = metrics_of(checked(200, True), checked(503, False), checked(None, False, None))
    assert sorted(seen["health_ok_rate"]) == [0.0, 0.0, 1.0]
    assert sorted(seen["health_5xx_rate"]) == [0.0, 1.0]
    frame = probe_frame([checked(503, False)])
    assert set(frame["revision"]) == {"rev-1"}


def test_other_objects_are_refused() -> None:
    with pytest.raises(TypeError, match="HealthResult and GoldenPathResult"):
        probe_frame([object()])  # type: ignore[list-item]
