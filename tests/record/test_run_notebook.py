"""`run_notebook()` on tiny fixture notebooks, with real papermill runs and real kernels.

Each fixture notebook runs once (the ok one twice, for the append-only check); tests then
read the records. Environments are temporary copies of environments/sandbox.toml: one whose
credential cannot be resolved (the runner ignores that), one whose credential resolves from
an environment variable (the runner scrubs that value from the record).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from runbook_records import external_references

from netra_ops.errors import NotebookNotFoundError, ParameterError, RunError
from netra_ops.record import RunResult, find_secrets, run_notebook
from netra_ops.record.archive import create_record_dir
from netra_ops.record.runner import find_runbook

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"
RECORD_FILES = {"run.log", "summary.json", "manifest.json"}
SUMMARY_KEYS = {"runbook", "notebook", "html", "incident", "environment", "parameters",
                "records", "status", "exit_code", "started_at", "finished_at", "duration_s",
                "failing_cell", "in_flight", "netra_ops_version"}
ENV_PASSWORD = "env-password-9f8e7d6c5b"
PASSWORD_VAR = "NETRA_OPS_TEST_RECORD_PASSWORD"


def _segment(data: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# The same values secret_leaking.ipynb builds at run time.
LEAKED_JWT = ".".join([_segment({"alg": "HS256", "typ": "JWT"}), _segment({"sub": "user-1"}),
                       "c2lnbmF0dXJl" * 3])
LEAKED_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module", autouse=True)
def no_kernel_left_behind() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 10
    while (kernels := _kernel_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kernels == [], f"kernel processes survived: {kernels}"


def _kernel_processes() -> list[int]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox environment whose credential file does not exist (resolution fails)."""
    path = tmp_path_factory.mktemp("env") / "sandbox.toml"
    path.write_text(SANDBOX_TOML.read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outputs")


def run(name: str, env: Path, outputs: Path, incident: str = "INC-1", **kw: Any) -> RunResult:
    return run_notebook(NOTEBOOKS / f"{name}.ipynb", environment=str(env), incident=incident,
                        outputs_dir=outputs, **kw)


@pytest.fixture(scope="module")
def ok_runs(env_file: Path, outputs: Path) -> tuple[RunResult, RunResult]:
    first = run("ok", env_file, outputs, incident="INC-ok", parameters={"runs": 2})
    second = run("ok", env_file, outputs, incident="INC-ok", parameters={"runs": 3})
    return first, second


def summary_on_disk(result: RunResult) -> dict[str, Any]:
    return dict(json.loads((result.record_dir / "summary.json").read_text(encoding="utf-8")))


def assert_complete(result: RunResult, runbook: str) -> None:
    files = {p.name for p in result.record_dir.iterdir()}
    assert files == RECORD_FILES | {f"{runbook}.ipynb", f"{runbook}.html"}
    assert result.notebook_path == result.record_dir / f"{runbook}.ipynb"
    assert result.html_path == result.record_dir / f"{runbook}.html"
    summary = summary_on_disk(result)
    assert summary == result.summary and set(summary) == SUMMARY_KEYS
    assert summary["status"] == result.status and summary["exit_code"] == result.exit_code
    assert summary["notebook"] == f"{runbook}.ipynb" and summary["html"] == f"{runbook}.html"
    nbformat.validate(nbformat.read(result.notebook_path, as_version=4))
    assert "<html" in result.html_path.read_text(encoding="utf-8")[:2000]


def marked_cell(result: RunResult) -> nbformat.NotebookNode:
    """The failing cell the summary points to, checked to be marked in the notebook."""
    failing = result.summary["failing_cell"]
    notebook = nbformat.read(result.notebook_path, as_version=4)
    cell = notebook.cells[failing["index"]]
    assert cell.metadata.papermill.status == "failed" and cell.metadata.papermill.exception
    assert cell.execution_count == failing["execution_count"]
    assert cell.source.startswith(failing["source"])
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors[-1].ename == failing["ename"] and errors[-1].evalue == failing["evalue"]
    anchor = notebook.cells[failing["index"] - 1]
    assert 'id="papermill-error-cell"' in anchor.source
    assert "papermill-error-cell-tag" in notebook.cells[0].metadata.tags
    return cell


def test_ok_run_passes_with_lifted_records_and_an_embedded_chart(
        ok_runs: tuple[RunResult, RunResult], outputs: Path) -> None:
    result = ok_runs[0]
    assert (result.status, result.exit_code, result.ok) == ("passed", 0, True)
    assert_complete(result, "ok")
    assert re.fullmatch(r"\d{8}T\d{6}Z-ok", result.record_dir.name)
    assert result.record_dir.parent == outputs / "INC-ok"
    summary = result.summary
    assert summary["records"] == {
        "probe.latency_ms": 48.0,
        "probe.table": [{"probe": "health", "ms": 12.5}, {"probe": "login", "ms": 48.0}],
        "probe.checked_at": "2024-05-01T12:00:00+00:00",
        "probe.count": 2,
        "verdict.passed": True,
        "verdict.failed": [],
    }
    assert summary["parameters"] == {"runs": 2} and summary["failing_cell"] is None
    assert summary["incident"] == "INC-ok" and summary["runbook"] == "ok"
    started = dt.datetime.fromisoformat(summary["started_at"])
    finished = dt.datetime.fromisoformat(summary["finished_at"])
    assert started <= finished and summary["duration_s"] == pytest.approx(
        (finished - started).total_seconds(), abs=0.01)
    assert re.search(r'src="data:image/png;base64,[A-Za-z0-9+/]{100}', result.html_path.read_text())
    notebook = nbformat.read(result.notebook_path, as_version=4)
    assert notebook.metadata.papermill.parameters == {
        "incident_id": "INC-ok", "environment": summary["environment"], "runs": 2}
    assert "PASS" in result.html_path.read_text()
    log = (result.record_dir / "run.log").read_text()
    assert "starting runbook ok" in log and "finished runbook ok: passed (exit 0)" in log
    assert "Passed unknown parameter" not in log  # parameters are checked before the run


def test_the_html_record_is_self_contained(ok_runs: tuple[RunResult, RunResult]) -> None:
    """Opened offline, or years later, it renders as written: no script, style or image
    from a CDN (nbconvert's page loads require.js, MathJax and Mermaid from cdnjs)."""
    page = ok_runs[0].html_path.read_text(encoding="utf-8")
    assert external_references(page) == []
    assert not re.search(r"<script[^>]*src=\"http|cdnjs|unpkg\.com|jsdelivr", page)
    assert "<style" in page and 'src="data:image/png;base64,' in page  # inlined instead


def test_rerunning_an_incident_adds_a_record_and_never_overwrites(
        ok_runs: tuple[RunResult, RunResult], tmp_path: Path) -> None:
    first, second = ok_runs
    assert first.record_dir != second.record_dir
    assert first.record_dir.parent == second.record_dir.parent
    assert summary_on_disk(first)["parameters"] == {"runs": 2}
    assert summary_on_disk(second)["parameters"] == {"runs": 3}
    assert_complete(second, "ok")
    same_second = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    made = [create_record_dir(tmp_path, "INC-7", "ok", same_second) for _ in range(3)]
    assert [p.name for p in made] == [
        "20240501T120000Z-ok", "20240501T120000Z-ok-2", "20240501T120000Z-ok-3"]


def test_failed_verdict_exits_1_with_the_verdict_cell_marked(
        env_file: Path, outputs: Path) -> None:
    result = run("verdict_failing", env_file, outputs)
    assert (result.status, result.exit_code, result.ok) == ("failed", 1, False)
    assert_complete(result, "verdict_failing")
    cell = marked_cell(result)
    assert cell.source.startswith("verdict(")
    failing = result.summary["failing_cell"]
    assert failing["ename"] == "VerdictFailed"
    assert "agent_events: value 0.5 vs threshold 1.0" in failing["evalue"]
    assert result.summary["records"] == {
        "golden_path.pass_rate": 0.5, "verdict.passed": False, "verdict.failed": ["agent_events"]}


def test_crashing_cell_exits_3_and_outputs_default_from_the_environment(
        env_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NETRA_OPS_OUTPUTS", str(tmp_path / "records"))
    with caplog.at_level(logging.INFO, logger="netra_ops.record"):
        result = run_notebook(NOTEBOOKS / "broken.ipynb", environment=str(env_file),
                              incident="INC-3")
    assert (result.status, result.exit_code) == ("error", 3)
    assert result.record_dir.parent == tmp_path / "records" / "INC-3"
    assert_complete(result, "broken")
    marked_cell(result)
    assert result.summary["failing_cell"]["ename"] == "KeyError"
    assert result.summary["records"] == {"step": 1}
    messages = [r.getMessage() for r in caplog.records if r.name == "netra_ops.record"]
    assert any(m.startswith("starting runbook broken") and str(result.record_dir) in m
               for m in messages)
    assert any("finished runbook broken: error (exit 3)" in m and str(result.record_dir) in m
               for m in messages)


def test_cell_timeout_exits_4_with_a_complete_record(env_file: Path, outputs: Path) -> None:
    # Every cell gets the timeout, the importing one too: 10 s holds on a busy machine,
    # and the sleeping cell (300 s) is the only one that can reach it.
    started = time.monotonic()
    result = run("slow", env_file, outputs, cell_timeout_s=10)
    assert time.monotonic() - started < 200
    assert (result.status, result.exit_code) == ("timeout", 4)
    assert_complete(result, "slow")
    cell = marked_cell(result)
    assert "time.sleep(300)" in cell.source
    assert any("never becomes ready" in o.get("text", "") for o in cell.outputs)
    assert result.summary["failing_cell"]["ename"] == "CellTimeoutError"
    assert result.summary["records"] == {"before_sleep": True}
    notebook = nbformat.read(result.notebook_path, as_version=4)
    assert notebook.cells[-1].metadata.papermill.status == "pending"
    assert "the cell timed out" in result.html_path.read_text()


def test_dead_kernel_exits_5_with_the_cell_marked(env_file: Path, outputs: Path) -> None:
    result = run("kernel_dying", env_file, outputs)
    assert (result.status, result.exit_code) == ("kernel_died", 5)
    assert_complete(result, "kernel_dying")
    assert "os._exit(1)" in marked_cell(result).source
    assert result.summary["failing_cell"]["ename"] == "DeadKernelError"
    assert result.summary["records"] == {"before_exit": True}


def test_leaked_secrets_reach_no_file_of_the_record(
        env_file: Path, outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_password = env_file.with_name("with-password.toml")
    with_password.write_text(env_file.read_text().replace(
        'password = "file:../.sandbox/secrets/test-user-password"',
        f'password = "env:{PASSWORD_VAR}"'))
    monkeypatch.setenv(PASSWORD_VAR, ENV_PASSWORD)
    result = run("secret_leaking", with_password, outputs, incident="INC-leak")
    assert (result.status, result.exit_code) == ("error", 3)
    assert_complete(result, "secret_leaking")
    notebook = nbformat.read(result.notebook_path, as_version=4)
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert "access token: [REDACTED]" in printed and "environment password is [REDACTED]" in printed
    leaks = [LEAKED_JWT.encode(), LEAKED_JWT[::-1][:40].encode(), LEAKED_PASSWORD.encode(),
             ENV_PASSWORD.encode()]
    for path in result.record_dir.iterdir():
        content = path.read_bytes()
        assert [leak for leak in leaks if leak in content] == [], path.name
        assert not re.search(rb"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.", content), path.name
        assert not re.search(rb"Bearer [A-Za-z0-9]", content), path.name
        assert find_secrets(content.decode(), [ENV_PASSWORD]) == [], path.name
    assert "redacted from the notebook" in (result.record_dir / "run.log").read_text()


@pytest.mark.parametrize("parameters", [{"password": "hunter2-hunter2"},
                                        {"target": LEAKED_JWT}])
def test_secret_parameters_are_refused_before_any_record(
        env_file: Path, tmp_path: Path, parameters: dict[str, str]) -> None:
    with pytest.raises(ParameterError, match=r"pass a secret reference \(env:NAME or file:PATH\)"):
        run("ok", env_file, tmp_path, incident="INC-secret", parameters=parameters)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"incident": "../INC"}, ParameterError, "incident id"),
    ({"cell_timeout_s": 0}, ParameterError, "cell timeout"),
    ({"kernel_name": "no-such-kernel"}, RunError, "no Jupyter kernel named 'no-such-kernel'"),
    ({"parameters": {"environment": "staging"}}, ParameterError, "set by the runner"),
])
def test_bad_input_raises_before_any_record(env_file: Path, tmp_path: Path,
                                            kwargs: dict[str, Any], error: type[Exception],
                                            message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        run("ok", env_file, tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_runbooks_are_found_by_name_and_missing_ones_list_the_available(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_file: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "alpha.ipynb").write_bytes((NOTEBOOKS / "ok.ipynb").read_bytes())
    monkeypatch.chdir(tmp_path)
    expected = (tmp_path / "notebooks" / "alpha.ipynb").resolve()
    assert find_runbook("alpha") == find_runbook("alpha.ipynb") == expected
    assert find_runbook("notebooks/alpha.ipynb") == expected
    with pytest.raises(NotebookNotFoundError, match=r"no runbook named 'beta'.*alpha"):
        run_notebook("beta", environment=str(env_file), incident="INC-1")
    with pytest.raises(NotebookNotFoundError, match=r"no notebook at elsewhere/beta.ipynb"):
        find_runbook("elsewhere/beta.ipynb")
