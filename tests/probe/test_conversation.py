"""The multi-turn golden path (seed 3.2) on the sandbox and against a hostile backend."""

from __future__ import annotations

import time

import pytest
from hostile_ws import HostileServers, closed_port, with_url

from netra_ops.config import Environment
from netra_ops.errors import NetraOpsError
from netra_ops.probe.multi_turn import (
    CHECKLIST,
    DEFAULT_TURNS,
    conversation,
    conversation_async,
    memory_check,
    numbers_in,
)


def _checklist(result: object) -> dict[str, tuple[bool, str]]:
    frame = result.checklist_frame()  # type: ignore[attr-defined]
    assert list(frame["item"]) == list(CHECKLIST)
    return {row.item: (bool(row.passed), row.evidence) for row in frame.itertuples()}


@pytest.mark.sandbox
def test_the_sandbox_agent_remembers_the_first_turn(sandbox_env: Environment) -> None:
    result = conversation(sandbox_env)
    assert result.ok, result.error
    assert [s.name for s in result.steps] == ["login", "chat page", "connect", "established",
                                              "turn 1", "turn 2", "close"]
    assert all(s.ok and s.ms is not None and s.ms > 0 for s in result.steps)
    assert result.memory is not None and "18,500" in result.memory.mentioned
    items = _checklist(result)
    assert all(passed for passed, _ in items.values()), items
    assert "text/html" in items["Chat interface loads without errors"][1]
    assert "given only in an earlier turn" in items["Multiple conversation turns work "
                                                   "correctly"][1]
    assert len(result.checks_frame()) == 54 and result.checks_frame()["ok"].all()
    assert list(result.to_frame()["step"])[:2] == ["login", "chat page"]


@pytest.mark.sandbox
@pytest.mark.anyio
async def test_the_async_twin_on_the_sandbox(sandbox_env: Environment) -> None:
    result = await conversation_async(sandbox_env)
    assert result.ok, result.error


def test_an_agent_that_forgets_fails_the_multi_turn_item(hostile: HostileServers) -> None:
    result = conversation(hostile.env("forgetful"), timeout_s=3, turn_timeout_s=1)
    assert not result.ok and result.failed_step == "memory"
    assert result.error is not None and "mentions none of 18,500, 4 million" in result.error
    items = _checklist(result)
    assert not items["Multiple conversation turns work correctly"][0]
    others = [passed for item, (passed, _) in items.items()
              if item != "Multiple conversation turns work correctly"]
    assert all(others), items


def test_a_hostile_agent_that_remembers_passes(hostile: HostileServers) -> None:
    result = conversation(hostile.env("good"), timeout_s=3, turn_timeout_s=1)
    assert result.ok, result.error


def test_agent_error_is_a_loud_failure(hostile: HostileServers) -> None:
    result = conversation(hostile.env("agent-error"), timeout_s=3, turn_timeout_s=1)
    assert not result.ok and result.failed_step == "turn 1"
    assert len(result.turn_results) == 1  # the second turn is not sent after an agent_error
    items = _checklist(result)
    assert not items["Agent execution starts and completes"][0]
    assert "session_id" in items["Agent execution starts and completes"][1]
    assert not items["Multiple conversation turns work correctly"][0]
    silent_ok, evidence = items["No silent failures in agent execution"]
    assert silent_ok and "failed loudly" in evidence


def test_a_silent_agent_fails_the_silent_failure_item_within_the_bound(
        hostile: HostileServers) -> None:
    started = time.perf_counter()
    result = conversation(hostile.env("silent"), timeout_s=3, turn_timeout_s=0.5)
    assert time.perf_counter() - started < 1.5
    items = _checklist(result)
    passed, evidence = items["No silent failures in agent execution"]
    assert not passed and "no agent_completed within 0.5 s" in evidence
    assert not items["WebSocket events delivered in real-time"][0]


def test_missing_fields_are_a_silent_failure(hostile: HostileServers) -> None:
    result = conversation(hostile.env("missing-fields"), timeout_s=3, turn_timeout_s=0.5)
    passed, evidence = _checklist(result)["No silent failures in agent execution"]
    assert not passed and "missing user_id" in evidence


def test_a_chat_page_that_does_not_load_fails_its_item(hostile: HostileServers) -> None:
    env = with_url(hostile.env("good"), "frontend", f"http://127.0.0.1:{closed_port()}")
    result = conversation(env, timeout_s=3, turn_timeout_s=1)
    assert not result.ok and result.failed_step == "chat page"
    items = _checklist(result)
    assert not items["Chat interface loads without errors"][0]
    assert "refused" in items["Chat interface loads without errors"][1].lower()
    assert items["Multiple conversation turns work correctly"][0]  # the rest still ran


def test_a_failed_login_leaves_every_later_item_unchecked(hostile: HostileServers) -> None:
    env = with_url(hostile.env("good"), "auth", f"http://127.0.0.1:{closed_port()}")
    result = conversation(env, timeout_s=3)
    assert not result.ok and result.failed_step == "login"
    items = list(_checklist(result).values())
    assert not any(passed for passed, _ in items)
    assert all(evidence.startswith("not checked: login failed") for _, evidence in items[2:])


def test_a_rejected_handshake_stops_before_the_turns(hostile: HostileServers) -> None:
    result = conversation(hostile.env("reject-503"), timeout_s=3)
    assert result.failed_step == "connect" and result.turn_results == ()
    assert "HTTP 503" in _checklist(result)["Chat interface loads without errors"][1]


@pytest.mark.parametrize("turns", [
    ["only one turn"],
    ["hello there", "and again"],  # no number to remember
    ["We spend $18,500 a month", "  "],
    ["We spend $18,500 a month", "Is $18,500 a lot?"],  # the last turn repeats it
])
def test_turns_that_cannot_show_memory_are_refused(hostile: HostileServers,
                                                   turns: list[str]) -> None:
    with pytest.raises(NetraOpsError, match="turns"):
        conversation(hostile.env("good"), turns=turns)


def test_numbers_in_reads_scales_and_separators() -> None:
    found = numbers_in("We spend $18,500 a month on GPT-4o for 4 million tokens, 2.5k calls.")
    assert found == {18500.0: "18,500", 4e6: "4 million", 2500.0: "2.5k"}


def test_memory_check() -> None:
    earlier, last = DEFAULT_TURNS[:-1], DEFAULT_TURNS[-1]
    assert memory_check(earlier, last, "Earlier you said $18,500/month.").ok
    forgot = memory_check(earlier, last, "Tell me your monthly spend, e.g. $12,000.")
    assert not forgot.ok and forgot.given_earlier == ("18,500", "4 million")
    assert not memory_check(earlier, last, None).ok
