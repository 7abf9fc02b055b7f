"""What a session longevity run found: its sessions, their drops, and the verdict on them.

`SessionResult.sessions` is one row per connection (`SESSION_COLUMNS`): who held it, when it
opened and ended (UTC), its age in this run's seconds (`age_s`) and in the story's
(`unscaled_age_s` = age x time scale: what the age would be at time scale 1), how it ended
(`end`: a drop cause of `DROP_CAUSES`, or `held` when it was open at the run's end), the
close code and reason, whether it ended idle or in a turn, its turns and heartbeats, whether
its user answered heartbeats, whether it outlived the app's connection timeout, and the
timing the server stated (time scale and where it came from, heartbeat interval, idle
timeout, in this run's seconds). `result.load` is the run's `LoadResult` (its turns).

A drop is *expected* when it is the app's idle close of a user who stopped answering
heartbeats: the app did what it means to. Every other drop is one a user notices; the
verdict (`checks`) holds those against a drop budget, a share of the sessions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from netra_ops.checks import Check, skipped
from netra_ops.load.frames import quantile_label
from netra_ops.load.result import LoadResult
from netra_ops.load.samples import ClockAnchor
from netra_ops.load.session_config import SessionConfig
from netra_ops.load.session_user import DROP_CAUSES, HELD, SessionSpan, SessionUser

__all__ = ["DEFAULT_DROP_BUDGET", "SESSION_COLUMNS", "SessionResult", "session_frame"]

DEFAULT_DROP_BUDGET = 0.01
"""Sessions a user notices dropping, as a share of the sessions (1%)."""
SESSION_COLUMNS: tuple[str, ...] = (
    "user", "session", "opened_at", "ended_at", "age_s", "unscaled_age_s", "end",
    "close_code", "close_reason", "during", "turns", "heartbeats", "answers_heartbeats",
    "expected", "past_app_timeout", "time_scale", "scale_source", "heartbeat_interval_s",
    "connection_timeout_s", "revision",
)
_QUANTILES = (0.5, 0.95, 0.99)
_TURN_ERROR_BUDGET = 0.05  # the seed's Primary 5: < 5% of turns fail


@dataclass(frozen=True)
class SessionResult:
    """One session longevity run (see the module docstring)."""

    load: LoadResult
    config: SessionConfig
    sessions: pd.DataFrame = field(repr=False)
    idles: pd.DataFrame = field(repr=False)
    reconnects: int = 0
    reconnect_failures: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, load: LoadResult, config: SessionConfig, users: Sequence[SessionUser],
           anchor: ClockAnchor, stopped_at: float) -> SessionResult:
        """The result of a run whose users are `users` (their spans and idle stretches)."""
        failures: Counter[str] = Counter()
        for user in users:
            failures.update(user.reconnect_failures)
        idles = pd.DataFrame([(user.index, turn, idle) for user in users
                              for turn, idle in user.idles],
                             columns=["user", "turn", "idle_s"]).astype(
            {"user": "int64", "turn": "int64", "idle_s": "float64"})
        spans = [span for user in users for span in user.spans]
        return cls(load, config, session_frame(spans, anchor, stopped_at), idles,
                   sum(user.reconnects for user in users), dict(failures))

    # --- figures ------------------------------------------------------------------------

    @property
    def time_scale(self) -> float:
        """The rehearsal time scale the sessions ran at (the largest, if they differ; 1
        without sessions)."""
        return float(self.sessions["time_scale"].max()) if len(self.sessions) else 1.0

    @property
    def scale_source(self) -> str:
        """Who stated the time scale: `connection_established`, `parameter` or `default`."""
        sources = sorted(set(self.sessions["scale_source"]))
        return ", ".join(sources) if sources else "no session"

    @property
    def connection_timeout_s(self) -> float | None:
        """The app's idle timeout in this run's seconds, as the sessions were told."""
        return float(self.sessions["connection_timeout_s"].max()) if len(self.sessions) \
            else None

    @property
    def held_past_app_timeout(self) -> int:
        """Sessions that lived longer than the app's connection timeout."""
        return int(self.sessions["past_app_timeout"].sum())

    @property
    def dropped(self) -> pd.DataFrame:
        """The sessions that ended before the run did."""
        return self.sessions[self.sessions["end"] != HELD]

    @property
    def unexpected_drops(self) -> int:
        """Drops a user notices (all but the app's idle close of a silent user)."""
        return int((~self.dropped["expected"]).sum())

    def drops(self) -> pd.DataFrame:
        """Drops by cause (every cause, zero included): count, expected, share of the
        sessions, the close codes seen, an example reason, and the median age at the drop
        (in the story's seconds)."""
        rows = []
        total = max(len(self.sessions), 1)
        for cause in DROP_CAUSES:
            rows.append(_drop_row(cause, self.dropped[self.dropped["end"] == cause], total))
        return pd.DataFrame(rows, columns=["cause", "drops", "expected", "share", "codes",
                                           "example", "median_unscaled_age_s"])

    def turns(self) -> pd.DataFrame:
        """The run's samples with how long the connection had been idle before each turn
        (`idle_s`, and `unscaled_idle_s` in the story's seconds; NaN on a new connection)."""
        samples = self.load.samples.merge(self.idles, on=["user", "turn"], how="left")
        return samples.assign(unscaled_idle_s=samples["idle_s"] * self.time_scale)

    def latency_after_idle(self, long_idle_s: float = 60.0) -> pd.DataFrame:
        """Turn latency after idle stretches of at least `long_idle_s` (story seconds)
        beside the other turns: turns, failed, p50 / p95 / p99 / max of `latency_ms`."""
        turns = self.turns()
        long = turns["unscaled_idle_s"] >= long_idle_s
        groups = [(f"after idle >= {long_idle_s:g} s", turns[long]),
                  (f"after idle < {long_idle_s:g} s or a new connection", turns[~long])]
        return pd.DataFrame([_latency_row(name, rows) for name, rows in groups])

    def live(self, freq: str | None = None) -> pd.DataFrame:
        """Per `freq` bin of the run (None: about 120 bins of whole seconds): sessions open
        at the bin's start (`live`) and the drops in the bin by cause (a column each)."""
        freq = freq or f"{max(1, round(self.load.duration_s / 120))}s"
        start, end = pd.Timestamp(self.load.started_at), pd.Timestamp(self.load.ended_at)
        bins = pd.date_range(start.floor(freq), max(end, start), freq=freq)
        opened, ended = self.sessions["opened_at"], self.sessions["ended_at"]
        live = [int(((opened <= at) & (ended > at)).sum()) for at in bins]
        frame = pd.DataFrame({"time": bins, "live": live})
        for cause in DROP_CAUSES:
            times = self.dropped.loc[self.dropped["end"] == cause, "ended_at"].dt.floor(freq)
            counts = times.value_counts()
            frame[cause] = [int(counts.get(at, 0)) for at in bins]
        return frame

    # --- verdict and record ---------------------------------------------------------------

    def checks(self, drop_budget: float = DEFAULT_DROP_BUDGET) -> list[Check]:
        """Drops a user notices within `drop_budget` (a share of the sessions); sessions
        outlive the app's connection timeout while heartbeats flow; turns fail < 5%."""
        return [self._drop_check(drop_budget), self._outlive_check(), self._turn_check()]

    def summary(self) -> str:
        """One line: sessions, drops by cause, held past the app's timeout, reconnects."""
        counts = self.dropped["end"].value_counts()
        causes = ", ".join(f"{counts[c]} {c}" for c in DROP_CAUSES if c in counts) or "none"
        return (f"{len(self.sessions)} sessions of {self.config.load.users} users at time "
                f"scale {self.time_scale:g}: drops {causes}; {self.held_past_app_timeout} "
                f"held past the app's timeout; {self.reconnects} reconnects; "
                f"{self.load.turns} turns, {(self.load.error_rate or 0):.1%} failed")

    def to_record(self) -> dict[str, Any]:
        """The run as plain JSON data (figures, not the frames)."""
        ages = self.sessions["unscaled_age_s"]
        after = self.latency_after_idle().iloc[0]
        return {
            "config": self.config.to_dict(), "time_scale": self.time_scale,
            "time_scale_source": self.scale_source,
            "connection_timeout_s": self.connection_timeout_s,
            "sessions": len(self.sessions), "held_past_app_timeout": self.held_past_app_timeout,
            "longest_unscaled_age_s": float(ages.max()) if len(ages) else None,
            "drops": {row.cause: int(row.drops) for row in self.drops().itertuples()},
            "unexpected_drops": self.unexpected_drops, "reconnects": self.reconnects,
            "reconnect_failures": dict(self.reconnect_failures),
            "latency_after_long_idle_ms": {k: _number(after[k])
                                           for k in ("count", "failed", "p50", "p95", "max")},
            "load": self.load.to_record(),
        }

    def _drop_check(self, budget: float) -> Check:
        name = "session drops a user notices within the drop budget"
        total = len(self.sessions)
        if not total:
            return Check(name, False, "no session was opened", None, f"<= {budget:.0%}")
        share = self.unexpected_drops / total
        counts = self.dropped[~self.dropped["expected"]]["end"].value_counts()
        causes = ", ".join(f"{n} {cause}" for cause, n in counts.items()) or "none"
        expected = int(self.dropped["expected"].sum())
        also = f"; {expected} expected idle closes of silent users" if expected else ""
        return Check(name, share <= budget, f"{self.unexpected_drops} of {total} sessions "
                     f"dropped ({causes}){also}", round(share, 4), f"<= {budget:.0%}")

    def _outlive_check(self) -> Check:
        name = "sessions outlive the app's connection timeout while heartbeats flow"
        timeout = self.connection_timeout_s
        answering = self.sessions[self.sessions["answers_heartbeats"]]
        if timeout is None or answering.empty:
            return skipped(name, "no session of a user answering heartbeats")
        if self.load.duration_s <= timeout:
            return skipped(name, f"the run ({self.load.duration_s:.3g} s) was not longer "
                           f"than the app's connection timeout ({timeout:.3g} s)")
        held = int(answering["past_app_timeout"].sum())
        longest = float(answering["unscaled_age_s"].max())
        scale = self.time_scale
        detail = (f"{held} sessions held past {timeout * scale:g} s; the longest lived "
                  f"{longest:.0f} s" + (f" ({longest / scale:.3g} s at time scale {scale:g})"
                                        if scale != 1 else ""))
        return Check(name, held > 0, detail, held, ">= 1")

    def _turn_check(self) -> Check:
        rate = self.load.error_rate
        return Check("turn error rate < 5 %", rate is not None and rate < _TURN_ERROR_BUDGET,
                     f"{self.load.turns} turns", None if rate is None else round(rate, 4),
                     "< 5%")


