"""`netra-ops`: a thin command line over the library; it parses, calls, maps errors to exits.

Exit codes: 0 success; 1 the runbook's verdict failed or a probe failed; 2 bad usage,
configuration or sandbox state (the message says what to do); 3-5 a runbook run broke
(cell error, cell timeout, dead kernel), 7 it passed its --deadline, 130 / 143 it was
interrupted / terminated, as `netra_ops.record.RunResult.exit_code` says. A playbook exits
with its outcome: 0 remediated, 1 failed, 6 rolled back (the rollback validated), 8 held
(`netra_ops.playbook.PLAYBOOK_EXIT_CODES`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from netra_ops.cli_build import build
from netra_ops.cli_doctor import doctor
from netra_ops.cli_options import USAGE_EXIT, EnvOption, OutputsOption
from netra_ops.cli_schedule import schedule
from netra_ops.cli_watch import watch
from netra_ops.config import ENVIRONMENT_VARIABLE, Environment, load_environment
from netra_ops.errors import NetraOpsError, RunStopped
from netra_ops.logs_setup import configure_logging

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["app"]

# jsonschema (nbformat validates every notebook with it) imports rfc3987-syntax when it is
# installed (jupyter-events asks for it) to check the "iri" string format, and that module
# compiles a Lark grammar on import: 0.9 s of CPU in every command that runs a notebook, a
# tenth of a short runbook's run. No schema netra-ops validates uses that format (nbformat's
# has none), so this process, ours from start to end, goes without it: jsonschema skips an
# optional checker whose import fails.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

# Click's plain help (rich_markup_mode=None): typer's rich panels show every flag with a
# `<bool>` type (`--verbose -v <bool>`), as if it took a value; click shows `-v, --verbose`.
app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  add_completion=False,
                  help="Runbooks and a local staging sandbox for Netra's Golden Path.")
sandbox_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                          help="The local staging sandbox on loopback.")
probe_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        help="Ask the live system one question.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(probe_app, name="probe")
records_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                          help="Incident records under outputs/.")
app.add_typer(records_app, name="records")
app.command()(schedule)
app.command()(watch)
app.command()(doctor)
app.command()(build)



def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(USAGE_EXIT)


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Turn a NetraOpsError into its one-line message and exit code 2."""
    try:
        yield
    except NetraOpsError as exc:
        _fail(str(exc))


def _table(rows: pd.DataFrame | list[dict[str, Any]]) -> None:
    """A table on stdout (a frame, or its rows); `(none)` when empty."""
    import pandas as pd  # here, not at the top: a command without a table goes without it

    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        typer.echo(frame.to_string(index=False) if not frame.empty else "(none)")


def _environment(name: str) -> Environment:
    with _clear_errors():
        return load_environment(name)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="DEBUG log lines, and the HTTP clients' own.")] = False) -> None:
    configure_logging(verbose)


