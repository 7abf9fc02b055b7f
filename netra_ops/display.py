"""The records' one display format: numbers as an on-call engineer reads them (3.52 GiB,
12.5 %, 480 ms, 1.25 s, "—") and every table of a runbook in that form.

    format_cell(53026020.0, "bytes")     # '50.6 MiB'
    readable_frame(frame)                # every cell as text, a plain row index dropped
    table_html(frame)                    # as HTML: no row numbers, text wraps, wide scrolls
    show_tables_readably(shell)          # in a kernel: every DataFrame and Series so

Numbers: bytes in KiB/MiB/GiB, durations in ms, s, `2 min 11 s` or `1 h 05 min`, shares
in percent, three significant digits for a measurement (four for a plain number), never an
exponent (`5.302602e+07`), and "—" for a missing value (None, NaN, NaT); booleans yes/no,
times to the second in UTC.

A cell's unit comes from, in order: `frame.attrs["units"][column]`, the column's name
(`current_bytes`, `latency_ms`, `duration_s`, `error_rate`: `column_unit`), the row's own
unit for its value columns (`value`, `threshold`, `p95`, ...: `frame.attrs["row_units"]`
by row label, as `checks_table` sets it, else a `unit` column, else a `metric` / `figure`
column naming what the row measures, e.g. `first_event_ms`), then `frame.attrs["unit"]`.
The frames themselves keep their numbers: only what is shown changes. A meaningful index
(a pivot's `event`) becomes a column; a plain row number is dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

# pandas is imported where a frame is handled: a command that shows no table (`netra-ops
# run`, `records show`) goes without its import (0.5 s of CPU)
if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GIB",
    "MAX_ROWS",
    "MIB",
    "MISSING",
    "column_unit",
    "format_bytes",
    "format_cell",
    "format_condition",
    "format_ms",
    "format_number",
    "format_percent",
    "format_seconds",
    "format_value",
    "is_missing",
    "readable_frame",
    "show_tables_readably",
    "styler_html",
    "table_html",
]

MIB = 2**20
GIB = 2**30
MISSING = "—"
"""What a table shows for a missing value."""

_SUFFIX_UNITS = (("_bytes_per_h", "bytes/h"), ("_bytes", "bytes"), ("_ms", "ms"),
                 ("_seconds", "s"), ("_s", "s"), ("_rate", "ratio"), ("_ratio", "ratio"),
                 ("_share", "ratio"), ("_percent", "percent"), ("_pct", "percent"))
_NAME_UNITS = {"bytes": "bytes", "ms": "ms", "seconds": "s", "ratio": "ratio",
               "share": "ratio", "percent": "percent"}

MAX_ROWS = 200
"""Rows shown of a longer table (the record says how many there were)."""

_VALUE_COLUMNS = re.compile(r"value|threshold|min|max|mean|median|current|limit|target|"
                            r"observed|expected|p\d+(\.\d+)?")
_ROW_NAMES = ("figure", "metric")
_CELL_CSS = ("padding: 0.25em 0.6em; vertical-align: top; white-space: normal; "
             "overflow-wrap: anywhere; max-width: 40em")
_TABLE_STYLES = [{"selector": "td, th", "props": _CELL_CSS},
                 {"selector": "th", "props": "text-align: left"}]
_WRAPPER = '<div class="netra-ops-table" style="overflow-x: auto; max-width: 100%">{}</div>'

CellStyle = Callable[[Any], str]


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA."""
    pandas = sys.modules.get("pandas")  # not imported: no value is its NaT or NA
    if value is None or (pandas is not None and (value is pandas.NaT or value is pandas.NA)):
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def format_number(value: float, digits: int = 4) -> str:
    """`digits` significant digits, never an exponent, no trailing zeros; thousands
    separated from 10,000 up (`53,026,020`, `21.1`, `0.000125`)."""
    number = float(value)
    if number == 0 or not math.isfinite(number):
        return "0" if number == 0 else str(number)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(number))))
    text = f"{number:,.{decimals}f}" if abs(number) >= 10_000 else f"{number:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_bytes(value: float) -> str:
    """Bytes in KiB, MiB or GiB with three significant digits."""
    for factor, name in ((GIB, "GiB"), (MIB, "MiB"), (2**10, "KiB")):
        if abs(value) >= factor:
            return f"{format_number(value / factor, 3)} {name}"
    return f"{value:.0f} B"


