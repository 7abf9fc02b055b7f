"""Probes: each asks the live system one question and answers with a value, never a crash."""

from netra_ops.probe.golden_path import (
    DEFAULT_MESSAGE,
    GOLDEN_PATH_EVENTS,
    ConnectResult,
    EventObservation,
    GoldenPathResult,
    golden_path,
    websocket_connect,
)
from netra_ops.probe.health import HealthResult, health, wait_healthy
from netra_ops.probe.services import ServiceChecks, check_services
from netra_ops.probe.summary import results_table, runs_frame, summarize_runs

__all__ = [
    "DEFAULT_MESSAGE",
    "GOLDEN_PATH_EVENTS",
    "ConnectResult",
    "EventObservation",
    "GoldenPathResult",
    "HealthResult",
    "ServiceChecks",
    "check_services",
    "golden_path",
    "health",
    "results_table",
    "runs_frame",
    "summarize_runs",
    "wait_healthy",
    "websocket_connect",
]