@app.command()
def run(
    notebook: Annotated[str, typer.Argument(
        help="Runbook (04_golden_path_validation), playbook (golden_path_remediation), "
             "or a path to either.")],
    incident: Annotated[str, typer.Option("--incident", "-i", help="Incident id.")],
    env: EnvOption = "sandbox",
    parameter: Annotated[list[str] | None, typer.Option(
        "--parameter", "-p", help="Parameter as key=value (repeatable); in a playbook, "
                                  "runbook.key=value for one runbook.")] = None,
    outputs: OutputsOption = None,
    cell_timeout: Annotated[float | None, typer.Option(
        help="Seconds one cell may run before the run is stopped.")] = None,
    deadline: Annotated[float | None, typer.Option(
        help="Seconds a whole runbook run may take (each step's, in a playbook).")] = None,
    execute: Annotated[bool, typer.Option(
        "--execute", help="Playbooks: let the deploy and rollback steps change the "
                          "environment (otherwise they only plan).")] = False,
    scenario: Annotated[str | None, typer.Option(
        help="Playbooks on the sandbox: stage a scenario first (stale-to-fixed, ...).")] = None,
    start_from: Annotated[str | None, typer.Option(
        "--from", help="Playbooks: resume at this phase (runbook name).")] = None,
    with_steps: Annotated[list[str] | None, typer.Option(
        "--with", help="Playbooks: also run this optional step (05_performance or 05; "
                       "repeatable).")] = None,
    webhook: Annotated[str | None, typer.Option(
        help="Playbooks: notify this chat webhook at each phase, escalation and outcome: "
             "URL, or env:NAME / file:PATH holding it (keeps the token out of the process "
             "list). Default: $NETRA_OPS_WEBHOOK_URL.")] = None,
    webhook_format: Annotated[str, typer.Option(
        help="Playbooks: auto (by the webhook's host), slack, google-chat or json.")
    ] = "auto",
) -> None:
    """Execute a runbook, or a playbook of runbooks, headless into an incident record."""
    from netra_ops.playbook import is_playbook
    from netra_ops.record import parse_parameter

    playbook = is_playbook(notebook)
    with _clear_errors():
        parameters = dict(parse_parameter(p, scoped=playbook) for p in parameter or [])
        environment = load_environment(env)
    if playbook:
        _run_playbook(notebook, environment, env, incident, parameters, outputs,
                      {"cell_timeout_s": cell_timeout, "deadline_s": deadline},
                      execute, scenario, start_from,
                      {"with_steps": with_steps or [], "webhook": webhook,
                       "webhook_format": webhook_format})
    if execute or scenario or start_from or with_steps or webhook:
        _fail("--execute, --scenario, --from, --with and --webhook are for playbooks; a "
              "runbook takes -p execute=true")
    _run_runbook(notebook, env, incident, parameters, outputs,
                 {"cell_timeout_s": cell_timeout, "deadline_s": deadline})


def _run_runbook(notebook: str, env: str, incident: str, parameters: dict[str, object],
                 outputs: str | None, limits: dict[str, float | None]) -> NoReturn:
    from netra_ops.record import RunResult, run_notebook
    from netra_ops.record.terminal import terminal_progress

    with _clear_errors(), terminal_progress() as progress:
        try:
            result = run_notebook(notebook, environment=env, incident=incident,
                                  parameters=parameters, outputs_dir=outputs,
                                  cell_timeout_s=limits["cell_timeout_s"],
                                  deadline_s=limits["deadline_s"], check_target=True,
                                  progress=progress)
        except RunStopped as stopped:
            if not isinstance(stopped.result, RunResult):
                raise
            result = stopped.result
    typer.echo(f"record:  {result.record_dir}")
    typer.echo(f"html:    {result.html_path}")
    typer.echo(f"verdict: {result.status.upper()}"
               + _failure_detail(result.summary.get("failing_cell")))
    raise typer.Exit(result.exit_code)


def _run_playbook(name: str, environment: Environment, env: str, incident: str,
                  parameters: dict[str, object], outputs: str | None,
                  limits: dict[str, float | None], execute: bool, scenario: str | None,
                  start_from: str | None, options: dict[str, Any]) -> NoReturn:
    from netra_ops.cli_scenarios import rehearsal, stage_rehearsal
    from netra_ops.notify import Webhook, resolve_format, webhook_url
    from netra_ops.playbook import run_playbook
    from netra_ops.record.terminal import terminal_progress

    with _clear_errors(), terminal_progress() as progress:
        if scenario is not None:
            rehearsal(scenario, name)  # a sandbox state or an unknown name: every valid one
        url = webhook_url(options["webhook"])
        resolve_format(options["webhook_format"], "")  # a bad format fails before any step
        hook = Webhook(url, attempts=3, deadline_s=30.0, label="notification") if url else None
        result = run_playbook(name, environment=env, incident=incident, execute=execute,
                              parameters=parameters, scenario=scenario, start_from=start_from,
                              outputs_dir=outputs, stage=stage_rehearsal(environment),
                              cell_timeout_s=limits["cell_timeout_s"],
                              deadline_s=limits["deadline_s"],
                              with_steps=options["with_steps"], webhook=hook,
                              webhook_format=options["webhook_format"], progress=progress)
    _table(result.to_frame())
    if result.incident_dir is not None:
        typer.echo(f"\nindex:   {result.incident_dir / 'index.html'}")
    branch = f" (branch {result.branch_taken} taken)" if result.branch_taken else ""
    typer.echo(f"outcome: {result.outcome}{branch} in {result.duration_s:.1f} s "
               f"(exit {result.exit_code})")
    typer.echo(f"reason:  {result.reason}")
    raise typer.Exit(result.exit_code)


