"""The incident's `index.html`: the page an auditor opens first.

For each playbook run, newest last: the outcome (REMEDIATED / ROLLED BACK / HELD / FAILED),
the playbook and scenario, rehearsal or real, the timeline of its runbook runs on a time axis
(an inline SVG chart: one bar per run, coloured by verdict, the rollback branch hatched and
marked), each run's verdict, decision and key figures written for people, links to each
run's records (relative, so the folder can be moved or archived whole), and the
notifications sent. Runbooks run one by one, outside a playbook, are a group of their own.

The page is self-contained (no script, no stylesheet or font from elsewhere) and written
from `index.json`'s content alone (`index_html`), so it can be re-rendered from it.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from netra_ops.display import column_unit, format_cell, format_seconds

__all__ = ["KEY_FIGURES", "figure_text", "index_html", "shorten", "timeline_svg"]

KEY_FIGURES: dict[str, tuple[str, ...]] = {
    "00_incident_summary": ("stakeholder_update", "targets_met", "criteria_passed",
                            "criteria_failed", "criteria_without_data", "escalations_fired"),
    "01_preflight": ("gates_passed", "release_branch", "commits_ahead", "commits_behind"),
    "02_deploy": ("deploy_status", "new_revision", "revision_before", "services_verified",
                  "deploy_duration_s", "rollout_status", "failed_service"),
    "03_config_sync": ("drift.drifted_keys", "sync.changes", "urls.ok"),
    "04_golden_path_validation": ("pass_rate", "event_latency_p95_ms", "missing_events",
                                  "http_5xx_count", "checklist_passed", "checklist_items"),
    "05_performance": ("serving_revision", "load.engine", "load.errors",
                       "performance.not_verified"),
    "06_rollback": ("rollback_status", "rollback_target", "serving_revision",
                    "rollback_target_known_good", "golden_path_ok", "rollback_to_serving_s"),
    "07_monitoring": ("http_error_rate", "response_time_p95_ms", "health_ok_rate",
                      "memory_mean_bytes", "memory_max_bytes", "error_entries",
                      "watch.evaluations", "known_good_mark"),
}
"""The figures of each runbook the index shows (a runbook not named: its first scalars)."""

OUTCOME_COLOURS = {"REMEDIATED": "#1b5e20", "ROLLED BACK": "#8a4b00", "HELD": "#4a148c",
                   "FAILED": "#b71c1c"}
VERDICT_COLOURS = {"passed": "#2e7d32", "failed": "#c62828"}
"""Bar colours: passed green, verdict failed red, a run that broke (error, timeout, dead
kernel, deadline, stopped) grey."""
BROKE_COLOUR = "#616161"
_SHOWN_FIGURES = 6
_NOTIFICATION_COLUMNS = ("sent_at", "channel", "event", "status", "manifest_sha256")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#111;background:#fff;max-width:1400px}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ccc}
.outcome{display:inline-block;padding:.25em .7em;border-radius:4px;color:#fff;
 font-weight:bold;letter-spacing:.05em}
.mode{display:inline-block;padding:.2em .6em;border:1px solid #555;border-radius:4px}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #bbb;padding:4px 8px;
 text-align:left;vertical-align:top} th{background:#f2f2f2}
tr.passed td.verdict{background:#e6f4ea} tr.failed td.verdict{background:#fce8e6}
tr.broke td.verdict{background:#eeeeee} tr.branch{background:#fff8e1}
td.num,td.time{text-align:right;white-space:nowrap} .figures{margin:0;padding-left:1.1em}
.reason{max-width:70em} details summary{cursor:pointer} code{word-break:break-all}
.muted{color:#555}
"""


