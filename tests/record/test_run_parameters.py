"""`-p key=value` parsing, incident ids and the secret checks made before a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netra_ops.errors import ParameterError
from netra_ops.record import parse_parameter
from netra_ops.record.parameters import (
    INJECTED_PARAMETERS,
    check_incident,
    check_parameters,
    check_scoped_parameters,
    declared_parameters,
    parameters_for,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("runs=3", ("runs", 3)),
    ("ratio=0.25", ("ratio", 0.25)),
    ("execute=true", ("execute", True)),
    ("execute=false", ("execute", False)),
    ("revision=null", ("revision", None)),
    ('name="two words"', ("name", "two words")),
    ("ids=[1, 2]", ("ids", [1, 2])),
    ('limits={"cpu": 4}', ("limits", {"cpu": 4})),
    ("revision=netra-backend-00042", ("revision", "netra-backend-00042")),
    ("url=http://127.0.0.1:18080/health?a=1&b=2", ("url", "http://127.0.0.1:18080/health?a=1&b=2")),
    ("note=", ("note", "")),
    ("True_=yes", ("True_", "yes")),
    (" spaced =1", ("spaced", 1)),
])
def test_parse_parameter_reads_json_literals_else_raw_strings(
        text: str, expected: tuple[str, Any]) -> None:
    assert parse_parameter(text) == expected


@pytest.mark.parametrize("text", ["runs", "=3", "", "2runs=3", "max-runs=3", "class=1", "a.b=1"])
def test_malformed_parameters_say_the_expected_form(text: str) -> None:
    with pytest.raises(ParameterError, match="key=value"):
        parse_parameter(text)


@pytest.mark.parametrize("incident", ["INC-2041", "2024-05-01.golden_path", "a", "x" * 64])
def test_valid_incident_ids(incident: str) -> None:
    assert check_incident(incident) == incident


@pytest.mark.parametrize("incident", ["", "-INC", "../etc", "INC/1", "x" * 65, "INC 1", ".hidden"])
def test_invalid_incident_ids_are_refused(incident: str) -> None:
    with pytest.raises(ParameterError, match="incident id"):
        check_incident(incident)


@pytest.mark.parametrize(("name", "value"), [
    ("password", "hunter2-hunter2"),
    ("api_key", "abc123"),
    ("authToken", "abc123"),
    ("client_secret", 42),
    ("target", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
    ("header", "Authorization: Bearer abcdefgh12345678"),
    ("dsn", "postgresql://app:pa55word@db:5432/netra"),
])
def test_secret_looking_parameters_are_refused_with_the_reference_hint(
        name: str, value: Any) -> None:
    with pytest.raises(ParameterError, match=r"env:NAME or file:PATH") as info:
        check_parameters({name: value})
    assert str(value) not in str(info.value)


def test_secret_references_and_ordinary_names_pass() -> None:
    parameters = {"password": "env:STAGING_PASSWORD", "token_file": "/run/token",
                  "max_tokens": 512, "runs": 3, "revision": "netra-00042"}
    assert check_parameters(parameters) == parameters


@pytest.mark.parametrize("name", ["incident_id", "environment"])
def test_injected_parameters_cannot_be_overridden(name: str) -> None:
    with pytest.raises(ParameterError, match="set by the runner"):
        check_parameters({name: "x"})


@pytest.mark.parametrize("value", [object(), float("nan"), {1, 2}])
def test_parameters_must_be_plain_json_values(value: Any) -> None:
    with pytest.raises(ParameterError, match="not a plain JSON value"):
        check_parameters({"target": value})


def test_parameters_are_checked_against_the_runbook_before_a_run(tmp_path: Path) -> None:
    from netra_ops.record import run_notebook

    runbook = Path(__file__).resolve().parents[2] / "notebooks" / "02_deploy.ipynb"
    with pytest.raises(ParameterError) as typo:
        run_notebook(runbook, environment="sandbox", incident="T",
                     parameters={"excute": True}, outputs_dir=tmp_path)
    said = str(typo.value)
    assert said.startswith("runbook 02_deploy has no parameter 'excute' (did you mean "
                           "'execute'? its parameters: image, images, env_vars, execute, ")
    assert set(declared_parameters(runbook)) - set(INJECTED_PARAMETERS) == set(
        said.split("its parameters: ")[1].rstrip(")").split(", "))
    with pytest.raises(ParameterError, match=r"'execute' of runbook 02_deploy takes bool "
                                             r"\(default False\), got str 'yes'"):
        run_notebook(runbook, environment="sandbox", incident="T",
                     parameters={"execute": "yes"}, outputs_dir=tmp_path)
    with pytest.raises(ParameterError, match=r"'deadline_s' .* takes float"):
        run_notebook(runbook, environment="sandbox", incident="T",
                     parameters={"deadline_s": "soon"}, outputs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("given", [
    {"runs": 1, "ok.runs": 2},
    {"ok.runs": 2, "runs": 1},
])
def test_a_scoped_parameter_wins_over_the_unscoped_one_in_any_order(
        given: dict[str, Any]) -> None:
    declared = {"runs": 1, "environment": "sandbox"}
    assert parameters_for("ok", given, declared) == {"runs": 2}
    assert parameters_for("other", given, declared) == {"runs": 1}
    assert parameters_for("other", given, {"environment": "sandbox"}) == {}


@pytest.mark.parametrize(("given", "message"), [
    ({"runz": 1}, "none of the runbooks here has a parameter 'runz' (did you mean 'runs'? "
                  "parameters: ok: runs; summary: none)"),
    ({"nope": 1}, "none of the runbooks here has a parameter 'nope' (parameters: ok: runs; "
                  "summary: none)"),
    ({"nope.runs": 1}, "names runbook 'nope', which is not one of the runbooks here (ok, "
                       "summary)"),
    ({"summary.runs": 1}, "runbook summary has no parameter 'runs' (its parameters: none)"),
])
def test_a_parameter_that_reaches_no_runbook_is_refused(given: dict[str, Any],
                                                        message: str) -> None:
    declared = {"ok": {"runs": 1, "incident_id": ""}, "summary": {"incident_id": ""}}
    with pytest.raises(ParameterError) as raised:
        check_scoped_parameters(given, declared, "the runbooks here")
    assert message in str(raised.value)
    check_scoped_parameters({"runs": 3, "ok.runs": 4}, declared, "the runbooks here")
