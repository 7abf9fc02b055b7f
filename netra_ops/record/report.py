"""The incident summary (seed Phase 5, success metrics, checklist, communication plan), built
from what the incident's runs recorded: every tick and every sentence points at evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from netra_ops.checks import Check
from netra_ops.config import Environment
from netra_ops.metrics.criteria import evaluate_criteria
from netra_ops.record.incident import IncidentRun, incident_dir, incident_runs, playbook_runs

__all__ = [
    "CHECKLIST",
    "METRIC_SOURCES",
    "PHASE_TARGETS",
    "SUMMARY_RUNBOOK",
    "SUSTAINED_TARGETS",
    "checklist_figures",
    "checklist_frame",
    "criteria_figures",
    "escalation_figures",
    "escalations_frame",
    "final_validation_checks",
    "incident_frame",
    "latest_value",
    "measured_value",
    "phase_targets_frame",
    "playbook_runs_frame",
    "stakeholder_update",
    "success_metrics_frame",
    "summarized_runs",
    "targets_figures",
    "timeline_chart",
    "timeline_frame",
]

SUMMARY_RUNBOOK = "00_incident_summary"
"""The runbook that summarizes the others (its own runs are not summarized)."""

PHASES = {
    "01_preflight": "1.1 pre-deployment validation",
    "02_deploy": "1.2-1.3 deploy and verify",
    "03_config_sync": "2 configuration synchronization",
    "04_golden_path_validation": "3.1 golden path validation",
    "05_performance": "3.3 performance validation",
    "06_rollback": "4.2-4.3 rollback",
    "07_monitoring": "post-deployment monitoring",
    "09_session_longevity": "2 chat sessions lived (timeouts, heartbeats)",
}

PHASE_TARGETS = (
    # (seed target, deadline in hours, runbook whose passing run meets it)
    ("Immediate: health endpoint returns 200 (service restored)", 2, "02_deploy"),
    ("Short term: 5/5 WebSocket events, Golden Path restored", 4, "04_golden_path_validation"),
    ("Medium term: <2s response times under normal load", 8, "05_performance"),
    ("Long term: <1% error rate sustained under monitoring", 24, "07_monitoring"),
)

SUSTAINED_TARGETS = frozenset({"07_monitoring"})
"""Targets with a horizon: held until the deadline, not reached once. Before the horizon has
passed they are at best `on track`; `met` needs a passing run ending past the horizon and
no failing run of that runbook."""

Evidence = Callable[["Runs"], tuple[bool, str]]


@dataclass(frozen=True)
class Runs:
    """The incident's runs (oldest first), with lookups by runbook."""

    runs: Sequence[IncidentRun]

    def latest(self, runbook: str) -> IncidentRun | None:
        """The newest run of a runbook."""
        return next((r for r in reversed(self.runs) if r.runbook == runbook), None)

    def passed(self, runbook: str) -> IncidentRun | None:
        """The newest passing run of a runbook."""
        return next((r for r in reversed(self.runs)
                     if r.runbook == runbook and r.status == "passed"), None)

    @property
    def start(self) -> datetime | None:
        """When the first run started."""
        return _time(self.runs[0].started_at) if self.runs else None


def latest_value(runs: Sequence[IncidentRun], name: str, runbook: str | None = None) -> Any:
    """The newest recorded value of `name` (from `runbook` if given), or None."""
    for run in reversed(runs):
        if (runbook is None or run.runbook == runbook) and name in run.records:
            return run.records[name]
    return None


def summarized_runs(incident: str, outputs_dir: str | Path | None = None
                    ) -> list[IncidentRun]:
    """The incident's runs, oldest first, without the summary's own (`SUMMARY_RUNBOOK`)."""
    return [r for r in incident_runs(incident_dir(incident, outputs_dir))
            if r.runbook != SUMMARY_RUNBOOK]


