"""The first cell of every runbook, and the notes runbooks show.

    env = runbook_setup(environment)    # logging, charts inline, the environment recorded
    environment_frame(env)              # the environment at a glance
    note(result.notes())                # a sentence worth reading, or nothing

`runbook_setup` replaces the setup cell every runbook used to repeat: our log lines (not the
HTTP chatter; to stdout in a notebook, shown as plain text), matplotlib charts inline, tables
in the record's one display format (`metrics.tables`: units, rounding, no row numbers,
nothing cut), the environment loaded from its name or file, and its name and project
recorded (`records` says which).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from netra_ops.config import Environment, load_environment
from netra_ops.display import show_tables_readably
from netra_ops.kernel import ipython_shell
from netra_ops.logs_setup import configure_logging
from netra_ops.record.recorder import record

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENVIRONMENT_RECORDS", "environment_frame", "note", "runbook_setup"]

EnvironmentRecord = Literal["environment", "project"]
ENVIRONMENT_RECORDS: tuple[EnvironmentRecord, ...] = ("environment", "project")
"""What `runbook_setup` records by default: the environment's name and its project."""


def runbook_setup(environment: str | Path | Environment,
                  records: Sequence[EnvironmentRecord] = ENVIRONMENT_RECORDS) -> Environment:
    """Set up a runbook's kernel and return its environment (a name, a TOML path or an
    Environment): logging configured (to stdout inside IPython), charts inline, tables
    readable, and `records` recorded (`environment` is the environment's name, `project`
    its project; `()` records nothing)."""
    in_ipython = ipython_shell() is not None
    configure_logging(stream=sys.stdout if in_ipython else None)
    _charts_inline()
    show_tables_readably(ipython_shell())
    env = load_environment(environment)
    values = {"environment": env.name, "project": env.project}
    for name in records:
        record(name, values[name])
    return env


def environment_frame(env: Environment, **extra: Any) -> pd.DataFrame:
    """The environment at a glance, one row: name, project, region, the backend service and
    each service's URL, then `extra` columns (a runbook's own settings)."""
    import pandas as pd

    return pd.DataFrame([{"environment": env.name, "project": env.project,
                          "region": env.region, "service": env.backend.name,
                          "backend": env.backend.url, "auth": env.auth.url,
                          "frontend": env.frontend.url, **extra}])


def note(*texts: str | None) -> None:
    """Show each text that is not empty: as Markdown in a notebook, printed elsewhere.
    Nothing at all when every text is empty (a runbook's note for a case that did not
    happen)."""
    shown = [text for text in texts if text]
    if not shown:
        return
    if ipython_shell() is None:
        print("\n".join(shown))
        return
    from IPython.display import Markdown, display

    for text in shown:
        display(Markdown(text))


def _charts_inline() -> None:
    shell = ipython_shell()
    if shell is not None and hasattr(shell, "run_line_magic"):
        shell.run_line_magic("matplotlib", "inline")
