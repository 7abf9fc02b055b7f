"""The post-deployment watch of the panel's incident, when there is one (`netra-ops watch`).

`watch_status(incident)` reads the watch's files (`netra_ops.watch.read_watch_status`): is a
watch process running, its state, how far it has watched, the latest decision and rule
states, the next validation and the last notification. `watch_html(status)` shows it as a
block of the panel (class `netra-ops-watch-run`), the same live and in a snapshot.
"""

from __future__ import annotations

import html
from pathlib import Path

from netra_ops.ui.marks import BAD, BUSY, IDLE
from netra_ops.watch import WatchStatus, read_watch_status, watch_folder

__all__ = ["watch_html", "watch_status"]


def watch_status(incident: str | None, outputs_dir: str | Path | None = None
                 ) -> WatchStatus | None:
    """The incident's watch as its files tell it; None without an incident or a watch."""
    if not incident:
        return None
    try:
        folder = watch_folder(incident, Path(outputs_dir) if outputs_dir else None)
    except Exception:  # an incident id the records refuse: the panel shows no watch
        return None
    return read_watch_status(folder)


def watch_html(status: WatchStatus | None) -> str:
    """The watch block: a mark and the status lines, or that no watch runs."""
    if status is None:
        return (f'<div class="netra-ops-watch-run" data-running="false">{IDLE} no '
                "post-deployment watch for this incident (netra-ops watch)</div>")
    mark = BUSY if status.running else BAD if status.rollbacks else IDLE
    lines = "".join(f"<div>{html.escape(line)}</div>" for line in status.lines())
    return (f'<div class="netra-ops-watch-run" data-running="{str(status.running).lower()}">'
            f"<b>{mark} Post-deployment watch</b>{lines}</div>")
