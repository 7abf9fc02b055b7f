"""The live watch: probe, read the sources, evaluate the rules, every interval, for a while.

    for tick in watch(env, duration_s=300, interval_s=15):
        print(tick.decision)            # each evaluation as it happens

    result = run_watch(env, duration_s=30, interval_s=5)   # the same, shown live, summed up

Plain blocking code (`time.sleep` between ticks, no event loop), so it works the same in a
script, in papermill and in a Jupyter kernel. Each tick reads the window the rules need
((now - longest window - longest `for` - interval, now]); the first tick first replays that
history, so a condition that already held before the watch began is not reported as new.

A watch never ends undecided unawares. With `settle_s`, it goes on ticking past its duration
while the data cannot decide yet: a rule (not a dry run) is `pending` (its condition holds
but not yet long enough: the seed's triggers hold for 2 to 5 minutes) or `inconclusive` (too
few samples: early in a watch some rules always lack them), for at most `settle_s` more, so
the condition has the time to fire or clear and the samples to arrive. If a rule is still
pending or inconclusive at the very end, `run_watch`'s decision is `hold`, not `continue`.
A firing rule decides at once, whatever the others' states (`decide`).

Late data: Cloud Monitoring shows a point one to three minutes after it happened (Cloud Run's
metrics: up to 180 s), Logging an entry a few seconds after. With `max_lateness_s` each
rule's evidence window ends at its newest sample when that is at most this old
(`RuleEvaluator`), and each tick reads that much further back; so a rule's window shorter
than the lateness still sees data, and a trigger on late data fires once the data shows it
held, instead of staying inconclusive until `settle_s` runs out. With `expect` (e.g. the
serving revision) a rule grouped by revision is inconclusive until that revision's own samples
show, so a new revision is not passed on its predecessors' memory while Monitoring lags.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from netra_ops.checks import Check
from netra_ops.config import Environment, TriggerRule
from netra_ops.display import format_condition
from netra_ops.errors import ConfigError
from netra_ops.metrics.criteria import criteria_checks
from netra_ops.metrics.decision import Decision, decide, first_rollback, pending_rules
from netra_ops.metrics.frames import combine_readings
from netra_ops.metrics.live import LiveTable
from netra_ops.metrics.log_metrics import error_entries
from netra_ops.metrics.rules import RuleEvaluator, evaluation_times, rules_frame
from netra_ops.metrics.sources import READERS, read_window
from netra_ops.probe.golden_path_run import GoldenPathResult, golden_path
from netra_ops.probe.health_endpoint import HealthResult, health

__all__ = [
    "ProbeFn",
    "WatchResult",
    "WatchTick",
    "default_probe",
    "lookback_s",
    "run_watch",
    "tick_count",
    "watch",
    "watch_error_entries",
]

ProbeResult = HealthResult | GoldenPathResult
ProbeFn = Callable[[Environment], Sequence[ProbeResult]]


def default_probe(golden_path_runs: int = 1, timeout_s: float = 30.0, *,
                  health_interval_s: float = 0.0, health_checks: int = 1) -> ProbeFn:
    """A probe for each tick: `health_checks` health checks of the backend (at most every
    `health_interval_s`: the seed watches /health every 30 s; 0 checks at every tick; more
    than one when a revision with a small share of the traffic must answer some of them)
    and `golden_path_runs` runs of the golden path (which also measure WebSocket connection
    and authentication)."""
    if not health_interval_s >= 0:
        raise ConfigError(f"health_interval_s must be 0 or more seconds, got "
                          f"{health_interval_s!r}")
    if health_checks < 1:
        raise ConfigError(f"health_checks must be 1 or more, got {health_checks!r}")
    last_health: list[float] = []

    def probe(env: Environment) -> list[ProbeResult]:
        results: list[ProbeResult] = []
        now = time.monotonic()
        if not last_health or now - last_health[-1] >= health_interval_s:
            last_health.append(now)
            results += [health(env.backend.url, path=env.backend.health_path)
                        for _ in range(health_checks)]
        results += [golden_path(env, timeout_s=timeout_s) for _ in range(golden_path_runs)]
        return results
    return probe


@dataclass(frozen=True)
class WatchTick:
    """One evaluation of the watch: the rule table, the decision, what could not be read."""

    number: int
    at: datetime
    table: pd.DataFrame
    decision: Decision
    unavailable: dict[str, str]
    frame: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class WatchResult:
    """A finished watch: every tick, the states over time, the decision and the data."""

    started_at: datetime
    ended_at: datetime
    ticks: tuple[WatchTick, ...]
    decision: Decision
    frame: pd.DataFrame = field(repr=False)
    unavailable: dict[str, str] = field(default_factory=dict)
    probe_results: tuple[ProbeResult, ...] = field(default=(), repr=False)
    settled_ticks: int = 0  # ticks past the duration while a trigger was pending

    @property
    def table(self) -> pd.DataFrame:
        """The last tick's rule table."""
        return self.ticks[-1].table

    @property
    def states(self) -> pd.DataFrame:
        """Every tick's rows: each rule's state at each evaluation time."""
        return pd.concat([t.table for t in self.ticks], ignore_index=True)

    @property
    def first_sample_at(self) -> datetime:
        """The time of the oldest sample read (the rules' history before the watch), or
        when the watch started when there is none."""
        return self.frame["time"].min() if not self.frame.empty else self.started_at

    @property
    def first_firing(self) -> dict[str, Any] | None:
        """The first rule seen firing: its name, when (`at`) and since when it held."""
        firing = self.states[self.states["state"] == "firing"]
        if firing.empty:
            return None
        first = firing.iloc[0]
        return {"rule": first["rule"], "at": first["evaluated_at"], "since": first["since"]}

    def notes(self) -> list[str]:
        """What a reader must know beside the tables (Markdown; none when all went as
        planned): evaluations past the duration, sources that could not be read."""
        notes = []
        if self.settled_ticks:
            notes.append(f"**Watched {self.settled_ticks} evaluation(s) past `duration_s`:** "
                         "a trigger was pending when the duration was up.")
        if self.unavailable:
            notes.append("**Sources that could not be read:** " + "; ".join(
                f"`{source}`: {reason}" for source, reason in self.unavailable.items()))
        return notes

    def checks(self, criteria: pd.DataFrame | None = None) -> tuple[Check, ...]:
        """Verdict rows: the decision is `continue`; each rule is `ok` or `pending` at the
        end (a dry-run rule always passes, its state shown); each criterion with data
        passes (those without data are left to the criteria table: the rules already hold
        the decision when data is missing)."""
        decided = Check("decision", self.decision.action == "continue", self.decision.reason,
                        value=self.decision.action, threshold="continue")
        rules = tuple(_rule_check(row) for row in self.table.to_dict(orient="records"))
        measured = (criteria_checks(criteria, with_no_data=False)
                    if criteria is not None else ())
        return (decided, *rules, *measured)


