"""`netra-ops doctor`: check an environment before the first real run (thin: parse, call, print).

Registered in `netra_ops.cli` as a command of the main app. Prints one row per check (pass /
fail / skipped, the detail, the fix for each row that did not pass), or the report as JSON
with `--json`. Exit codes as `netra-ops`'s: 0 every check passed or was skipped, 1 a check
failed (a bad environment file is a failed check, not a crash), 2 bad usage.
"""

from __future__ import annotations

import json
import shutil
from typing import Annotated

import typer

from netra_ops.cli_options import FAILED_EXIT, EnvOption

__all__ = ["doctor"]



def doctor(
    env: EnvOption = "sandbox",
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the report as JSON (one object: environment, ok, counts, "
                       "checks).")] = False,
    timeout: Annotated[float, typer.Option(
        min=0.5, help="Seconds each API call and each URL check may take.")] = 10.0,
) -> None:
    """Check an environment: file, secrets, credentials, APIs, IAM permissions per runbook,
    allow-listing and the services' URLs; each row says how to fix it. Exit 1 if any fails."""
    from netra_ops.doctor import doctor as run_doctor

    report = run_doctor(env, timeout_s=timeout)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(report.to_text(width=max(shutil.get_terminal_size((120, 24)).columns, 80)))
    if not report.ok:
        raise typer.Exit(FAILED_EXIT)