def _failure_detail(failing: dict[str, object] | None) -> str:
    if not failing:
        return ""
    return f" (cell {failing.get('index')}: {failing.get('ename')}: {failing.get('evalue')})"


@sandbox_app.command("up")
def sandbox_up(
    env: EnvOption = "sandbox",
    scenario: Annotated[str | None, typer.Option(
        help="Start with a scenario preset serving (see: netra-ops sandbox scenarios).")] = None,
) -> None:
    """Start the sandbox (idempotent) and print its URLs once everything is healthy."""
    from netra_ops import sandbox

    environment = _environment(env)
    with _clear_errors():
        state = sandbox.up(environment, scenario=scenario)
    _print_status(state)


@sandbox_app.command("down")
def sandbox_down(env: EnvOption = "sandbox") -> None:
    """Stop every sandbox process (by recorded pid) and wait until its ports are free."""
    from netra_ops import sandbox

    environment = _environment(env)
    with _clear_errors():
        stopped = sandbox.down(environment)
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@sandbox_app.command("status")
def sandbox_status(env: EnvOption = "sandbox") -> None:
    """Show services, revisions, traffic and pids; exit 1 when the sandbox is not running."""
    from netra_ops import sandbox

    environment = _environment(env)
    with _clear_errors():
        state = sandbox.status(environment)
    _print_status(state)
    if not state.running:
        raise typer.Exit(1)


@sandbox_app.command("logs")
def sandbox_logs(
    role: Annotated[str, typer.Argument(
        help="auth, frontend, platform, requests, or a revision name.")] = "platform",
    env: EnvOption = "sandbox",
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
) -> None:
    """Print the last lines of a sandbox process's log."""
    from netra_ops import sandbox

    environment = _environment(env)
    with _clear_errors():
        typer.echo(sandbox.logs(environment, role, lines=lines), nl=False)


@sandbox_app.command("scenarios")
def sandbox_scenarios(env: EnvOption = "sandbox") -> None:
    """Every scenario: the playbook's rehearsals (the outcome each ends in) and the sandbox
    states (a build and its faults); `sandbox scenario NAME` stages either."""
    from netra_ops.cli_scenarios import describe_scenarios

    _environment(env)
    with _clear_errors():
        typer.echo(describe_scenarios())


@sandbox_app.command("scenario")
def sandbox_scenario(
    name: Annotated[str, typer.Argument(help="Scenario (netra-ops sandbox scenarios).")],
    env: EnvOption = "sandbox",
) -> None:
    """Stage a scenario in the running sandbox: a sandbox state's revision, sent all traffic,
    or what serves before a rehearsal starts (then: netra-ops rehearse NAME)."""
    from netra_ops import sandbox
    from netra_ops.cli_scenarios import rehearsal, scenario_kind, stage_rehearsal

    environment = _environment(env)
    with _clear_errors():
        if scenario_kind(name) == "rehearsal":
            stage_rehearsal(environment)(rehearsal(name))
            typer.echo(f"scenario {name}: staged what serves before the rehearsal; run it "
                       f"with: netra-ops rehearse {name} (or make rehearse SCENARIO={name})")
            return
        revision = sandbox.apply_scenario(environment, name)
    typer.echo(f"scenario {name}: revision {revision.get('name')} is {revision.get('state')}"
               + (f" ({revision.get('reason')})" if revision.get("reason") else ""))
    if revision.get("state") != "ready":
        raise typer.Exit(1)