def _rule_check(row: dict[str, Any]) -> Check:
    dry = " (dry run)" if row["dry_run"] else ""
    return Check(f"rule {row['rule']}", bool(row["dry_run"]) or row["state"] in ("ok", "pending"),
                 f"{row['state']}{dry}{': ' + row['detail'] if row['detail'] else ''}",
                 value=row["value"], unit=row["unit"] or "",
                 threshold=format_condition(row["comparison"], row["threshold"], row["unit"]))

def watch_error_entries(env: Environment, result: WatchResult,
                        before: timedelta = timedelta(minutes=5)) -> pd.DataFrame:
    """The backend's ERROR entries of the watched span (from `before` its start), newest
    first; an empty frame when Cloud Logging could not be read during the watch."""
    if "logging" in result.unavailable:
        return pd.DataFrame()
    return error_entries(env, result.started_at - before, result.ended_at)


def lookback_s(rules: Sequence[TriggerRule], interval_s: float,
               max_lateness_s: float = 0.0) -> float:
    """How far back a tick reads: the longest window plus the longest `for` plus a tick,
    plus how late data may be."""
    return (max((r.window_s for r in rules), default=0.0)
            + max((r.for_s for r in rules), default=0.0) + interval_s + max_lateness_s)


def watch(env: Environment, rules: Sequence[TriggerRule] | None = None, *,
          duration_s: float = 30.0, interval_s: float = 5.0, probe: ProbeFn | None = None,
          sources: Sequence[str] = READERS, step_s: float | None = None,
          stop_on_rollback: bool = False, settle_s: float = 0.0,
          max_lateness_s: float = 0.0, expect: Mapping[str, str] | None = None,
          probe_log: list[ProbeResult] | None = None) -> Iterator[WatchTick]:
    """Evaluate the rules every `interval_s` for `duration_s` (the first tick at once), and
    on for at most `settle_s` more while a rule is pending or inconclusive; rules' windows
    end at data up to `max_lateness_s` late; a rule grouped by the labels of `expect` waits
    for that group's samples (see the module docstring).

    `probe` runs before each evaluation (default: `default_probe()`; pass `lambda env: []`
    for none); its results join the sources' data and are appended to `probe_log` when
    given. With `stop_on_rollback` the watch ends at the first rollback decision.
    """
    chosen = list(env.rollback_triggers if rules is None else rules)
    if not (interval_s > 0 and duration_s >= 0 and settle_s >= 0):
        raise ConfigError(f"the watch needs interval_s > 0, duration_s >= 0 and settle_s >= 0, "
                          f"got {interval_s}, {duration_s} and {settle_s}")
    run_probe = default_probe() if probe is None else probe
    evaluator = RuleEvaluator(chosen, max_lateness_s=max_lateness_s, expect=expect)
    lookback = timedelta(seconds=lookback_s(chosen, interval_s, max_lateness_s))
    probes: list[ProbeResult] = [] if probe_log is None else probe_log
    clock = _TickClock(interval_s)
    planned = tick_count(duration_s, interval_s)
    last = planned + tick_count(settle_s, interval_s) - 1
    for number in range(1, last + 1):
        clock.wait_to_probe(number)
        probes.extend(run_probe(env))
        at = clock.tick_time(number)
        recent = [r for r in probes if _probe_time(r) > at - lookback - lookback]
        readings = read_window(env, at - lookback, at, probe_results=recent,
                               sources=sources, step_s=step_s)
        frame, unavailable = combine_readings(readings)
        if number == 1:
            _replay_history(evaluator, chosen, frame, at, interval_s, unavailable)
        table = rules_frame(evaluator.evaluate(frame, at, unavailable))
        decision = decide(table, at)
        yield WatchTick(number, at, table, decision, unavailable, frame)
        if stop_on_rollback and decision.action == "rollback":
            return
        if number >= planned and not _undecided(table, decision):
            return


