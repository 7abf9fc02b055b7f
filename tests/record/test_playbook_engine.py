"""The playbook engine on fixture notebooks: order, branching on recorded decisions (never on
"the step failed"), the four outcomes and their exit codes, finally, resume."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from netra_ops.errors import ParameterError, RunError
from netra_ops.playbook import Scenario, load_playbook, run_playbook
from netra_ops.record import report, run_notebook, verify_incident
from netra_ops.record.incident import incident_runs

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"


def write_playbook(folder: Path, second: str, *, branch: bool = True,
                   second_options: str = "", rollback_step: str = "reads_earlier.ipynb") -> Path:
    ok, reads = NOTEBOOKS / "ok.ipynb", NOTEBOOKS / "reads_earlier.ipynb"
    text = f"""
name = "fixture"
[[steps]]
runbook = "{ok}"
parameters = {{ runs = 2 }}
[[steps]]
runbook = "{NOTEBOOKS / second}"
{'on_rollback = "rollback"' if branch else ''}
{second_options}
[[steps]]
runbook = "{ok}"
[[branches.rollback]]
runbook = "{NOTEBOOKS / rollback_step}"
[finally]
runbook = "{reads}"
[scenarios.story]
parameters = {{ "ok.runs" = 5 }}
"""
    path = folder / "fixture.toml"
    path.write_text(text)
    return path


@pytest.fixture()
def env_file(tmp_path: Path) -> str:
    shutil.copy(SANDBOX_TOML, tmp_path / "sandbox.toml")
    return str(tmp_path / "sandbox.toml")


def test_all_steps_pass_and_finally_runs(tmp_path: Path, env_file: str) -> None:
    book = write_playbook(tmp_path, "reads_earlier.ipynb")
    result = run_playbook(book, environment=env_file, incident="P-1",
                          outputs_dir=tmp_path / "out")
    assert (result.status, result.exit_code, result.branch_taken) == ("remediated", 0, None)
    assert [s.runbook for s in result.steps] == ["ok", "reads_earlier", "ok", "reads_earlier"]
    runs = incident_runs(tmp_path / "out" / "P-1")
    assert runs[0].records["probe.count"] == 2
    assert json.loads((tmp_path / "out" / "P-1" / "index.json").read_text())["runs"]


def test_a_recorded_rollback_takes_its_branch_then_finally(
        tmp_path: Path, env_file: str) -> None:
    book = write_playbook(tmp_path, "decides.ipynb")
    result = run_playbook(book, environment=env_file, incident="P-2",
                          outputs_dir=tmp_path / "out",
                          parameters={"decides.decision": "rollback",
                                      "decides.reason": "health_5xx firing"})
    assert (result.status, result.exit_code, result.branch_taken) == ("rolled_back", 6,
                                                                      "rollback")
    assert result.outcome == "ROLLED BACK"
    assert [(s.runbook, s.branch, s.status, s.decision) for s in result.steps] == [
        ("ok", None, "passed", "continue"), ("decides", None, "failed", "rollback"),
        ("reads_earlier", "rollback", "passed", "continue"),
        ("reads_earlier", None, "passed", "continue")]
    assert "decides decided rollback: health_5xx firing" in result.reason
    # The record: each step names its playbook run and branch; the outcome is kept apart
    incident = tmp_path / "out" / "P-2"
    steps = [(r.runbook, r.playbook["branch"], r.playbook["step"], r.playbook["rehearsal"])
             for r in incident_runs(incident) if r.playbook]
    assert steps == [("ok", None, "main", True), ("decides", None, "main", True),
                     ("reads_earlier", "rollback", "branch", True),
                     ("reads_earlier", None, "finally", True)]
    (group,) = json.loads((incident / "index.json").read_text())["playbook_runs"]
    assert (group["outcome"], group["branch_taken"], group["final"]) == ("ROLLED BACK",
                                                                         "rollback", "done")
    assert group["id"] == incident_runs(incident)[0].playbook["run"] and len(group["runs"]) == 4
    frame = report.playbook_runs_frame("P-2", tmp_path / "out")
    assert frame[["playbook", "mode", "outcome", "branch taken"]].values.tolist() == [
        ["fixture", "rehearsal (sandbox), dry run", "ROLLED BACK", "rollback"]]
    assert verify_incident(incident).ok


def test_a_failed_verdict_without_a_decision_never_rolls_back(
        tmp_path: Path, env_file: str) -> None:
    book = write_playbook(tmp_path, "verdict_failing.ipynb")
    result = run_playbook(book, environment=env_file, incident="P-2b",
                          outputs_dir=tmp_path / "out")
    assert (result.status, result.exit_code, result.branch_taken) == ("failed", 1, None)
    assert [s.runbook for s in result.steps] == ["ok", "verdict_failing", "reads_earlier"]
    assert "verdict failed: agent_events" in result.reason


@pytest.mark.parametrize(("parameters", "options"), [
    ({"decides.decision": "hold"}, ""),          # the data could not decide
    ({"decides.decision": "escalate"}, ""),      # a success criterion missed
    ({}, 'runbook_when_failed = "escalate"'),    # a failed verdict that escalates
])
def test_hold_and_escalate_end_held_with_nothing_rolled_back(
        tmp_path: Path, env_file: str, parameters: dict[str, Any], options: str) -> None:
    second = "verdict_failing.ipynb" if options else "decides.ipynb"
    book = write_playbook(tmp_path, second, second_options=options.replace("runbook_", ""))
    result = run_playbook(book, environment=env_file, incident="P-held",
                          outputs_dir=tmp_path / "out", parameters=parameters)
    assert (result.status, result.exit_code, result.outcome) == ("held", 8, "HELD")
    assert result.branch_taken is None
    assert [s.branch for s in result.steps] == [None, None, None]  # no branch step ran
    assert "nothing was rolled back" in result.reason


def test_a_rollback_without_a_branch_or_a_failing_branch_fails(
        tmp_path: Path, env_file: str) -> None:
    rollback = {"decides.decision": "rollback"}
    unbranched = write_playbook(tmp_path, "decides.ipynb", branch=False)
    result = run_playbook(unbranched, environment=env_file, incident="P-nb",
                          outputs_dir=tmp_path / "out", parameters=rollback)
    assert (result.status, result.exit_code) == ("failed", 1)
    assert "names no branch" in result.reason
    failing_branch = tmp_path / "b2"
    failing_branch.mkdir()
    book = write_playbook(failing_branch, "decides.ipynb", rollback_step="broken.ipynb")
    result = run_playbook(book, environment=env_file, incident="P-fb",
                          outputs_dir=tmp_path / "out", parameters=rollback)
    assert (result.status, result.exit_code, result.branch_taken) == ("failed", 1, "rollback")
    assert "then broken decided fail: the run ended error" in result.reason


def test_a_failing_step_without_a_branch_fails_the_playbook(
        tmp_path: Path, env_file: str) -> None:
    book = write_playbook(tmp_path, "broken.ipynb", branch=False)
    result = run_playbook(book, environment=env_file, incident="P-3",
                          outputs_dir=tmp_path / "out")
    assert (result.status, result.exit_code) == ("failed", 1)
    assert [s.runbook for s in result.steps] == ["ok", "broken", "reads_earlier"]


def test_resume_from_a_phase_and_scenario_parameters(tmp_path: Path, env_file: str) -> None:
    book = write_playbook(tmp_path, "reads_earlier.ipynb")
    first = run_notebook(NOTEBOOKS / "ok.ipynb", environment=env_file, incident="P-4",
                         outputs_dir=tmp_path / "out")  # the phase finished before a stop
    assert first.ok
    staged: list[Scenario] = []
    result = run_playbook(book, environment=env_file, incident="P-4", scenario="story",
                          start_from="reads_earlier", outputs_dir=tmp_path / "out",
                          stage=staged.append)
    assert len(staged) == 1
    assert [s.runbook for s in result.steps] == ["reads_earlier", "ok", "reads_earlier"]
    assert result.status == "remediated"
    ok_runs = [r for r in incident_runs(tmp_path / "out" / "P-4") if r.runbook == "ok"]
    assert len(ok_runs) == 2
    resumed = json.loads((tmp_path / "out" / "P-4" / ok_runs[-1].folder / "summary.json")
                         .read_text())
    assert resumed["parameters"] == {"runs": 5}


def test_scoped_parameters_win_and_the_callers_win_over_the_scenarios(
        tmp_path: Path, env_file: str) -> None:
    book = write_playbook(tmp_path, "reads_earlier.ipynb")

    def runs_of_ok(incident: str, **options: Any) -> list[int]:
        run_playbook(book, environment=env_file, incident=incident,
                     outputs_dir=tmp_path / "out", **options)
        folder = tmp_path / "out" / incident
        return [json.loads((folder / r.folder / "summary.json").read_text())["parameters"]
                ["runs"] for r in incident_runs(folder) if r.runbook == "ok"]

    # the first ok step's own runs = 2 gives way to the caller's, the scoped value wins
    assert runs_of_ok("P-6", parameters={"ok.runs": 7, "runs": 3}) == [7, 7]
    assert runs_of_ok("P-7", parameters={"runs": 3}, scenario="story",
                      stage=lambda _: None) == [3, 3]  # the scenario's ok.runs = 5 gives way


@pytest.mark.parametrize(("parameters", "message"), [
    ({"runz": 1}, "none of the runbooks of playbook fixture has a parameter 'runz'"),
    ({"nope.runs": 1}, "names runbook 'nope', which is not one of the runbooks of playbook"),
    ({"reads_earlier.runs": 1}, "runbook reads_earlier has no parameter 'runs'"),
    ({"runs": "many"}, "parameter 'runs' of runbook ok takes int"),
    ({"ok.runs": 1.5}, "parameter 'runs' of runbook ok takes int"),
])
def test_parameters_are_checked_before_any_step_or_scenario_runs(
        tmp_path: Path, env_file: str, parameters: dict[str, Any], message: str) -> None:
    book = write_playbook(tmp_path, "reads_earlier.ipynb")
    staged: list[Scenario] = []
    with pytest.raises(ParameterError, match=re.escape(message)):
        run_playbook(book, environment=env_file, incident="P-8", parameters=parameters,
                     scenario="story", outputs_dir=tmp_path / "out", stage=staged.append)
    assert staged == [] and not (tmp_path / "out").exists()


def test_bad_playbooks_and_arguments_are_refused(tmp_path: Path, env_file: str) -> None:
    book = write_playbook(tmp_path, "reads_earlier.ipynb")
    with pytest.raises(ParameterError, match="not a phase of playbook fixture"):
        run_playbook(book, environment=env_file, incident="P-5", start_from="nope")
    with pytest.raises(ParameterError, match=r"no scenario 'nope' \(story\)"):
        run_playbook(book, environment=env_file, incident="P-5", scenario="nope")
    with pytest.raises(RunError, match="needs a sandbox"):
        run_playbook(book, environment=env_file, incident="P-5", scenario="story")
    broken = tmp_path / "bad.toml"
    broken.write_text(book.read_text().replace('on_rollback = "rollback"',
                                               'on_rollback = "rollbak"'))
    with pytest.raises(RunError, match="unknown 'rollbak'"):
        load_playbook(broken)
    assert not (tmp_path / "out").exists()


def test_the_shipped_playbook_names_existing_runbooks() -> None:
    book = load_playbook("golden_path_remediation")
    assert [s.runbook for s in book.steps][:2] == ["01_preflight", "02_deploy"]
    assert set(book.scenarios) == {"stale-to-fixed", "bad-deploy", "gradual-bad-deploy",
                                   "memory-leak", "failing-build", "monitoring-down",
                                   "url-mismatch"}
    assert book.scenarios["monitoring-down"].observability == {
        "monitoring": {"fault": "unavailable"}}
    # only a recorded rollback branches: the deploy (failed to deploy or verify) and the
    # monitoring (a seed 4.1 trigger); validation misses escalate
    assert {s.name: (s.on_rollback, s.when_failed) for s in book.steps} == {
        "01_preflight": (None, "fail"), "02_deploy": ("rollback", "fail"),
        "03_config_sync": (None, "escalate"), "04_golden_path_validation": (None, "escalate"),
        "05_performance": (None, "escalate"), "07_monitoring": ("rollback", "fail")}
    # 05 runs only when asked for (--with 05_performance): off by default
    assert [s.name for s in book.steps if s.optional] == ["05_performance"]
