"""The `netra-ops` command as a user runs it: real subprocesses, exit codes, messages."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from netra_ops.config import Environment

ROOT = Path(__file__).resolve().parent.parent


def netra_ops(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netra_ops", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def listed_commands(help_text: str) -> list[str]:
    """The names in the Commands panel of `--help`, in the order shown (a line that starts a
    name; descriptions that wrap start with spaces)."""
    panel = help_text.split("─ Commands ─", 1)[1].split("╰", 1)[0]
    return re.findall(r"^│ (\S+) ", panel, flags=re.MULTILINE)


@pytest.mark.parametrize(("group", "commands"), [
    ((), ["schedule", "doctor", "build", "run", "sandbox", "probe", "records"]),
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
    import deploy or metrics (matplotlib, Google's clients: 0.8 s of CPU a command)."""
    code = ("import sys, netra_ops.cli, netra_ops.playbook as p\n"
            "print(p.is_playbook('golden_path_remediation'), p.is_playbook('04_x'))\n"
            "print(sorted(m for m in ('netra_ops.deploy', 'netra_ops.metrics', 'matplotlib')"
            " if m in sys.modules))\n")
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