def incident_frame(incident: str, env: Environment,
                   runs: Sequence[IncidentRun]) -> pd.DataFrame:
    """One row: the incident, its environment and project, how many runs, the first one."""
    return pd.DataFrame([{"incident": incident, "environment": env.name, "project": env.project,
                          "runs": len(runs), "first run": runs[0].started_at if runs else None}])


def playbook_runs_frame(incident: str, outputs_dir: str | Path | None = None
                        ) -> pd.DataFrame:
    """One row per playbook run of the incident: when, the playbook, scenario, rehearsal or
    real, its outcome (REMEDIATED / ROLLED BACK / HELD / FAILED, or IN PROGRESS while its
    final runbook runs), the branch taken and why."""
    rows = [{"started (UTC)": str(run.get("started_at", ""))[:19].replace("T", " "),
             "playbook": run.get("playbook"), "scenario": run.get("scenario") or "",
             "mode": ("rehearsal (sandbox)" if run.get("rehearsal") else "real")
             + ("" if run.get("execute", True) else ", dry run"),
             "outcome": run.get("outcome"), "branch taken": run.get("branch_taken") or "",
             "why": run.get("reason", "")}
            for run in playbook_runs(incident_dir(incident, outputs_dir))]
    return pd.DataFrame(rows, columns=["started (UTC)", "playbook", "scenario", "mode",
                                       "outcome", "branch taken", "why"])


def timeline_frame(runs: Sequence[IncidentRun]) -> pd.DataFrame:
    """One row per run: phase, status, its playbook run and branch (if any), start and end
    in hours since the incident began."""
    origin = Runs(runs).start
    rows = []
    for run in runs:
        start_h = (_time(run.started_at) - origin).total_seconds() / 3600 if origin else 0.0
        context = run.playbook or {}
        rows.append({"runbook": run.runbook, "phase": PHASES.get(run.runbook, run.runbook),
                     "status": run.status, "playbook_run": context.get("run") or "",
                     "branch": context.get("branch") or "", "started_at": run.started_at,
                     "start_h": start_h, "end_h": start_h + run.duration_s / 3600,
                     "duration_s": run.duration_s})
    return pd.DataFrame(rows, columns=["runbook", "phase", "status", "playbook_run", "branch",
                                       "started_at", "start_h", "end_h", "duration_s"])


def phase_targets_frame(runs: Sequence[IncidentRun],
                        now: datetime | None = None) -> pd.DataFrame:
    """Seed Phase 5: each target, its deadline, when it was met (hours) and its state:
    `met`, `missed`, `open`, or `on track` for a target with a horizon (24 h sustained)
    whose horizon has not passed yet (`now`, default the current time)."""
    index = Runs(runs)
    moment = now or datetime.now(UTC)
    rows = []
    for target, deadline_h, runbook in PHASE_TARGETS:
        met_h = _met_after_h(index, runbook)
        if runbook in SUSTAINED_TARGETS:
            state = _sustained_state(index, runbook, deadline_h, moment)
        else:
            state = "met" if met_h is not None and met_h <= deadline_h else (
                "missed" if met_h is not None else "open")
        rows.append({"target": target, "deadline_h": deadline_h, "evidence": runbook,
                     "met_after_h": met_h, "state": state})
    return pd.DataFrame(rows)


def targets_figures(targets: pd.DataFrame) -> dict[str, Any]:
    """What the summary records of `phase_targets_frame`: `targets_met` (how many) and
    `targets_on_track` (which)."""
    return {"targets_met": int((targets["state"] == "met").sum()),
            "targets_on_track": targets.loc[targets["state"] == "on track", "target"].tolist()}


def _met_after_h(index: Runs, runbook: str) -> float | None:
    run = index.passed(runbook)
    if run is None or index.start is None:
        return None
    return ((_time(run.started_at) - index.start).total_seconds() + run.duration_s) / 3600