def index_html(index: dict[str, Any], key_values: tuple[str, ...] = ()) -> str:
    """The page for an incident's index (`write_index`'s content)."""
    runs = {run["folder"]: run for run in index["runs"]}
    groups = index.get("playbook_runs") or [{"id": None, "runs": list(runs)}]
    title = html.escape(f"Incident {index['incident']}")
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{title}</title>",
             f"<style>{_STYLE}</style><h1>{title}</h1>", _headline(index, groups),
             _standing_html(index.get("standing"), len(index["runs"])), _overview(groups)]
    number = 0
    for group in groups:
        number += bool(group.get("id"))
        parts.append(_group_section(number, group, [runs[f] for f in group["runs"]
                                                    if f in runs], key_values))
    parts.append("<p class='muted'>Each run's folder holds its executed notebook, the same "
                 "rendered as HTML, summary.json, run.log and its manifest.json; check them "
                 "all with <code>netra-ops records verify "
                 f"{html.escape(index['incident'])}</code>.</p></html>\n")
    return "".join(parts)


def _standing_html(standing: Mapping[str, Any] | None, runs: int) -> str:
    """Where the incident stands (the playbook's progress, the stakeholder update, the
    escalations fired, the Phase 5 targets), or nothing when no checkpoint wrote one."""
    if not standing:
        return ""
    progress = standing.get("progress") or {}
    stale = standing.get("after_runs") != runs
    lines = [f"<h2>Where it stands</h2><p>As of {html.escape(str(standing.get('as_of')))}"
             + (" (runs were added since: run 00_incident_summary or the next step to "
                "refresh)" if stale else "") + "</p><ul>"]
    if progress:
        lines.append(f"<li>{html.escape(str(progress.get('text', '')))}</li>")
    lines.append(f"<li>Stakeholder update: "
                 f"{html.escape(str(standing.get('stakeholder_update')))}</li>")
    fired = standing.get("escalations_fired") or []
    lines.append("<li>Escalation triggers fired: "
                 + (html.escape("; ".join(fired)) if fired else "none") + "</li>")
    targets = "".join(f"<tr><td>{html.escape(t['target'])}</td><td>{html.escape(t['state'])}"
                      f"</td></tr>" for t in standing.get("targets") or [])
    return "".join(lines) + f"</ul><table><tr><th>Phase 5 target</th><th>state</th></tr>" \
        f"{targets}</table>"


def _headline(index: dict[str, Any], groups: list[dict[str, Any]]) -> str:
    played = [g for g in groups if g.get("id")]
    facts = (f"{len(index['runs'])} runbook runs · {format_seconds(index['total_duration_s'])} in "
             f"runbooks · {len(played)} playbook run{'s' if len(played) != 1 else ''}")
    if not played:
        return f"<p>No playbook run; runbooks run one by one. {facts}</p>"
    last = played[-1]
    return (f"<p>Latest playbook run: {_outcome_badge(last)} {_mode(last)} · "
            f"playbook <strong>{_text(last.get('playbook'))}</strong> · scenario "
            f"<strong>{_text(last.get('scenario') or 'none')}</strong></p><p>{facts}</p>")


def _overview(groups: list[dict[str, Any]]) -> str:
    played = [g for g in groups if g.get("id")]
    if len(played) < 2:
        return ""
    rows = "".join(f"<tr><td><a href='#run-{html.escape(str(g['id']))}'>"
                   f"{_text(_clock_time(str(g.get('started_at'))))}</a></td>"
                   f"<td>{_outcome_badge(g)}</td>"
                   f"<td>{_text(g.get('playbook'))}</td><td>{_text(g.get('scenario') or '')}"
                   f"</td><td>{_mode(g)}</td><td class='num'>{len(g['runs'])}</td></tr>"
                   for g in played)
    return ("<h2>Playbook runs</h2><table><tr><th>started (UTC)</th><th>outcome</th>"
            "<th>playbook</th><th>scenario</th><th>mode</th><th>runs</th></tr>"
            f"{rows}</table>")


