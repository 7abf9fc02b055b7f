"""What every `netra-ops` command shares: the `--env` option (default `$NETRA_OPS_ENV`, else
sandbox) and the exit codes of a failure (0 is success; a command's own outcomes, such as a
playbook's, are its own)."""

from __future__ import annotations

from typing import Annotated

import typer

from netra_ops.config import ENVIRONMENT_VARIABLE

__all__ = ["FAILED_EXIT", "USAGE_EXIT", "EnvOption"]

FAILED_EXIT = 1  # the check or the build ran and failed
USAGE_EXIT = 2  # bad usage or configuration: nothing was done

EnvOption = Annotated[str, typer.Option(
    "--env", "-e", envvar=ENVIRONMENT_VARIABLE,
    help="Environment name (environments/NAME.toml) or path to a TOML file.")]
