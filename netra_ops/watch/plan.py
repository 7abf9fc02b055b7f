"""What a watch does and when: its span, its periods, its rollback window, its validations.

The seed's validation schedule gives each phase of the cadence its depth of test:

- every 30 minutes for the first 4 hours: **mission-critical** (04, the golden path);
- every 2 hours for the next 20 hours: **full** (04 and a short 05, the performance run);
- every 24 hours: **complete** (04, 05 at 10 users x 300 s, and 00, the incident summary).

`watch_cadence` cuts the cadence at the watch's end, so a 24 h watch validates at +0:00,
+0:30 ... +3:30, +4:00, +6:00 ... +22:00 and, completely, at +24:00, its last moment. All
times of a plan are watch time (`netra_ops.watch.clock`): with a time scale, a rehearsal runs
them in minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from netra_ops.errors import ParameterError
from netra_ops.schedule import Cadence, Phase, Validation, parse_cadence, plan_validations

__all__ = ["DEPTHS", "DEPTH_PARAMETERS", "Depths", "WatchPlan", "plan_depths", "watch_cadence"]

DEPTHS = (
    ("mission-critical", ("04_golden_path_validation",)),
    ("full", ("04_golden_path_validation", "05_performance")),
    ("complete", ("04_golden_path_validation", "05_performance", "00_incident_summary")),
)
"""The seed's depths of validation, one per phase of its cadence, in order."""

DEPTH_PARAMETERS: dict[str, dict[str, Any]] = {
    "full": {"05_performance.duration_s": 60.0},
    "complete": {"05_performance.users": 10, "05_performance.duration_s": 300.0},
}
"""What makes a depth's runs what the seed asks: a short 05 in `full`, 10 users x 300 s in
`complete`. Parameters given to the watch win over these."""

Depths = tuple[tuple[str, tuple[Validation, ...]], ...]
"""(depth name, its runbooks with their parameters) for each phase of a cadence."""


@dataclass(frozen=True)
class WatchPlan:
    """A watch's settings, all checked; durations are watch time (scaled in a rehearsal)."""

    incident: str
    environment: str
    hours: float = 24.0
    time_scale: float = 1.0
    rollback_window_h: float | None = None  # None: the whole watch
    period_h: float = 1.0
    interval_s: float = 30.0  # wall seconds between evaluations (the seed: health every 30 s)
    cadence: str = "30m for 4h, 2h for 20h, 1d"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    execute: bool = False
    outputs_dir: str | Path | None = None  # a folder or gs://BUCKET/PREFIX
    golden_path_runs: int = 1
    max_lateness_s: float = 180.0
    rule_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    quiet_s: float = 300.0  # seed 4.3's quiet window after a rollback (wall seconds)
    chart_every_s: float = 60.0  # wall seconds between redraws of the rolling summary

    def __post_init__(self) -> None:
        checks = {"--hours": self.hours, "--time-scale": self.time_scale,
                  "--period-h": self.period_h, "--interval": self.interval_s}
        for option, value in checks.items():
            if not value > 0:
                raise ParameterError(f"{option} must be a positive number, got {value!r}")
        if self.rollback_window_h is not None and self.rollback_window_h < 0:
            raise ParameterError(f"--rollback-window must be 0 or more hours, got "
                                 f"{self.rollback_window_h!r}")

    @property
    def span(self) -> timedelta:
        """How long the watch lasts, in watch time."""
        return timedelta(hours=self.hours)

    @property
    def period(self) -> timedelta:
        """One period record's span, in watch time."""
        return timedelta(hours=self.period_h)

    @property
    def rollback_window(self) -> timedelta:
        """How long after the start a firing trigger rolls back (else it is escalated)."""
        return self.span if self.rollback_window_h is None else \
            timedelta(hours=self.rollback_window_h)

    def periods(self) -> int:
        """How many period records the whole watch writes (the last may be shorter)."""
        return max(1, -(-round(self.hours * 1e6) // round(self.period_h * 1e6)))

    def scale_note(self) -> str:
        """The time scale in words, for every record it affects."""
        if self.time_scale == 1:
            return "time scale 1: watch time is wall time"
        wall = 3600 / self.time_scale
        return (f"time scale {self.time_scale:g}: a rehearsal; 1 h of watch time took "
                f"{wall:.4g} s of wall time (validations and rollbacks count at their real "
                f"duration); rule windows, `for` and the evaluation interval are wall time")


def watch_cadence(cadence: Cadence | str, span: timedelta) -> Cadence:
    """The cadence cut at the watch's end: phases past it dropped, the last one kept just
    long enough for a validation due exactly at the end (the seed's 24 h complete run)."""
    given = parse_cadence(cadence) if isinstance(cadence, str) else cadence
    phases: list[Phase] = []
    begin = timedelta()
    for phase in given.phases:
        if begin > span:
            break
        left = span - begin + timedelta(seconds=1)
        lasting = left if phase.lasting is None else min(phase.lasting, left)
        phases.append(Phase(phase.every, lasting))
        begin += lasting
    return Cadence(tuple(phases))


def plan_depths(cadence: Cadence, parameters: Mapping[str, Any] | None = None) -> Depths:
    """(depth name, its runbooks with their parameters) for each phase of `cadence`: the
    seed's depths in order (a cadence with more phases repeats the deepest); parameters
    are checked against the runbooks (ParameterError names what is wrong)."""
    given = dict(parameters or {})
    planned = []
    for index in range(len(cadence.phases)):
        name, runbooks = DEPTHS[min(index, len(DEPTHS) - 1)]
        chosen = {**DEPTH_PARAMETERS.get(name, {}), **given}
        planned.append((name, plan_validations(list(runbooks), _for(runbooks, chosen))))
    return tuple(planned)


def _for(runbooks: tuple[str, ...], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that concern these runbooks (a scoped one for another is left out,
    so a depth without 05 does not refuse `05_performance.users`)."""
    return {key: value for key, value in parameters.items()
            if "." not in key or key.split(".", 1)[0] in runbooks}