def _sustained_state(index: Runs, runbook: str, horizon_h: float, now: datetime) -> str:
    ran = [r for r in index.runs if r.runbook == runbook]
    if not ran or index.start is None:
        return "open"
    if any(r.status != "passed" for r in ran):
        return "missed"
    horizon = index.start + timedelta(hours=horizon_h)
    covered = _time(ran[-1].started_at) + timedelta(seconds=ran[-1].duration_s) >= horizon
    return "met" if covered and now >= horizon else "on track"


def timeline_chart(runs: Sequence[IncidentRun]) -> Figure:
    """Each run as a bar on the incident's clock, against the Phase 5 deadlines: coloured by
    verdict (passed green, failed red, broke grey), a rollback branch's runs hatched, a line
    between playbook runs."""
    frame = timeline_frame(runs)
    fig = Figure(figsize=(9, 0.5 * max(len(frame), 2) + 1.5), layout="constrained",
                 facecolor="white")
    ax = fig.subplots()
    ax.set_facecolor("white")
    colours = {"passed": "tab:green", "failed": "tab:red"}
    for position, row in enumerate(frame.itertuples()):
        minutes = max((row.end_h - row.start_h) * 60, 0.05)
        ax.barh(position, minutes, left=row.start_h * 60, color=colours.get(row.status, "grey"),
                edgecolor="black", hatch="//" if row.branch else None)
        ax.text(row.start_h * 60 + minutes, position, f" {row.status}", va="center", fontsize=8)
        if position and row.playbook_run != frame["playbook_run"].iloc[position - 1]:
            ax.axhline(position - 0.5, color="black", linewidth=0.8)
    ax.set_yticks(range(len(frame)), [f"{r.runbook}{' (rollback)' if r.branch else ''}"
                                      for r in frame.itertuples()])
    ax.invert_yaxis()
    span = max(float(frame["end_h"].max()) * 60 if not frame.empty else 1.0, 1.0)
    for target, deadline_h, _ in PHASE_TARGETS:
        if deadline_h * 60 <= span * 1.5:
            ax.axvline(deadline_h * 60, color="tab:orange", linestyle="--")
            ax.text(deadline_h * 60, -0.6, target.split(":")[0], fontsize=8, ha="right")
    ax.set_xlabel(f"minutes since the incident's first run (Phase 5 deadlines: "
                  f"{', '.join(f'{d} h' for _, d, _ in PHASE_TARGETS)})")
    ax.set_title("Incident timeline (green passed, red failed, grey broke; hatched: "
                 "rollback branch; a line between playbook runs)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def checklist_frame(runs: Sequence[IncidentRun]) -> pd.DataFrame:
    """The seed's implementation checklist, each box ticked (`[x]`) only from a record that
    shows it directly, otherwise `not verified` with what is missing."""
    index = Runs(runs)
    rows = []
    for section, item, evidence in CHECKLIST:
        ticked, detail = evidence(index)
        rows.append({"section": section, "item": item,
                     "done": "[x]" if ticked else "not verified", "evidence": detail})
    return pd.DataFrame(rows)


def checklist_figures(checklist: pd.DataFrame) -> dict[str, int]:
    """What the summary records of `checklist_frame`: boxes ticked, not verified, in all."""
    return {"checklist_done": int((checklist["done"] == "[x]").sum()),
            "checklist_not_verified": int((checklist["done"] == "not verified").sum()),
            "checklist_items": len(checklist)}


def escalations_frame(runs: Sequence[IncidentRun]) -> pd.DataFrame:
    """The seed's escalation triggers: fired or not, with the evidence."""
    index = Runs(runs)
    deploy = index.latest("02_deploy")
    deploy_status = (deploy.records.get("deploy_status") if deploy else None) or "not run"
    rollback = index.latest("06_rollback")
    restored = phase_targets_frame(runs).iloc[1]
    rows = [
        ("Deployment fails or times out", deploy_status in ("failed", "deadline_exceeded")
         or (deploy is not None and deploy.status != "passed"), f"deploy: {deploy_status}"),
        ("Rollback required due to critical issues",
         rollback is not None and rollback.records.get("rollback_status") == "done",
         f"rollback: {rollback.records.get('rollback_status') if rollback else 'not run'}"),
        (">4 hours to restore Golden Path functionality", restored["state"] == "missed",
         f"golden path restored after {_hours(restored['met_after_h'])}"),
        ("Any security or data integrity concerns", False,
         "records are scrubbed; run `netra-ops records verify` to confirm"),
    ]
    return pd.DataFrame([{"trigger": t, "fired": "FIRED" if f else "no", "evidence": e}
                         for t, f, e in rows])


def escalation_figures(escalations: pd.DataFrame) -> dict[str, list[str]]:
    """What the summary records of `escalations_frame`: `escalations_fired` (which)."""
    fired = escalations.loc[escalations["fired"] == "FIRED", "trigger"]
    return {"escalations_fired": fired.tolist()}


def stakeholder_update(runs: Sequence[IncidentRun]) -> str:
    """The communication plan's message for where the incident stands, with its figures."""
    index = Runs(runs)
    validation = index.latest("04_golden_path_validation")
    monitoring = index.latest("07_monitoring")
    rollback = index.latest("06_rollback")
    deploy = index.latest("02_deploy")
    if rollback is not None and rollback.records.get("rollback_status") == "done":
        path_ok = rollback.records.get("golden_path_ok")
        works = ("the golden path was not checked there" if path_ok is None else
                 "the golden path works there" if path_ok else
                 "the golden path is broken there (escalated)")
        known = "known good" if rollback.records.get("rollback_target_known_good") else \
            "not known good"
        return (f"Rollback executed: traffic is back on {rollback.records.get('serving_revision')}"
                f" ({known}); {works}. The fix needs another attempt.")
    if monitoring is not None and monitoring.status == "passed" and validation is not None \
            and validation.status == "passed":
        return ("Golden Path restored, monitoring performance: "
                f"{_validation_text(validation)}; monitoring decision "
                f"{monitoring.records.get('decision', 'continue')}.")
    if validation is not None and validation.status == "passed":
        return f"Golden Path restored, monitoring performance: {_validation_text(validation)}."
    if validation is not None and deploy is not None and deploy.status == "passed":
        return (f"Deployment complete, but validation failed ({_validation_text(validation)}): "
                "escalated; the new build still serves (nothing rolled back), a person decides.")
    if deploy is not None and deploy.status == "passed":
        return "Deployment complete, running validation tests."
    return "Emergency deployment in progress to fix critical Golden Path failure."


METRIC_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    # criterion metric -> the (runbook, recorded name) that measure it; the newest run with a
    # value wins. A name with "/" reads into a recorded mapping (05's `load` record).
    "golden_path_pass_rate": (("04_golden_path_validation", "pass_rate"),
                              ("07_monitoring", "golden_path_pass_rate")),
    "event_latency_p95_ms": (("04_golden_path_validation", "event_latency_p95_ms"),
                             ("07_monitoring", "event_latency_p95_ms")),
    "http_5xx_count": (("04_golden_path_validation", "http_5xx_count"),
                       ("07_monitoring", "http_5xx_count")),
    "http_error_rate": (("07_monitoring", "http_error_rate"),),
    "memory_mean_bytes": (("07_monitoring", "memory_mean_bytes"),),
    "memory_max_bytes": (("07_monitoring", "memory_max_bytes"),),
    "cpu_mean_utilization": (("07_monitoring", "cpu_mean_utilization"),),
    "websocket_connection_success_rate": (("07_monitoring",
                                           "websocket_connection_success_rate"),),
    # the seed's "<2 s response times": how soon the user sees the agent answer (05's first
    # event), not how long a real agent thinks (its whole answer has its own budget)
    "response_time_p95_ms": (("05_performance", "load.timing/first_event_p95_ms"),
                             ("07_monitoring", "response_time_p95_ms")),
    "database_query_ms": (("07_monitoring", "database_query_ms"),),
    "health_ok_rate": (("07_monitoring", "health_ok_rate"),),
}


