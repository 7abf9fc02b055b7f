"""Marks that say a state in words and a symbol, so that no state is told by colour alone.

Every state the control panel shows (health, readiness, an action's outcome, a watch's
decision) is a text with one of these symbols in front: `✔ healthy`, `✖ unhealthy`,
`⏳ running`. Colour may be added on top (a tile's border), never instead.
"""

from __future__ import annotations

__all__ = ["BAD", "BUSY", "IDLE", "OK", "WARN", "marked"]

OK = "✔"
BAD = "✖"
BUSY = "⏳"
WARN = "⚠"
IDLE = "○"


def marked(ok: bool, yes: str, no: str) -> str:
    """`✔ yes` when `ok`, else `✖ no`."""
    return f"{OK} {yes}" if ok else f"{BAD} {no}"
