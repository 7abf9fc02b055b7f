"""What every `netra-ops` command shares: the `--env` option (default `$NETRA_OPS_ENV`, else
sandbox), the `--outputs` option (a folder or a `gs://` bucket, as text) and the exit codes
of a failure (0 is success; a command's own outcomes, such as a playbook's, are its own)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer

from netra_ops.config import ENVIRONMENT_VARIABLE
from netra_ops.errors import NetraOpsError

__all__ = ["FAILED_EXIT", "TERMINATED_EXIT", "USAGE_EXIT", "EnvOption", "OutputsOption",
           "sigterm_as_exit", "usage_errors"]

FAILED_EXIT = 1  # the check or the build ran and failed
USAGE_EXIT = 2  # bad usage or configuration: nothing was done
TERMINATED_EXIT = 143  # stopped by SIGTERM

EnvOption = Annotated[str, typer.Option(
    "--env", "-e", envvar=ENVIRONMENT_VARIABLE,
    help="Environment name (environments/NAME.toml) or path to a TOML file.")]

OutputsOption = Annotated[str | None, typer.Option(
    "--outputs", help="Records folder or bucket, gs://BUCKET/PREFIX (default "
    "$NETRA_OPS_OUTPUTS, the environment's records_url, or ./outputs).")]
"""Text, not a Path: a Path would make `gs://b/p` into `gs:/b/p`."""


@contextmanager
def usage_errors() -> Iterator[None]:
    """A NetraOpsError becomes its one-line message and exit code 2."""
    try:
        yield
    except NetraOpsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(USAGE_EXIT) from None


@contextmanager
def sigterm_as_exit(saying: str) -> Iterator[None]:
    """SIGTERM (a service manager stopping us) says `saying` and exits 143 through the
    command's clean-up (`SystemExit` unwinds: locks released, state saved)."""
    def stop(signum: int, frame: FrameType | None) -> None:
        typer.echo(saying, err=True)
        raise SystemExit(TERMINATED_EXIT)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
