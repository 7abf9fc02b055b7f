"""The progress of a long action in the panel: a bar of elapsed time against its bound.

A probe or a change gives no progress of its own; what a person needs is that it runs, for
how long, and against which limit. `ActionProgress.track(title, bound_s, work)` moves an
`ipywidgets.FloatProgress` with the elapsed seconds (ten times a second) while `work` runs,
then `finish()` shows the outcome in words with its mark (`✔ done`, `✖ failed`): the bar's
colour only repeats it.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable
from typing import TypeVar

import ipywidgets as widgets

from netra_ops.ui.marks import BUSY, IDLE

__all__ = ["ActionProgress"]

T = TypeVar("T")
_TICK_S = 0.1


class ActionProgress:
    """A progress bar and a line of text, for one action at a time."""

    def __init__(self) -> None:
        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="",
                                         layout=widgets.Layout(width="16em"))
        self.label = widgets.HTML(f"{IDLE} no action running")
        self.box = widgets.HBox([self.bar, self.label])
        self.box.add_class("netra-ops-progress")

    async def track(self, title: str, bound_s: float, work: Awaitable[T]) -> T:
        """Await `work`, showing the elapsed time of `title` against `bound_s`."""
        self.bar.bar_style = ""
        self.bar.max = max(bound_s, _TICK_S)
        self.bar.value = 0.0
        started = time.monotonic()
        task = asyncio.ensure_future(work)
        while not task.done():
            elapsed = time.monotonic() - started
            self.bar.value = min(elapsed, self.bar.max)
            self.label.value = (f"{BUSY} {html.escape(title)}: {elapsed:.1f} s "
                                f"(bounded at {bound_s:g} s)")
            await asyncio.wait({task}, timeout=_TICK_S)
        return task.result()

    def finish(self, ok: bool, text: str) -> None:
        """Fill the bar and say how the action ended (`text` carries its mark)."""
        self.bar.value = self.bar.max
        self.bar.bar_style = "success" if ok else "danger"
        self.label.value = html.escape(text)