def session_frame(spans: Iterable[SessionSpan], anchor: ClockAnchor,
                  stopped_at: float) -> pd.DataFrame:
    """One row per connection (`SESSION_COLUMNS`); a span still open ends at
    `stopped_at` (perf_counter), `held`."""
    rows = []
    counts: Counter[int] = Counter()
    for span in spans:
        ended = span.ended if span.ended is not None else max(stopped_at, span.opened)
        age = ended - span.opened
        timing = span.timing
        rows.append({
            "user": span.user, "session": counts[span.user],
            "opened_at": anchor.wall_ns_of(span.opened), "ended_at": anchor.wall_ns_of(ended),
            "age_s": age, "unscaled_age_s": age * timing.time_scale, "end": span.end,
            "close_code": span.close_code, "close_reason": span.close_reason,
            "during": span.during, "turns": span.turns, "heartbeats": span.heartbeats,
            "answers_heartbeats": span.answers_heartbeats,
            "expected": span.end == HELD or (span.end == "app_idle_close"
                                             and not span.answers_heartbeats),
            "past_app_timeout": age > timing.connection_timeout_s,
            "time_scale": timing.time_scale, "scale_source": timing.scale_source,
            "heartbeat_interval_s": timing.heartbeat_interval_s,
            "connection_timeout_s": timing.connection_timeout_s, "revision": span.revision})
        counts[span.user] += 1
    frame = pd.DataFrame(rows, columns=list(SESSION_COLUMNS))
    for column in ("opened_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), unit="ns", utc=True)
    return frame.astype({"close_code": "Int64", "answers_heartbeats": "bool",
                         "expected": "bool", "past_app_timeout": "bool"})


def _drop_row(cause: str, rows: pd.DataFrame, total: int) -> dict[str, Any]:
    codes = sorted({int(code) for code in rows["close_code"].dropna()})
    return {"cause": cause, "drops": len(rows), "expected": int(rows["expected"].sum()),
            "share": len(rows) / total, "codes": ", ".join(map(str, codes)),
            "example": rows["close_reason"].iloc[0] if len(rows) else "",
            "median_unscaled_age_s": float(rows["unscaled_age_s"].median()) if len(rows)
            else math.nan}


def _latency_row(name: str, rows: pd.DataFrame) -> dict[str, Any]:
    latency = rows["latency_ms"].to_numpy(dtype=float)
    row: dict[str, Any] = {"turns": name, "count": len(rows),
                           "failed": int((~rows["ok"]).sum())}
    for quantile in _QUANTILES:
        row[quantile_label(quantile)] = float(np.quantile(latency, quantile)) \
            if len(latency) else math.nan
    row["max"] = float(latency.max()) if len(latency) else math.nan
    return row


def _number(value: Any) -> float | int | None:
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return None
