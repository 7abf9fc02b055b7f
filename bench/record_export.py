"""Benchmark: the CPU of a record's HTML page, an exporter built per record against the one
exporter a process keeps (`netra_ops.record.archive.export_html`), side by side in one run.

A playbook writes seven records in one process and a 24-hour watch writes one per check;
building nbconvert's HTMLExporter compiles its Jinja templates every time. The notebook
exported here is a runbook with a chart and a table in its outputs, like a real record.
The two ways alternate A, B, A, B for `--rounds` rounds; each export's CPU time
(`time.process_time`, this process alone) is kept and the medians and their ratio are
reported. CPU, not wall time: the machine is shared and CPU time is what a busy machine
runs short of. The first export of each way is left out (it pays nbconvert's imports).

Run: `.venv/bin/python bench/record_export.py [--rounds 15]`; results are printed and
written to bench/results/record_export.json.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
from matplotlib.figure import Figure

from netra_ops.record import archive

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "record_export.json"
RUNBOOK = ROOT / "notebooks" / "05_performance.ipynb"


def _chart_png() -> str:
    figure = Figure(figsize=(8, 3))
    axis = figure.subplots()
    axis.plot(range(120), [0.2 * (i % 17) for i in range(120)], label="5xx %")
    axis.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def executed_runbook() -> nbformat.NotebookNode:
    """05_performance with a chart and an HTML table as its code cells' outputs."""
    notebook = nbformat.read(RUNBOOK, as_version=4)
    chart = _chart_png()
    table = "<table>" + "".join(f"<tr><td>check {i}</td><td>ok</td></tr>"
                                for i in range(12)) + "</table>"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                nbformat.v4.new_output("display_data", data={"image/png": chart,
                                                             "text/plain": "<Figure>"}),
                nbformat.v4.new_output("display_data", data={"text/html": table,
                                                             "text/plain": "table"})]
    return notebook


def export_with_a_new_exporter(notebook: nbformat.NotebookNode, path: Path) -> None:
    """What every record paid before: build the exporter (the kept one's factory, uncached),
    then export."""
    body, _ = archive._html_exporter.__wrapped__().from_notebook_node(notebook)
    path.write_text(body, encoding="utf-8")


def cpu_of(export: Callable[[nbformat.NotebookNode, Path], None],
           notebook: nbformat.NotebookNode, path: Path) -> float:
    started = time.process_time()
    export(notebook, path)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    notebook = executed_runbook()
    ways: dict[str, Callable[[nbformat.NotebookNode, Path], None]] = {
        "exporter per record (before)": export_with_a_new_exporter,
        "one exporter per process (export_html)": archive.export_html,
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "record.html"
        for export in ways.values():  # warm: imports and the first template load
            export(notebook, page)
        for _ in range(args.rounds):
            for name, export in ways.items():
                samples[name].append(cpu_of(export, notebook, page))
        size = page.stat().st_size
    before, after = (statistics.median(samples[name]) for name in ways)
    result: dict[str, Any] = {
        "benchmark": "record_export",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": round(os.getloadavg()[0], 2)},
        "rounds": args.rounds,
        "page_bytes": size,
        "median_cpu_s": {name: round(statistics.median(values), 4)
                         for name, values in samples.items()},
        "cpu_ratio_before_to_after": round(before / after, 2),
        "cpu_saved_per_record_s": round(before - after, 4),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
