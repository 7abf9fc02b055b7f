"""Where the code runs: a plain interpreter, an IPython shell, a Jupyter kernel a person
drives, or a kernel the runner executes headless.

The runner sets `NETRA_OPS_HEADLESS` in its kernels' environment: there nothing may wait
for a click, and progress is logged rather than drawn. IPython is never imported here: a
process that has not imported it is not in a shell.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["HEADLESS_ENV", "headless", "in_jupyter_kernel", "ipython_shell"]

HEADLESS_ENV = "NETRA_OPS_HEADLESS"
"""Set (to any non-empty value) in the kernels of headless runs (`netra_ops.record`)."""


def ipython_shell() -> Any:
    """The running IPython shell, or None in a plain interpreter."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), headless or not."""
    shell = ipython_shell()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def headless() -> bool:
    """True when the runner executes this kernel (no one to click, no one to watch a bar)."""
    return bool(os.environ.get(HEADLESS_ENV))