def _group_section(number: int, group: dict[str, Any], runs: list[dict[str, Any]],
                   key_values: tuple[str, ...]) -> str:
    if not group.get("id"):
        head = "<h2>Runbooks run one by one</h2>"
    else:
        anchor = html.escape(str(group["id"]))
        head = (f"<h2 id='run-{anchor}'>Playbook run {number}: {_text(group.get('playbook'))}"
                f" · {_outcome_badge(group)}</h2><p>{_mode(group)} · scenario "
                f"<strong>{_text(group.get('scenario') or 'none')}</strong> · environment "
                f"{_text(group.get('environment'))} · started "
                f"{_text(_clock_time(str(group.get('started_at'))))} UTC"
                f"{_branch_note(group)}</p>"
                f"<p class='reason'>Why: {_text(group.get('reason') or 'not recorded')}</p>")
    rows = "".join(_run_row(run, key_values) for run in runs)
    return (f"{head}{timeline_svg(runs)}<table><tr><th>started (UTC)</th><th>runbook</th>"
            "<th>verdict</th><th>decision</th><th>duration</th><th>key figures</th>"
            f"<th>failing cell</th><th>records</th></tr>{rows}</table>"
            f"{notifications_html(_notifications(group, runs))}")


def _branch_note(group: dict[str, Any]) -> str:
    branch = group.get("branch_taken")
    return f" · branch taken: <strong>{_text(branch)}</strong>" if branch else ""


def _outcome_badge(group: dict[str, Any]) -> str:
    outcome = str(group.get("outcome") or "IN PROGRESS")
    colour = OUTCOME_COLOURS.get(outcome, "#37474f")
    return (f"<span class='outcome' data-outcome='{html.escape(outcome)}' "
            f"style='background:{colour}'>{html.escape(outcome)}</span>")


def _mode(group: dict[str, Any]) -> str:
    rehearsal = group.get("rehearsal")
    kind = ("REHEARSAL (sandbox)" if rehearsal else "REAL" if rehearsal is False
            else "rehearsal or real: not recorded")
    dry = " · dry run (nothing changed)" if group.get("execute") is False else ""
    mode = "rehearsal" if rehearsal else "real"
    return f"<span class='mode' data-mode='{mode}'>{kind}{dry}</span>"


def _run_row(run: dict[str, Any], key_values: tuple[str, ...]) -> str:
    context = run.get("playbook") or {}
    branch = context.get("branch")
    status = str(run["status"])
    verdict_class = status if status in VERDICT_COLOURS else "broke"
    records = run["records"]
    failed = records.get("verdict.failed") or []
    verdict = status.upper() + (f": {figure_text('', failed)}" if failed else "")
    decision = str(records.get("decision") or "")
    reason = str(records.get("decision.reason") or "")
    folder = html.escape(run["folder"])
    links = (f"<a href='{folder}/{html.escape(run['html'])}'>HTML</a> · "
             f"<a href='{folder}/{html.escape(run['notebook'])}'>notebook</a> · "
             f"<a href='{folder}/summary.json'>summary</a> · "
             f"<a href='{folder}/run.log'>log</a>")
    digest = run.get("manifest_sha256")
    if digest:
        links += (f"<br><span class='muted' title='{html.escape(digest)}'>manifest sha256 "
                  f"{html.escape(digest[:12])}…</span>")
    label = _text(run["runbook"]) + (f"<br><strong>rollback branch: {_text(branch)}</strong>"
                                     if branch else "<br><span class='muted'>finally</span>"
                                     if context.get("step") == "finally" else "")
    return (f"<tr class='{verdict_class}{' branch' if branch else ''}' "
            f"data-runbook='{html.escape(run['runbook'])}'>"
            f"<td class='time'>{_text(_clock_time(run['started_at']))}</td><td>{label}</td>"
            f"<td class='verdict'>{html.escape(verdict)}</td>"
            f"<td>{_text(decision)}{f'<br>{_long(reason, 160)}' if reason else ''}</td>"
            f"<td class='num'>{format_seconds(run['duration_s'])}</td>"
            f"<td>{_figures(run['runbook'], records, key_values)}</td>"
            f"<td>{_failing(run.get('failing_cell'))}</td><td>{links}</td></tr>")


