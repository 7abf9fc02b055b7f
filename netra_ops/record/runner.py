"""Running a runbook headless with papermill and archiving the run as an incident record.

`run_notebook()` runs in order: find the runbook, check the incident id and the parameters,
execute with papermill into a private temporary file, classify how it ended, mark the cell
that stopped it, scrub, and write the record (`archive`). Whatever happens inside the kernel,
the record is complete; only bad input (unknown runbook, malformed or secret parameters,
unknown environment or kernel) raises before a record is created.

Exit codes: 0 passed, 1 verdict failed, 3 cell error, 4 cell timeout, 5 kernel died,
7 whole-run deadline, 130 interrupted (SIGINT / Ctrl-C), 143 terminated (SIGTERM); 2 is the
CLI's, for usage and configuration errors. A run stopped by a whole-run deadline is returned
like any other; a run stopped by SIGTERM or Ctrl-C is recorded, then `RunStopped` is raised
(with the result), so that whoever runs it stops too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import netra_ops
from netra_ops.config import load_environment
from netra_ops.errors import (
    NotebookNotFoundError,
    ParameterError,
    RunError,
    RunStopped,
    SecretError,
)
from netra_ops.kernel import HEADLESS_ENV
from netra_ops.record import archive, execution, in_flight
from netra_ops.record.incident import outputs_root, write_index
from netra_ops.record.manifest import write_manifest, write_run_manifest
from netra_ops.record.parameters import (
    check_against_runbook,
    check_incident,
    check_parameters,
)
from netra_ops.record.progress import RunProgress, RunWatch, watch_run
from netra_ops.record.recorder import lift_records
from netra_ops.record.secret_needs import require_secrets
from netra_ops.record.staging import is_staged
from netra_ops.record.target import require_target
from netra_ops.secrets import resolve_secret

if TYPE_CHECKING:  # nbformat is imported when a run starts: it is slow to import
    from nbformat import NotebookNode

__all__ = [
    "EXIT_CODES",
    "STOPPED",
    "RunResult",
    "find_runbook",
    "known_secrets",
    "list_runbooks",
    "run_notebook",
]

EXIT_CODES: dict[str, int] = {
    "passed": 0,
    "failed": 1,
    "error": 3,
    "timeout": 4,
    "kernel_died": 5,
    "deadline": 7,
    "interrupted": 130,
    "terminated": 143,
}
"""Run status -> process exit code (2 is left to the CLI's usage and config errors)."""

STOPPED = frozenset({"interrupted", "terminated"})
"""Statuses of a run this process was asked to stop (`RunStopped` is raised after them)."""

# Endings after which papermill leaves the cell it was running unmarked: the runner marks it.
_RUNNING_CELL_UNMARKED = frozenset({"timeout", "kernel_died", "deadline", *STOPPED})

_ERROR_MARKER_TAG = "papermill-error-cell-tag"  # papermill removes these cells on a re-run
_BANNER_STYLE = 'style="color:red; font-family:sans-serif; font-size:1.5em;"'
_SOURCE_LINES = 8
_SANDBOX_SECRET_FILES = ("jwt-secret", "test-user-password")


@dataclass(frozen=True)
class RunResult:
    """How a run ended and where its record is."""

    status: str
    exit_code: int
    record_dir: Path
    notebook_path: Path
    html_path: Path
    summary: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        """True when the runbook ran to the end and its verdict (if any) passed."""
        return self.status == "passed"


def run_notebook(
    notebook: str | Path,
    *,
    environment: str,
    incident: str,
    parameters: Mapping[str, Any] | None = None,
    outputs_dir: str | Path | None = None,
    cell_timeout_s: float | None = None,
    deadline_s: float | None = None,
    kernel_name: str | None = None,
    playbook: Mapping[str, Any] | None = None,
    check_target: bool = False,
    progress: RunProgress | None = None,
) -> RunResult:
    """Execute a runbook with papermill and archive the run; see the module docstring.

    `notebook` is a path or a runbook name (`02_deploy`); the kernel receives `incident_id`
    and `environment` then `parameters`. The record goes to
    `<outputs>/<incident>/<UTC stamp>-<runbook>/` (outputs: `outputs_dir`,
    `$NETRA_OPS_OUTPUTS`, the environment's `records_url` or `./outputs`; a `gs://` bucket
    is written through a local staging folder and published when the run is sealed, see
    `netra_ops.record.bucket`). `cell_timeout_s` limits each cell (rounded up to
    whole seconds), `deadline_s` the whole run. SIGTERM and SIGINT of this process during the
    run stop it; the run is recorded as "terminated" / "interrupted" (see
    `netra_ops.record.execution`), then `RunStopped` is raised with the result. `playbook`
    (a playbook's step: which playbook run, scenario, branch...) goes to summary.json as it
    is. The run's folder gets its own manifest, whose digest the incident's index keeps.

    `check_target`: when the runbook reaches the environment's services or APIs (its
    metadata says so), check first that they answer; TargetUnreachableError, and nothing
    is recorded, when they do not (`netra_ops.record.target`). `progress` is shown the
    run's cells and the kernel's log lines while it runs (`netra_ops.record.progress`).
    """
    source = find_runbook(notebook)
    user_parameters = check_parameters(parameters or {})
    check_against_runbook(source, user_parameters)
    injected = {"incident_id": check_incident(incident), "environment": environment,
                **user_parameters}
    require_secrets(load_environment(environment), [(source.stem, user_parameters)])
    if check_target:
        require_target(environment, [source])
    timeout = _cell_timeout(cell_timeout_s)
    deadline = _deadline(deadline_s)
    secrets = known_secrets(environment)
    input_nb = _read_notebook(source)
    kernel = _kernel_for(input_nb, kernel_name)
    started = dt.datetime.now(dt.UTC)
    root = outputs_root(outputs_dir, environment)
    _pull(root / incident)
    record_dir = archive.create_record_dir(root, incident, source.stem, started)
    with execution.stop_signals() as stop, archive.RunLog(record_dir / "run.log",
                                                              secrets) as log, \
            in_flight.audit_file() as changes, \
            _watch(progress, source.stem, input_nb, secrets) as watch:
        log.info(f"starting runbook {source.stem} ({source}) for incident {incident} on "
                 f"environment {environment}, kernel {kernel}; record: {record_dir}")
        kernel_env = {"NETRA_OPS_OUTPUTS": str(root.resolve()), HEADLESS_ENV: "1",
                      **in_flight.kernel_audit_env(changes), **watch.kernel_env}
        outcome, unfinished = _execute(source, input_nb, injected, kernel, timeout, deadline,
                                       log, kernel_env, stop, (changes, environment),
                                       watch.engine_kwargs)
        finished = dt.datetime.now(dt.UTC)
        result = _archive(outcome, record_dir, secrets, log, {
            "runbook": source.stem, "incident": incident, "environment": environment,
            "parameters": user_parameters,
            "started_at": started, "finished_at": finished, "in_flight": unfinished,
            "playbook": dict(playbook) if playbook else None,
        })
        log.info(f"finished runbook {source.stem}: {result.status} (exit {result.exit_code}) "
                 f"in {result.summary['duration_s']:.1f} s; record: {record_dir}")
        write_run_manifest(record_dir)  # the last line of run.log is written: sealed
        watch.finished(f"{result.status.upper()} (exit {result.exit_code}) in "
                       f"{result.summary['duration_s']:.1f} s")
        write_index(record_dir.parent)
        write_manifest(record_dir.parent)
    if result.status in STOPPED:
        raise RunStopped(f"runbook {source.stem} was {result.status}; its record is "
                         f"{record_dir}", result.status, result.exit_code, result)
    return result


def _watch(progress: RunProgress | None, runbook: str, input_nb: NotebookNode,
           secrets: list[str]) -> contextlib.AbstractContextManager[RunWatch]:
    """Watch the run for `progress` (None: nothing is watched): its code cells, with the
    one papermill injects with the parameters."""
    cells = sum(cell.cell_type == "code" for cell in input_nb.cells) + 1
    return watch_run(progress, runbook, cells, secrets)


def find_runbook(notebook: str | Path) -> Path:
    """The notebook file a path or runbook name refers to; NotebookNotFoundError if none."""
    path = Path(notebook)
    if path.is_file():
        return path.resolve()
    if len(path.parts) > 1:
        raise NotebookNotFoundError(f"no notebook at {path}; {_available()}")
    name = path.name.removesuffix(".ipynb")
    for folder in runbook_folders():
        if (folder / f"{name}.ipynb").is_file():
            return (folder / f"{name}.ipynb").resolve()
    raise NotebookNotFoundError(f"no runbook named {name!r}; {_available()}")


def runbook_folders() -> list[Path]:
    """Where runbook names are looked up: ./notebooks, then notebooks/ beside the package."""
    folders = [Path.cwd() / "notebooks", Path(netra_ops.__file__).resolve().parent.parent /
               "notebooks"]
    return [f for i, f in enumerate(folders) if f.resolve() not in
            [g.resolve() for g in folders[:i]]]


def list_runbooks() -> list[str]:
    """Names of the runbooks found in `runbook_folders()`."""
    return sorted({p.stem for f in runbook_folders() if f.is_dir() for p in f.glob("*.ipynb")})


def _available() -> str:
    names = ", ".join(list_runbooks()) or "none"
    folders = ", ".join(str(f) for f in runbook_folders())
    return f"available runbooks: {names} (searched {folders})"


def _cell_timeout(cell_timeout_s: float | None) -> int | None:
    if cell_timeout_s is None:
        return None
    if not cell_timeout_s > 0 or math.isinf(cell_timeout_s):
        raise ParameterError(f"cell timeout must be a positive number of seconds, got "
                             f"{cell_timeout_s!r}")
    return math.ceil(cell_timeout_s)


def _deadline(deadline_s: float | None) -> float | None:
    if deadline_s is not None and (not deadline_s > 0 or math.isinf(deadline_s)):
        raise ParameterError(f"run deadline must be a positive number of seconds, got "
                             f"{deadline_s!r}")
    return deadline_s


def known_secrets(environment: str) -> list[str]:
    """Secret values to scrub as literals: whatever the environment's secret references
    resolve to (its credential, the expected values of [secret_env], the [dependencies]
    connection strings and their passwords) and, for a sandbox, the secrets it generated."""
    env = load_environment(environment)
    references = [env.credentials.password, *env.secret_env.values(),
                  *(ref for ref in (env.dependencies.postgres, env.dependencies.redis) if ref)]
    if env.sandbox is not None:
        references += [f"file:{env.sandbox.state_dir / 'secrets' / name}"
                       for name in _SANDBOX_SECRET_FILES]
    found = []
    for reference in references:
        with contextlib.suppress(SecretError):
            value = resolve_secret(reference)
            found += [value, *_url_password(value)]
    return [value for value in found if value]


def _url_password(value: str) -> list[str]:
    """The password of a connection string (`scheme://user:password@host/...`), if any."""
    with contextlib.suppress(ValueError):
        password = urlsplit(value).password
        return [unquote(password)] if password else []
    return []


def _read_notebook(path: Path) -> NotebookNode:
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError) as exc:  # nbformat's NotJSONError is a ValueError
        raise RunError(f"{path} is not a readable notebook: {exc}") from None