def format_seconds(value: float) -> str:
    """A duration in seconds: ms below 1 s, `21.1 s` below a minute, then `2 min 11 s`,
    then `1 h 05 min`."""
    seconds = float(value)
    if seconds == 0:
        return "0 s"
    if abs(seconds) < 1:
        return f"{format_number(seconds * 1000, 3)} ms"
    if abs(seconds) < 59.95:
        return f"{format_number(seconds, 3)} s"
    sign, whole = "-" if seconds < 0 else "", round(abs(seconds))
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{sign}{minutes} min {rest:02d} s"
    return f"{sign}{minutes // 60} h {minutes % 60:02d} min"


def format_ms(value: float) -> str:
    """A duration in milliseconds: ms below 1 s, else as `format_seconds`."""
    ms = float(value)
    return f"{format_number(ms, 3)} ms" if abs(ms) < 1000 else format_seconds(ms / 1000)


def format_percent(ratio: float) -> str:
    """A ratio (0.125) as a percentage (`12.5 %`)."""
    return f"{format_number(float(ratio) * 100, 3)} %"


def format_value(value: Any, unit: str = "") -> str:
    """A value with its unit (`bytes`, `bytes/h`, `ratio`, `percent`, `ms`, `s`, `count`);
    empty for no value."""
    if is_missing(value):
        return ""
    number = float(value)
    if unit in _FORMATS:
        return _FORMATS[unit](number)
    return format_number(number) + (f" {unit}" if unit else "")


_FORMATS = {
    "bytes": format_bytes, "bytes/h": lambda v: f"{format_bytes(v)}/h",
    "ratio": format_percent, "percent": lambda v: f"{format_number(v, 3)} %",
    "ms": format_ms, "s": format_seconds, "count": lambda v: format_number(round(v), 12),
}


def format_condition(comparison: str, threshold: Any, unit: str | None = "") -> str:
    """A rule's or criterion's condition with its unit: `< 3 GiB`, `<= 500 ms`, `> 95 %`."""
    return f"{comparison} {format_value(threshold, unit or '')}"


def column_unit(name: Any) -> str:
    """The unit a column's name gives its values (`current_bytes`: bytes, `latency_ms`: ms,
    `duration_s`: s, `error_rate`: ratio, `percent`: percent), or "" for none."""
    text = str(name).lower()
    if text in _NAME_UNITS:
        return _NAME_UNITS[text]
    return next((unit for suffix, unit in _SUFFIX_UNITS if text.endswith(suffix)), "")


def format_cell(value: Any, unit: str = "") -> str:
    """One table cell as people read it: numbers by `unit` (see `format_value`), booleans
    as yes/no, times to the second in UTC, lists and mappings compact, "—" when missing."""
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(format_cell(item, unit) for item in value) or MISSING
    if isinstance(value, Mapping):
        return json.dumps(value, default=str, ensure_ascii=False) if value else MISSING
    if is_missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime | np.datetime64):
        import pandas as pd

        return _time_text(pd.Timestamp(value))
    if isinstance(value, dt.timedelta | np.timedelta64):
        import pandas as pd

        return format_seconds(pd.Timedelta(value).total_seconds())
    if isinstance(value, int | np.integer) and unit in ("", "count"):
        return str(int(value))
    if unit == "ratio" and isinstance(value, int | float | np.number) \
            and not 0 <= float(value) <= 1:
        unit = ""  # named like a share, but not one (a rate per second)
    if isinstance(value, int | float | np.integer | np.floating):
        return format_value(value, unit)
    return str(value)


def _time_text(stamp: pd.Timestamp) -> str:
    if stamp.tzinfo is None:
        return f"{stamp:%Y-%m-%d %H:%M:%S}"
    return f"{stamp.tz_convert('UTC'):%Y-%m-%d %H:%M:%S} UTC"


def readable_frame(frame: pd.DataFrame | pd.Series, *, max_rows: int = MAX_ROWS
                   ) -> pd.DataFrame:
    """`frame` with every cell formatted as text (see the module's docstring) and a
    default row index dropped; at most `max_rows` rows."""
    return _readable(frame, _with_plain_index(frame), max_rows)


def _readable(frame: pd.DataFrame | pd.Series, table: pd.DataFrame,
              max_rows: int) -> pd.DataFrame:
    """`table` (`frame` with a plain index) formatted, by the units of `frame`."""
    import pandas as pd

    units: Mapping[str, str] = frame.attrs.get("units", {})
    every = str(frame.attrs.get("unit", ""))
    shown = table.head(max_rows)
    row_units = _row_units(frame, shown)
    columns = {}
    for column in shown.columns:
        own = units.get(column) or column_unit(column)
        if own or not _VALUE_COLUMNS.fullmatch(column):
            columns[column] = [format_cell(value, own or every) for value in shown[column]]
        else:
            columns[column] = [format_cell(value, unit or every)
                               for value, unit in zip(shown[column], row_units, strict=True)]
    return pd.DataFrame(columns, columns=list(shown.columns))


