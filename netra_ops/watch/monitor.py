"""Watching between validations: evaluate the rollback rules every interval, follow ERROR
log entries, and act on a trigger (roll back inside the window, else escalate).

The evaluations are 07's: `metrics.watch()` probes (health, golden path), reads Monitoring and
Logging for the rules' windows, evaluates them with the rules' memory, replays history on its
first evaluation and decides. The monitor pulls one evaluation at a time from it while the
watch clock waits for the schedule's next validation; a validation or a rollback (which
block the process) starts a new series, which replays the history it missed from the
sources and keeps the probe results gathered so far (`probe_log`), so nothing is lost but
the probes not made while a runbook ran.

A firing trigger, once per rule and revision (the one its firing samples name, else the
serving one):

- inside the rollback window (default: the whole watch), runbook 06 rolls the backend back
  to its last known good revision (`execute`; its plan otherwise), marks the revision rolled
  back from known bad and validates the rollback (seed 4.3), as the playbook's rollback
  branch does; then the watch escalates ("Rollback required due to critical issues");
- outside it, or after a first rollback, it is escalated only: a human decides.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from netra_ops.config import Environment, TriggerRule
from netra_ops.deploy import read_service
from netra_ops.errors import NetraOpsError
from netra_ops.metrics import WatchTick, default_probe, error_entries, watch
from netra_ops.metrics.watching import ProbeResult
from netra_ops.notify import SEED_ESCALATION_TRIGGERS, Notice
from netra_ops.record import run_notebook
from netra_ops.watch.clock import WatchClock, hours_text
from netra_ops.watch.messages import Messenger
from netra_ops.watch.plan import WatchPlan
from netra_ops.watch.state import WatchState, append_tick

__all__ = ["CHART_METRICS", "Monitor"]

CHART_METRICS = ("http_error_rate", "http_5xx_rate", "latency_p50_ms", "latency_p95_ms",
                 "latency_p99_ms", "memory_bytes")
"""The points each evaluation keeps for the charts (error rate, latency, memory)."""

_SERIES_S = 10 * 86400.0  # one series of evaluations never ends by itself
_ERROR_SAMPLES = 5
logger = logging.getLogger("netra_ops.watch")


class Monitor:
    """Evaluates, follows and acts between validations; see the module docstring.
    `after_tick` runs after each evaluation (periods, milestones)."""

    def __init__(self, env: Environment, plan: WatchPlan, rules: Sequence[TriggerRule],
                 clock: WatchClock, state: WatchState, messenger: Messenger,
                 after_tick: Callable[[], None]) -> None:
        self.env, self.plan, self.rules = env, plan, list(rules)
        self.clock, self.state, self.messenger = clock, state, messenger
        self.after_tick = after_tick
        self.probes: list[ProbeResult] = []
        self._series: Iterator[WatchTick] | None = None
        self._serving: str | None = None
        self._next_tick = 0.0
        self._last_at: datetime | None = None

    def run_for(self, watch_s: float) -> None:
        """Watch for `watch_s` of watch time: an evaluation every `interval_s` (wall)."""
        end = self.clock.elapsed_s() + watch_s
        while (left := end - self.clock.elapsed_s()) > 0:
            now = time.monotonic()
            if now >= self._next_tick:
                self._next_tick = now + self.plan.interval_s
                self.tick()
                continue
            time.sleep(min(self._next_tick - now, self.clock.wall_s(left)) + 0.001)

    def restart_series(self) -> None:
        """After a runbook ran (the process was busy): the next evaluation starts a new
        series, which reads back what it missed."""
        self._series = None

    def tick(self) -> None:
        """One evaluation: rules, ERROR entries, the trigger if one fires, the record."""
        found = self._evaluate()
        errors, samples = self._errors(found.at)
        self._keep(found, errors, samples)
        if found.decision.action == "rollback":
            self._trigger(found)
        self._last_at = found.at
        self.after_tick()

    # -- evaluating -------------------------------------------------------------------

    def _evaluate(self) -> WatchTick:
        for _ in range(2):
            if self._series is None:
                self._series = self._start_series()
            try:
                return next(self._series)
            except StopIteration:
                self._series = None
        raise NetraOpsError("the watch's evaluations stopped unexpectedly")

    def _start_series(self) -> Iterator[WatchTick]:
        try:
            self._serving = read_service(self.env).serving_revision
        except NetraOpsError as exc:
            logger.warning("cannot read the serving revision (%s); rules judged on every "
                           "revision", exc)
            self._serving = None
        probe = default_probe(self.plan.golden_path_runs,
                              health_interval_s=min(30.0, self.plan.interval_s))
        return watch(self.env, self.rules, duration_s=_SERIES_S,
                     interval_s=self.plan.interval_s, probe=probe,
                     max_lateness_s=self.plan.max_lateness_s,
                     expect={"revision": self._serving} if self._serving else None,
                     probe_log=self.probes)

    def _errors(self, at: datetime) -> tuple[int, list[dict[str, Any]]]:
        """ERROR entries of the backend since the evaluation before (the seed's `gcloud
        logging tail ... severity>=ERROR`), each logged."""
        since = self._last_at or at - timedelta(seconds=self.plan.interval_s)
        try:
            entries = error_entries(self.env, since, at)
        except NetraOpsError as exc:
            logger.warning("ERROR entries not read: %s", exc)
            return 0, []
        rows = entries.iloc[::-1].to_dict(orient="records")  # oldest first
        for row in rows:
            logger.warning("ERROR entry %s %s: %s", row.get("time"), row.get("revision"),
                           str(row.get("message") or row.get("status"))[:200])
        return len(rows), [{"time": str(r.get("time")), "revision": r.get("revision"),
                            "status": r.get("status"),
                            "message": str(r.get("message") or "")[:300]}
                           for r in rows[-_ERROR_SAMPLES:]]

    def _keep(self, found: WatchTick, errors: int, samples: list[dict[str, Any]]) -> None:
        elapsed = self.clock.elapsed_s()
        rules = found.table[["rule", "state", "value", "threshold", "dry_run"]]
        line = {"n": self.state.ticks + 1, "at": found.at.isoformat(),
                "watch_s": round(elapsed, 3), "serving": self._serving,
                "action": found.decision.action, "reason": found.decision.reason,
                "rules": _records(rules), "points": self._points(found.frame),
                "errors": errors, "error_samples": samples,
                "unavailable": dict(found.unavailable)}
        append_tick(self.state.folder, line)
        self.state.ticks += 1
        self.state.elapsed_s = elapsed
        self.state.current = {"at": found.at.isoformat(),
                              "watch_at": self.clock.now().isoformat(),
                              "watch_s": round(elapsed, 1), "serving": self._serving,
                              "decision": found.decision.action,
                              "reason": found.decision.reason,
                              "rules": dict(zip(rules["rule"], rules["state"], strict=True))}
        self.state.save(found.at)

    def _points(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        if frame.empty:
            return []
        rows = frame[frame["metric"].isin(CHART_METRICS)]
        if self._last_at is not None:
            rows = rows[rows["time"] > pd.Timestamp(self._last_at)]
        columns = [c for c in ("time", "metric", "value", "count", "source", "revision",
                               "response_code_class") if c in rows.columns]
        return _records(rows[columns])

    # -- acting -------------------------------------------------------------------------

    def _trigger(self, found: WatchTick) -> None:
        table = found.table
        firing = table[(table["state"] == "firing") & ~table["dry_run"].astype(bool)]
        rule = str(firing.iloc[0]["rule"]) if not firing.empty else "?"
        group = str(firing.iloc[0]["group"]) if not firing.empty else ""
        revision = group.split("=", 1)[1] if group.startswith("revision=") else \
            self._serving or "?"  # a revision no longer served may still be the one firing
        key = self.messenger.key("trigger", rule, revision)
        if key in self.state.triggers:
            return
        elapsed = self.clock.elapsed_s()
        inside = elapsed <= self.plan.rollback_window.total_seconds()
        roll = inside and not self.state.rollbacks
        entry: dict[str, Any] = {
            "rule": rule, "revision": revision, "at": found.at.isoformat(),
            "watch_s": round(elapsed, 1), "watch_at": self.clock.now().isoformat(),
            "reason": found.decision.reason, "inside_rollback_window": inside,
            "action": "rollback" if roll else "escalate"}
        self.state.triggers[key] = entry
        self.state.save(found.at)
        logger.error("trigger %s fired on %s at %s: %s", rule, revision, hours_text(elapsed),
                     found.decision.reason)
        if roll:
            entry["rollback"] = self._roll_back(revision)
            self.state.rollbacks.append({**entry["rollback"], "trigger": key})
            self.state.save(found.at)
        self.messenger.send(self._notice(key, entry))
        self.restart_series()

    def _roll_back(self, revision: str) -> dict[str, Any]:
        """Runbook 06 on the backend, from the serving revision (its own record)."""
        parameters = {"execute": self.plan.execute, "services": ["backend"],
                      "from_revision": "" if revision == "?" else revision,
                      "quiet_s": self.plan.quiet_s}
        started = self.clock.elapsed_s()
        with self.clock.real_time():
            result = run_notebook("06_rollback", environment=self.plan.environment,
                                  incident=self.state.incident, parameters=parameters,
                                  outputs_dir=self.plan.outputs_dir)
        records = result.summary.get("records", {})
        return {"status": result.status, "exit_code": result.exit_code,
                "record": str(result.record_dir), "watch_s": round(started, 1),
                "executed": self.plan.execute,
                **{k: records.get(k) for k in ("rollback_status", "rolled_back_from",
                                               "rollback_target", "serving_revision",
                                               "rollback_validated", "golden_path_ok",
                                               "escalate")}}

    def _notice(self, key: str, entry: dict[str, Any]) -> Notice:
        incident, when = self.state.incident, hours_text(entry["watch_s"])
        fired = (f"[{incident}] watch {when}: rollback trigger {entry['rule']} fired on "
                 f"{entry['revision']} ({entry['reason']})")
        done = entry.get("rollback")
        if done is not None:
            how = ("rolled back" if done["executed"] else "rollback PLANNED only (the watch "
                   "runs without --execute)")
            text = (f"{fired}; {how} to {done.get('rollback_target')}: 06 "
                    f"{done['status']}, rollback validated {done.get('rollback_validated')}, "
                    f"golden path there {'works' if done.get('golden_path_ok') else 'broken'}"
                    f". ESCALATION: {SEED_ESCALATION_TRIGGERS[1]}")
        else:
            why = ("outside the rollback window" if not entry["inside_rollback_window"]
                   else "a rollback was already made in this watch")
            text = f"{fired}; not rolled back ({why}). ESCALATION: a human decides"
        return Notice(incident, self.messenger.run_id, "escalation", key,
                      f"{incident} · watch: {entry['rule']} fired"
                      f"{', rolled back' if done else ''}", text, phase="watch",
                      verdict=entry["action"], record=done["record"] if done else "",
                      severity="critical", fields=(
                          ("Trigger", SEED_ESCALATION_TRIGGERS[1] if done else
                           f"rollback trigger {entry['rule']} outside the rollback window"),
                          ("Rule", entry["rule"]), ("Revision", entry["revision"])))

def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{k: (v.isoformat() if isinstance(v, pd.Timestamp | datetime) else
                 v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in clean.to_dict(orient="records")]
