"""`netra-ops schedule`: the validation schedule from the command line (thin: parse, call).

Registered in `netra_ops.cli` as a command of the main app. Exit codes as `netra-ops`'s: 0
every validation of this session passed (or cron lines printed), 1 one failed, 2 bad usage
or configuration (the message says what to do), 130 stopped by Ctrl-C, 143 by SIGTERM.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from netra_ops.cli_options import USAGE_EXIT, EnvOption
from netra_ops.errors import NetraOpsError, ParameterError

if TYPE_CHECKING:  # the schedule package is imported when the command runs
    from netra_ops.schedule import Schedule, ScheduleOutcome, Webhook

__all__ = ["schedule"]

_INTERRUPTED_EXIT = 130
_TERMINATED_EXIT = 143
_RESUMES = "stopped; started again, the schedule resumes from its state file"
# Copies of netra_ops.schedule's DEFAULT_RUNBOOKS and DEFAULT_CADENCE (for --help without
# importing the package; a test keeps them equal).
_DEFAULT_RUNBOOKS = "04_golden_path_validation,07_monitoring"
_DEFAULT_CADENCE = "30m for 4h, 2h for 20h, 1d"


def schedule(
    incident: Annotated[str, typer.Option("--incident", "-i", help="Incident id.")],
    env: EnvOption = "sandbox",
    cadence: Annotated[str, typer.Option(
        help="Phases 'INTERVAL for DURATION', comma separated; the last may be open-ended. "
             "Units s, m, h, d, w.")] = _DEFAULT_CADENCE,
    runbooks: Annotated[str, typer.Option(
        help="Runbooks (names or paths) each validation runs, in order, comma separated.")
    ] = _DEFAULT_RUNBOOKS,
    start: Annotated[str | None, typer.Option(
        help="When the schedule starts (the deployment): ISO 8601 time or 'now'. Default: "
             "the start in the incident's schedule.json, else now.")] = None,
    parameter: Annotated[list[str] | None, typer.Option(
        "--parameter", "-p", help="key=value for every runbook declaring key, or "
                                  "runbook.key=value for one (repeatable).")] = None,
    outputs: Annotated[Path | None, typer.Option(
        "--outputs", help="Records folder (default $NETRA_OPS_OUTPUTS or ./outputs).")] = None,
    cell_timeout: Annotated[float | None, typer.Option(
        help="Seconds one cell may run before that run is stopped.")] = None,
    deadline: Annotated[float | None, typer.Option(
        help="Seconds one runbook run may take in all before it is stopped (a hung run "
             "otherwise holds up the schedule: later due times are skipped).")] = None,
    webhook: Annotated[str | None, typer.Option(
        help="Escalation webhook: URL, or env:NAME / file:PATH holding it (keeps the token "
             "out of the process list). Default: $NETRA_OPS_WEBHOOK_URL.")] = None,
    webhook_timeout: Annotated[float, typer.Option(
        min=0.1, help="Seconds each webhook attempt may take.")] = 5.0,
    max_runs: Annotated[int | None, typer.Option(
        min=1, help="Stop after this many validations (default: until the cadence ends).")
    ] = None,
    print_cron: Annotated[bool, typer.Option(
        "--print-cron", help="Print equivalent crontab lines instead of running.")] = False,
) -> None:
    """Run the validation runbooks on the seed's schedule; escalate failures.

    Default cadence: every 30 min for 4 h, every 2 h for 20 h, then daily.

    --print-cron prints the same schedule as cron lines.
    """
    from netra_ops.config import load_environment
    from netra_ops.record.secret_needs import require_secrets
    from netra_ops.schedule import Scheduler, SystemClock, schedule_cron

    with _usage_errors():
        plan, hook = _plan(incident, env, cadence, runbooks, start, parameter or [], outputs,
                           {"cell_timeout_s": cell_timeout, "deadline_s": deadline},
                           webhook, webhook_timeout)
        if print_cron:
            typer.echo("\n".join(schedule_cron(plan, SystemClock().now())))
            return
        require_secrets(load_environment(env), [(v.runbook, v.parameters)
                                                for v in plan.validations])
        with _sigterm_as_exit():
            try:
                outcome = Scheduler(plan, webhook=hook).run(max_runs=max_runs)
            except KeyboardInterrupt:
                typer.echo(_RESUMES, err=True)
                raise typer.Exit(_INTERRUPTED_EXIT) from None
    _report(outcome)


def _plan(incident: str, env: str, cadence: str, runbooks: str, start: str | None,
          parameters: list[str], outputs: Path | None,
          limits: dict[str, float | None], webhook: str | None,
          webhook_timeout: float) -> tuple[Schedule, Webhook | None]:
    """The Schedule and the Webhook (or None) the options describe, all checked."""
    from netra_ops.config import load_environment
    from netra_ops.record import parse_parameter
    from netra_ops.record.incident import check_incident
    from netra_ops.schedule import Schedule, Webhook, parse_cadence, plan_validations
    from netra_ops.schedule import webhook_url as find_webhook_url

    load_environment(env)
    overrides = dict(parse_parameter(p, scoped=True) for p in parameters)
    names = [name.strip() for name in runbooks.split(",") if name.strip()]
    plan = Schedule(incident=check_incident(incident), environment=env,
                    validations=plan_validations(names, overrides),
                    cadence=parse_cadence(cadence), start=_start(start),
                    outputs_dir=outputs, **limits)
    url = find_webhook_url(webhook)
    return plan, Webhook(url, timeout_s=webhook_timeout, label="escalation") if url else None


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ParameterError(f"--start {text!r} is not an ISO 8601 time; e.g. "
                             f"2025-01-11T14:10:00+00:00, or 'now'") from None
    return when if when.tzinfo else when.astimezone()  # a naive time is local time


def _report(outcome: ScheduleOutcome) -> NoReturn:
    import pandas as pd

    frame = outcome.to_frame()
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        typer.echo(frame.to_string(index=False) if not frame.empty else "(no due time reached)")
    typer.echo(f"\nstate: {outcome.state_file}")
    typer.echo("schedule complete" if outcome.finished else
               f"stopped ({outcome.stopped}); {_RESUMES.split('; ')[1]}" if outcome.stopped
               else "stopped after --max-runs")
    raise typer.Exit(outcome.exit_code)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """A NetraOpsError becomes its one-line message and exit code 2."""
    try:
        yield
    except NetraOpsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(USAGE_EXIT) from None


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM between runs (a service manager stopping us) exits 143 through the
    scheduler's clean-up (lock released, state saved); during a run, run_notebook handles it
    and the scheduler stops after recording the run."""
    def stop(signum: int, frame: FrameType | None) -> None:
        typer.echo(_RESUMES, err=True)
        raise SystemExit(_TERMINATED_EXIT)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