@sandbox_app.command("push")
def sandbox_push(
    tag: Annotated[str, typer.Argument(help="The tag a new build is pushed under.")],
    service: Annotated[str, typer.Option(help="backend, auth or frontend.")] = "backend",
    env: EnvOption = "sandbox",
) -> None:
    """Simulate a new build under TAG: the tag moves to a new digest in the sandbox's
    Artifact Registry (deployed revisions keep the digest they resolved)."""
    from netra_ops import sandbox

    if service not in ("backend", "auth", "frontend"):
        typer.echo(f"--service must be backend, auth or frontend, got {service!r}", err=True)
        raise typer.Exit(2)
    environment = _environment(env)
    with _clear_errors():
        pushed = sandbox.push(environment, tag, service=service)  # type: ignore[arg-type]
    typer.echo(f"pushed {pushed['image']}: {pushed['digest']} (was "
               f"{pushed['previous_digest'] or 'not pushed before'})")


def _print_status(state: object) -> None:
    from netra_ops.sandbox import SandboxStatus

    assert isinstance(state, SandboxStatus)
    typer.echo(state.describe())


@probe_app.command("health")
def probe_health(env: EnvOption = "sandbox") -> None:
    """Health of backend, auth and frontend; exit 1 unless all are healthy."""
    from netra_ops import probe

    checks = probe.check_services(_environment(env))
    _table(checks.to_frame()[["role", "url", "ok", "status_code", "latency_ms", "error"]])
    if not checks.ok:
        raise typer.Exit(1)