def _figures(runbook: str, records: dict[str, Any], key_values: tuple[str, ...]) -> str:
    names = key_values or KEY_FIGURES.get(runbook) or tuple(
        name for name, value in records.items() if not name.startswith(("verdict.", "decision"))
        and not isinstance(value, dict | list))[:_SHOWN_FIGURES]
    items = "".join(f"<li>{html.escape(name)}: {html.escape(figure_text(name, records[name]))}"
                    "</li>" for name in names if records.get(name) is not None)
    return f"<ul class='figures'>{items}</ul>" if items else ""


def _failing(failing: dict[str, Any] | None) -> str:
    if not failing:
        return ""
    text = f"{failing.get('ename') or 'Error'}: {failing.get('evalue') or ''}".strip()
    cell = f"cell {failing.get('index')}: "
    return html.escape(cell) + _long(text, 160)


def _long(text: str, limit: int) -> str:
    """`text` escaped; if longer than `limit`, cut at a word with the whole in a fold."""
    short = shorten(text, limit)
    if short == text:
        return html.escape(text)
    return (f"<details><summary>{html.escape(short)}</summary>"
            f"<code>{html.escape(text)}</code></details>")


def notifications_html(notifications: Sequence[dict[str, Any]]) -> str:
    """The "Notifications sent" section: one row per notification (its known fields
    first, then any other), or nothing when none was sent."""
    if not notifications:
        return ""
    extra = sorted({key for item in notifications for key in item
                    if key not in _NOTIFICATION_COLUMNS})
    columns = [*_NOTIFICATION_COLUMNS, *extra]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(f"<td>{_notification_cell(c, item.get(c))}</td>"
                                    for c in columns) + "</tr>" for item in notifications)
    return (f"<h3 class='notifications'>Notifications sent ({len(notifications)})</h3>"
            f"<table class='notifications'><tr>{head}</tr>{rows}</table>")


