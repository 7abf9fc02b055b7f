"""Every source of one window at once, and the deploy and rollback markers of the charts.

    readings = read_window(env, start, end, probe_results=results)
    frame, unavailable = combine_readings(readings)

Each source is read independently: one that cannot be reached gives a failed `Reading`
(its reason ends in `unavailable`), the others still count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd
from google.api_core import exceptions as gexc

from netra_ops.cloud import api_errors, audit_trail, revisions_client, service_name
from netra_ops.config import Environment
from netra_ops.errors import ConfigError, NetraOpsError
from netra_ops.metrics.frames import Reading
from netra_ops.metrics.log_metrics import logging_reading
from netra_ops.metrics.monitoring import monitoring_reading
from netra_ops.metrics.probes import probe_frame
from netra_ops.probe.golden_path_run import GoldenPathResult
from netra_ops.probe.health_endpoint import HealthResult

__all__ = ["MARKER_COLUMNS", "READERS", "change_markers", "read_window"]

READERS = ("monitoring", "logging")
MARKER_COLUMNS = ["time", "kind", "label"]


def read_window(env: Environment, start: datetime, end: datetime, *,
                probe_results: Iterable[HealthResult | GoldenPathResult] = (),
                sources: Sequence[str] = READERS, step_s: float | None = None,
                limits: Mapping[str, int] | None = None) -> list[Reading]:
    """Readings of the API sources named in `sources` for (start, end], plus the probe
    results that fall in it (source `probe`)."""
    unknown = [s for s in sources if s not in READERS]
    if unknown:
        raise ConfigError(f"unknown metric source {', '.join(unknown)}; sources are "
                          f"{', '.join(READERS)}")
    readings = []
    if "monitoring" in sources:
        readings.append(monitoring_reading(env, start, end, step_s=step_s, limits=limits))
    if "logging" in sources:
        readings.append(logging_reading(env, start, end, step_s=step_s))
    probes = probe_frame(probe_results)
    inside = probes[(probes["time"] > pd.Timestamp(start)) & (probes["time"] <= pd.Timestamp(end))]
    readings.append(Reading("probe", start, end, inside.reset_index(drop=True)))
    return readings


def change_markers(env: Environment, start: datetime | None = None,
                   end: datetime | None = None) -> pd.DataFrame:
    """Deploys (each revision's creation, from Cloud Run) and rollbacks (executed rollbacks
    to one of the service's revisions in this process's audit trail) between start and end:
    columns time, kind, label."""
    created = _revision_creations(env)
    names = {name for _, name in created}
    rows = [{"time": when, "kind": "deploy", "label": name} for when, name in created]
    for entry in audit_trail():
        serving = list((entry.after or {}).get("serving", {}))
        if entry.action == "rollback" and entry.executed and serving and set(serving) <= names:
            rows.append({"time": entry.at, "kind": "rollback", "label": ", ".join(serving)})
    frame = pd.DataFrame(rows, columns=MARKER_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="mixed")
    if start is not None:
        frame = frame[frame["time"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["time"] <= pd.Timestamp(end)]
    return frame.sort_values("time", kind="mergesort").reset_index(drop=True)


def _revision_creations(env: Environment) -> list[tuple[datetime, str]]:
    try:
        with api_errors(env, "listing revisions"), revisions_client(env) as client:
            revisions = list(client.list_revisions(parent=service_name(env), timeout=10.0))
    except (NetraOpsError, gexc.GoogleAPICallError):
        return []
    return [(r.create_time, r.name.rsplit("/", 1)[-1]) for r in revisions if r.create_time]