@probe_app.command("golden-path")
def probe_golden_path(
    env: EnvOption = "sandbox",
    runs: Annotated[int, typer.Option(min=1, help="How many runs.")] = 1,
    message: Annotated[str | None, typer.Option(help="The user message to send.")] = None,
) -> None:
    """Login -> WebSocket -> message -> five events; exit 1 unless every run passed."""
    from netra_ops import probe

    environment = _environment(env)
    with _clear_errors():
        results = [probe.golden_path(environment, message=message or probe.DEFAULT_MESSAGE)
                   for _ in range(runs)]
    _table(probe.results_table(results)[["run", "ok", "events", "total_ms", "error"]])
    if results[-1].final_response:
        typer.echo(f"\nanswer: {results[-1].final_response}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@probe_app.command("urls")
def probe_urls(env: EnvOption = "sandbox") -> None:
    """The backend's AUTH_SERVICE_URL / FRONTEND_URL against Cloud Run's URLs of those
    services, and the revision health names against the serving one; exit 1 on a mismatch."""
    from netra_ops import probe

    result = probe.service_urls(_environment(env))
    _table([{"criterion": c.name, "passed": c.ok, "detail": c.detail}
            for c in result.checks])  # each fix in full below, not cut at 80
    for check in result.checks:
        if not check.ok and check.fix:
            typer.echo(f"fix ({check.name}): {check.fix}")
    if not result.ok:
        raise typer.Exit(1)


@records_app.command("list")
def records_list(outputs: OutputsOption = None) -> None:
    """The incidents on record, with their last runbook and status."""
    from netra_ops.record import list_incidents
    from netra_ops.record.incident import outputs_root

    if not outputs_root(outputs).is_dir():
        _fail(f"no records folder {outputs_root(outputs)}: runs write there (netra-ops run "
              f"...); pass --outputs or set NETRA_OPS_OUTPUTS to read another")
    _table(list_incidents(outputs))


@records_app.command("show")
def records_show(incident: Annotated[str, typer.Argument(help="Incident id.")],
                 outputs: OutputsOption = None) -> None:
    """Every run of an incident: runbook, status, duration, failing cell, record folder."""
    from netra_ops.record import incident_dir, incident_runs

    with _clear_errors():
        folder = incident_dir(incident, outputs)
    _table([{"started_at": r.started_at, "runbook": r.runbook, "status": r.status,
             "exit": r.exit_code, "duration_s": round(r.duration_s, 1), "folder": r.folder}
            for r in incident_runs(folder)])
    typer.echo(f"\nindex: {folder / 'index.html'}")


@records_app.command("verify")
def records_verify(
    incident: Annotated[str, typer.Argument(help="Incident id.")],
    outputs: OutputsOption = None,
    env: Annotated[str | None, typer.Option(
        "--env", "-e", envvar=ENVIRONMENT_VARIABLE,
        help="Also look for this environment's secret values; its records_url is where the "
             "records are when --outputs and $NETRA_OPS_OUTPUTS are not given.")] = None,
    expect: Annotated[list[str] | None, typer.Option(
        "--expect", help="A manifest's SHA-256 kept elsewhere (a notification, a ticket, an "
        "earlier verify): it must still be the incident's or one of its runs' (repeatable)."
    )] = None,
) -> None:
    """Check every file of an incident against its SHA-256 manifests (the incident's and
    each run's, whose digest the index keeps) and scan for secrets; exit 1 if anything
    changed, is missing, unlisted, a manifest was rewritten, or a secret is found."""
    from netra_ops.record import incident_dir, verify_incident
    from netra_ops.record.runner import known_secrets

    expected = tuple(digest.strip().lower() for digest in expect or [])
    if bad := [d for d in expected if not re.fullmatch(r"[0-9a-f]{64}", d)]:
        _fail(f"--expect {bad[0]!r} is not a SHA-256 digest (64 hex digits); copy it from "
              f"the notification or from an earlier `records verify`")
    with _clear_errors():
        folder = incident_dir(incident, outputs, env)
        secrets = tuple(known_secrets(env)) if env else ()
    report = verify_incident(folder, secrets, expected)
    if report.ok:
        typer.echo(f"ok: {report.files} files match the manifest, no secrets found "
                   f"(manifest sha256 {report.manifest_digest})")
        return
    _table(report.to_frame())
    raise typer.Exit(1)


@app.command()
def rehearse(
    scenario: Annotated[str, typer.Argument(
        help="A rehearsal of the remediation playbook (netra-ops sandbox scenarios).")],
    env: EnvOption = "sandbox",
    incident: Annotated[str | None, typer.Option(
        "--incident", "-i", help="Incident id (default: rehearsal-SCENARIO).")] = None,
    parameter: Annotated[list[str] | None, typer.Option(
        "--parameter", "-p", help="As run's: key=value or runbook.key=value.")] = None,
    outputs: OutputsOption = None,
) -> None:
    """Rehearse a scenario of the remediation playbook on the sandbox, for real (--execute):
    exit 0 when it ends as the scenario expects (REMEDIATED, ROLLED BACK or HELD), 1 when
    it does not, 2 for bad usage; 130 / 143 when stopped."""
    from netra_ops.cli_scenarios import REHEARSED_PLAYBOOK, rehearsal
    from netra_ops.playbook import PLAYBOOK_EXIT_CODES

    with _clear_errors():
        expected = rehearsal(scenario).expect
    try:
        run(REHEARSED_PLAYBOOK, incident=incident or f"rehearsal-{scenario}", env=env,
            parameter=parameter, outputs=outputs, cell_timeout=None, deadline=None,
            execute=True, scenario=scenario, start_from=None)
    except typer.Exit as ended:
        code = ended.exit_code
    reached = {exit_code: status for status, exit_code in PLAYBOOK_EXIT_CODES.items()
               }.get(code)
    if reached not in ("remediated", "rolled_back", "held", "failed"):
        raise typer.Exit(code)  # bad usage, or stopped by a signal: already said
    shown = str(reached).replace("_", " ").upper()
    if expected is None or reached == expected:
        typer.echo(f"rehearsal {scenario}: {shown}"
                   + (", as the scenario expects" if expected else ""))
        raise typer.Exit(0 if expected or reached != "failed" else 1)
    typer.echo(f"rehearsal {scenario}: {shown}, but the scenario expects "
               f"{expected.replace('_', ' ').upper()}")
    raise typer.Exit(1)


def main() -> None:
    """Entry point for `python -m netra_ops`."""
    app()