def _notifications(group: dict[str, Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [dict(item, run=run["folder"]) for run in runs
             for item in run.get("notifications") or [] if isinstance(item, dict)]
    found += [dict(item) for item in group.get("notifications") or [] if isinstance(item, dict)]
    return sorted(found, key=lambda item: str(item.get("sent_at", "")))


def _notification_cell(column: str, value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    if column == "sent_at":
        return html.escape(_clock_time(text))
    if column.endswith("sha256") and len(text) > 12:
        return f"<code title='{html.escape(text)}'>{html.escape(text[:12])}…</code>"
    return _long(text, 120)


def timeline_svg(runs: Sequence[dict[str, Any]]) -> str:
    """An inline SVG chart: each run a bar on a time axis (seconds since the first run
    started), coloured by verdict; runs of a rollback branch hatched, the branch's start
    marked with a dashed line."""
    if not runs:
        return ""
    starts = [_seconds(run["started_at"]) for run in runs]
    origin = min(starts)
    span = max(max(s - origin + float(r["duration_s"]) for s, r in zip(starts, runs,
                                                                        strict=True)), 1.0)
    left, width, row = 230, 760, 26
    height = 40 + row * len(runs) + 44
    step = _tick_step(span)
    scale = width / (math.ceil(span / step) * step)
    parts = [f"<svg class='timeline' role='img' xmlns='http://www.w3.org/2000/svg' "
             f"width='{left + width + 150}' height='{height}' font-family='sans-serif' "
             "font-size='12'><title>Timeline of the runbook runs</title><defs>"
             "<pattern id='branch' width='8' height='8' patternUnits='userSpaceOnUse' "
             "patternTransform='rotate(45)'><rect width='8' height='8' fill='white' "
             "fill-opacity='0.0'/><line x1='0' y1='0' x2='0' y2='8' stroke='white' "
             "stroke-width='3'/></pattern></defs>"]
    for tick in range(0, math.ceil(span / step) + 1):
        x = left + tick * step * scale
        parts.append(f"<line x1='{x:.1f}' y1='30' x2='{x:.1f}' y2='{height - 40}' "
                     f"stroke='#ddd'/><text x='{x:.1f}' y='{height - 24}' text-anchor='middle'>"
                     f"{_clock(tick * step)}</text>")
    parts.append(f"<text x='{left + width / 2:.0f}' y='{height - 6}' text-anchor='middle'>"
                 "time since the first run started (min:s)</text>")
    branch_start = next((s for s, r in zip(starts, runs, strict=True)
                         if (r.get("playbook") or {}).get("branch")), None)
    if branch_start is not None:
        x = left + (branch_start - origin) * scale
        branch = next(str((r.get("playbook") or {}).get("branch")) for r in runs
                      if (r.get("playbook") or {}).get("branch"))
        parts.append(f"<line class='branch-start' x1='{x:.1f}' y1='14' x2='{x:.1f}' "
                     f"y2='{height - 40}' stroke='#8a4b00' stroke-width='2' "
                     f"stroke-dasharray='6 4'/><text x='{x + 4:.1f}' y='22' fill='#8a4b00' "
                     f"font-weight='bold'>rollback branch: {html.escape(branch)}</text>")
    for position, (start, run) in enumerate(zip(starts, runs, strict=True)):
        parts.append(_bar(run, left + (start - origin) * scale,
                          max(float(run["duration_s"]) * scale, 2.0), 34 + position * row,
                          left))
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}{_legend()}</figure>"


def _bar(run: dict[str, Any], x: float, length: float, y: int, left: int) -> str:
    status = str(run["status"])
    colour = VERDICT_COLOURS.get(status, BROKE_COLOUR)
    branch = (run.get("playbook") or {}).get("branch")
    label = html.escape(run["runbook"] + (" (rollback)" if branch else ""))
    hatch = (f"<rect x='{x:.1f}' y='{y}' width='{length:.1f}' height='18' "
             "fill='url(#branch)'/>" if branch else "")
    return (f"<g class='bar' data-runbook='{html.escape(run['runbook'])}' "
            f"data-status='{html.escape(status)}' data-branch='{html.escape(str(branch or ''))}'>"
            f"<text x='{left - 8}' y='{y + 13}' text-anchor='end'>{label}</text>"
            f"<rect x='{x:.1f}' y='{y}' width='{length:.1f}' height='18' fill='{colour}'/>"
            f"{hatch}<text x='{x + length + 5:.1f}' y='{y + 13}'>"
            f"{html.escape(status)} · {format_seconds(run['duration_s'])}</text></g>")


def _legend() -> str:
    swatches = [("passed", VERDICT_COLOURS["passed"]), ("verdict failed",
                                                        VERDICT_COLOURS["failed"]),
                ("broke (error, timeout, stopped)", BROKE_COLOUR)]
    items = " ".join(f"<span style='display:inline-block;width:12px;height:12px;"
                     f"background:{colour}'></span> {text}" for text, colour in swatches)
    return (f"<figcaption class='muted'>{items} · hatched: a step of the rollback branch"
            "</figcaption>")


def _tick_step(span_s: float) -> float:
    """A round step (seconds) giving at most 8 ticks over `span_s`."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400):
        if span_s / step <= 8:
            return step
    return 3600 * math.ceil(span_s / 3600 / 8)


def _clock(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _clock_time(stamp: str) -> str:
    """`2026-12-07 10:41:35` from an ISO time stamp (UTC), or the text as it is."""
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp


def _text(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with "…" when cut (a
    single word longer than the limit is cut inside it)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def figure_text(name: str, value: Any) -> str:
    """A recorded value as people read it: numbers as every table of a record shows them
    (`netra_ops.display`: units from the name, `_bytes` in MiB/GiB, `_ms`, `_s`, rates in
    %, rounded), yes/no, lists joined, nothing cut mid-word."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_cell(value, column_unit(name))
    if isinstance(value, list):
        return shorten(", ".join(figure_text("", v) for v in value), 160) if value else "none"
    if isinstance(value, dict):
        return shorten("; ".join(f"{k}: {figure_text(str(k), v)}" for k, v in value.items()),
                       160)
    return shorten(str(value), 160)
