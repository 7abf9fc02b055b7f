"""`netra-ops schedule`: the validation schedule from the command line (thin: parse, call).

Registered in `netra_ops.cli` as a command of the main app. Exit codes as `netra-ops`'s: 0
every validation of this session passed (or cron lines printed), 1 one failed, 2 bad usage
or configuration (the message says what to do), 130 stopped by Ctrl-C, 143 by SIGTERM.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from netra_ops.cli_options import (
    FAILED_EXIT,
    EnvOption,
    OutputsOption,
    sigterm_as_exit,
    usage_errors,
)
from netra_ops.errors import ChangesNotAllowedError, DeployError, ParameterError

if TYPE_CHECKING:  # the schedule package is imported when the command runs
    from netra_ops.schedule import JobsChange, Schedule, ScheduleOutcome, Webhook

__all__ = ["schedule"]

_INTERRUPTED_EXIT = 130
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
    outputs: OutputsOption = None,
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
    deploy_jobs: Annotated[bool, typer.Option(
        "--deploy-jobs", help="Put the schedule on Google Cloud: a Cloud Run job running the "
                              "netra-ops image, a Cloud Scheduler job per cron line of each "
                              "phase (dry run unless --execute).")] = False,
    remove_jobs: Annotated[bool, typer.Option(
        "--remove-jobs", help="Delete the incident's Cloud Run and Cloud Scheduler jobs (dry "
                              "run unless --execute).")] = False,
    execute: Annotated[bool, typer.Option(
        "--execute", help="With --deploy-jobs / --remove-jobs: make the change (allow-listed "
                          "environments only).")] = False,
    image: Annotated[str | None, typer.Option(
        help="With --deploy-jobs: the netra-ops image the job runs. Default: "
             "REGION-docker.pkg.dev/PROJECT/netra/netra-ops:VERSION.")] = None,
    service_account: Annotated[str | None, typer.Option(
        help="With --deploy-jobs: the service account the job runs as and Cloud Scheduler "
             "calls Cloud Run as. Default: netra-ops-jobs@PROJECT.iam.gserviceaccount.com.")
    ] = None,
    webhook_secret: Annotated[str | None, typer.Option(
        help="With --deploy-jobs --webhook env:NAME: the Secret Manager secret[:version] "
             "holding the webhook URL (default: NAME, latest).")] = None,
    due_now: Annotated[bool, typer.Option(
        "--due-now", help="Run the one validation due now (missed ones recorded) and exit; "
                          "nothing when none is due. What each job execution runs.")] = False,
    phase: Annotated[int | None, typer.Option(
        min=1, envvar="NETRA_OPS_PHASE", show_envvar=False,
        help="With --due-now: run only a due time of this phase (1 for the first; set by "
             "each Cloud Scheduler job).")] = None,
) -> None:
    """Run the validation runbooks on the seed's schedule; escalate failures.

    Default cadence: every 30 min for 4 h, every 2 h for 20 h, then daily.

    --print-cron prints the same schedule as cron lines; --deploy-jobs puts it on Cloud Run
    jobs and Cloud Scheduler, --remove-jobs takes it down.
    """
    from netra_ops.config import load_environment
    from netra_ops.record.secret_needs import require_secrets
    from netra_ops.schedule import Scheduler, SystemClock, schedule_cron

    limits = {"cell_timeout_s": cell_timeout, "deadline_s": deadline}
    with usage_errors():
        _one_mode(print_cron=print_cron, deploy_jobs=deploy_jobs, remove_jobs=remove_jobs,
                  due_now=due_now, execute=execute)
        if remove_jobs:
            _report_change(_remove_jobs(incident, env, execute), env, incident)
        if deploy_jobs:
            plan = _schedule(incident, env, cadence, runbooks, start, parameter or [],
                             outputs, limits)
            change = _deploy_jobs(plan, env, image, service_account, webhook,
                                  webhook_secret, execute)
            _report_change(change, env, incident)
        plan, hook = _plan(incident, env, cadence, runbooks, start, parameter or [], outputs,
                           limits, webhook, webhook_timeout)
        if print_cron:
            typer.echo("\n".join(schedule_cron(plan, SystemClock().now())))
            return
        require_secrets(load_environment(env), [(v.runbook, v.parameters)
                                                for v in plan.validations])
        with sigterm_as_exit(_RESUMES):
            try:
                scheduler = Scheduler(plan, webhook=hook)
                outcome = (scheduler.run_due(phase) if due_now
                           else scheduler.run(max_runs=max_runs))
            except KeyboardInterrupt:
                typer.echo(_RESUMES, err=True)
                raise typer.Exit(_INTERRUPTED_EXIT) from None
    _report(outcome, due_now=due_now)


def _one_mode(*, execute: bool, **modes: bool) -> None:
    chosen = [name for name, on in modes.items() if on]
    if len(chosen) > 1:
        flags = " and ".join("--" + name.replace("_", "-") for name in chosen)
        raise ParameterError(f"{flags} do different things; give one of them")
    if execute and not ({"deploy_jobs", "remove_jobs"} & set(chosen)):
        raise ParameterError("--execute goes with --deploy-jobs or --remove-jobs (a "
                             "schedule run by this command validates without it)")


def _deploy_jobs(plan: Schedule, env_name: str, image: str | None,
                 service_account: str | None, webhook: str | None, secret: str | None,
                 execute: bool) -> JobsChange:
    """Plan the jobs, print the plan, create them with `execute`."""
    import pandas as pd

    from netra_ops import __version__
    from netra_ops.config import load_environment
    from netra_ops.schedule import (
        default_image,
        default_service_account,
        deploy_jobs,
        plan_jobs,
        webhook_secret,
    )

    env = load_environment(env_name)
    jobs = plan_jobs(env, plan, image=image or default_image(env, __version__),
                     service_account=service_account or default_service_account(env),
                     webhook=webhook_secret(webhook, secret), now=datetime.now(UTC))
    with pd.option_context("display.max_colwidth", 400, "display.width", 400):
        typer.echo(jobs.to_frame().to_string(index=False))
    typer.echo(f"\nstart:   {jobs.start.isoformat()} (each trigger validates the due time "
               f"it stands for)\nrecords: {jobs.records}")
    for note in jobs.notes:
        typer.echo(f"note:    {note}")
    return _changing(lambda: deploy_jobs(env, jobs, execute=execute))


def _remove_jobs(incident: str, env_name: str, execute: bool) -> JobsChange:
    from netra_ops.config import load_environment
    from netra_ops.record.parameters import check_incident
    from netra_ops.schedule import remove_jobs

    env = load_environment(env_name)
    return _changing(lambda: remove_jobs(env, check_incident(incident), execute=execute))


def _changing(call: Callable[[], JobsChange]) -> JobsChange:
    """A refused call to Google exits 1 with its message; bad configuration (not
    allow-listed) stays a usage error (2)."""
    try:
        return call()
    except ChangesNotAllowedError:
        raise
    except DeployError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(FAILED_EXIT) from None


def _report_change(change: JobsChange, env_name: str, incident: str) -> NoReturn:
    import pandas as pd

    from netra_ops.config import load_environment
    from netra_ops.schedule import list_jobs

    typer.echo("")
    for step in change.steps or ["(nothing to do)"]:
        typer.echo(("" if change.executed else "plan: ") + step)
    if not change.executed:
        typer.echo(f"\ndry run: nothing changed; --execute {change.action}s the jobs")
        raise typer.Exit(0)
    listed = list_jobs(load_environment(env_name), incident)
    with pd.option_context("display.max_colwidth", 120, "display.width", 250):
        typer.echo("\n" + (listed.to_string(index=False) if not listed.empty
                           else f"no jobs of incident {incident} remain"))
    raise typer.Exit(0)


def _plan(incident: str, env: str, cadence: str, runbooks: str, start: str | None,
          parameters: list[str], outputs: str | None,
          limits: dict[str, float | None], webhook: str | None,
          webhook_timeout: float) -> tuple[Schedule, Webhook | None]:
    """The Schedule and the Webhook (or None) the options describe, all checked."""
    from netra_ops.schedule import Webhook
    from netra_ops.schedule import webhook_url as find_webhook_url

    plan = _schedule(incident, env, cadence, runbooks, start, parameters, outputs, limits)
    url = find_webhook_url(webhook)
    return plan, Webhook(url, timeout_s=webhook_timeout, label="escalation") if url else None


def _schedule(incident: str, env: str, cadence: str, runbooks: str, start: str | None,
              parameters: list[str], outputs: str | None,
              limits: dict[str, float | None]) -> Schedule:
    """The Schedule the options describe, checked (the environment loads)."""
    from netra_ops.config import load_environment
    from netra_ops.record import parse_parameter
    from netra_ops.record.incident import check_incident
    from netra_ops.schedule import Schedule, parse_cadence, plan_validations

    load_environment(env)
    overrides = dict(parse_parameter(p, scoped=True) for p in parameters)
    names = [name.strip() for name in runbooks.split(",") if name.strip()]
    return Schedule(incident=check_incident(incident), environment=env,
                    validations=plan_validations(names, overrides),
                    cadence=parse_cadence(cadence), start=_start(start),
                    outputs_dir=outputs, cell_timeout_s=limits["cell_timeout_s"],
                    deadline_s=limits["deadline_s"])


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


def _report(outcome: ScheduleOutcome, *, due_now: bool = False) -> NoReturn:
    import pandas as pd

    frame = outcome.to_frame()
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        typer.echo(frame.to_string(index=False) if not frame.empty else "(no due time reached)")
    typer.echo(f"\nstate: {outcome.state_file}")
    typer.echo(("nothing due now" if not outcome.slots else "the validation due now ran")
               if due_now and not outcome.stopped else "schedule complete" if outcome.finished else
               f"stopped ({outcome.stopped}); {_RESUMES.split('; ')[1]}" if outcome.stopped
               else "stopped after --max-runs")
    raise typer.Exit(outcome.exit_code)