def measured_value(runs: Sequence[IncidentRun], metric: str) -> tuple[Any, str]:
    """The newest value of `metric` recorded by a runbook that measures it, and where it
    came from (`runbook / name`, or "" when nothing measured it)."""
    sources = METRIC_SOURCES.get(metric, ())
    for run in reversed(runs):
        for runbook, name in sources:
            value = _lookup(run.records, name) if run.runbook == runbook else None
            if value is not None:
                return value, f"{runbook} / {name}"
    return None, ""


def _lookup(records: dict[str, Any], name: str) -> Any:
    head, *rest = name.split("/")
    value = records.get(head)
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def success_metrics_frame(env: Environment, runs: Sequence[IncidentRun]) -> pd.DataFrame:
    """Every success criterion of the environment against the newest value recorded by a
    runbook that measures it (`source` names it); criteria nobody measured are `no data`."""
    found = {metric: measured_value(runs, metric) for metric in METRIC_SOURCES}
    frame = evaluate_criteria(env, {m: v for m, (v, _) in found.items()},
                              names=[c.name for c in env.success_criteria])
    return frame.assign(source=[found.get(m, (None, ""))[1] for m in frame["metric"]])


def criteria_figures(metrics: pd.DataFrame) -> dict[str, int]:
    """What the summary records of `success_metrics_frame`: criteria passed, failed and
    without data."""
    return {f"criteria_{name}": int((metrics["state"] == state).sum())
            for name, state in (("passed", "pass"), ("failed", "fail"),
                                ("without_data", "no data"))}


