"""The live panel's runtime: tasks started from a widget callback's thread run at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from netra_ops.kernel import HEADLESS_ENV
from netra_ops.ui import interactive
from netra_ops.ui.runtime import Background

GUARD_S = 10.0


def test_a_task_started_from_another_thread_does_not_wait_for_the_loop() -> None:
    """With JupyterLab 4 and ipykernel 7 a click's callback runs on a subshell thread; a
    task it starts must run now, not when the loop next wakes for a timer (here the guard,
    GUARD_S later: with `loop.create_task` from that thread the job ran only then)."""

    async def main() -> float:
        background = Background()
        ran = asyncio.Event()
        ran_at: list[float] = []

        async def job() -> None:
            ran_at.append(time.monotonic())
            ran.set()

        started = time.monotonic()  # the call comes while the loop waits in select()
        threading.Timer(0.2, background.start, args=(job(),)).start()
        await asyncio.wait_for(ran.wait(), timeout=GUARD_S)
        return ran_at[0] - started

    assert asyncio.run(main()) < GUARD_S / 2


def test_callbacks_run_on_the_loop_thread_and_nothing_runs_once_closed() -> None:
    async def main() -> tuple[list[int], bool]:
        background = Background()
        threads: list[int] = []
        done = asyncio.Event()
        callback = background.callback(lambda: (threads.append(threading.get_ident()),
                                                done.set()))
        threading.Timer(0.2, callback, args=("a widget's argument",)).start()
        await asyncio.wait_for(done.wait(), timeout=GUARD_S)
        background.cancel_all()

        async def never() -> None:
            raise AssertionError("a closed Background ran a task")

        background.start(never())
        await asyncio.sleep(0.05)
        return threads, background.running == 0

    threads, idle = asyncio.run(main())
    assert threads == [threading.get_ident()] and idle


def test_headless_or_outside_a_kernel_the_panel_is_never_live(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert not interactive()
    monkeypatch.setenv(HEADLESS_ENV, "1")
    assert not interactive()
