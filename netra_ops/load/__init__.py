"""Load tests of the golden path (seed 3.3): virtual users, two models, frames, thresholds.

    from netra_ops.load import Threshold, run_load

    result = run_load("sandbox", users=10, duration_s=300)          # closed: the seed's shape
    result = run_load("sandbox", model="open", rate=50, users=64, duration_s=60,
                      thresholds=[Threshold("error_rate", ">", 0.05, for_s=30)])
    result.samples          # one row per turn (docs/load.md: the samples frame contract)
    result.percentiles()    # exact p50/p95/p99 per engine and model
    result.timing()         # first event, delivery and answer percentiles (the probes' three)
    result.throughput()     # turns per second
    result.errors()         # failed turns by error class
    result.aborted          # the threshold that stopped the run, with why, or None
    record("load", result.to_record())
    locust = run_locust("sandbox", users=10, duration_s=60, processes=2)  # same frames

Session longevity (docs/load.md, "Long-lived sessions"): users who hold one connection,
idle between turns for a think time while answering heartbeats, and go again:

    sessions = run_sessions("sandbox", users=20, duration_s=1800,
                            think=ThinkTime("lognormal", mean_s=90, cap_s=600), seed=7)
    sessions.drops(); sessions.held_past_app_timeout; sessions.checks(drop_budget=0.01)

The Locust path (docs/locust.md) runs the same golden-path users headless in a subprocess,
locally with N processes or as master and workers on several machines.

Each virtual user logs in, holds a WebSocket and sends turns, awaiting the five agent events
(the probe layer's protocol and checks). See docs/load.md for the closed and open models,
coordinated omission, and thresholds.
"""

from netra_ops.load.charts import (
    load_errors_chart,
    load_latency_chart,
    sessions_chart,
    throughput_chart,
)
from netra_ops.load.config import MAX_USERS, MODELS, LoadConfig, arrival_offsets
from netra_ops.load.engine import run_load, run_load_async
from netra_ops.load.frames import (
    SAMPLE_COLUMNS,
    TIMING_COLUMNS,
    as_samples,
    empty_samples,
    errors_by_class,
    latency_percentiles,
    samples_frame,
    throughput,
    timing_percentiles,
)
from netra_ops.load.locust_runner import (
    LocustResult,
    locust_commands,
    read_samples,
    run_locust,
)
from netra_ops.load.performance import (
    DEFAULT_RESPONSE_BUDGET_MS,
    NO_DATA_YET,
    RESOURCE_CRITERIA,
    not_verified,
    performance_checks,
    timing_figures,
)
from netra_ops.load.performance_run import (
    ENGINES,
    PerformanceRun,
    after_settling,
    run_performance_load,
)
from netra_ops.load.progress import (
    BarProgress,
    LogProgress,
    NoProgress,
    Progress,
    ProgressSnapshot,
    make_progress,
)
from netra_ops.load.resources import DEFAULT_MONITORING_WAIT_S, MonitoringWait, await_monitoring
from netra_ops.load.result import LoadResult
from netra_ops.load.samples import (
    ERROR_CLASSES,
    ClockAnchor,
    Sample,
    turn_error_class,
)
from netra_ops.load.session_config import (
    DISTRIBUTIONS,
    MAX_SESSION_USERS,
    SessionConfig,
    SessionLoad,
    ThinkTime,
)
from netra_ops.load.session_result import DEFAULT_DROP_BUDGET, SESSION_COLUMNS, SessionResult
from netra_ops.load.session_user import DROP_CAUSES, SessionUser
from netra_ops.load.sessions import run_sessions, run_sessions_async
from netra_ops.load.thresholds import (
    Threshold,
    ThresholdBreach,
    ThresholdWatch,
    WindowStats,
    replay_thresholds,
)
from netra_ops.load.users import TurnPlan

__all__ = [
    "DEFAULT_DROP_BUDGET",
    "DEFAULT_MONITORING_WAIT_S",
    "DEFAULT_RESPONSE_BUDGET_MS",
    "DISTRIBUTIONS",
    "DROP_CAUSES",
    "ENGINES",
    "ERROR_CLASSES",
    "MAX_SESSION_USERS",
    "MAX_USERS",
    "MODELS",
    "NO_DATA_YET",
    "RESOURCE_CRITERIA",
    "SAMPLE_COLUMNS",
    "SESSION_COLUMNS",
    "TIMING_COLUMNS",
    "BarProgress",
    "ClockAnchor",
    "LoadConfig",
    "LoadResult",
    "LocustResult",
    "LogProgress",
    "MonitoringWait",
    "NoProgress",
    "PerformanceRun",
    "Progress",
    "ProgressSnapshot",
    "Sample",
    "SessionConfig",
    "SessionLoad",
    "SessionResult",
    "SessionUser",
    "ThinkTime",
    "Threshold",
    "ThresholdBreach",
    "ThresholdWatch",
    "TurnPlan",
    "WindowStats",
    "after_settling",
    "arrival_offsets",
    "as_samples",
    "await_monitoring",
    "empty_samples",
    "errors_by_class",
    "latency_percentiles",
    "load_errors_chart",
    "load_latency_chart",
    "locust_commands",
    "make_progress",
    "not_verified",
    "performance_checks",
    "read_samples",
    "replay_thresholds",
    "run_load",
    "run_load_async",
    "run_locust",
    "run_performance_load",
    "run_sessions",
    "run_sessions_async",
    "samples_frame",
    "sessions_chart",
    "throughput",
    "throughput_chart",
    "timing_figures",
    "timing_percentiles",
    "turn_error_class",
]
