"""Where the panel runs: a person's Jupyter kernel (live widgets) or anywhere else (snapshot).

`interactive()` is true only inside a Jupyter kernel (IPython's ZMQ shell) with its event
loop running and `NETRA_OPS_HEADLESS` unset; the runner sets that variable in the kernel of
every headless run, so papermill gets the static snapshot and nothing waits for a click.

`Background` keeps the live panel's work on the kernel's own event loop: each action or
refresh is an asyncio task on the loop's thread, and blocking library calls run in worker
threads (`asyncio.to_thread`), so the kernel stays free for clicks and cells while a probe or
a watch runs, and every widget update and record happens on the kernel's thread.
`cancel_all()` stops every task (the panel's `close()`).

Widget callbacks may run on another thread: with JupyterLab 4 and ipykernel 7 the widget
messages of a click arrive on a kernel *subshell* thread, not the loop's. A task created
there with `loop.create_task` waits until something else wakes the loop (seconds, until the
next timer). So every callback goes through `call()` (`loop.call_soon_threadsafe`), and
`start()` is safe from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from netra_ops.kernel import headless, in_jupyter_kernel

__all__ = ["Background", "in_thread", "interactive"]

T = TypeVar("T")


def interactive() -> bool:
    """True in a Jupyter kernel a person drives (not headless, event loop running)."""
    if headless() or not in_jupyter_kernel():
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a worker thread, awaited on the loop."""
    return await asyncio.to_thread(function, *args)


class Background:
    """The tasks of one panel on the event loop it was created on."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run `function(*args)` on the loop's thread, soon (from any thread)."""
        if not self.closed:
            self.loop.call_soon_threadsafe(function, *args)

    def callback(self, function: Callable[[], Any]) -> Callable[..., None]:
        """A widget callback (any arguments ignored) that runs `function()` on the loop."""
        return lambda *_args: self.call(function)

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run `coroutine` as a task on the loop (from any thread); once closed, the
        coroutine is closed instead."""
        if self.closed:
            coroutine.close()
        elif threading.get_ident() == self._thread:
            self._spawn(coroutine)
        else:
            self.loop.call_soon_threadsafe(self._spawn, coroutine)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        if self.closed:
            coroutine.close()
            return
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def running(self) -> int:
        """How many tasks have not finished."""
        return sum(not task.done() for task in self._tasks)

    def cancel_all(self) -> None:
        """Cancel every task; later `start()` calls run nothing."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
