"""A WebSocket client connection that hands a turn's frames straight to its collector.

`websockets`' asyncio connection queues each message for `recv()`, and each `recv()` wakes
the receiving task once per frame. During a turn every frame goes to the turn's
`TurnCollector` anyway, so `TurnConnection.send_and_collect` installs the collector and the
connection feeds it each frame as soon as the frame is parsed; the turn's task wakes once,
when the turn has ended. On the sandbox this saves about 7% of a load test's client CPU per
turn (bench/load_engines.py).

Anything unusual goes the ordinary way, through `recv()`, for the rest of the turn: frames
already queued when the turn starts (a heartbeat that arrived between turns), a fragmented
message, a text frame that is not UTF-8, or the connection ending. So ordering and
`websockets`' own handling of those cases (closing with 1007 on invalid UTF-8, raising
`ConnectionClosed`) are exactly those of a plain connection. Control frames (ping, pong,
close) are always left to `websockets`.

The async drivers open every connection as a `TurnConnection`; `run_exchange_async` uses the
direct path when it has one and the `recv()` loop on any other `websockets` connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

from netra_ops.probe.agent_events import TurnCollector

__all__ = ["TurnConnection"]

_TEXT, _BINARY = Opcode.TEXT, Opcode.BINARY
_clock = time.perf_counter


class TurnConnection(ClientConnection):
    """A `websockets.asyncio` client connection whose turns skip `recv()` (see the module
    docstring). Everything else behaves as in `ClientConnection`.

    `direct_turns` and `handed_back_turns` count the turns that took each path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._collector: TurnCollector | None = None
        self._turn_over: asyncio.Future[None] | None = None
        self.direct_turns = 0
        self.handed_back_turns = 0

    async def send_and_collect(self, text: str, collector: TurnCollector) -> None:
        """Send `text` and feed the frames that answer it to `collector` until the turn has
        ended, or until something unusual hands the rest of the turn to `recv()` (the
        caller then goes on receiving while `collector.end` is None)."""
        if self._frames_queued():  # recv() must take those first, in order
            self.handed_back_turns += 1
            await self.send(text)
            return
        turn_over = self.loop.create_future()
        self._collector, self._turn_over = collector, turn_over
        try:
            await self.send(text)
            await turn_over
        finally:
            self._collector = self._turn_over = None
        if collector.end is None:
            self.handed_back_turns += 1
        else:
            self.direct_turns += 1

    def process_event(self, event: Any) -> None:
        collector = self._collector
        if collector is None or not isinstance(event, Frame):
            super().process_event(event)
            return
        opcode = event.opcode
        if event.fin and opcode is _TEXT:
            try:
                frame: str | bytes = str(event.data, "utf-8")
            except UnicodeDecodeError:  # websockets closes with 1007: let recv() do it
                self._hand_back(event)
                return
        elif event.fin and opcode is _BINARY:
            frame = bytes(event.data)
        elif opcode is _TEXT or opcode is _BINARY or opcode is Opcode.CONT:
            self._hand_back(event)  # a fragmented message: recv() assembles it
            return
        else:  # ping, pong, close: websockets' business
            super().process_event(event)
            return
        collector.feed(frame, _clock())
        if collector.end is not None:
            self._end_turn()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._end_turn()  # recv() raises ConnectionClosed with the close's details

    def _hand_back(self, event: Frame) -> None:
        self._end_turn()
        super().process_event(event)

    def _end_turn(self) -> None:
        turn_over = self._turn_over
        self._collector = self._turn_over = None
        if turn_over is not None and not turn_over.done():
            turn_over.set_result(None)

    def _frames_queued(self) -> bool:
        """Whether frames wait for `recv()` (True if this websockets keeps them elsewhere:
        then every turn takes the `recv()` path)."""
        frames = getattr(self.recv_messages, "frames", None)
        try:
            return frames is None or len(frames) > 0
        except TypeError:
            return True
