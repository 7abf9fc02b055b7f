"""The watch's records: one per period (default an hour of watch time), and a rolling summary.

A period record is a folder of the incident like a runbook run's,
`<outputs>/<incident>/<UTC stamp>-watch-period-NN/`, with `summary.json` (runbook `watch`,
status, exit code and the recorded values: the period's span in watch and wall time, the
time scale, evaluations, decisions, each rule's states, triggers, rollbacks, ERROR entries,
validations, messages, the time the watch was down) and `period.html`. It is written through
the record API (scrubbed, the incident's index and manifest rewritten), not by running a
notebook: a period every hour for 24 hours, or every few seconds in a rehearsal, would
otherwise start a kernel each time (seconds of CPU) for a page of numbers. The runbooks the
watch runs (validations, rollback) keep their own notebook records.

The rolling summary, `watch/watch-summary.json` and `watch/watch-summary.html`, spans the
whole watch so far, with the charts of error rate, latency, memory and rule states drawn from every
evaluation (`ticks.jsonl`); rewritten after each period (its charts at most every
`chart_every_s` of wall time, and at the end).
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from netra_ops.metrics import error_rate_chart, latency_chart, memory_chart, rule_states_chart
from netra_ops.record import write_index, write_manifest
from netra_ops.record.archive import create_record_dir, write_summary
from netra_ops.record.incident import NOTIFICATIONS
from netra_ops.record.manifest import MANIFEST, write_run_manifest
from netra_ops.record.redact import scrub, scrub_json
from netra_ops.schedule import ScheduleState
from netra_ops.watch.clock import hours_text
from netra_ops.watch.messages import watch_notices
from netra_ops.watch.plan import WatchPlan
from netra_ops.watch.state import WatchState, read_ticks, replace_file

__all__ = ["PERIOD_RUNBOOK", "SUMMARY_HTML", "SUMMARY_JSON", "Records", "chart_frames"]

PERIOD_RUNBOOK = "watch"
SUMMARY_JSON = "watch-summary.json"  # not summary.json: that name marks a run's folder
SUMMARY_HTML = "watch-summary.html"
_CHARTS = (("error rate", error_rate_chart), ("latency", latency_chart),
           ("memory", memory_chart))


@dataclass
class Records:
    """Writes the period records and the rolling summary of one watch."""

    plan: WatchPlan
    state: WatchState
    secrets: list[str]
    run_id: str
    depths: dict[int, str] = field(default_factory=dict)
    _drawn_at: float | None = None

    @property
    def incident_folder(self) -> Path:
        """The incident's folder (the watch's is its `watch/`)."""
        return self.state.folder.parent

    def write_due(self, elapsed_s: float, *, final: bool = False) -> int:
        """Write every period that ended by `elapsed_s` (watch seconds; with `final`, the
        last one even if short); then the rolling summary. How many were written."""
        written = 0
        total = self.plan.periods()
        while self.state.periods_written < total:
            number = self.state.periods_written
            end = min((number + 1) * self.plan.period.total_seconds(),
                      self.plan.span.total_seconds())
            if elapsed_s < end and not (final and number == total - 1):
                break
            self._write_period(number, end)
            self.state.periods_written = number + 1
            self.state.save(datetime.now(UTC))
            written += 1
        if written or final:
            self.write_summary(final=final)
        return written

    # -- one period ---------------------------------------------------------------------

    def _write_period(self, number: int, end_s: float) -> Path:
        start_s = number * self.plan.period.total_seconds()
        ticks = [t for t in read_ticks(self.state.folder) if start_s <= t["watch_s"] < end_s
                 or (number == self.plan.periods() - 1 and t["watch_s"] >= end_s)]
        facts = self._facts(number, start_s, end_s, ticks)
        failed = bool(facts["triggers"]) or any(v["status"] == "failed"
                                                for v in facts["validations"])
        started = datetime.fromisoformat(ticks[0]["at"]) if ticks else datetime.now(UTC)
        finished = datetime.fromisoformat(ticks[-1]["at"]) if ticks else started
        name = f"watch-period-{number + 1:02d}"
        written = self._written(name)
        if written is not None:  # written by a process killed before it said so
            return written
        folder = create_record_dir(self.incident_folder.parent, self.state.incident, name,
                                   datetime.now(UTC))
        summary = {"runbook": PERIOD_RUNBOOK, "incident": self.state.incident,
                   "environment": self.state.environment,
                   "status": "failed" if failed else "passed", "exit_code": int(failed),
                   "started_at": started.isoformat(), "finished_at": finished.isoformat(),
                   "duration_s": round((finished - started).total_seconds(), 3),
                   "notebook": "", "html": "period.html", "failing_cell": None,
                   "records": facts, NOTIFICATIONS: [
                       {"sent_at": m["at"], "channel": m["destination"],
                        "event": m["event"], "status": "delivered" if m["delivered"] else
                        f"not delivered: {m['error']}", "key": m["key"], "text": m["text"]}
                       for m in facts["messages"]]}
        clean = scrub_json(summary, lambda text: scrub(text, self.secrets))
        (folder / "period.html").write_text(_period_html(clean), encoding="utf-8")
        write_summary(clean, folder / "summary.json", self.secrets)  # it marks the run
        write_run_manifest(folder)  # sealed: a period's folder never changes afterwards
        write_index(self.incident_folder)
        write_manifest(self.incident_folder)
        return folder

    def _written(self, name: str) -> Path | None:
        """The record folder of this watch's period `name`, if one was written."""
        for summary in sorted(self.incident_folder.glob(f"*-{name}/summary.json")):
            try:
                found = json.loads(summary.read_text(encoding="utf-8"))
            except ValueError:
                continue
            if found.get("records", {}).get("watch.start") == self.state.start.isoformat():
                if not (summary.parent / MANIFEST).is_file():
                    write_run_manifest(summary.parent)
                return summary.parent
        return None

    def _facts(self, number: int, start_s: float, end_s: float,
               ticks: list[dict[str, Any]]) -> dict[str, Any]:
        begin = self.state.start + timedelta(seconds=start_s)
        states: dict[str, Counter[str]] = {}
        for tick in ticks:
            for row in tick["rules"]:
                states.setdefault(row["rule"], Counter())[row["state"]] += 1
        inside = [t for t in self.state.triggers.values() if start_s <= t["watch_s"] < end_s]
        return {
            "watch.period": number + 1, "watch.periods": self.plan.periods(),
            "watch.start": self.state.start.isoformat(),
            "watch.span": [begin.isoformat(),
                           (self.state.start + timedelta(seconds=end_s)).isoformat()],
            "watch.hours": f"{hours_text(start_s)} to {hours_text(end_s)}",
            "time_scale": self.plan.time_scale, "time_scale_note": self.plan.scale_note(),
            "evaluations": len(ticks),
            "wall_span": [ticks[0]["at"], ticks[-1]["at"]] if ticks else None,
            "decisions": dict(Counter(t["action"] for t in ticks)),
            "rule_states": {rule: dict(found) for rule, found in states.items()},
            "serving": sorted({t["serving"] for t in ticks if t.get("serving")}),
            "triggers": inside,
            "rollbacks": [t["rollback"] for t in inside if "rollback" in t],
            "error_entries": sum(t.get("errors", 0) for t in ticks),
            "error_samples": [s for t in ticks for s in t.get("error_samples", [])][-5:],
            "validations": self._validations(begin, self.state.start +
                                             timedelta(seconds=end_s)),
            "messages": [{k: e.get(k) for k in ("at", "event", "key", "delivered", "error",
                                                 "destination", "text")}
                         for e in watch_notices(self.incident_folder, self.run_id)
                         if start_s <= float((e.get("fields") or {}).get("watch_s", -1))
                         < end_s],
            "down": self.state.restarts(start_s, end_s),
        }

    def _validations(self, begin: datetime, end: datetime) -> list[dict[str, Any]]:
        schedule = ScheduleState.load(self.incident_folder)
        slots = schedule.slots if schedule else []
        return [{"due": s.due.isoformat(), "depth": self.depths.get(s.phase, "?"),
                 "status": s.status, "runs": [{k: r.get(k) for k in
                                               ("runbook", "status", "exit_code", "record")}
                                              for r in s.runs]}
                for s in slots if begin <= s.due < end and s.schedule_start == self.state.start]

    # -- the rolling summary --------------------------------------------------------------

    def write_summary(self, *, final: bool = False) -> None:
        """`watch/watch-summary.json` and `.html` over the whole watch so far."""
        ticks = read_ticks(self.state.folder)
        schedule = ScheduleState.load(self.incident_folder)
        slots = [s for s in (schedule.slots if schedule else [])
                 if s.schedule_start == self.state.start]
        summary = scrub_json({
            "incident": self.state.incident, "environment": self.state.environment,
            "status": self.state.status, "start": self.state.start.isoformat(),
            "hours": self.plan.hours, "watched": hours_text(self.state.elapsed_s),
            "time_scale": self.plan.time_scale, "time_scale_note": self.plan.scale_note(),
            "periods_written": self.state.periods_written, "evaluations": len(ticks),
            "decisions": dict(Counter(t["action"] for t in ticks)),
            "triggers": list(self.state.triggers.values()), "rollbacks": self.state.rollbacks,
            "error_entries": sum(t.get("errors", 0) for t in ticks),
            "validations": {s.due.isoformat(): f"{self.depths.get(s.phase, '?')}: {s.status}"
                            for s in slots},
            "sessions": self.state.sessions, "outcome": self.state.outcome,
        }, lambda text: scrub(text, self.secrets))
        folder = self.state.folder
        replace_file(folder / SUMMARY_JSON, json.dumps(summary, indent=2, default=str) + "\n")
        now = time.monotonic()
        if final or self._drawn_at is None or now - self._drawn_at >= self.plan.chart_every_s:
            self._drawn_at = now
            charts = _charts(ticks)
            replace_file(folder / SUMMARY_HTML, _summary_html(summary, charts))
        write_manifest(self.incident_folder)


