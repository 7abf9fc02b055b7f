"""The incident record on disk: one folder per run, never overwritten.

    <outputs>/<incident>/<UTC %Y%m%dT%H%M%SZ>-<runbook>[-N]/
        <runbook>.ipynb     the executed notebook, scrubbed, failing cell marked
        <runbook>.html      the same notebook rendered, images embedded, self-contained
        summary.json        what ran, how it ended, the recorded values
        run.log             the runner's own log lines
        manifest.json       the SHA-256 of each file above, written last (see manifest.py)

Everything written here has been through `redact.scrub` first: the notebook's outputs,
sources and metadata, the summary and the log lines.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from netra_ops.errors import RunError
from netra_ops.record.redact import find_secrets, scrub, scrub_json

if TYPE_CHECKING:  # nbformat is imported when a record is written: it is slow to import
    from nbconvert import HTMLExporter
    from nbformat import NotebookNode

__all__ = [
    "RunLog",
    "create_record_dir",
    "describe_findings",
    "export_html",
    "scrub_notebook",
    "write_notebook",
    "write_summary",
]

logger = logging.getLogger("netra_ops.record")


class _WithoutAltTextNotice(logging.Filter):
    """nbconvert warns about every chart without alt text (it adds a generic one itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Alternative text is missing" not in record.getMessage()


_nbconvert_logger = logging.getLogger("netra_ops.record.nbconvert")
_nbconvert_logger.addFilter(_WithoutAltTextNotice())

_MAX_SAME_SECOND = 1000

_SELF_CONTAINED = "netra_ops_record.html.j2"
_SELF_CONTAINED_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
"""JupyterLab's HTML template without the scripts it loads from CDNs (require.js, MathJax,
Mermaid, the widget manager): a record opened offline, or years later, renders as written.
Runbooks use no LaTeX, Mermaid or live widgets (a widget's text fallback is shown)."""


def create_record_dir(outputs: Path, incident: str, runbook: str, started: dt.datetime) -> Path:
    """A new, empty record folder; an existing one is never reused (`-2`, `-3`... instead)."""
    parent = outputs / incident
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the record folder under {parent}: {exc.strerror}; set "
                       f"NETRA_OPS_OUTPUTS or pass an outputs folder you can write") from None
    base = f"{started.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{runbook}"
    for attempt in range(1, _MAX_SAME_SECOND + 1):
        candidate = parent / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunError(f"{_MAX_SAME_SECOND} records named {base} already exist in {parent}")


def scrub_notebook(
    notebook: Mapping[str, Any], secrets: Iterable[str] = ()
) -> tuple[NotebookNode, list[str]]:
    """A scrubbed copy of a notebook (every string, binary images aside) and what was found.

    The findings are kinds of secrets (`JWT-shaped token`, ...), one per redacted value.
    """
    import nbformat

    known = list(secrets)
    findings: list[str] = []

    def scrub_text(text: str) -> str:
        cleaned = scrub(text, known)
        if cleaned != text:
            findings.extend(f.split(" (line")[0] for f in find_secrets(text, known))
        return cleaned

    return nbformat.from_dict(scrub_json(dict(notebook), scrub_text)), findings


def describe_findings(findings: Iterable[str]) -> str:
    """`2 JWT-shaped token, 1 Bearer token` from a list of finding kinds."""
    kinds = Counter(re.sub(r" #\d+$", "", kind) for kind in findings)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


def write_notebook(notebook: NotebookNode, path: Path) -> None:
    """Write the executed notebook (nbformat 4)."""
    import nbformat

    nbformat.write(notebook, str(path), version=nbformat.NO_CONVERT)


_exporter_lock = threading.Lock()


@functools.cache
def _html_exporter() -> HTMLExporter:
    """One exporter per process: building it compiles nbconvert's templates, about half of
    an export's CPU, and a playbook or a watch writes many records in one process."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        embed_images=True, log=_nbconvert_logger, template_file=_SELF_CONTAINED,
        extra_loaders=[DictLoader({_SELF_CONTAINED: _SELF_CONTAINED_TEMPLATE})])


def export_html(notebook: NotebookNode, path: Path) -> None:
    """Render the notebook to a standalone HTML page with its images embedded and nothing
    fetched from elsewhere (no CDN script or style).

    If nbconvert fails, a short page saying why is written instead, so the record stays
    complete; the notebook itself is unaffected.
    """
    try:
        with _exporter_lock:
            body, _ = _html_exporter().from_notebook_node(notebook)
    except Exception as exc:  # nbconvert raises many types; the record must still be whole
        logger.warning("HTML export failed (%s: %s); wrote a placeholder page",
                       type(exc).__name__, exc)
        body = (f"<html><body><h1>HTML export failed</h1><p>{html.escape(str(exc))}</p>"
                f"<p>Open the .ipynb file of this record instead.</p></body></html>")
    path.write_text(body, encoding="utf-8")


def write_summary(
    summary: Mapping[str, Any], path: Path, secrets: Iterable[str] = ()
) -> dict[str, Any]:
    """Scrub and write `summary.json`; the written (scrubbed) summary is returned."""
    known = list(secrets)
    clean: dict[str, Any] = scrub_json(dict(summary), lambda text: scrub(text, known))
    temporary = path.with_name(f".{path.name}.tmp")  # a kill never leaves half a summary
    temporary.write_text(json.dumps(clean, indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    temporary.replace(path)
    return clean


class RunLog:
    """`run.log` of a record: the runner's lines, plus papermill's warnings, scrubbed.

    Lines go to the file whatever the logging configuration, and to the
    `netra_ops.record` logger as well.
    """

    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = list(secrets)
        self._file = path.open("a", encoding="utf-8")
        self._handler = _LinesHandler(self)

    def __enter__(self) -> RunLog:
        logging.getLogger("papermill").addHandler(self._handler)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        logging.getLogger("papermill").removeHandler(self._handler)
        self._file.close()

    def info(self, message: str) -> None:
        """Log a line at INFO level."""
        self.write("INFO", "netra_ops.record", message)
        logger.info(scrub(message, self._secrets))

    def warning(self, message: str) -> None:
        """Log a line at WARNING level."""
        self.write("WARNING", "netra_ops.record", message)
        logger.warning(scrub(message, self._secrets))

    def write(self, level: str, source: str, message: str) -> None:
        """Append one scrubbed, timestamped line to run.log."""
        if self._file.closed:
            return
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        self._file.write(f"{stamp} {level} {source}: {scrub(message, self._secrets)}\n")
        self._file.flush()


class _LinesHandler(logging.Handler):
    """Copies another library's log records (papermill's warnings) into a RunLog."""

    def __init__(self, run_log: RunLog) -> None:
        super().__init__(level=logging.WARNING)
        self._run_log = run_log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._run_log.write(record.levelname, record.name, record.getMessage())
        except Exception:  # a log line must never break a run
            self.handleError(record)
