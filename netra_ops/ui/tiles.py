"""The panel's status as HTML: a tile per service, the revisions and traffic table.

The same HTML serves the live panel (in `ipywidgets.HTML` widgets, replaced at each refresh)
and the headless snapshot (a `text/html` output kept in the executed notebook and its HTML
export). Every state is written out with a mark (`✔ healthy`, `✖ unhealthy: HTTP 503`,
`▶ serving`); the tile's border colour only repeats it. Explicit dark text on a white
background keeps it readable in light and dark themes. Everything shown is escaped.
"""

from __future__ import annotations

import html

import pandas as pd

from netra_ops.ui.marks import WARN
from netra_ops.ui.state import PanelState, ServiceTile

__all__ = ["STYLE", "errors_html", "revisions_html", "table_html", "tile_html", "tiles_html"]

_GOOD, _BAD = "#1a7f37", "#cf222e"
STYLE = ("<style>.netra-ops-tile{border:3px solid;border-radius:6px;padding:6px 10px;"
         "margin:4px;min-width:15em;flex:1;background:#fff;color:#1f2328;line-height:1.4}"
         ".netra-ops-tile code{word-break:break-all}"
         ".netra-ops-tile h4{margin:0 0 4px 0;color:#1f2328}"
         ".netra-ops-tile .state{font-weight:bold;font-size:110%}"
         ".netra-ops-tile-row{display:flex;flex-wrap:wrap}"
         "table.netra-ops-table{border-collapse:collapse;background:#fff;color:#1f2328;"
         "line-height:1.4}"
         "table.netra-ops-table td,table.netra-ops-table th{border:1px solid #d0d7de;"
         "padding:2px 6px;text-align:left}"
         ".netra-ops-errors{color:#1f2328;background:#fff8c5;padding:4px}</style>")


def _text(value: object) -> str:
    return html.escape("—" if value is None or value == "" else str(value))


def tile_html(tile: ServiceTile) -> str:
    """One service: name, health in words, serving revision, image, where they came from."""
    border = _GOOD if tile.healthy else _BAD
    latency = f"{tile.latency_ms:.0f} ms" if tile.latency_ms is not None else None
    return (f'<div class="netra-ops-tile" data-role="{_text(tile.role)}" '
            f'data-healthy="{str(tile.healthy).lower()}" style="border-color:{border}">'
            f"<h4>{_text(tile.role)} · {_text(tile.name)}</h4>"
            f'<div class="state">{_text(tile.health)}</div>'
            f"<div>revision: <code>{_text(tile.revision)}</code></div>"
            f"<div>image: <code>{_text(tile.image)}</code></div>"
            f"<div>version: {_text(tile.version)} · health answered in {_text(latency)}</div>"
            f"<div><small>from {_text(tile.source)}</small></div></div>")


def tiles_html(state: PanelState) -> str:
    """The three tiles in a row, with the time they were read."""
    tiles = "".join(tile_html(tile) for tile in state.tiles)
    return (f'<div class="netra-ops-tile-row">{tiles}</div>'
            f"<small>environment {_text(state.environment)} · read at "
            f"{state.read_at:%H:%M:%S} UTC</small>")


def table_html(frame: pd.DataFrame, css_class: str) -> str:
    """A frame as an escaped HTML table without its index."""
    return str(frame.to_html(index=False, escape=True, border=0,
                             classes=["netra-ops-table", css_class]))


def revisions_html(state: PanelState) -> str:
    """The backend's revisions with their traffic share, or why they could not be read."""
    frame = state.revisions_frame()
    if frame.empty:
        return f"<p>{WARN} no revisions read (see below)</p>"
    return table_html(frame, "netra-ops-revisions-table")


def errors_html(state: PanelState) -> str:
    """What could not be read, if anything."""
    if not state.errors:
        return ""
    lines = "".join(f"<li>{_text(error)}</li>" for error in state.errors)
    return f'<div class="netra-ops-errors">{WARN} could not read:<ul>{lines}</ul></div>'
