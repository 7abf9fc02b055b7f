"""Runbook parameters: `-p key=value` parsing and the checks made before a run.

Parameters are copied by papermill into the executed notebook (its injected cell and its
metadata), so anything passed here ends up in the incident record. Credentials are therefore
refused: a runbook receives a secret reference (`env:NAME`, `file:PATH`) and resolves it
in the kernel.
"""

from __future__ import annotations

import ast
import difflib
import json
import keyword
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from netra_ops.errors import ParameterError
from netra_ops.record.incident import check_incident
from netra_ops.record.redact import find_secrets, looks_secret_name

__all__ = [
    "INJECTED_PARAMETERS",
    "check_against_runbook",
    "check_incident",
    "check_parameters",
    "check_scoped_parameters",
    "declared_parameters",
    "parameters_for",
    "parse_parameter",
]

INJECTED_PARAMETERS = ("incident_id", "environment")
"""Set by the runner from `--incident` and `--env`; a user parameter may not replace them."""

_EXPECTED_FORM = "expected key=value, e.g. -p duration_s=300 or -p revision=\"netra-00042\""
_USE_REFERENCE = "pass a secret reference (env:NAME or file:PATH) instead and resolve it in " \
    "the runbook"


def parse_parameter(text: str, *, scoped: bool = False) -> tuple[str, Any]:
    """`("key", value)` from `key=value`; the value is a JSON literal if it parses as one.

    `n=3` gives 3, `ratio=0.5` 0.5, `execute=true` True, `x=null` None, `ids=[1,2]` a list,
    `name="a b"` the string; anything else (`revision=netra-00042`) is kept as the raw string.
    With `scoped=True` (playbooks) the key may name one runbook: `02_deploy.image=...`.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ParameterError(f"parameter {text!r}: {_EXPECTED_FORM}")
    check_name(key.rpartition(".")[2] if scoped else key)
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def check_name(key: str) -> None:
    """Raise ParameterError unless `key` can be a variable of the parameters cell."""
    if not key.isidentifier() or keyword.iskeyword(key):
        raise ParameterError(
            f"parameter name {key!r} is not a Python identifier (letters, digits and _, "
            f"not starting with a digit); {_EXPECTED_FORM}"
        )


def check_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the user's parameters after checking names, collisions and secrets."""
    checked: dict[str, Any] = {}
    for key, value in parameters.items():
        check_name(key)
        if key in INJECTED_PARAMETERS:
            raise ParameterError(
                f"parameter {key!r} is set by the runner (from the incident and environment "
                f"options); do not pass it with -p"
            )
        _check_json(key, value)
        _refuse_secret(key, value)
        checked[key] = value
    return checked


def _check_json(key: str, value: Any) -> None:
    """Parameters are archived in summary.json, so they must be plain JSON values."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ParameterError(
            f"parameter {key!r}: a {type(value).__name__} is not a plain JSON value; pass a "
            f"string, number, bool, null, list or dict (e.g. str(path))"
        ) from None


def _refuse_secret(key: str, value: Any) -> None:
    if looks_secret_name(key) and not _is_reference_or_empty(value):
        raise ParameterError(
            f"parameter {key!r} looks like a credential and would be stored in the incident "
            f"record; {_USE_REFERENCE}"
        )
    found = find_secrets(json.dumps(value))
    if found:
        kinds = ", ".join(sorted({f.split(" (line")[0] for f in found}))
        raise ParameterError(
            f"parameter {key!r} holds what looks like a secret ({kinds}) and would be stored "
            f"in the incident record; {_USE_REFERENCE}"
        )


def _is_reference_or_empty(value: Any) -> bool:
    return value is None or value == "" or (
        isinstance(value, str) and value.startswith(("env:", "file:"))
    )


def parameters_for(runbook: str, parameters: Mapping[str, Any],
                   declared: Collection[str]) -> dict[str, Any]:
    """The values of `parameters` meant for `runbook`: each `key` it declares, then each
    `runbook.key` (scoped to it), which wins over `key` whatever their order."""
    chosen = {k: v for k, v in parameters.items() if "." not in k and k in declared}
    chosen |= {name: v for k, v in parameters.items()
               for scope, _, name in (k.rpartition("."),) if scope == runbook}
    return chosen


def check_scoped_parameters(parameters: Mapping[str, Any],
                            declared: Mapping[str, Collection[str]], where: str) -> None:
    """ParameterError for a parameter that would reach no runbook of `declared` (runbook ->
    its parameter names): a `key` none of them declares, or a `runbook.key` naming a runbook
    that is not there or a parameter it lacks. `where` names the runbooks in the message
    (e.g. `the scheduled runbooks`)."""
    for key in parameters:
        runbook, _, name = key.rpartition(".")
        if runbook and runbook not in declared:
            raise ParameterError(f"parameter {key!r} names runbook {runbook!r}, which is not "
                                 f"one of {where} ({', '.join(declared)})")
        if runbook and name not in declared[runbook]:
            raise ParameterError(f"parameter {key!r}: runbook {runbook} "
                                 f"{_lacks(name, declared[runbook])}")
        if not runbook and not any(name in names for names in declared.values()):
            taken = "; ".join(f"{book}: {_names(names)}" for book, names in declared.items())
            every = [n for names in declared.values() for n in names]
            raise ParameterError(f"none of {where} has a parameter {key!r} "
                                 f"({_did_you_mean(name, every)}parameters: {taken})")


def _names(declared: Collection[str]) -> str:
    return ", ".join(n for n in declared if n not in INJECTED_PARAMETERS) or "none"


def _did_you_mean(name: str, declared: Collection[str]) -> str:
    """`did you mean 'execute'? ` for a close misspelling of a declared name, else ``."""
    close = difflib.get_close_matches(name, [n for n in declared
                                             if n not in INJECTED_PARAMETERS], n=1, cutoff=0.75)
    return f"did you mean {close[0]!r}? " if close else ""


def _lacks(name: str, declared: Collection[str]) -> str:
    """`has no parameter 'excute' (did you mean 'execute'? its parameters: ...)`."""
    return (f"has no parameter {name!r} ({_did_you_mean(name, declared)}"
            f"its parameters: {_names(declared)})")


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The runbook's parameters cell: name -> default value (None when not a literal)."""
    import papermill

    declared = {}
    for name, spec in papermill.inspect_notebook(str(notebook)).items():
        try:
            declared[name] = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            declared[name] = None
    return declared


def check_against_runbook(notebook: Path, parameters: Mapping[str, Any]) -> None:
    """ParameterError unless every parameter is declared by the runbook with a fitting type."""
    declared = declared_parameters(notebook)
    for key, value in parameters.items():
        if key not in declared:
            raise ParameterError(f"runbook {notebook.stem} {_lacks(key, declared)}")
        expected = _kind(declared[key])
        if expected is not None and not _fits(value, expected):
            raise ParameterError(
                f"parameter {key!r} of runbook {notebook.stem} takes {expected.__name__} "
                f"(default {declared[key]!r}), got {type(value).__name__} {value!r}")


def _kind(default: Any) -> type | None:
    return None if default is None else type(default)


def _fits(value: Any, expected: type) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)