def table_html(frame: pd.DataFrame | pd.Series, *,
               cell_styles: Mapping[str, CellStyle] | None = None) -> str:
    """`readable_frame(frame)` as an HTML table without row numbers, long text wrapped,
    numbers on one line, in a box that scrolls sideways rather than clip; `cell_styles`
    maps a column to a function of its (formatted) cell giving the cell's CSS."""
    table = _with_plain_index(frame)
    shown = _readable(frame, table, MAX_ROWS)
    styler = shown.style.format(escape="html").hide(axis="index").set_table_styles(
        _TABLE_STYLES)
    numbers = [c for c in table.columns if _numeric(table[c])]
    if numbers:
        styler = styler.set_properties(subset=numbers, **{"white-space": "nowrap",
                                                          "text-align": "right"})
    for column, style in (cell_styles or {}).items():
        if column in shown.columns:
            styler = styler.map(style, subset=[column])
    return _WRAPPER.format(styler.to_html() + _footnote(frame, len(shown)))


def styler_html(styler: Any) -> str:
    """A pandas Styler's table in the same scrolling box, its index hidden."""
    return _WRAPPER.format(styler.hide(axis="index").set_table_styles(
        _TABLE_STYLES, overwrite=False).to_html())


def show_tables_readably(shell: Any) -> bool:
    """In IPython's `shell` (`kernel.ipython_shell()`): display every DataFrame, Series
    and Styler as `table_html` (as text: the same cells without row numbers), and set
    pandas' options so that nothing is cut (all columns, whole cell text). False (nothing
    done) for no shell."""
    if shell is None:
        return False
    import pandas as pd

    for option, value in (("display.max_columns", None), ("display.max_colwidth", None),
                          ("display.width", 1000), ("display.max_rows", MAX_ROWS)):
        pd.set_option(option, value)
    formatters = shell.display_formatter.formatters
    for kind in (pd.DataFrame, pd.Series):
        formatters["text/html"].for_type(kind, table_html)
        formatters["text/plain"].for_type(kind, _pretty)
    formatters["text/html"].for_type_by_name("pandas.io.formats.style", "Styler",
                                             styler_html)
    return True


def _with_plain_index(frame: pd.DataFrame | pd.Series) -> pd.DataFrame:
    import pandas as pd

    table = frame.to_frame() if isinstance(frame, pd.Series) else frame.copy()
    if isinstance(table.columns, pd.MultiIndex):
        table.columns = [" ".join(str(p) for p in c if str(p)) for c in table.columns]
    elif table.columns.name and not all(isinstance(c, str) for c in table.columns):
        table.columns = [f"{table.columns.name} {c}" for c in table.columns]
    plain = isinstance(table.index, pd.RangeIndex) and table.index.name is None
    table = table.reset_index(drop=plain)
    table.columns = [str(c) for c in table.columns]
    return table


def _row_units(frame: pd.DataFrame | pd.Series, shown: pd.DataFrame) -> list[str]:
    """Each shown row's own unit: by its label in `frame.attrs["row_units"]`, its `unit`
    cell, or the unit of the name in its `figure` or `metric` cell; "" for none."""
    by_label: Mapping[Any, str] = frame.attrs.get("row_units", {})
    if by_label:
        return [str(by_label.get(label, "")) for label in frame.index[:len(shown)]]
    if "unit" in shown.columns:
        return [u if isinstance(u, str) else "" for u in shown["unit"]]
    named = next((c for c in _ROW_NAMES if c in shown.columns), None)
    return [column_unit(n) for n in shown[named]] if named else [""] * len(shown)


def _numeric(column: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _footnote(frame: pd.DataFrame | pd.Series, shown: int) -> str:
    if len(frame) == 0:
        return "<p><em>no rows</em></p>"
    if shown < len(frame):
        return f"<p><em>the first {shown} of {len(frame)} rows</em></p>"
    return ""


def _pretty(frame: pd.DataFrame | pd.Series, printer: Any, cycle: bool) -> None:
    shown = readable_frame(frame)
    text = shown.to_string(index=False) if len(shown) else \
        f"(no rows: {', '.join(shown.columns)})"
    printer.text(text)