def _kernel_for(notebook: NotebookNode, kernel_name: str | None) -> str:
    """The kernel to use (given, else the notebook's, else python3), checked to exist."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel_name or notebook.metadata.get("kernelspec", {}).get("name") or "python3"
    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise RunError(f"no Jupyter kernel named {name!r} (installed: {known}); pass "
                       f"kernel_name or install it with ipykernel") from None
    return name


def _pull(folder: Path) -> None:
    """For a bucket's staging folder: the incident's records as the bucket has them now
    (earlier values, the run names taken, the index this run extends)."""
    if is_staged(folder.parent):
        from netra_ops.record.bucket import pull_incident

        pull_incident(folder)


def _execute(source: Path, input_nb: NotebookNode, parameters: dict[str, Any],
             kernel: str, timeout: int | None, deadline_s: float | None, log: archive.RunLog,
             kernel_env: dict[str, str], stop: execution.RunStop,
             changes: tuple[Path, str], hooks: dict[str, Any]
             ) -> tuple[execution.Execution, list[dict[str, Any]]]:
    """Execute (never raises for what happens in the kernel) and mark the cell that stopped;
    with the changes the kernel left in flight when it was stopped (`changes`: its audit
    file and the environment; none unless the kernel was stopped)."""
    outcome = execution.execute(source, input_nb, parameters, kernel, timeout, deadline_s,
                                kernel_env, stop, hooks)
    for line in outcome.kernel_output.splitlines():
        if line.strip():
            log.write("KERNEL", "kernel", line)
    for number, failure in enumerate(outcome.failed_starts, start=1):
        log.warning(f"kernel {number} died before it was ready ({failure}); no cell had run, "
                    "so a new kernel was started (its output is above)")
    unfinished = (in_flight.in_flight(*changes) if outcome.status in _RUNNING_CELL_UNMARKED
                  else [])
    if unfinished:
        log.warning(in_flight.in_flight_text(unfinished))
    if outcome.status in _RUNNING_CELL_UNMARKED or (
            outcome.status == "error" and not _marked_cell_index(outcome.notebook)):
        _mark_stopped_cell(outcome.notebook, outcome.status, outcome.error,
                           in_flight.in_flight_text(unfinished))
    return outcome, unfinished


def _mark_stopped_cell(nb: NotebookNode, status: str, error: BaseException | None,
                       changes: str = "") -> None:
    """Mark the cell papermill was running when it stopped (papermill does not, then), with
    what was in flight (`changes`)."""
    import nbformat

    ename = type(error).__name__ if error else "Error"
    evalue = _first_line(str(error)) if error else status
    index = _running_cell_index(nb)
    nb.metadata.setdefault("papermill", {})["exception"] = True
    if index is None:
        _insert_banner(nb, 0, f"Execution stopped before any cell ran: {ename}: {evalue}")
        return
    cell = nb.cells[index]
    cell.setdefault("outputs", []).append(nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
    cell.metadata.setdefault("papermill", {}).update(status="failed", exception=True)
    for later in nb.cells[index + 1:]:  # papermill called them completed; they never ran
        if "papermill" in later.metadata:
            later.metadata.papermill["status"] = "pending"
    then = f". {changes[:1].upper()}{changes[1:]}." if changes else ""
    anchor = nbformat.v4.new_markdown_cell(
        f'<span id="papermill-error-cell" {_BANNER_STYLE}>Execution stopped here: '
        f"{_reason(status)}{then}</span>")
    anchor.metadata["tags"] = [_ERROR_MARKER_TAG]
    nb.cells.insert(index, anchor)
    _insert_banner(nb, 0, f'Execution stopped at <a href="#papermill-error-cell">In '
                          f"[{cell.get('execution_count') or ' '}]</a>: {_reason(status)}")


def _reason(status: str) -> str:
    return {"timeout": "the cell timed out", "kernel_died": "the kernel died",
            "deadline": "the run exceeded its deadline",
            "interrupted": "the run was interrupted (SIGINT / Ctrl-C)",
            "terminated": "the runner was terminated (SIGTERM)"}.get(status, "the runner failed")


def _insert_banner(nb: NotebookNode, index: int, text: str) -> None:
    import nbformat

    banner = nbformat.v4.new_markdown_cell(f"<span {_BANNER_STYLE}>{text}</span>")
    banner.metadata["tags"] = [_ERROR_MARKER_TAG]
    nb.cells.insert(index, banner)


def _running_cell_index(nb: NotebookNode) -> int | None:
    """The last code cell papermill started (its start_time is set), if any."""
    started = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
               and c.metadata.get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _marked_cell_index(nb: NotebookNode) -> int | None:
    """The first code cell marked as failed or holding an error output."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("papermill", {}).get("exception") is True or _error_output(cell):
            return index
    return None


