"""Benchmark: deploy-to-ready and rollback-to-serving on a throwaway sandbox.

Measures, through Google's Cloud Run client against the sandbox's emulation (the same code
path as real staging):
- deploy-to-ready: `deploy(..., execute=True)` from the call to the operation's end, and
  until the backend's stable URL answers from the new revision;
- rollback-to-serving: `rollback(..., execute=True)` from the call until the stable URL
  answers healthy from the old revision (issue 3's target: within 3 s).
Run: `.venv/bin/python bench/deploy_rollback.py [--rounds N]`; results are printed and
written to bench/results/deploy_rollback.json. Times are medians of N rounds, with min and
max: this machine is noisy, so read them side by side, not as absolutes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from netra_ops import load_environment, sandbox
from netra_ops.config import Environment
from netra_ops.deploy import deploy, read_service, rollback
from netra_ops.probe import wait_healthy
from netra_ops.sandbox.ephemeral import write_sandbox_environment

RESULTS = Path(__file__).resolve().parent / "results" / "deploy_rollback.json"


def _image(env: Environment, tag: str) -> str:
    assert env.sandbox is not None
    return env.sandbox.initial_image.rsplit(":", 1)[0] + ":" + tag


def _round(env: Environment, number: int) -> dict[str, float]:
    good = read_service(env).serving_revision
    started = time.perf_counter()
    change = deploy(env, _image(env, f"develop-long-lived-r{number}"), execute=True,
                    deadline_s=60)
    operation_s = time.perf_counter() - started
    assert change.status == "done" and change.new_revision, change.error
    serving = wait_healthy(env.backend.url, within_s=10, interval_s=0.02,
                           expect_revision=change.new_revision)
    deploy_to_serving_s = time.perf_counter() - started
    assert serving.ok, serving.error
    started = time.perf_counter()
    back = rollback(env, to_revision=good, execute=True)
    rollback_operation_s = time.perf_counter() - started
    assert back.status == "done", back.error
    serving = wait_healthy(env.backend.url, within_s=10, interval_s=0.02, expect_revision=good)
    rollback_to_serving_s = time.perf_counter() - started
    assert serving.ok, serving.error
    return {"deploy_operation_s": operation_s, "deploy_to_serving_s": deploy_to_serving_s,
            "rollback_operation_s": rollback_operation_s,
            "rollback_to_serving_s": rollback_to_serving_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="netra-bench-") as folder:
        env = load_environment(write_sandbox_environment(Path(folder)))
        sandbox.up(env)
        try:
            samples = [_round(env, n) for n in range(1, rounds + 1)]
        finally:
            sandbox.down(env)
    summary = {key: {"median": statistics.median(s[key] for s in samples),
                     "min": min(s[key] for s in samples), "max": max(s[key] for s in samples)}
               for key in samples[0]}
    ratio = summary["deploy_to_serving_s"]["median"] / summary["rollback_to_serving_s"]["median"]
    report = {"measured_at": datetime.now(UTC).isoformat(), "rounds": rounds,
              "machine": f"{platform.machine()} {platform.python_version()}",
              "seconds": summary, "deploy_over_rollback_ratio": ratio}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for key, value in summary.items():
        print(f"{key:24} median {value['median']:.3f} s  (min {value['min']:.3f}, "
              f"max {value['max']:.3f})")
    print(f"deploy-to-serving / rollback-to-serving: {ratio:.1f}x")


if __name__ == "__main__":
    main()
