"""The records' one display format: cells with units and meaningful digits, tables without
row numbers, nothing cut, and what a kernel shows once `show_tables_readably` ran."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from netra_ops.checks import Check, checks_table
from netra_ops.display import (
    MISSING,
    column_unit,
    format_cell,
    format_condition,
    format_number,
    format_value,
    readable_frame,
    show_tables_readably,
    table_html,
)


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (5.302602e+07, "bytes", "50.6 MiB"),
    (3.221225e+09, "bytes", "3 GiB"),
    (3.5 * 2**30, "bytes", "3.5 GiB"),
    (512, "bytes", "512 B"),
    (1_500_000.0, "bytes/h", "1.43 MiB/h"),
    (21.10433440004726, "ms", "21.1 ms"),
    (0.684532, "ms", "0.685 ms"),
    (-0.408411, "ms", "-0.408 ms"),
    (2750.0, "ms", "2.75 s"),
    (0.023762901, "s", "23.8 ms"),
    (8.0, "s", "8 s"),
    (0.0, "s", "0 s"),
    (131.0, "s", "2 min 11 s"),
    (59.97, "s", "1 min 00 s"),
    (900.0, "s", "15 min 00 s"),
    (86400.0, "s", "24 h 00 min"),
    (-90.0, "s", "-1 min 30 s"),
    (0.0123, "ratio", "1.23 %"),
    (1.0, "ratio", "100 %"),
    (14.2, "ratio", "14.2"),  # named like a share (turn_rate), but per second
    (50, "percent", "50 %"),
    (1130.0, "count", "1130"),
    (21.10433440004726, "", "21.1"),
    (0.02735, "", "0.02735"),
    (53026020.0, "", "53,026,020"),
    (1e-6, "", "0.000001"),
    (1130, "", "1130"),
    (float("nan"), "ms", MISSING),
    (None, "", MISSING),
    (pd.NaT, "", MISSING),
    (pd.NA, "", MISSING),
    (True, "", "yes"),
    (np.bool_(False), "", "no"),
    ("healthy", "", "healthy"),
    ([], "", MISSING),
    (["a", "b"], "", "a, b"),
    (pd.Timestamp("2026-12-07T10:44:01.123456Z"), "", "2026-12-07 10:44:01 UTC"),
    (dt.timedelta(seconds=90), "", "1 min 30 s"),
])
def test_cells_read_as_people_read_them(value: object, unit: str, shown: str) -> None:
    assert format_cell(value, unit) == shown


@pytest.mark.parametrize("value", [5.302602e+07, 3.221225e+09, 1e15, 1.5e-7, 123456789.123])
def test_no_number_is_shown_with_an_exponent(value: float) -> None:
    for digits in (3, 4):
        assert "e" not in format_number(value, digits).lower()


def test_format_value_keeps_its_empty_text_for_no_value() -> None:
    assert format_value(None, "ms") == "" and format_value(float("nan")) == ""
    assert format_value(480.0, "ms") == "480 ms"


@pytest.mark.parametrize(("column", "unit"), [
    ("current_bytes", "bytes"), ("slope_bytes_per_h", "bytes/h"), ("latency_ms", "ms"),
    ("duration_s", "s"), ("answer_budget_s", "s"), ("http_error_rate", "ratio"),
    ("pass_rate", "ratio"), ("share", "ratio"), ("traffic_percent", "percent"),
    ("rate", ""), ("status", ""), ("revision", ""), ("samples", ""),
])
def test_a_column_name_gives_its_unit(column: str, unit: str) -> None:
    assert column_unit(column) == unit


def table() -> pd.DataFrame:
    return pd.DataFrame({
        "role": ["backend", "auth"], "ok": [True, False],
        "latency_ms": [2.95535, 6891.674], "current_bytes": [5.302602e+07, 3.221225e+09],
        "revision": ["netra-00001-abc", np.nan], "value": [0.0123, 480.0],
        "unit": ["ratio", "ms"], "detail": ["x" * 300, "<b>not markup</b>"]})


def test_a_readable_frame_has_units_per_column_and_per_row() -> None:
    shown = readable_frame(table())
    assert list(shown.columns) == list(table().columns)
    assert list(shown["latency_ms"]) == ["2.96 ms", "6.89 s"]
    assert list(shown["current_bytes"]) == ["50.6 MiB", "3 GiB"]
    assert list(shown["value"]) == ["1.23 %", "480 ms"]  # each row's own unit
    assert list(shown["revision"]) == ["netra-00001-abc", MISSING]
    assert shown["detail"][0] == "x" * 300  # never cut


def test_rows_named_by_a_figure_take_its_unit() -> None:
    percentiles = pd.DataFrame({"figure": ["first_event_ms", "answer_ms"], "samples": [10, 10],
                                "p50": [1.438331, 20.13717], "p95": [6.829819, 2750.0]})
    shown = readable_frame(percentiles)
    assert list(shown["p95"]) == ["6.83 ms", "2.75 s"] and list(shown["samples"]) == ["10", "10"]


def test_a_meaningful_index_becomes_a_column_and_a_frame_unit_applies() -> None:
    events = pd.DataFrame({"run": [1, 1, 2, 2], "event": ["a", "b", "a", "b"],
                           "delivery_ms": [0.93, 1.5, -0.41, np.nan]})
    pivot = events.pivot(index="event", columns="run", values="delivery_ms")
    pivot.attrs["unit"] = "ms"
    shown = readable_frame(pivot)
    assert list(shown.columns) == ["event", "run 1", "run 2"]
    assert shown.to_dict("records")[1] == {"event": "b", "run 1": "1.5 ms", "run 2": MISSING}


def test_table_html_has_no_row_numbers_escapes_text_and_scrolls() -> None:
    html = table_html(table())
    assert html.startswith('<div class="netra-ops-table" style="overflow-x: auto')
    assert "row_heading" not in html and not re.search(r"<th[^>]*>\s*0\s*</th>", html)
    assert "&lt;b&gt;not markup&lt;/b&gt;" in html and "<b>" not in html
    assert "e+0" not in html and "nan" not in html.lower().replace("nanosecond", "")
    assert "50.6 MiB" in html and "x" * 300 in html


def test_empty_and_long_tables_say_so() -> None:
    assert "no rows" in table_html(pd.DataFrame(columns=["error_class", "count", "share"]))
    long = pd.DataFrame({"n": range(250)})
    assert "the first 200 of 250 rows" in table_html(long)


def test_a_kernel_shows_every_frame_readably() -> None:
    shell = InteractiveShell.instance()
    try:
        assert show_tables_readably(shell)
        data, _ = shell.display_formatter.format(table())
        assert "row_heading" not in data["text/html"] and "50.6 MiB" in data["text/html"]
        assert "50.6 MiB" in data["text/plain"] and "5.302602e+07" not in data["text/plain"]
        first_line = data["text/plain"].splitlines()[0]
        assert first_line.split()[0] == "role"  # no row-number column before it
        series, _ = shell.display_formatter.format(pd.Series([1.5e-3, 2.0], name="answer_s"))
        assert "1.5 ms" in series["text/html"]
        styled, _ = shell.display_formatter.format(table().style)
        assert "netra-ops-table" in styled["text/html"]
        assert pd.get_option("display.max_columns") is None
        assert pd.get_option("display.max_colwidth") is None
    finally:
        pd.reset_option("display")
        InteractiveShell.clear_instance()


def test_without_a_shell_nothing_is_installed() -> None:
    assert show_tables_readably(None) is False


def test_check_rows_show_their_values_in_their_units() -> None:
    checks = [Check("memory_average", True, value=53_688_613.0, unit="bytes",
                    threshold=format_condition("<", 3 * 2**30, "bytes")),
              Check("answer p95", True, value=0.0296, unit="s",
                    threshold=format_condition("<=", 30, "s")),
              Check("samples", True, value=14, threshold="> 3"),
              Check("probe ran", False)]
    table = checks_table(checks)
    shown = readable_frame(table)
    assert list(shown["value"]) == ["51.2 MiB", "29.6 ms", "14", "fail"]
    assert list(shown["threshold"]) == ["< 3 GiB", "<= 30 s", "> 3", "pass"]
    failed = table[~table["passed"]]  # rows keep their labels, and so their units
    assert list(readable_frame(table.iloc[[1]])["value"]) == ["29.6 ms"]
    assert list(readable_frame(failed)["value"]) == ["fail"]
