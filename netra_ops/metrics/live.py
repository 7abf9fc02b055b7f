"""The rule table as people read it, and its live view during a watch.

`rules_view()` turns a rule table into readable text columns (values with units, the
evidence window, how long a condition has held). `LiveTable` shows each watch tick: a log
line per tick (what a headless run keeps) and, inside IPython, one display updated in place
with the states coloured (explicit text and background colours: readable in light and dark
themes and in the HTML export).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from netra_ops.config import TriggerRule
from netra_ops.display import format_condition, format_value, styler_html
from netra_ops.kernel import ipython_shell
from netra_ops.metrics.decision import Decision

if TYPE_CHECKING:  # `.style` imports it when a table is styled (jinja2 with it)
    from pandas.io.formats.style import Styler

__all__ = ["STATE_STYLES", "LiveTable", "rules_view", "state_style", "styled_rules",
           "triggers_frame"]

logger = logging.getLogger("netra_ops.metrics.watching")
STATE_STYLES = {
    "ok": "background-color: #d3f2dc; color: #0b3d1a",
    "pending": "background-color: #ffefbf; color: #5c4400",
    "firing": "background-color: #ffd3d3; color: #7a0010; font-weight: bold",
    "inconclusive": "background-color: #e3e3e3; color: #333333",
}


def state_style(state: Any) -> str:
    """CSS of a state's cell."""
    return STATE_STYLES.get(str(state), "")


def triggers_frame(rules: Iterable[TriggerRule]) -> pd.DataFrame:
    """The rollback triggers as configured, one row each: the seed's words, the metric, the
    condition, its window, hold and samples, grouping and whether it is a dry run."""
    return pd.DataFrame([{"rule": r.name, "trigger (seed 4.1)": r.description,
                          "metric": r.metric, "aggregation": r.aggregation,
                          "condition": format_condition(r.comparison, r.threshold, r.unit),
                          "window_s": r.window_s, "for_s": r.for_s,
                          "min_samples": r.min_samples, "group_by": ", ".join(r.group_by),
                          "dry_run": r.dry_run} for r in rules])


def styled_rules(table: pd.DataFrame) -> Styler:
    """`rules_view` of a rule table with each state coloured, without the index."""
    return rules_view(table).style.hide(axis="index").map(state_style, subset=["state"])


def rules_view(table: pd.DataFrame) -> pd.DataFrame:
    """One readable row per rule: state, value vs threshold, samples, window, held, detail."""
    rows = []
    for row in table.to_dict(orient="records"):
        unit = str(row.get("unit") or "")
        held = row.get("held_s")
        rows.append({
            "rule": row["rule"] + (" (dry run)" if row.get("dry_run") else ""),
            "state": row["state"],
            "value": format_value(row.get("value"), unit),
            "condition": format_condition(row["comparison"], row["threshold"], unit),
            "samples": f"{row['samples']}/{row['min_samples']}",
            "window": _window_text(row),
            "held": "" if held is None or pd.isna(held) else f"{held:.0f}/{row['for_s']:g} s",
            "group": row.get("group") or "",
            "detail": row.get("detail") or "",
        })
    return pd.DataFrame(rows, columns=["rule", "state", "value", "condition", "samples",
                                       "window", "held", "group", "detail"])


def _window_text(row: dict[str, Any]) -> str:
    start, end = row.get("window_start"), row.get("window_end")
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return ""
    return f"{pd.Timestamp(start):%H:%M:%S}–{pd.Timestamp(end):%H:%M:%S}"


class LiveTable:
    """Shows watch ticks: a log line each, and an updating display inside IPython."""

    def __init__(self, total_ticks: int | None = None) -> None:
        self.total_ticks = total_ticks
        self._handle: Any = None

    def show(self, number: int, table: pd.DataFrame, decision: Decision) -> None:
        """Log the tick's states and refresh the display."""
        of = f"/{self.total_ticks}" if self.total_ticks else ""
        if self.total_ticks and number > self.total_ticks:
            of += " (past the duration: a trigger is pending)"
        states = ", ".join(f"{r['rule']}={r['state']}" for r in table.to_dict("records"))
        logger.info("tick %d%s at %s: %s -> %s", number, of,
                    f"{decision.decided_at:%H:%M:%S}", states, decision)
        bundle = self._bundle(number, table, decision)
        if bundle is None:
            return
        from IPython.display import display

        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def _bundle(self, number: int, table: pd.DataFrame,
                decision: Decision) -> dict[str, str] | None:
        if ipython_shell() is None:
            return None
        view = rules_view(table)
        html = styler_html(view.style.map(state_style, subset=["state"]))
        colour = {"rollback": "#7a0010", "hold": "#5c4400"}.get(decision.action, "#0b3d1a")
        heading = (f'<p style="color: {colour}; font-weight: bold">tick {number} at '
                   f"{decision.decided_at:%H:%M:%S} UTC: {_escape(str(decision))}</p>")
        return {"text/html": heading + html,
                "text/plain": f"tick {number}: {decision}\n{view.to_string(index=False)}"}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
