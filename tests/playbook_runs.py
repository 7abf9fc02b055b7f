"""Running the remediation playbook as a user does (`netra-ops run golden_path_remediation
--execute`), and reading what it recorded: shared by the playbook rehearsal modules.

The rehearsals are split across several modules, each with a sandbox of its own, so that
pytest-xdist (`--dist loadfile`) runs them side by side: most of a rehearsal is waiting
(a watch, a quiet window, a revision starting), not computing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2

from netra_ops.config import Environment

ROOT = Path(__file__).resolve().parent.parent
EXIT = {"REMEDIATED": 0, "FAILED": 1, "ROLLED BACK": 6, "HELD": 8}  # as the README says


def play(env: Environment, outputs: Path, incident: str, scenario: str | None,
         *params: str, webhook: str | None = None
         ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the playbook (`-p` for each of `params`; `--webhook env:PLAYBOOK_HOOK` holding
    `webhook` if given); the process and its index.json."""
    args = [sys.executable, "-m", "netra_ops", "run", "golden_path_remediation", "--env",
            str(env.source), "--incident", incident, "--outputs", str(outputs), "--execute"]
    args += ["--scenario", scenario] if scenario else []
    args += ["--webhook", "env:PLAYBOOK_HOOK"] if webhook else []
    for param in params:
        args += ["-p", param]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL,
                          env={**os.environ, "PLAYBOOK_HOOK": webhook or ""})
    index = json.loads((outputs / incident / "index.json").read_text())
    print(incident, next((line for line in done.stdout.splitlines()
                          if line.startswith("outcome:")), "no outcome"))
    return done, index


def serving_images(env: Environment) -> dict[str, str]:
    """Service name -> the image its serving revision runs, as Google's Cloud Run client
    lists the services and reads their revisions."""
    options = {"api_endpoint": env.api_endpoint}
    services = run_v2.ServicesClient(transport="rest", credentials=AnonymousCredentials(),
                                     client_options=options)
    revisions = run_v2.RevisionsClient(transport="rest", credentials=AnonymousCredentials(),
                                       client_options=options)
    found = {}
    for service in services.list_services(parent=f"projects/{env.project}/locations/"
                                                 f"{env.region}"):
        top = max(service.traffic_statuses, key=lambda status: status.percent)
        revision = revisions.get_revision(name=f"{service.name}/revisions/{top.revision}")
        found[service.name.rsplit("/", 1)[-1]] = revision.containers[0].image
    return found


def runbooks(index: dict[str, Any]) -> list[str]:
    """The runbooks the playbook ran, in order."""
    return [r["runbook"] for r in index["runs"]]


def records(index: dict[str, Any], runbook: str) -> dict[str, Any]:
    """What the last run of `runbook` recorded."""
    return next(r for r in reversed(index["runs"]) if r["runbook"] == runbook)["records"]


def outcome(done: subprocess.CompletedProcess[str], expected: str) -> None:
    """The playbook said `expected` and exited with its code."""
    assert f"outcome: {expected}" in done.stdout, done.stdout + done.stderr[-3000:]
    assert done.returncode == EXIT[expected], done.stdout


# The `realistic` rehearsals' durations, short through parameters (one golden-path run in
# 04, one per tick in 07, a 10 s watch, a 5 s seed 4.3 quiet window); its delays are real.
REALISTIC_SHORT = ("04_golden_path_validation.runs=1", "07_monitoring.golden_path_runs=1",
                   "07_monitoring.duration_s=10", "06_rollback.quiet_s=5")