def final_validation_checks(runs: Sequence[IncidentRun]) -> tuple[Check, ...]:
    """Seed "Final Validation" as verdict rows: technical and business success, no rollback
    left standing; 24 h stability is reported by the monitoring runs, not judged here."""
    index = Runs(runs)
    validation = index.latest("04_golden_path_validation")
    rate = validation.records.get("pass_rate") if validation else None
    rollback = index.latest("06_rollback")
    rolled_back = rollback is not None and rollback.records.get("rollback_status") == "done"
    return (
        Check("technical success: 5/5 WebSocket agent events", validation is not None
              and validation.status == "passed", _validation_text(validation)),
        Check("business success: login -> AI response > 95%", isinstance(rate, int | float)
              and rate > 0.95, f"pass rate {rate!r}"),
        Check("the fix is serving (no rollback)", not rolled_back,
              "rolled back" if rolled_back else "no rollback executed"),
    )


def _validation_text(run: IncidentRun | None) -> str:
    if run is None:
        return "validation not run yet"
    rate = run.records.get("pass_rate")
    p95 = run.records.get("event_latency_p95_ms")
    shown = f"{rate:.0%}" if isinstance(rate, int | float) else "n/a"
    latency = f", p95 event latency {p95:.0f} ms" if isinstance(p95, int | float) else ""
    return f"golden path pass rate {shown}{latency}"


def _passed(runbook: str, what: str) -> Evidence:
    def check(index: Runs) -> tuple[bool, str]:
        run = index.passed(runbook)
        return (run is not None, f"{runbook} passed ({run.folder}): {what}" if run
                else f"no passing {runbook} run ({what})")
    return check


def _recorded(runbook: str, name: str, test: Callable[[Any], bool], label: str) -> Evidence:
    def check(index: Runs) -> tuple[bool, str]:
        run = index.latest(runbook)
        value = run.records.get(name) if run else None
        ok = value is not None and bool(test(value))
        return ok, f"{runbook}: {name} = {value!r} ({label})" if run else \
            f"{runbook} not run ({label})"
    return check


def _both(first: Evidence, second: Evidence) -> Evidence:
    def check(index: Runs) -> tuple[bool, str]:
        (ok1, why1), (ok2, why2) = first(index), second(index)
        return ok1 and ok2, f"{why1}; {why2}"
    return check


