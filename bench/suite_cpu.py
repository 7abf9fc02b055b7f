"""Benchmark: the CPU a set of test modules takes in one pytest process (as in one xdist
worker), this checkout against a baseline revision, side by side in one run.

For changes to the suite's own machinery (tests/conftest.py, the test helpers), which
`bench/process_start.py` does not see. The modules (`--modules`, default: three that start
no sandbox and run in under a minute) run with `python -m pytest -q -p no:cacheprovider` in
each tree: the baseline is a git revision checked out into a temporary worktree and put
first on PYTHONPATH, so the same venv runs that revision's tests and `netra_ops`. The runs
alternate A, B, A, B for `--rounds` rounds, after one `--collect-only` in each tree that
writes their bytecode; each run's CPU (user + system of pytest and every process it waited
for: `os.wait4`) is kept, and the medians and their ratio are reported. A run that fails is
an error: only passing suites are compared.

Run: `.venv/bin/python bench/suite_cpu.py [--baseline c59487b] [--rounds 2]`; results are
printed and written to bench/results/suite_cpu.json.
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

RESULTS = ROOT / "bench" / "results" / "suite_cpu.json"
MODULES = ["tests/probe/test_health_hostile.py", "tests/test_public_api.py",
           "tests/record/test_incident_records.py"]


def pytest_cpu(tree: Path, args: list[str]) -> float:
    """User + system CPU of `python -m pytest <args>` in `tree`, children included."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": ""}
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                *args], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pytest {' '.join(args)} failed in {tree}: run it there to see why")
    return usage.ru_utime + usage.ru_stime


def measure(trees: dict[str, Path], modules: list[str], rounds: int) -> dict[str, Any]:
    """Median CPU per tree, the runs alternating between the trees."""
    for tree in trees.values():
        pytest_cpu(tree, ["--collect-only", *modules])
    runs: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            runs[name].append(pytest_cpu(tree, modules))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    return {**{f"{name}_cpu_s": round(median, 2) for name, median in medians.items()},
            **{f"{name}_runs_s": [round(v, 2) for v in values] for name, values in runs.items()},
            "ratio_baseline_to_this": round(medians["baseline"] / medians["this"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="c59487b",
                        help="the git revision to compare with (default: before the GC freeze)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modules", nargs="+", default=MODULES)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with baseline_worktree(args.baseline) as baseline:
        results = measure({"this": ROOT, "baseline": baseline}, args.modules, args.rounds)
    write_report(args.output, args.baseline, args.rounds, modules=args.modules,
                 result=results)


if __name__ == "__main__":
    main()
