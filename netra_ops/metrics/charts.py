"""Charts for runbooks: one function per chart, each returning a matplotlib Figure."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from netra_ops.probe.golden_path import GOLDEN_PATH_EVENTS

__all__ = ["event_latency_chart"]


def event_latency_chart(events: pd.DataFrame, budget_ms: float = 500.0) -> Figure:
    """Per-event latency from the send, one dot per run, against the budget line.

    `events` is `netra_ops.probe.runs_frame(results)`: columns run, event, latency_ms.
    Events never received are drawn as a red cross on the axis and named in the legend.
    """
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    order = list(GOLDEN_PATH_EVENTS)
    positions = {name: i for i, name in enumerate(order)}
    seen = events[events["latency_ms"].notna() & events["event"].isin(order)]
    ax.scatter(seen["event"].map(positions), seen["latency_ms"], alpha=0.7,
               label="event received")
    missing = events[events["latency_ms"].isna() & events["event"].isin(order)]
    if not missing.empty:
        ax.scatter(missing["event"].map(positions), [0] * len(missing), marker="x",
                   color="tab:red", s=80, label="never received")
    ax.axhline(budget_ms, color="tab:orange", linestyle="--", label=f"budget {budget_ms:g} ms")
    ax.set_xticks(range(len(order)), order, rotation=20)
    ax.set_ylabel("ms after the user message was sent")
    ax.set_title("Golden-path event latency per run")
    top = max(budget_ms, float(seen["latency_ms"].max()) if not seen.empty else 0.0)
    ax.set_ylim(bottom=0, top=top * 1.15)
    ax.legend(loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    return fig
