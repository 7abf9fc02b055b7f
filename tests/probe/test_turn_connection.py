"""`TurnConnection`: a turn's frames go straight to its collector, and anything unusual takes
`recv()`, with the same verdict as on a plain `websockets` connection."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from hostile_ws import TOKEN, HostileServers, hostile_servers
from test_ws_hostile import CASES
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from netra_ops.probe._transport.turn_connection import TurnConnection
from netra_ops.probe.golden_path_run import TurnResult, agent_turn_async

TIMEOUT_S = 0.8
BUDGET_MS = 100.0
AGENT_CASES = [(mode, expected) for mode, step, expected in CASES if step == "agent"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServers]:
    with hostile_servers(tmp_path_factory.mktemp("hostile")) as servers:
        yield servers


async def _open(servers: HostileServers, mode: str,
                kind: type[ClientConnection] = TurnConnection) -> ClientConnection:
    ws = await connect(servers.env(mode).backend.websocket_url, create_connection=kind,
                       subprotocols=[Subprotocol(f"jwt.{TOKEN}")], max_size=4 * 2**20,
                       ping_interval=None, close_timeout=0.2)
    assert "connection_established" in str(await asyncio.wait_for(ws.recv(), 2))
    return ws


async def _turn(ws: ClientConnection) -> TurnResult:
    return await agent_turn_async(ws, "We spend $18,500 a month.", thread_id="t",
                                  timeout_s=TIMEOUT_S, event_budget_ms=BUDGET_MS)


# Checks judged on the wall clock (an event's delivery against BUDGET_MS): on a busy machine
# an event of either connection can be late, so they are not part of the shape. The "slow"
# case, whose error is the lateness itself, is still judged by its error text.
_TIMED_CHECKS = ("delivery", "first event")


def _shape(result: TurnResult) -> tuple[str, bool, tuple[str, ...], str]:
    """What must not depend on the connection: the end, the verdict, the failed checks that
    are not timed, and the error's first problem with its numbers (timings, heartbeats
    counted) and the count of further problems (timed ones among them) taken out."""
    report = result.report
    failed = tuple(f"{c.check}:{c.event}" for c in report.failed
                   if c.check not in _TIMED_CHECKS)
    error = re.sub(r" \(and \d+ more problems?\)$", "", result.error or "")
    return report.end, result.ok, failed, re.sub(r"\d+(\.\d+)?", "N", error)


@pytest.mark.anyio
async def test_a_turn_takes_the_direct_path_and_the_connection_stays_usable(
        hostile: HostileServers) -> None:
    ws = await _open(hostile, "good")
    assert isinstance(ws, TurnConnection)
    try:
        first, second = await _turn(ws), await _turn(ws)
        assert first.ok and second.ok, (first.error, second.error)
        assert second.final_response is not None and "18,500" in second.final_response
        assert (ws.direct_turns, ws.handed_back_turns) == (2, 0)
        assert [e.type for e in first.report.events] == [
            "agent_started", "agent_thinking", "tool_executing", "tool_completed",
            "agent_completed"]
        assert ws.close_code is None  # still open: the caller owns it
    finally:
        await ws.close()


@pytest.mark.anyio
async def test_frames_queued_before_the_turn_go_through_recv_first(
        hostile: HostileServers) -> None:
    ws = await _open(hostile, "heartbeat-first")
    assert isinstance(ws, TurnConnection)
    try:
        await asyncio.sleep(0.2)  # the heartbeat has arrived and waits for recv()
        first, second = await _turn(ws), await _turn(ws)
        assert first.ok and second.ok, (first.error, second.error)
        assert first.report.ignored == 1 and second.report.ignored == 0
        assert (ws.handed_back_turns, ws.direct_turns) == (1, 1)
    finally:
        await ws.close()


@pytest.mark.anyio
async def test_a_fragmented_message_is_assembled_by_recv(hostile: HostileServers) -> None:
    ws = await _open(hostile, "fragmented")
    assert isinstance(ws, TurnConnection)
    try:
        result = await _turn(ws)
        assert result.ok, result.error
        assert len(result.report.events) == 5
        assert ws.handed_back_turns == 1
    finally:
        await ws.close()


@pytest.mark.anyio
async def test_invalid_utf8_closes_with_1007_as_on_a_plain_connection(
        hostile: HostileServers) -> None:
    shapes = []
    for kind in (TurnConnection, ClientConnection):
        ws = await _open(hostile, "invalid-utf8", kind)
        try:
            result = await _turn(ws)
        finally:
            await ws.close()
        assert result.report.end == "closed"
        assert result.error is not None and "1007" in result.error, result.error
        shapes.append(_shape(result))
    assert shapes[0] == shapes[1]


@pytest.mark.anyio
@pytest.mark.parametrize(("mode", "expected"), AGENT_CASES, ids=[c[0] for c in AGENT_CASES])
async def test_every_hostile_turn_gets_the_same_verdict_as_on_a_plain_connection(
        hostile: HostileServers, mode: str, expected: str) -> None:
    shapes = []
    for kind in (TurnConnection, ClientConnection):
        ws = await _open(hostile, mode, kind)
        try:
            result = await _turn(ws)
        finally:
            ws.transport.abort()
        assert not result.ok
        assert result.error is not None and expected in result.error, result.error
        shapes.append(_shape(result))
    assert shapes[0] == shapes[1]


@pytest.mark.anyio
async def test_the_turn_ends_when_the_connection_drops(hostile: HostileServers) -> None:
    ws = await _open(hostile, "drop")
    assert isinstance(ws, TurnConnection)
    result = await _turn(ws)
    assert result.report.end == "closed"
    assert result.error is not None and "without a close frame" in result.error
    assert result.report.events[0].type == "agent_started"
    assert (ws.direct_turns, ws.handed_back_turns) == (0, 1)
