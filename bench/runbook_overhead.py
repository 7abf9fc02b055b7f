"""Benchmark: what each runbook costs beyond the library calls its cells make.

Every runbook is run headless with `run_notebook()` against a throwaway sandbox, as a
playbook step would run it (deploy and rollback as dry runs, so each round sees the same
system: the fixed build serving, the initial revision as the rollback target; 07 watches for
10 s, so it may only "hold": its verdict does not matter here, its cost does). From each record:
- `cells_s`: the sum of the code cells' execution times (papermill's per-cell durations):
  the library calls and the notebook's own display code;
- `overhead_s`: the run's wall time minus `cells_s`: kernel start, parameter injection,
  papermill's bookkeeping, scrubbing, the HTML export, the index and the manifest;
- `kernel_start_s` (run start to the first cell's start) and `archive_s` (last cell's end
  to the run's end) split the overhead.
Run: `.venv/bin/python bench/runbook_overhead.py [--rounds N]`; results are printed and
written to bench/results/runbook_overhead.json (medians of N rounds, with min and max).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from netra_ops import load_environment, sandbox
from netra_ops.deploy import serve_for_rehearsal
from netra_ops.record import RunResult, run_notebook
from netra_ops.sandbox.ephemeral import write_sandbox_environment

RESULTS = Path(__file__).resolve().parent / "results" / "runbook_overhead.json"
RUNBOOKS: dict[str, dict[str, Any]] = {
    "01_preflight": {},
    "02_deploy": {"execute": False},
    "03_config_sync": {"execute": False},
    "04_golden_path_validation": {"runs": 2},
    "06_rollback": {"execute": False},
    "07_monitoring": {"duration_s": 10.0, "interval_s": 5.0, "golden_path_runs": 1},
    "00_incident_summary": {},
}


def _times(result: RunResult) -> dict[str, float]:
    notebook = nbformat.read(result.notebook_path, as_version=4)
    cells = [c.metadata.get("papermill", {}) for c in notebook.cells if c.cell_type == "code"]
    ran = [c for c in cells if c.get("start_time") and c.get("end_time")]
    started = pd.Timestamp(result.summary["started_at"])
    finished = pd.Timestamp(result.summary["finished_at"])
    wall = (finished - started).total_seconds()
    cells_s = sum(float(c.get("duration") or 0.0) for c in ran)
    first = min(pd.Timestamp(c["start_time"]) for c in ran)
    last = max(pd.Timestamp(c["end_time"]) for c in ran)
    return {"wall_s": wall, "cells_s": cells_s, "overhead_s": wall - cells_s,
            "kernel_start_s": (first.tz_localize("UTC") if first.tzinfo is None else first)
            .timestamp() - started.timestamp(),
            "archive_s": finished.timestamp() - (last.tz_localize("UTC") if last.tzinfo is None
                                                 else last).timestamp()}


def _summarize(rounds: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {key: {"median": round(statistics.median(r[key] for r in rounds), 3),
                  "min": round(min(r[key] for r in rounds), 3),
                  "max": round(max(r[key] for r in rounds), 3)} for key in rounds[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="netra-bench-") as folder:
        env = load_environment(str(write_sandbox_environment(Path(folder))))
        sandbox.up(env)
        try:
            serve_for_rehearsal(env, "develop-long-lived-bench")  # 06 needs an older revision
            measured: dict[str, list[dict[str, float]]] = {name: [] for name in RUNBOOKS}
            for number in range(args.rounds):
                for name, parameters in RUNBOOKS.items():
                    result = run_notebook(name, environment=str(env.source),
                                          incident=f"BENCH-{number}", parameters=parameters,
                                          outputs_dir=Path(folder) / "outputs")
                    measured[name].append(_times(result))
                    print(f"round {number + 1} {name}: {result.status}, "
                          f"{measured[name][-1]['overhead_s']:.2f} s overhead")
        finally:
            sandbox.down(env)
    summary = {name: _summarize(rounds) for name, rounds in measured.items()}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "rounds": args.rounds, "runbooks": summary}, indent=2) + "\n", encoding="utf-8")
    print(pd.DataFrame({name: {key: value["median"] for key, value in times.items()}
                        for name, times in summary.items()}).T.to_string())


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