def _error_output(cell: NotebookNode) -> dict[str, Any] | None:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"
              and not (o.get("ename") == "SystemExit" and o.get("evalue") in ("", "0"))]
    return errors[-1] if errors else None


def _failing_cell(nb: NotebookNode) -> dict[str, Any] | None:
    index = _marked_cell_index(nb)
    if index is None:
        return None
    cell = nb.cells[index]
    error = _error_output(cell) or {}
    return {
        "index": index,
        "execution_count": cell.get("execution_count"),
        "source": "\n".join(cell.source.splitlines()[:_SOURCE_LINES]),
        "ename": error.get("ename"),
        "evalue": error.get("evalue"),
    }


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _archive(outcome: execution.Execution, record_dir: Path, secrets: list[str],
             log: archive.RunLog, facts: dict[str, Any]) -> RunResult:
    """Scrub and write the notebook, its HTML and summary.json; the RunResult to return."""
    runbook = facts["runbook"]
    notebook, findings = archive.scrub_notebook(outcome.notebook, secrets)
    if findings:
        log.warning(f"redacted from the notebook: {archive.describe_findings(findings)} "
                    f"(a value that looks like a credential was shown; the record has "
                    f"[REDACTED] in its place)")
    notebook.metadata.setdefault("papermill", {})["output_path"] = str(
        record_dir / f"{runbook}.ipynb")
    notebook_path, html_path = record_dir / f"{runbook}.ipynb", record_dir / f"{runbook}.html"
    archive.write_notebook(notebook, notebook_path)
    archive.export_html(notebook, html_path)
    summary = _summary(outcome.status, notebook, facts, notebook_path, html_path)
    summary = archive.write_summary(summary, record_dir / "summary.json", secrets)
    return RunResult(status=outcome.status, exit_code=EXIT_CODES[outcome.status],
                     record_dir=record_dir, notebook_path=notebook_path, html_path=html_path,
                     summary=summary)


def _summary(status: str, notebook: NotebookNode, facts: dict[str, Any],
             notebook_path: Path, html_path: Path) -> dict[str, Any]:
    started, finished = facts["started_at"], facts["finished_at"]
    return {
        "runbook": facts["runbook"],
        "notebook": notebook_path.name,
        "html": html_path.name,
        "incident": facts["incident"],
        "environment": facts["environment"],
        "parameters": facts["parameters"],
        "records": lift_records(notebook),
        "status": status,
        "exit_code": EXIT_CODES[status],
        "started_at": started.isoformat(timespec="milliseconds"),
        "finished_at": finished.isoformat(timespec="milliseconds"),
        "duration_s": round((finished - started).total_seconds(), 3),
        "failing_cell": _failing_cell(notebook),
        "in_flight": facts["in_flight"],
        "netra_ops_version": _version(),
        **({"playbook": facts["playbook"]} if facts.get("playbook") else {}),
    }


def _version() -> str:
    try:
        return importlib.metadata.version("netra-ops")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
