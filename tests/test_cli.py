"""The `netra-ops` command as a user runs it: real subprocesses, exit codes, messages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from netra_ops.config import Environment

ROOT = Path(__file__).resolve().parent.parent


def netra_ops(*args: str, cwd: Path = ROOT,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`netra-ops ARGS`; `env`: variables set for it (NETRA_OPS_ENV is unset otherwise)."""
    environ = {k: v for k, v in os.environ.items() if k != "NETRA_OPS_ENV"} | (env or {})
    return subprocess.run([sys.executable, "-m", "netra_ops", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=environ)


def listed_commands(help_text: str) -> list[str]:
    """The names under `Commands:` in `--help`, in the order shown (a line that starts a
    name; descriptions that wrap start with more spaces)."""
    section = help_text.split("\nCommands:\n", 1)[1]
    return re.findall(r"^  (\S+) ", section, flags=re.MULTILINE)


@pytest.mark.parametrize(("group", "commands"), [
    ((), ["schedule", "watch", "doctor", "build", "run", "rehearse", "sandbox", "probe",
          "records"]),
    (("sandbox",), ["up", "down", "status", "logs", "scenarios", "scenario", "push"]),
    (("probe",), ["health", "golden-path", "urls"]),
    (("records",), ["list", "show", "verify"]),
], ids=["netra-ops", "sandbox", "probe", "records"])
def test_help_lists_the_commands(group: tuple[str, ...], commands: list[str]) -> None:
    """Exactly these: a command lost, renamed or added fails here."""
    result = netra_ops(*group, "--help")
    assert result.returncode == 0, result.stderr
    assert listed_commands(result.stdout) == commands


def test_unknown_environment_is_a_usage_error() -> None:
    result = netra_ops("probe", "health", "--env", "prod")
    assert result.returncode == 2
    assert "error: unknown environment 'prod'" in result.stderr
    assert "sandbox" in result.stderr and "Traceback" not in result.stderr


def test_malformed_environment_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\nkind = \n")
    result = netra_ops("probe", "health", "--env", str(bad))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"error: {bad}: not valid TOML" in result.stderr


def test_bad_runbook_parameter_is_refused_before_running(tmp_path: Path) -> None:
    result = netra_ops("run", "04_golden_path_validation", "--incident", "t", "-p", "runs",
                       "--outputs", str(tmp_path))
    assert result.returncode == 2 and "key=value" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_runbook_lists_the_known_ones(tmp_path: Path) -> None:
    result = netra_ops("run", "99_nothing", "--incident", "t", "--outputs", str(tmp_path))
    assert result.returncode == 2 and "04_golden_path_validation" in result.stderr


def test_status_of_a_stopped_sandbox_says_how_to_start_it(
        make_sandbox_env: Callable[[], Environment]) -> None:
    env = make_sandbox_env()
    result = netra_ops("sandbox", "status", "--env", str(env.source))
    assert result.returncode == 1
    assert "not running" in result.stdout and "netra-ops sandbox up" in result.stdout


def test_probe_against_a_stopped_sandbox_says_how_to_start_it(
        make_sandbox_env: Callable[[], Environment]) -> None:
    env = make_sandbox_env()
    result = netra_ops("probe", "golden-path", "--env", str(env.source))
    assert result.returncode == 2 and "netra-ops sandbox up" in result.stderr


@pytest.mark.sandbox
def test_probe_golden_path_passes_on_the_sandbox(sandbox_env: Environment) -> None:
    result = netra_ops("probe", "golden-path", "--env", str(sandbox_env.source), "--runs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5/5" in result.stdout and "answer:" in result.stdout


def test_records_list_show_and_verify(tmp_path: Path) -> None:
    env = tmp_path / "sandbox.toml"
    env.write_text((ROOT / "environments" / "sandbox.toml").read_text())
    outputs = str(tmp_path / "outputs")
    ran = netra_ops("run", str(ROOT / "tests/record/notebooks/ok.ipynb"), "--incident", "INC-9",
                    "--env", str(env), "--outputs", outputs)
    assert ran.returncode == 0, ran.stderr
    listed = netra_ops("records", "list", "--outputs", outputs)
    assert "INC-9" in listed.stdout and "passed" in listed.stdout
    shown = netra_ops("records", "show", "INC-9", "--outputs", outputs)
    assert shown.returncode == 0 and "ok" in shown.stdout and "index.html" in shown.stdout
    verified = netra_ops("records", "verify", "INC-9", "--outputs", outputs, "--env", str(env))
    assert verified.returncode == 0 and verified.stdout.startswith("ok: ")
    log = next((tmp_path / "outputs" / "INC-9").glob("*/run.log"))
    log.write_text(log.read_text() + "edited\n")
    tampered = netra_ops("records", "verify", "INC-9", "--outputs", outputs)
    assert tampered.returncode == 1 and "changed" in tampered.stdout
    missing = netra_ops("records", "show", "INC-0", "--outputs", outputs)
    assert missing.returncode == 2 and "INC-9" in missing.stderr


def test_running_a_runbook_does_not_import_the_playbook_engine_s_heavy_layers() -> None:
    """`netra-ops run` asks whether its argument is a playbook; that question does not
    import deploy or metrics (matplotlib, Google's clients: 0.8 s of CPU a command), and
    running a runbook (its record, its target check) does not import pandas (0.5 s): the
    kernel shows the tables, the command only writes the record."""
    code = ("import sys, netra_ops.cli, netra_ops.playbook as p\n"
            "import netra_ops.record.runner, netra_ops.record.target, netra_ops.cloud\n"
            "print(p.is_playbook('golden_path_remediation'), p.is_playbook('04_x'))\n"
            "print(sorted(m for m in ('netra_ops.deploy', 'netra_ops.metrics', 'matplotlib',"
            " 'pandas') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["True False", "[]"], done.stdout


def test_the_cli_validates_notebooks_without_compiling_the_iri_grammar() -> None:
    """The CLI process goes without rfc3987-syntax (0.9 s of Lark grammar at import, for a
    string format no schema of ours uses); nbformat still validates, and still refuses a
    notebook that breaks its schema."""
    code = ("import sys, netra_ops.cli, nbformat\n"
            "nb = nbformat.read('notebooks/01_preflight.ipynb', as_version=4)\n"
            "nbformat.validate(nb)\n"
            "nb.cells[0]['cell_type'] = 'no such type'\n"
            "try:\n"
            "    nbformat.validate(nb)\n"
            "except nbformat.ValidationError:\n"
            "    print('refused')\n"
            "print(sys.modules.get('rfc3987_syntax'), 'jsonschema' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused", "None", "True"], done.stdout


@pytest.mark.parametrize("argv", [("--help",), ("run", "--help"), ("schedule", "--help"),
                                  ("records", "verify", "--help")])
def test_flags_are_shown_as_flags_without_a_value(argv: tuple[str, ...]) -> None:
    """Not `--verbose -v <bool>`, as if the flag took a value."""
    result = netra_ops(*argv)
    assert result.returncode == 0, result.stderr
    assert "<bool>" not in result.stdout
    assert re.search(r"^  (-v, --verbose|--execute|--print-cron|--help) +\S", result.stdout,
                     flags=re.MULTILINE), result.stdout


@pytest.mark.parametrize("argv", [("records", "verify", ".."),
                                  ("records", "show", "../../etc"),
                                  ("records", "show", ".."),
                                  ("records", "verify", "a/b")])
def test_records_refuse_an_id_outside_the_records_at_once(argv: tuple[str, ...]) -> None:
    """`records verify ..` hashed the whole checkout (926 MB) for minutes; `records show ..`
    exited 0 with a path that does not exist. Now: exit 2, one line, nothing read."""
    result = netra_ops(*argv)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "error: incident id" in result.stderr
    assert "e.g. INC-2041" in result.stderr


@pytest.mark.parametrize("command", ["show", "verify"])
def test_records_of_a_missing_incident_say_which_exist(command: str, tmp_path: Path) -> None:
    result = netra_ops("records", command, "nonexistent", "--outputs", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "no record of incident 'nonexistent'" in result.stderr
    assert "netra-ops records list" in result.stderr


def test_records_list_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = netra_ops("records", "list", "--outputs", str(tmp_path / "none"))
    assert result.returncode == 2 and "no records folder" in result.stderr


def test_netra_ops_env_is_the_default_of_every_env_option(tmp_path: Path) -> None:
    nope = {"NETRA_OPS_ENV": "nope"}
    for argv in (("probe", "health"), ("sandbox", "scenarios"),
                 ("schedule", "-i", "t", "--print-cron")):
        result = netra_ops(*argv, env=nope)
        assert result.returncode == 2, argv
        assert "unknown environment 'nope' (from $NETRA_OPS_ENV)" in result.stderr, argv
    doctor = netra_ops("doctor", env=nope)  # a failed row, exit 1, as for --env nope
    assert doctor.returncode == 1 and "doctor: environment nope" in doctor.stdout
    assert netra_ops("sandbox", "scenarios", "--env", "sandbox", env=nope).returncode == 0
    assert "env var: NETRA_OPS_ENV" in netra_ops("run", "--help").stdout


@pytest.mark.parametrize("target", ["04_golden_path_validation", "golden_path_remediation"])
def test_a_missing_secret_stops_a_run_before_anything_runs(target: str,
                                                           tmp_path: Path) -> None:
    """On staging (named by NETRA_OPS_ENV) without its test user's password: exit 2 before
    the first runbook, as `probe golden-path` does; not a cell error (exit 3) mid-run."""
    result = netra_ops("run", target, "--incident", "INC-1", "--outputs", str(tmp_path),
                       env={"NETRA_OPS_ENV": "staging", "NETRA_STAGING_TEST_PASSWORD": ""})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "error: missing secret" in result.stderr
    assert ("the test user's password for 04_golden_path_validation" in result.stderr
            and "environment variable NETRA_STAGING_TEST_PASSWORD is not set"
            in result.stderr and "[REDACTED]" not in result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_the_runbooks_default_environment_is_netra_ops_env() -> None:
    """A runbook's parameters cell says `environment = ""`; `runbook_setup` (its first cell)
    then loads $NETRA_OPS_ENV, which `make lab ENV=...` sets; a papermill parameter still
    names one explicitly."""
    code = ("from netra_ops.record import runbook_setup\n"
            "print(runbook_setup('').name, runbook_setup('sandbox').name)\n")
    for env, expected in (({"NETRA_OPS_ENV": "staging"}, "staging sandbox"),
                          ({}, "sandbox sandbox")):
        environ = {k: v for k, v in os.environ.items() if k != "NETRA_OPS_ENV"} | env
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env=environ)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\n")[-2] == expected


def test_one_list_of_scenarios_names_both_kinds() -> None:
    listed = netra_ops("sandbox", "scenarios")
    assert listed.returncode == 0, listed.stderr
    rehearsals, states = listed.stdout.split("\n\n")
    assert re.search(r"^  bad-deploy +ROLLED BACK ", rehearsals, flags=re.MULTILINE)
    assert re.search(r"^  stale-to-fixed +REMEDIATED ", rehearsals, flags=re.MULTILINE)
    assert re.search(r"^  stale-build +The seed's stale build", states, flags=re.MULTILINE)


@pytest.mark.parametrize(("argv", "said"), [
    (("sandbox", "scenario", "bad-dep"), "unknown scenario 'bad-dep'"),
    (("rehearse", "bad-dep"), "unknown scenario 'bad-dep'"),
    (("run", "golden_path_remediation", "-i", "t", "--scenario", "bad-dep"),
     "unknown scenario 'bad-dep'"),
    (("run", "golden_path_remediation", "-i", "t", "--scenario", "slow"),
     "'slow' is a sandbox state, not a rehearsal of golden_path_remediation: stage it with "
     "netra-ops sandbox scenario slow"),
    (("rehearse", "stale-build"), "netra-ops sandbox scenario stale-build"),
])
def test_a_scenario_name_of_the_wrong_kind_or_none_lists_the_valid_ones(
        argv: tuple[str, ...], said: str, tmp_path: Path) -> None:
    result = netra_ops(*argv, "--outputs", str(tmp_path)) if argv[0] != "sandbox" else \
        netra_ops(*argv)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert said in result.stderr
    assert "bad-deploy" in result.stderr and "stale-to-fixed" in result.stderr
    if "unknown" in said:
        assert "stale-build" in result.stderr and "realistic" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.sandbox
def test_a_rehearsal_name_stages_its_start_in_the_sandbox(
        restored_sandbox_env: Environment) -> None:
    """`sandbox scenario bad-deploy` was "unknown scenario": it stages what serves before
    that rehearsal (the fixed build, no fault), as the playbook would."""
    env = restored_sandbox_env  # the start deploys by digest: put back afterwards
    staged = netra_ops("sandbox", "scenario", "bad-deploy", "--env", str(env.source))
    assert staged.returncode == 0, staged.stderr
    assert "netra-ops rehearse bad-deploy" in staged.stdout
    probed = netra_ops("probe", "golden-path", "--env", str(env.source))
    assert probed.returncode == 0, probed.stdout  # the fixed build serves


def test_a_playbook_checks_the_incident_id_before_staging_a_scenario(tmp_path: Path) -> None:
    result = netra_ops("run", "golden_path_remediation", "--incident", "../x", "--scenario",
                       "bad-deploy", "--outputs", str(tmp_path))
    assert result.returncode == 2 and "incident id '../x' is not valid" in result.stderr
    assert list(tmp_path.iterdir()) == []