def _not_evidenced(why: str) -> Evidence:
    """A box no record can tick (a human act, or nothing measures it)."""
    return lambda index: (False, why)


def _measured(value: Any) -> bool:
    return value is not None


CHECKLIST = (
    ("Pre-Deployment", "Verify develop-long-lived branch is ready for deployment",
     _recorded("01_preflight", "commits_ahead", lambda v: v > 0, "branch ahead of main")),
    ("Pre-Deployment", "Run architecture compliance checks",
     _recorded("01_preflight", "gates_passed", bool, "the preflight gates passed")),
    ("Pre-Deployment", "Validate string literals and configuration",
     _both(_recorded("01_preflight", "gates_passed", bool, "string literals gate"),
           _passed("03_config_sync", "configuration drift checked"))),
    ("Pre-Deployment", "Confirm GCP project and credentials configured",
     _recorded("02_deploy", "deploy_status", lambda v: v in ("planned", "done", "unchanged"),
               "the Cloud Run API answered with these credentials")),
    ("Pre-Deployment", "Review deployment script parameters",
     _not_evidenced("a person's review: the plan is in 02_deploy's record, the review is not")),
    ("Deployment Execution", "Execute deployment command with appropriate flags",
     _recorded("02_deploy", "deploy_status", lambda v: v in ("done", "unchanged"), "deploy")),
    ("Deployment Execution", "Monitor deployment progress and logs",
     _recorded("02_deploy", "deploy_duration_s", lambda v: v > 0,
               "the deploy's operation was waited on to its end")),
    ("Deployment Execution", "Verify health endpoint responds successfully",
     _passed("02_deploy", "verification of each service: serving image, health 200")),
    ("Deployment Execution", "Check service URLs match expected configuration",
     _recorded("03_config_sync", "urls.ok", bool, "the backend's AUTH_SERVICE_URL and "
               "FRONTEND_URL are Cloud Run's URLs of those services, and health answers from "
               "the serving revision")),
    ("Deployment Execution", "Validate all three services (backend, auth, frontend) deployed",
     _recorded("02_deploy", "services_verified",
               lambda v: sorted(v) == ["auth", "backend", "frontend"],
               "each shipped by digest and verified: Ready, serving it, health 200")),
    ("Post-Deployment Validation", "Run mission critical test suite",
     _passed("04_golden_path_validation", "mission critical events")),
    ("Post-Deployment Validation", "Execute Golden Path end-to-end tests",
     _recorded("04_golden_path_validation", "pass_rate", lambda v: v >= 1.0, "pass rate")),
    ("Post-Deployment Validation", "Validate WebSocket functionality (5/5 tests pass)",
     _recorded("04_golden_path_validation", "missing_events", lambda v: v == [], "events")),
    ("Post-Deployment Validation", "Test authentication and authorization flows",
     _passed("04_golden_path_validation", "login in every run")),
    ("Post-Deployment Validation", "Verify agent execution and response quality",
     _passed("04_golden_path_validation", "final responses")),
    ("Monitoring Setup", "Continuous health monitoring active",
     _recorded("07_monitoring", "health_ok_rate", _measured, "health checked in the watch")),
    ("Monitoring Setup", "Error log monitoring configured",
     _recorded("07_monitoring", "error_entries", _measured, "ERROR entries read")),
    ("Monitoring Setup", "Performance metrics collection enabled",
     _recorded("07_monitoring", "memory_mean_bytes", _measured, "Monitoring metrics read")),
    ("Monitoring Setup", "Business metrics tracking implemented",
     _recorded("04_golden_path_validation", "pass_rate", _measured, "user success rate")),
    ("Monitoring Setup", "Escalation procedures documented and communicated",
     _not_evidenced("communicating is a person's act; the triggers are evaluated below")),
)


def _hours(value: float | None) -> str:
    return "not yet" if value is None or pd.isna(value) else f"{value * 60:.1f} min"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
