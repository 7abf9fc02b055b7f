"""The control panel: `control_panel(env)` in a notebook cell, then `panel` on its last line.

In a person's Jupyter kernel it is live (ipywidgets): the tiles, the traffic table and the
charts refresh every `refresh_s` seconds on the kernel's event loop; the buttons run the
golden-path probe, plan a deploy or a rollback and make it only after Confirm, and start or
stop a watch of the rollback rules; every action is recorded (`ui.journal`). Anywhere else,
and in every headless run (`NETRA_OPS_HEADLESS`, set by the runner for papermill), it is a
static `Snapshot`: nothing waits for a click, no task or thread is started.

One live panel per kernel: creating a new one stops the background work of the earlier
ones (re-running the cell does not leave refreshers behind). `close()` stops it too.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from datetime import UTC, datetime
from functools import partial
from typing import Any

import ipywidgets as widgets

from netra_ops.checks import Check
from netra_ops.config import Environment, list_environments, load_environment
from netra_ops.errors import ConfigError, NetraOpsError
from netra_ops.record import record
from netra_ops.record.incident import check_incident
from netra_ops.ui.actions import (
    ActionOutcome,
    PendingChange,
    cancel_change,
    execute_change,
    golden_path_action,
    plan_deploy,
    plan_rollback,
)
from netra_ops.ui.journal import record_value
from netra_ops.ui.marks import BAD, BUSY, IDLE, WARN
from netra_ops.ui.runtime import Background, in_thread, interactive
from netra_ops.ui.snapshot import Snapshot, take_snapshot
from netra_ops.ui.view import PanelView
from netra_ops.ui.watcher import WatchRun

__all__ = ["GOLDEN_PATH_TIMEOUT_S", "Panel", "control_panel"]

GOLDEN_PATH_TIMEOUT_S = 45.0
_PLAN_BOUND_S = 30.0
_CHANGE_BOUND_S = {"deploy": 900.0, "rollback": 120.0}
_LIVE: list[weakref.ref[Panel]] = []


def control_panel(env: str | Environment = "sandbox", *, incident: str | None = None,
                  refresh_s: float = 5.0, watch_interval_s: float = 5.0) -> Panel:
    """The control panel of `env` (a name, a path or an Environment): live widgets in a
    person's kernel, a static snapshot headless. With `incident`, actions are also
    journaled in the incident's record (`outputs/<incident>/ui-actions.jsonl`)."""
    if not refresh_s > 0 or not watch_interval_s > 0:
        raise ConfigError(f"refresh_s and watch_interval_s must be positive seconds, got "
                          f"{refresh_s!r} and {watch_interval_s!r}")
    key = env if isinstance(env, str) else str(env.source or env.name)
    incident = check_incident(incident) if incident is not None else None
    return Panel(load_environment(env), key=key, incident=incident, refresh_s=refresh_s,
                 watch_interval_s=watch_interval_s, live=interactive())