def run_watch(env: Environment, rules: Sequence[TriggerRule] | None = None, *,
              duration_s: float = 30.0, interval_s: float = 5.0,
              probe: ProbeFn | None = None, sources: Sequence[str] = READERS,
              step_s: float | None = None, stop_on_rollback: bool = False,
              settle_s: float = 0.0, max_lateness_s: float = 0.0,
              expect: Mapping[str, str] | None = None, show: bool = True,
              probe_log: list[ProbeResult] | None = None) -> WatchResult:
    """Run `watch()` to its end, showing each tick (`LiveTable`), then read the whole
    watched span once more for the charts. The decision is the first rollback, if any tick
    asked for one, else the last tick's, made `hold` if a rule is still pending.
    `probe_log`: probe results of earlier watches that count in this one's windows (e.g. the
    steps of a rollout); this watch's results are appended to it."""
    chosen = list(env.rollback_triggers if rules is None else rules)
    planned = tick_count(duration_s, interval_s)
    live = LiveTable(planned) if show else None
    probes: list[ProbeResult] = [] if probe_log is None else probe_log
    earlier = len(probes)
    started = datetime.now(UTC)
    ticks = []
    for tick in watch(env, chosen, duration_s=duration_s, interval_s=interval_s, probe=probe,
                      sources=sources, step_s=step_s, stop_on_rollback=stop_on_rollback,
                      settle_s=settle_s, max_lateness_s=max_lateness_s, expect=expect,
                      probe_log=probes):
        ticks.append(tick)
        if live is not None:
            live.show(tick.number, tick.table, tick.decision)
    ended = datetime.now(UTC)
    span_start = started - timedelta(seconds=lookback_s(chosen, interval_s, max_lateness_s))
    frame, unavailable = combine_readings(read_window(
        env, span_start, ended, probe_results=probes, sources=sources, step_s=step_s))
    decision = first_rollback(t.decision for t in ticks) or _unsettled(ticks[-1], settle_s)
    return WatchResult(started, ended, tuple(ticks), decision, frame, unavailable,
                       tuple(probes[earlier:]), max(len(ticks) - planned, 0))


