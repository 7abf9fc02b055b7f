"""Numbers as an on-call engineer reads them: 3.52 GiB, 12.5 %, 480 ms."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["GIB", "MIB", "format_bytes", "format_value"]

MIB = 2**20
GIB = 2**30


def format_bytes(value: float) -> str:
    """Bytes in KiB, MiB or GiB with three significant digits."""
    for factor, name in ((GIB, "GiB"), (MIB, "MiB"), (2**10, "KiB")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {name}"
    return f"{value:.0f} B"


def format_value(value: Any, unit: str = "") -> str:
    """A value with its unit (`bytes`, `ratio`, `ms`, `count`); empty for no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    number = float(value)
    if unit == "bytes":
        return format_bytes(number)
    if unit == "ratio":
        return f"{number * 100:.3g} %"
    if unit == "ms":
        return f"{number:.4g} ms"
    if unit == "count":
        return f"{number:.0f}"
    return f"{number:.4g}" + (f" {unit}" if unit else "")