def chart_frames(ticks: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metric points (a long frame) and the rule states of every evaluation."""
    points = pd.DataFrame([p for t in ticks for p in t.get("points", [])])
    if not points.empty:
        points["time"] = pd.to_datetime(points["time"], utc=True, format="ISO8601")
        points = points.drop_duplicates(subset=[c for c in points.columns if c != "value"],
                                        keep="last").sort_values("time", kind="mergesort")
    states = pd.DataFrame([{**row, "evaluated_at": t["at"]} for t in ticks
                           for row in t["rules"]], columns=["rule", "state", "evaluated_at"])
    return points, states


def _charts(ticks: list[dict[str, Any]]) -> dict[str, bytes]:
    from matplotlib.figure import Figure

    points, states = chart_frames(ticks)
    if points.empty:
        points = pd.DataFrame(columns=["time", "metric", "value", "count", "source",
                                       "revision"])
    figures: dict[str, Figure] = {name: draw(points) for name, draw in _CHARTS}
    figures["rule states"] = rule_states_chart(states)
    images = {}
    for name, figure in figures.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        images[name] = buffer.getvalue()
    return images


_STYLE = ("<style>body{font-family:sans-serif;margin:2em;color:#111;background:#fff}"
          "table{border-collapse:collapse}td,th{border:1px solid #999;padding:3px 6px;"
          "text-align:left;vertical-align:top}</style>")


def _table(values: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>"
                   f"{html.escape(json.dumps(v, default=str)[:2000])}</td></tr>"
                   for k, v in values.items())
    return f"<table>{rows}</table>"


def _period_html(summary: dict[str, Any]) -> str:
    records = summary["records"]
    title = html.escape(f"Incident {summary['incident']}: watch period "
                        f"{records['watch.period']} of {records['watch.periods']} "
                        f"({records['watch.hours']})")
    return (f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{title}</title>"
            f"{_STYLE}<h1>{title}</h1><p><strong>{html.escape(summary['status'].upper())}"
            f"</strong> · {html.escape(records['time_scale_note'])}</p>"
            f"{_table(records)}</html>\n")


def _summary_html(summary: dict[str, Any], charts: dict[str, bytes]) -> str:
    title = html.escape(f"Incident {summary['incident']}: post-deployment watch "
                        f"({summary['watched']} of {summary['hours']:g} h)")
    images = "".join(f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)} chart' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
                     for name, png in charts.items())
    return (f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{title}</title>"
            f"{_STYLE}<h1>{title}</h1><p>{html.escape(summary['time_scale_note'])}</p>"
            f"{_table(summary)}{images}</html>\n")
