"""What the side-by-side benchmarks share (`process_start.py`, `suite_cpu.py`): a baseline
revision checked out beside this checkout, and the report each writes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def baseline_worktree(revision: str) -> Iterator[Path]:
    """`revision` checked out into a temporary git worktree, removed afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False, capture_output=True)


def write_report(output: Path, baseline: str, rounds: int, **results: Any) -> None:
    """Write (and print) the report: when, where, this commit against `baseline`, and
    `results`."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    report = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()} python {platform.python_version()}, "
                         f"{os.cpu_count()} cores, load average "
                         f"{os.getloadavg()[0]:.1f} at the end",
              "this": commit, "baseline": baseline, "rounds": rounds, **results}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
