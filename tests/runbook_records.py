"""What a runbook run recorded: its summary.json and the charts in its executed notebook."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netra_ops.config import Environment

ROOT = Path(__file__).resolve().parent.parent


def summary(record: Path) -> dict[str, Any]:
    """The run's summary.json."""
    return dict(json.loads((record / "summary.json").read_text(encoding="utf-8")))


def charts(record: Path, notebook: str) -> int:
    """How many PNG charts the executed `notebook` in the run's folder shows."""
    import nbformat  # not at import: conftest imports this module before its rfc3987 guard

    executed = nbformat.read(record / notebook, as_version=4)
    return sum("image/png" in o.get("data", {}) for c in executed.cells
               if c.cell_type == "code" for o in c.outputs)


def run_command(runbook: str, env: Environment, outputs: Path, incident: str,
                *params: str) -> list[str]:
    """The `netra-ops run RUNBOOK --env ... -p ...` command line."""
    args = [sys.executable, "-m", "netra_ops", "run", runbook, "--env", str(env.source),
            "--incident", incident, "--outputs", str(outputs)]
    for param in params:
        args += ["-p", param]
    return args


def run_runbook(env: Environment, outputs: Path, incident: str, runbook: str, *params: str,
                environ: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any], Path]:
    """`netra-ops run RUNBOOK -p ...` as a user runs it, into `incident` (which may hold
    earlier runs): its exit code, summary.json and record folder. `environ` is the
    command's whole environment (default: this process's)."""
    done = subprocess.run(run_command(runbook, env, outputs, incident, *params), cwd=ROOT,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env=None if environ is None else dict(environ))
    record = max((outputs / incident).glob(f"*-{runbook}"))
    ran = summary(record)
    assert done.returncode == ran["exit_code"], done.stdout + done.stderr
    return done.returncode, ran, record


_DATA_URI = re.compile(r"data:[a-z/+]+;base64,[A-Za-z0-9+/=]+")
_EXTERNAL = re.compile(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=[\"']?(https?:)?//",
                       re.IGNORECASE)


def external_references(html: str) -> list[str]:
    """The tags of an HTML page that load something from another host (CDN scripts,
    styles, images): a self-contained record has none."""
    return [m.group(0) for m in _EXTERNAL.finditer(html)]


def unreadable_parts(record: Path, notebook: str) -> list[str]:
    """What makes a record's HTML and notebook hard to read (the display format of
    `netra_ops.display`): numbers with exponents, `nan`/`None` cells, pandas row numbers,
    log lines in stderr boxes, and anything loaded from elsewhere."""
    import nbformat

    page = _DATA_URI.sub("", (record / notebook.replace(".ipynb", ".html")).read_text(
        encoding="utf-8"))
    found = [f"exponent: {m.group(0)}" for m in re.finditer(r"\d(\.\d+)?e[+-]\d+", page)]
    found += [f"missing shown as {m.group(1)}" for m in re.finditer(
        r"<td[^>]*>\s*(nan|NaN|None|NaT|&lt;NA&gt;)\s*</td>", page)]
    found += ["row numbers"] * len(re.findall(r"row_heading|<tbody>\s*<tr>\s*<th", page))
    found += [f"external: {tag}" for tag in external_references(page)]
    executed = nbformat.read(record / notebook, as_version=4)
    found += [f"log line in stderr: {o.text[:80]}" for c in executed.cells
              if c.cell_type == "code" for o in c.outputs
              if o.get("name") == "stderr" and " INFO " in o.get("text", "")]
    return found
