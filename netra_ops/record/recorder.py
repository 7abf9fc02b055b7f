"""`record()` and `verdict()`: how a runbook states what it saw and whether it passed.

Inside a kernel, `record(name, value)` displays a bundle with the mimetype
`application/vnd.netra-ops.record+json` (`{"name", "value"}`) and a `text/plain` line
`name = value`; the executed notebook keeps it, and the runner lifts the last value of each
name into `summary.json` (`lift_records`). In a plain script the value is kept in this module
(`recorded()`) and the line is printed, so the same code works everywhere.

`verdict(checks)` ends a runbook: it shows the checks (`netra_ops.checks.Check` rows, or a
table of them) as a table with PASS/FAIL, records
`verdict.passed` and `verdict.failed`, and raises `VerdictFailed` when a check failed, which
is how the runner tells a failed verdict (exit 1) from a crashed cell (exit 3).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from netra_ops.checks import CHECK_COLUMNS, Check, checks_table
from netra_ops.display import is_missing, readable_frame, table_html
from netra_ops.errors import RecordError, VerdictFailed
from netra_ops.kernel import ipython_shell
from netra_ops.record.redact import looks_secret_name

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RECORD_MIMETYPE",
    "VerdictResult",
    "lift_records",
    "record",
    "record_each",
    "recorded",
    "verdict",
]

RECORD_MIMETYPE = "application/vnd.netra-ops.record+json"
VERDICT_COLUMNS = CHECK_COLUMNS[:4]  # detail is optional

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_TEXT_LIMIT = 200
_recorded: dict[str, Any] = {}


def record(name: str, value: Any) -> None:
    """Record a named value in the executed notebook (and so in the incident's summary.json).

    `name` is an identifier or a dotted path (`golden_path.pass_rate`). `value` must be
    JSON-serializable after conversion: numpy and pandas scalars become Python numbers,
    datetimes ISO strings, timedeltas seconds, DataFrames lists of row dicts, NaN None.
    """
    _check_name(name)
    converted = to_jsonable(value, name)
    _recorded[name] = converted
    text = f"{name} = {_short(converted)}"
    shell = ipython_shell()
    if shell is None:
        print(text)
        return
    from IPython.display import display

    display({RECORD_MIMETYPE: {"name": name, "value": converted}, "text/plain": text}, raw=True)


def record_each(values: Mapping[str, Any], prefix: str = "") -> None:
    """`record(prefix + name, value)` for each item of `values`, in order (`prefix` such as
    `"drift."` names a group)."""
    for name, value in values.items():
        record(f"{prefix}{name}", value)


def recorded() -> dict[str, Any]:
    """A copy of the values recorded so far in this process (last value of each name)."""
    return dict(_recorded)


def lift_records(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """`{name: value}` of every `record()` output of an executed notebook, last value wins."""
    values: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            bundle = output.get("data", {}).get(RECORD_MIMETYPE)
            if isinstance(bundle, Mapping) and isinstance(bundle.get("name"), str):
                values[bundle["name"]] = bundle.get("value")
    return values


@dataclass(frozen=True)
class VerdictResult:
    """The outcome of `verdict()`: the table shown and the names of the failed criteria."""

    title: str
    table: pd.DataFrame
    failed: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when every criterion passed."""
        return not self.failed

    def __repr__(self) -> str:
        return (f"VerdictResult(title={self.title!r}, passed={self.passed}, "
                f"failed={list(self.failed)!r}, criteria={len(self.table)})")


def verdict(checks: Iterable[Check] | pd.DataFrame | Iterable[Mapping[str, Any]], *,
            title: str = "Verdict") -> VerdictResult:
    """Show the runbook's verdict, record it, and raise VerdictFailed if a criterion failed.

    `checks` are `Check` rows (`netra_ops.checks`), or a DataFrame or a list of dicts with
    columns `criterion`, `value`, `threshold`, `passed` (bool) and optionally `detail`.
    Records `verdict.passed` (bool) and `verdict.failed` (the failed criteria's names).
    """
    table = _verdict_table(checks)
    failed = tuple(str(c) for c in table.loc[~table["passed"], "criterion"])
    result = VerdictResult(title=title, table=table, failed=failed)
    _show_verdict(result)
    record("verdict.passed", result.passed)
    record("verdict.failed", list(failed))
    if failed:
        raise VerdictFailed(_failure_message(result), failed=list(failed))
    return result


def to_jsonable(value: Any, name: str = "value") -> Any:
    """`value` as plain JSON data (see `record()`); RecordError if it cannot be converted."""
    converted = _convert(value, name)
    try:
        json.dumps(converted, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"record({name!r}): value cannot be stored as JSON: {exc}") from None
    return converted


def _convert(value: Any, name: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    pandas = sys.modules.get("pandas")  # not imported: no value is a frame or a series
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return [_convert(row, name) for row in value.to_dict(orient="records")]
    if pandas is not None and isinstance(value, pandas.Series | pandas.Index):
        return [_convert(item, name) for item in value.tolist()]
    if isinstance(value, Mapping):
        return {_key(k, name): _convert(v, name) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_convert(item, name) for item in items]
    return _convert_scalar(value, name)


def _convert_scalar(value: Any, name: str) -> Any:
    if is_missing(value):  # NaT, NA (a NaN float came here only as a numpy scalar)
        return None
    if isinstance(value, np.datetime64 | np.timedelta64):
        import pandas as pd

        return _convert(pd.Timestamp(value) if isinstance(value, np.datetime64)
                        else pd.Timedelta(value), name)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return _convert(value.value, name)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _convert(dataclasses.asdict(value), name)
    if hasattr(value, "model_dump"):
        return _convert(value.model_dump(mode="json"), name)
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalars and arrays
        return _convert(value.tolist(), name)
    raise RecordError(
        f"record({name!r}): a {type(value).__name__} cannot be stored as JSON; record a "
        f"number, string, bool, list, dict, datetime or DataFrame (or convert it, e.g. "
        f"str(value))"
    )


def _key(key: Any, name: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int | float):
        return str(key)
    raise RecordError(
        f"record({name!r}): dict key {key!r} ({type(key).__name__}) is not a string or number"
    )


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RecordError(
            f"record name {name!r} is not valid: use identifiers joined by dots, e.g. "
            f"'golden_path.pass_rate'"
        )
    if looks_secret_name(name.rsplit(".", 1)[-1]):
        raise RecordError(
            f"record name {name!r} looks like a credential: records are archived and shared, "
            f"never record secrets"
        )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."


def _verdict_table(checks: Iterable[Check] | pd.DataFrame | Iterable[Mapping[str, Any]]
                   ) -> pd.DataFrame:
    import pandas as pd

    table = checks.copy() if isinstance(checks, pd.DataFrame) else _rows_table(list(checks))
    missing = [c for c in VERDICT_COLUMNS if c not in table.columns]
    if table.empty or missing:
        what = "no checks" if table.empty else f"missing column(s) {', '.join(missing)}"
        raise RecordError(
            f"verdict(): {what}; give a DataFrame or a list of dicts with columns "
            f"{', '.join(VERDICT_COLUMNS)} (and optionally detail), one row per criterion"
        )
    table["passed"] = [_strict_bool(v, c) for v, c in zip(table["passed"], table["criterion"],
                                                          strict=True)]
    table.insert(0, "result", ["PASS" if ok else "FAIL" for ok in table["passed"]])
    return table.reset_index(drop=True)


def _rows_table(rows: list[Any]) -> pd.DataFrame:
    import pandas as pd

    if rows and all(isinstance(row, Check) for row in rows):
        return checks_table(rows)
    return pd.DataFrame(rows)


def _strict_bool(value: Any, criterion: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise RecordError(
        f"verdict(): criterion {criterion!r} has passed={value!r}; passed must be True or "
        f"False (decide pending or inconclusive checks before the verdict)"
    )


def _show_verdict(result: VerdictResult) -> None:
    outcome = "PASS" if result.passed else f"FAIL ({len(result.failed)} of {len(result.table)})"
    heading = f"{result.title}: {outcome}"
    shown = result.table.drop(columns=["passed"])
    text = readable_frame(shown).to_string(index=False)
    if ipython_shell() is None:
        print(heading)
        print(text)
        return
    from IPython.display import Markdown, display

    html = table_html(shown, cell_styles={"result": _result_colour})
    display(Markdown(f"### {heading}"))
    display({"text/html": html, "text/plain": text}, raw=True)


def _result_colour(cell: Any) -> str:
    return "color: #1a7f37; font-weight: bold" if cell == "PASS" else \
        "color: #cf222e; font-weight: bold"


def _failure_message(result: VerdictResult) -> str:
    rows = result.table[~result.table["passed"]]
    lines = [f"{result.title}: {len(rows)} of {len(result.table)} criteria failed:"]
    for row in rows.to_dict(orient="records"):
        detail = row.get("detail")
        extra = f" ({detail})" if isinstance(detail, str) and detail else ""
        lines.append(f"  - {row['criterion']}: value {_plain(row['value'])} vs threshold "
                     f"{_plain(row['threshold'])}{extra}")
    return "\n".join(lines)


def _plain(value: Any) -> str:
    try:
        return _short(_convert(value, "verdict"))
    except RecordError:
        return str(value)