def _undecided(table: pd.DataFrame, decision: Decision) -> bool:
    """Whether the data cannot decide yet: a rule pending or inconclusive (a hold)."""
    return decision.action == "hold" or bool(pending_rules(table))


def _unsettled(tick: WatchTick, settle_s: float) -> Decision:
    """The last tick's decision, or `hold` when it continues with a trigger pending."""
    decision = tick.decision
    pending = pending_rules(tick.table)
    if decision.action != "continue" or not pending:
        return decision
    rows = tick.table[tick.table["rule"].isin(pending)].to_dict(orient="records")
    held = "; ".join(f"{r['rule']} held {r['held_s']:.0f} s of {r['for_s']:g} s" for r in rows)
    more = (f"after {settle_s:g} s more" if settle_s
            else "(settle_s = 0: the watch does not wait for a pending trigger)")
    return Decision("hold", f"still pending when the watch ended {more}: {held}; watch "
                    "longer to know whether it fires", decision.decided_at, decision.rules)


def tick_count(duration_s: float, interval_s: float) -> int:
    """Evaluations in a watch: one at the start and one every interval within the duration."""
    return math.floor(duration_s / interval_s + 1e-9) + 1


def _replay_history(evaluator: RuleEvaluator, rules: Sequence[TriggerRule],
                    frame: pd.DataFrame, at: datetime, interval_s: float,
                    unavailable: dict[str, str]) -> None:
    longest = max((r.for_s for r in rules), default=0.0)
    if longest <= 0:
        return
    for moment in evaluation_times(at - timedelta(seconds=longest), at, interval_s):
        if moment < at:
            evaluator.evaluate(frame, moment, unavailable)


def _probe_time(result: ProbeResult) -> datetime:
    return result.checked_at if isinstance(result, HealthResult) else result.started_at


class _TickClock:
    """Evaluation times on a fixed grid (start + k·interval), the probe run just before.

    Evaluating on the grid keeps the steps the sources are bucketed in (which end at the
    evaluation time) in phase from one tick to the next, so a condition's `for` is counted
    in whole intervals. The probe is started as long before the tick as it took last time,
    so its results are fresh and inside the window. A late tick is evaluated when it runs.
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.began = time.monotonic()
        self.began_at = datetime.now(UTC)
        self._probe_s = 0.0
        self._probe_started = self.began

    def wait_to_probe(self, number: int) -> None:
        """Sleep until it is time to probe for tick `number`."""
        _sleep_until(self._due(number) - self._probe_s)
        self._probe_started = time.monotonic()

    def tick_time(self, number: int) -> datetime:
        """Sleep until tick `number` is due; its evaluation time (on the grid unless late)."""
        now = time.monotonic()
        self._probe_s = min(now - self._probe_started, self.interval_s / 2)
        if number == 1:  # the first tick is now: the grid starts here
            self.began = now
            self.began_at = datetime.now(UTC)
            return self.began_at
        due = self._due(number)
        if now > due + 0.05 * self.interval_s:
            return datetime.now(UTC)
        _sleep_until(due)
        return self.began_at + timedelta(seconds=due - self.began)

    def _due(self, number: int) -> float:
        return self.began + (number - 1) * self.interval_s


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)
