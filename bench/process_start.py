"""Benchmark: the CPU a netra-ops process spends before it does anything, this checkout
against a baseline revision, side by side in one run.

The suite and every rehearsal start hundreds of short processes: each sandbox deploy starts
a revision process (`python -m netra_ops.sandbox revision`), each command a `netra-ops`
process. What they import before their first line of work is paid every time. For each
case, the same command runs in two trees, this checkout and `--baseline` (a git revision,
checked out into a temporary worktree and put first on PYTHONPATH, so the same venv imports
that revision's `netra_ops`), alternating A, B, A, B for `--rounds` rounds; each run's CPU
(user + system, of that process alone: `os.wait4`) is kept, and the medians and their ratio
are reported. CPU, not wall time: the machine is shared and CPU time is what a busy machine
runs short of.

Run: `.venv/bin/python bench/process_start.py [--baseline a5f1785] [--rounds 15]`;
results are printed and written to bench/results/process_start.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from side_by_side import ROOT, baseline_worktree, write_report

RESULTS = ROOT / "bench" / "results" / "process_start.json"
CASES: dict[str, list[str]] = {
    # what a sandbox revision process imports before it serves
    "sandbox revision (imports)": [
        "-c", "from netra_ops.sandbox.services import backend_app; import uvicorn"],
    # the CLI up to its help text: every command pays this much before its own work
    "netra-ops --help": ["-m", "netra_ops", "--help"],
    # a command that fails on its argument: the one-line error path
    "netra-ops records show (bad id)": ["-m", "netra_ops", "records", "show", "../x"],
    # what `netra-ops run` imports to run a runbook and write its record (target check too)
    "netra-ops run (record path)": [
        "-c", "import netra_ops.cli, netra_ops.playbook, netra_ops.record.runner, "
              "netra_ops.record.target, netra_ops.cloud"],
    # a runbook kernel and its first cell's imports, paid by every runbook run
    "runbook kernel (first cell)": [
        "-c", "import ipykernel.kernelapp; from IPython.display import display; "
              "from netra_ops import metrics, probe; "
              "from netra_ops.record import record, record_each, runbook_setup, verdict"],
}


def cpu_seconds(args: list[str], tree: Path) -> float:
    """User + system CPU of one `python <args>` run with `tree` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    process = subprocess.Popen([sys.executable, *args], cwd=tree, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    return usage.ru_utime + usage.ru_stime


def measure(trees: dict[str, Path], rounds: int) -> dict[str, Any]:
    """Median CPU per case and tree, the runs alternating between the trees."""
    results: dict[str, Any] = {}
    for case, args in CASES.items():
        runs: dict[str, list[float]] = {name: [] for name in trees}
        for tree in trees.values():  # one warm-up each: bytecode, page cache
            cpu_seconds(args, tree)
        for _ in range(rounds):
            for name, tree in trees.items():
                runs[name].append(cpu_seconds(args, tree))
        medians = {name: statistics.median(values) for name, values in runs.items()}
        results[case] = {
            **{f"{name}_cpu_s": round(median, 3) for name, median in medians.items()},
            **{f"{name}_min_max_s": [round(min(v), 3), round(max(v), 3)]
               for name, v in runs.items()},
            "ratio_baseline_to_this": round(medians["baseline"] / medians["this"], 2)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="a5f1785",
                        help="the git revision to compare with (default: before lazy imports)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with baseline_worktree(args.baseline) as baseline:
        results = measure({"this": ROOT, "baseline": baseline}, args.rounds)
    write_report(args.output, args.baseline, args.rounds, cases=results)


if __name__ == "__main__":
    main()
