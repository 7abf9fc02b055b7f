"""Golden-path probe against the real sandbox: the fixed build, the stale build, broken paths."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from netra_ops import sandbox
from netra_ops.config import Environment, Service
from netra_ops.errors import SecretError
from netra_ops.probe import GOLDEN_PATH_EVENTS, golden_path, results_table, summarize_runs
from netra_ops.probe.agent_events import out_of_order
from netra_ops.probe.golden_path_run import golden_path_async
from netra_ops.probe.summary import checks_table, failed_checks

pytestmark = pytest.mark.sandbox


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_service(env: Environment, role: str, url: str) -> Environment:
    services = dict(env.services)
    services[role] = Service(**{**services[role].model_dump(), "url": url})  # type: ignore[literal-required]
    return env.model_copy(update={"services": services})


@pytest.fixture()
def stale_build(sandbox_env: Environment) -> Iterator[Environment]:
    sandbox.apply_scenario(sandbox_env, "stale-build")
    yield sandbox_env
    sandbox.apply_scenario(sandbox_env, "fixed")


def test_fixed_build_delivers_the_five_events_in_order(sandbox_env: Environment) -> None:
    result = golden_path(sandbox_env)
    assert result.ok, result.error
    assert [e.type for e in result.events] == list(GOLDEN_PATH_EVENTS)
    assert result.missing == () and result.out_of_order == ()
    latencies = [result.latency_ms(name) for name in GOLDEN_PATH_EVENTS]
    assert all(ms is not None and 0 < ms < 500 for ms in latencies)
    assert latencies == sorted(latencies)
    assert result.final_response is not None and len(result.final_response) > 20
    assert "$" in result.final_response
    assert result.login_ms is not None and result.connect_ms is not None
    frame = result.to_frame()
    assert list(frame["event"]) == list(GOLDEN_PATH_EVENTS) and frame["seen"].all()
    checks = result.checks_frame()
    assert len(checks) == 27 and checks["ok"].all()
    assert result.elapsed_ms is not None and result.elapsed_ms < 45_000
    assert result.timing_ok and result.user_id is not None


def test_the_clock_offset_on_one_machine_is_within_half_the_round_trip(
        sandbox_env: Environment) -> None:
    """Server and probe share this machine's clock: the estimate can only be off by the
    request's asymmetry, at most half its round trip; every delivery is then measured."""
    result = golden_path(sandbox_env)
    assert result.ok, result.error
    assert result.clock_offset_ms is not None and result.clock_offset_rtt_ms is not None
    assert abs(result.clock_offset_ms) <= result.clock_offset_rtt_ms / 2 + 1
    assert all(result.delivery_ms(name) is not None for name in GOLDEN_PATH_EVENTS)


@pytest.mark.anyio
async def test_the_async_twin_walks_the_same_path(sandbox_env: Environment) -> None:
    result = await golden_path_async(sandbox_env)
    assert result.ok, result.error
    assert [e.type for e in result.events] == list(GOLDEN_PATH_EVENTS)


def test_no_token_is_kept_in_the_result(sandbox_env: Environment) -> None:
    result = golden_path(sandbox_env)
    text = repr(result) + result.to_frame().to_string()
    assert "eyJ" not in text and "jwt." not in text


def test_stale_build_reports_agent_completed_missing(stale_build: Environment) -> None:
    result = golden_path(stale_build)
    assert not result.ok
    assert result.failed_step == "agent"
    assert [e.type for e in result.events] == ["agent_started", "agent_error"]
    assert "agent_completed" in result.missing
    assert result.error is not None and "session_id" in result.error
    table = results_table([result])
    assert table.loc[0, "events"] == "1/5" and "agent_completed" in table.loc[0, "missing"]
    assert summarize_runs([result])["pass_rate"] == 0.0
    worst = failed_checks([result])
    assert ("outcome", "") in set(zip(worst["check"], worst["event"], strict=True))
    assert not checks_table([result])["ok"].all()


def test_unreachable_backend_is_a_result_with_a_hint(sandbox_env: Environment) -> None:
    env = _with_service(sandbox_env, "backend", f"http://127.0.0.1:{_closed_port()}")
    result = golden_path(env, timeout_s=5)
    assert not result.ok and result.failed_step == "connect"
    assert result.error is not None
    assert "refused" in result.error.lower() and "netra-ops sandbox up" in result.error


def test_wrong_password_fails_at_login(sandbox_env: Environment, tmp_path: Path) -> None:
    wrong = tmp_path / "password"
    wrong.write_text("not-the-password")
    env = sandbox_env.model_copy(update={"credentials": sandbox_env.credentials.model_copy(
        update={"password": f"file:{wrong}"})})
    result = golden_path(env)
    assert not result.ok and result.failed_step == "login"
    assert result.error is not None and "HTTP 401" in result.error
    assert "not-the-password" not in repr(result)


def test_sandbox_not_running_says_how_to_start_it(
        make_sandbox_env: Callable[[], Environment]) -> None:
    env = make_sandbox_env()
    with pytest.raises(SecretError, match="netra-ops sandbox up"):
        golden_path(env)


def test_summary_of_runs(sandbox_env: Environment) -> None:
    results = [golden_path(sandbox_env) for _ in range(3)]
    summary = summarize_runs(results)
    assert summary["runs"] == 3 and summary["pass_rate"] == 1.0
    assert summary["events_delivered"] == summary["events_expected"] == 15
    assert summary["event_latency_p50_ms"] <= summary["event_latency_p95_ms"] < 500
    assert summary["event_latency_max_ms"] < 500 and summary["first_event_max_ms"] < 500
    assert 0 < summary["answer_max_s"] < 30 and summary["timing_failures"] == 0


@pytest.mark.parametrize(("seen", "late"), [
    (list(GOLDEN_PATH_EVENTS), ()),
    (["agent_started", "tool_completed", "tool_executing", "agent_completed"],
     ("tool_executing",)),
    (["agent_thinking", "agent_started"], ("agent_started",)),
    ([], ()),
])
def test_out_of_order_names_the_late_events(seen: list[str], late: tuple[str, ...]) -> None:
    assert out_of_order(seen) == late
