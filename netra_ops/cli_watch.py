"""`netra-ops watch`: the post-deployment watch from the command line (thin: parse, call).

Registered in `netra_ops.cli`. Exit codes: 0 the watch ended stable ("System stable"), 1 it
ended not stable (a validation failed, a trigger fired and was escalated), 6 a trigger
rolled back, 2 bad usage or configuration (nothing ran; the message says what to do), 130
stopped by Ctrl-C, 143 by SIGTERM (started again, it resumes).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from netra_ops.cli_options import EnvOption, OutputsOption, sigterm_as_exit, usage_errors
from netra_ops.errors import ParameterError

__all__ = ["watch"]

_INTERRUPTED_EXIT = 130
_RESUMES = "watch stopped; started again with the same incident, it resumes where it was"


def watch(
    incident: Annotated[str, typer.Option("--incident", "-i", help="Incident id.")],
    env: EnvOption = "sandbox",
    hours: Annotated[float, typer.Option(help="How long to watch (watch time).")] = 24.0,
    time_scale: Annotated[float, typer.Option(
        help="Rehearsal: watch time runs this many times faster than the wall clock "
             "(1440: 24 h in a minute of watching). Stated in every record.")] = 1.0,
    rollback_window: Annotated[float | None, typer.Option(
        help="Hours after the start during which a firing trigger rolls back (later: "
             "escalated only). Default: the whole watch.")] = None,
    period_h: Annotated[float, typer.Option(
        "--period-h", help="Hours of watch time per period record.")] = 1.0,
    interval: Annotated[float, typer.Option(
        help="Wall seconds between evaluations of the rollback rules (seed: health every "
             "30 s).")] = 30.0,
    cadence: Annotated[str, typer.Option(
        help="Validation cadence, phases at the seed's depths in order: mission-critical, "
             "full, complete.")] = "30m for 4h, 2h for 20h, 1d",
    parameter: Annotated[list[str] | None, typer.Option(
        "--parameter", "-p", help="key=value for every validation runbook declaring key, or "
                                  "runbook.key=value for one (repeatable).")] = None,
    rule_overrides: Annotated[str | None, typer.Option(
        help="JSON, as 07's rule_overrides: a rehearsal's scale of the triggers, e.g. "
             "'{\"memory_high\": {\"threshold\": 268435456, \"for_s\": 10}}'.")] = None,
    quiet_s: Annotated[float, typer.Option(
        help="Seed 4.3's quiet window after a rollback (wall seconds).")] = 300.0,
    webhook: Annotated[str | None, typer.Option(
        help="Chat webhook for the watch's notifications: URL, or env:NAME / file:PATH "
             "holding it. Default: $NETRA_OPS_WEBHOOK_URL; none: only the incident's "
             "sent-log.")] = None,
    webhook_format: Annotated[str, typer.Option(
        help="auto (by the webhook's host), slack, google-chat or json.")] = "auto",
    outputs: OutputsOption = None,
    execute: Annotated[bool, typer.Option(
        "--execute", help="Roll back for real when a trigger fires (else the plan only).")
    ] = False,
) -> None:
    """Watch a deployment for 24 h: rules, ERROR logs, validations; roll back on a trigger.

    Started again for the same incident, it resumes where it was.
    """
    from netra_ops.watch import run_watch

    with usage_errors():
        plan, hook = _plan(incident, env, {
            "hours": hours, "time_scale": time_scale, "rollback_window_h": rollback_window,
            "period_h": period_h, "interval_s": interval, "cadence": cadence,
            "quiet_s": quiet_s, "execute": execute, "outputs_dir": outputs},
            parameter or [], rule_overrides, webhook, webhook_format)
        with sigterm_as_exit(_RESUMES):
            try:
                outcome = run_watch(plan, webhook=hook, webhook_format=webhook_format)
            except KeyboardInterrupt:
                typer.echo(_RESUMES, err=True)
                raise typer.Exit(_INTERRUPTED_EXIT) from None
    typer.echo(f"watch state: {outcome.folder}")
    typer.echo("outcome: " + ("STABLE" if outcome.stable else "STOPPED" if outcome.stopped
                              else "ROLLED BACK" if outcome.rollbacks else "NOT STABLE")
               + "".join(f"\n  - {reason}" for reason in outcome.reasons))
    raise typer.Exit(outcome.exit_code)


def _plan(incident: str, env: str, settings: dict[str, Any], parameters: list[str],
          rule_overrides: str | None, webhook: str | None,
          webhook_format: str) -> tuple[Any, Any]:
    """The WatchPlan and the Webhook (or None) the options describe, all checked."""
    from netra_ops.config import load_environment
    from netra_ops.metrics import override_rules
    from netra_ops.notify import Webhook, resolve_format, webhook_url
    from netra_ops.record import parse_parameter
    from netra_ops.record.parameters import check_incident
    from netra_ops.record.secret_needs import require_secrets
    from netra_ops.watch import WatchPlan, plan_depths, watch_cadence, watch_folder

    loaded = load_environment(env)
    overrides = _overrides(rule_overrides)
    override_rules(loaded.rollback_triggers, overrides)
    plan = WatchPlan(incident=check_incident(incident), environment=env,
                     parameters=dict(parse_parameter(p, scoped=True) for p in parameters),
                     rule_overrides=overrides, **settings)
    watch_folder(plan.incident, plan.outputs_dir, env)  # the records location, checked
    depths = plan_depths(watch_cadence(plan.cadence, plan.span), plan.parameters)
    require_secrets(loaded, [(v.runbook, v.parameters) for _, runs in depths for v in runs]
                    + [("07_monitoring", {}), ("06_rollback", {})])  # its evaluations, 06
    url = webhook_url(webhook)
    resolve_format(webhook_format, "")
    return plan, Webhook(url, attempts=3, deadline_s=30.0, label="notification") if url \
        else None


def _overrides(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError as exc:
        raise ParameterError(f"--rule-overrides is not JSON ({exc}); e.g. "
                             "'{\"memory_high\": {\"for_s\": 10}}'") from None
    if not isinstance(found, dict):
        raise ParameterError("--rule-overrides must be a JSON object of rule name -> fields")
    return found

