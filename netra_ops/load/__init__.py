"""Load tests of the golden path (seed 3.3): virtual users, two models, frames, thresholds.

    from netra_ops.load import Threshold, run_load

    result = run_load("sandbox", users=10, duration_s=300)          # closed: the seed's shape
    result = run_load("sandbox", model="open", rate=50, users=64, duration_s=60,
                      thresholds=[Threshold("error_rate", ">", 0.05, for_s=30)])
    result.samples          # one row per turn (docs/load.md: the samples frame contract)
    result.percentiles()    # exact p50/p95/p99 per engine and model
    result.throughput()     # turns per second
    result.errors()         # failed turns by error class
    result.aborted          # the threshold that stopped the run, with why, or None
    record("load", result.to_record())
    locust = run_locust("sandbox", users=10, duration_s=60, processes=2)  # same frames

The Locust path (docs/locust.md) runs the same golden-path users headless in a subprocess,
locally with N processes or as master and workers on several machines.

Each virtual user logs in, holds a WebSocket and sends turns, awaiting the five agent events
(the probe layer's protocol and checks). See docs/load.md for the closed and open models,
coordinated omission, and thresholds. The names are loaded on first use (`netra_ops.lazy`),
so a Locust worker importing one module of this package does not import the charts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netra_ops.lazy import lazy_exports

if TYPE_CHECKING:
    from netra_ops.load.charts import load_errors_chart, load_latency_chart, throughput_chart
    from netra_ops.load.config import MAX_USERS, MODELS, LoadConfig, arrival_offsets
    from netra_ops.load.engine import run_load, run_load_async
    from netra_ops.load.frames import (
        SAMPLE_COLUMNS,
        as_samples,
        empty_samples,
        errors_by_class,
        latency_percentiles,
        samples_frame,
        throughput,
    )
    from netra_ops.load.locust_runner import (
        LocustResult,
        locust_commands,
        read_samples,
        run_locust,
    )
    from netra_ops.load.performance import RESOURCE_CRITERIA, performance_checks
    from netra_ops.load.progress import (
        BarProgress,
        LogProgress,
        NoProgress,
        Progress,
        ProgressSnapshot,
        make_progress,
    )
    from netra_ops.load.result import LoadResult
    from netra_ops.load.samples import (
        ERROR_CLASSES,
        ClockAnchor,
        Sample,
        turn_error_class,
    )
    from netra_ops.load.thresholds import (
        Threshold,
        ThresholdBreach,
        ThresholdWatch,
        WindowStats,
        replay_thresholds,
    )

__all__ = [
    "ERROR_CLASSES",
    "MAX_USERS",
    "MODELS",
    "RESOURCE_CRITERIA",
    "SAMPLE_COLUMNS",
    "BarProgress",
    "ClockAnchor",
    "LoadConfig",
    "LoadResult",
    "LocustResult",
    "LogProgress",
    "NoProgress",
    "Progress",
    "ProgressSnapshot",
    "Sample",
    "Threshold",
    "ThresholdBreach",
    "ThresholdWatch",
    "WindowStats",
    "arrival_offsets",
    "as_samples",
    "empty_samples",
    "errors_by_class",
    "latency_percentiles",
    "load_errors_chart",
    "load_latency_chart",
    "locust_commands",
    "make_progress",
    "performance_checks",
    "read_samples",
    "replay_thresholds",
    "run_load",
    "run_load_async",
    "run_locust",
    "samples_frame",
    "throughput",
    "throughput_chart",
    "turn_error_class",
]

_MODULE_OF = {
    "BarProgress": "progress",
    "ClockAnchor": "samples",
    "ERROR_CLASSES": "samples",
    "LoadConfig": "config",
    "LoadResult": "result",
    "LocustResult": "locust_runner",
    "LogProgress": "progress",
    "MAX_USERS": "config",
    "MODELS": "config",
    "NoProgress": "progress",
    "Progress": "progress",
    "ProgressSnapshot": "progress",
    "RESOURCE_CRITERIA": "performance",
    "SAMPLE_COLUMNS": "frames",
    "Sample": "samples",
    "Threshold": "thresholds",
    "ThresholdBreach": "thresholds",
    "ThresholdWatch": "thresholds",
    "WindowStats": "thresholds",
    "arrival_offsets": "config",
    "as_samples": "frames",
    "empty_samples": "frames",
    "errors_by_class": "frames",
    "latency_percentiles": "frames",
    "load_errors_chart": "charts",
    "load_latency_chart": "charts",
    "locust_commands": "locust_runner",
    "make_progress": "progress",
    "performance_checks": "performance",
    "read_samples": "locust_runner",
    "replay_thresholds": "thresholds",
    "run_load": "engine",
    "run_load_async": "engine",
    "run_locust": "locust_runner",
    "samples_frame": "frames",
    "throughput": "frames",
    "throughput_chart": "charts",
    "turn_error_class": "samples",
}
__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF, __all__)