class Panel:
    """One environment's control panel; see the module docstring."""

    def __init__(self, env: Environment, *, key: str, incident: str | None,
                 refresh_s: float, watch_interval_s: float, live: bool) -> None:
        self.env = env
        self.incident = incident
        self.refresh_s = refresh_s
        self.watch_interval_s = watch_interval_s
        self._key = key
        self.snapshot: Snapshot = take_snapshot(env, incident=incident)
        record("ui.snapshot", self.snapshot.record_value())
        self.view: PanelView | None = None
        self._background: Background | None = None
        self._watch: WatchRun | None = None
        self._busy = False
        if live:
            self._start_live()

    # --- what a notebook uses -------------------------------------------------------

    @property
    def live(self) -> bool:
        """True while the widgets refresh and take clicks."""
        return self._background is not None and not self._background.closed

    @property
    def widget(self) -> widgets.VBox | None:
        """The live panel's root widget (None for a snapshot)."""
        return self.view.root if self.view is not None else None

    def checks(self) -> tuple[Check, ...]:
        """Verdict rows of the latest state: services healthy, traffic on Ready revisions."""
        return self.snapshot.checks()

    def close(self, why: str = "closed") -> None:
        """Stop refreshing and watching; the buttons are disabled."""
        if self._watch is not None:
            self._watch.stop()
        if self._background is not None:
            self._background.cancel_all()
        if self.view is not None:
            self.view.confirm.dismiss()
            self.view.set_busy(True)
            self.view.watch.disabled = True
            self.view.status.value = f"{IDLE} {why}: no longer refreshed"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.view is not None:
            display(self.view.root)
        else:
            display(self.snapshot)

    def _repr_html_(self) -> str:
        return self.snapshot.html(images=True)

    # --- live machinery ---------------------------------------------------------------

    def _start_live(self) -> None:
        for earlier in [ref() for ref in _LIVE]:
            if earlier is not None:
                earlier.close("replaced by a newer panel")
        _LIVE[:] = [weakref.ref(self)]
        view = PanelView(self._environment_options(), self._key, self.env.release.image or "")
        self.view = view
        view.show_state(self.snapshot.state, self.refresh_s)
        view.show_charts(self.snapshot.charts)
        self._background = background = Background()
        on = background.callback  # widget callbacks may run on a kernel subshell thread
        view.environment.observe(lambda change: background.call(self._on_environment,
                                                                 change["new"]), names="value")
        view.golden_path.on_click(on(lambda: self._act(self._golden_path(), "golden_path")))
        view.rollback.on_click(on(lambda: self._act(self._plan("rollback"), "rollback")))
        view.deploy.on_click(on(lambda: self._act(self._plan("deploy"), "deploy")))
        view.watch.on_click(on(self._toggle_watch))
        background.start(self._refresh_loop())

    def _environment_options(self) -> list[tuple[str, str]]:
        options = [(name, name) for name in list_environments()]
        if self._key not in [value for _, value in options]:
            options.append((f"{self.env.name} ({self._key})", self._key))
        return options

    def _start(self, coroutine: Coroutine[Any, Any, None], what: str, *,
               action: bool = True) -> None:
        assert self._background is not None
        self._background.start(self._guarded(coroutine, what, action=action))

    def _act(self, coroutine: Coroutine[Any, Any, None], what: str) -> None:
        if self._busy or not self.live:
            coroutine.close()
            return
        self._set_busy(True)
        self._start(coroutine, what)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        if self.view is not None:
            self.view.set_busy(busy or not self.live)

    async def _guarded(self, coroutine: Coroutine[Any, Any, None], what: str, *,
                       action: bool) -> None:
        """Run an action (`what` is its record name) or a refresh. An unexpected error is
        shown, not raised, so the panel stays usable; a failed action is recorded as one.
        An action frees the buttons at its end unless a question waits."""
        assert self.view is not None
        started = datetime.now(UTC)
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.view.show_problem(what.replace("_", " "), exc)
            if action:
                self._finish(_crashed(what, started, self.env, exc))
        finally:
            if action and not self.view.confirm.asking:
                self._set_busy(False)

    def _finish(self, outcome: ActionOutcome) -> None:
        assert self.view is not None
        self.view.show_result(outcome)
        self.view.progress.finish(outcome.ok, outcome.summary)
        self._record(outcome)

    def _record(self, outcome: ActionOutcome) -> None:
        assert self.view is not None
        record_value(outcome.record_name, outcome.record_value(), incident=self.incident,
                     environment=str(self.env.source or self.env.name), sink=self.view.log)

    # --- refresh ----------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            await self._guarded(self._refresh(), f"refreshing {self.env.name}", action=False)

    async def _refresh(self) -> None:
        env = self.env
        snapshot = await in_thread(partial(take_snapshot, incident=self.incident), env)
        if env is self.env and self.view is not None:
            self.snapshot = snapshot
            self.view.show_state(snapshot.state, self.refresh_s)
            self.view.show_charts(snapshot.charts)

    def _on_environment(self, key: str) -> None:
        assert self.view is not None
        try:
            env = load_environment(key)
        except NetraOpsError as exc:
            self.view.show_problem(f"cannot switch to {key}", exc)
            return
        self._stop_watch()
        if self.view.confirm.asking:
            self.view.confirm.dismiss()
            self._set_busy(False)
        self.env, self._key = env, key
        self.view.image.value = env.release.image or ""
        self.view.status.value = f"{BUSY} reading {env.name}…"
        self._start(self._refresh(), f"reading {env.name}", action=False)

    # --- actions ----------------------------------------------------------------------

    async def _golden_path(self) -> None:
        assert self.view is not None
        outcome = await self.view.progress.track(
            "golden-path probe", GOLDEN_PATH_TIMEOUT_S,
            in_thread(golden_path_action, self.env))
        self._finish(outcome)

    async def _plan(self, action: str) -> None:
        assert self.view is not None
        env = self.env
        work = (in_thread(plan_rollback, env) if action == "rollback" else
                in_thread(plan_deploy, env, self.view.image.value))
        planned = await self.view.progress.track(f"planning the {action}", _PLAN_BOUND_S, work)
        if isinstance(planned, ActionOutcome):
            self._finish(planned)
            return
        self.view.progress.finish(True, f"{WARN} {action} planned: nothing changes until "
                                        "you confirm it below")
        assert self._background is not None
        on = self._background.callback
        self.view.confirm.ask(planned.message,
                              on(lambda: self._start(self._execute(env, planned),
                                                     planned.action)),
                              on(lambda: self._cancel(planned)))

    async def _execute(self, env: Environment, pending: PendingChange) -> None:
        assert self.view is not None
        outcome = await self.view.progress.track(
            pending.action, _CHANGE_BOUND_S[pending.action],
            in_thread(execute_change, env, pending))
        self._finish(outcome)
        await self._refresh()

    def _cancel(self, pending: PendingChange) -> None:
        self._finish(cancel_change(pending))
        self._set_busy(False)

    # --- watch ------------------------------------------------------------------------

    def _toggle_watch(self) -> None:
        assert self.view is not None
        if not self.live:
            return
        if self._watch is not None:
            self._stop_watch()
            return
        run = WatchRun(self.env, interval_s=self.watch_interval_s)
        self._watch = run
        self.view.show_watching(True, f"{BUSY} watch started: the rollback rules of "
                                      f"{self.env.name} every {run.interval_s:g} s")
        self._record(ActionOutcome(
            "watch", True, "started", f"{BUSY} watch of the rollback rules started",
            run.started_at, 0.0, {"environment": self.env.name, "interval_s": run.interval_s,
                                  "rules": [r.name for r in self.env.rollback_triggers]}))
        self._start(self._watch_loop(run), "watch", action=False)

    def _stop_watch(self) -> None:
        if self._watch is not None and self.view is not None:
            self._watch.stop()
            self.view.show_watching(True, f"{BUSY} stopping the watch after the current tick")

    async def _watch_loop(self, run: WatchRun) -> None:
        assert self.view is not None
        error: str | None = None
        try:
            while (tick := await in_thread(run.next_tick)) is not None:
                self.view.show_tick(tick, watching=not run.stop_requested)
            run.close()
        except Exception as exc:  # a source or probe failed for good: the watch ends, said
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if self._watch is run:
                self._watch = None
            outcome = run.outcome(error)
            self.view.show_watching(False, outcome.summary)
            self._record(outcome)


def _crashed(action: str, started: datetime, env: Environment,
             error: Exception) -> ActionOutcome:
    """An action that raised: what the record and the screen say of it."""
    text = f"{type(error).__name__}: {error}"
    return ActionOutcome(action, False, "error",
                         f"{BAD} {action.replace('_', ' ')} failed: {text}", started,
                         (datetime.now(UTC) - started).total_seconds(),
                         {"environment": env.name, "error": text})
