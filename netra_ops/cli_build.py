"""`netra-ops build`: build the release from one commit (thin: parse, call, print).

Registered in `netra_ops.cli` as a command of the main app, as the seed's
`deploy_to_gcp_actual.py --build-local [--use-alpine]`: on Cloud Build by default, with
docker here with `--build-local`. Without `--execute` it prints the plan. Exit codes as
`netra-ops`'s: 0 built (or planned), 1 the build failed (its step and the log's last lines
are printed), 2 bad usage or configuration (docker missing, unknown commit, not
allow-listed).
"""

from __future__ import annotations

from typing import Annotated

import typer

from netra_ops.cli_options import FAILED_EXIT, USAGE_EXIT, EnvOption

__all__ = ["build"]



def build(
    env: EnvOption = "sandbox",
    commit: Annotated[str, typer.Option(
        help="Commit (sha or branch) to build; default: the head of the release branch in "
             "the preflight checkout.")] = "",
    build_local: Annotated[bool, typer.Option(
        "--build-local", help="Build with docker on this machine instead of Cloud Build.")
    ] = False,
    use_alpine: Annotated[bool, typer.Option(
        "--use-alpine", help="Build from the Alpine Dockerfiles.")] = False,
    execute: Annotated[bool, typer.Option(
        "--execute", help="Build and push (otherwise: print the plan).")] = False,
    deadline: Annotated[float, typer.Option(
        min=1.0, help="Seconds the build may take; past that it is cancelled.")] = 1800.0,
) -> None:
    """Build every service of the release from one commit and push it; print each image by
    digest (or, without --execute, the plan)."""
    import pandas as pd

    from netra_ops import deploy, load_environment
    from netra_ops.errors import BuildError, DockerUnavailableError, NetraOpsError

    try:
        result = deploy.build(load_environment(env), commit, local=build_local,
                              alpine=use_alpine, execute=execute, deadline_s=deadline)
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(USAGE_EXIT if isinstance(exc, DockerUnavailableError)
                         else FAILED_EXIT) from None
    except NetraOpsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(USAGE_EXIT) from None
    columns = ["role", "image" if result.executed else "tags", "dockerfile"]
    with pd.option_context("display.max_colwidth", 120, "display.width", 250):
        typer.echo(result.to_frame()[columns].to_string(index=False))
    typer.echo(f"\ncommit:  {result.commit}")
    typer.echo(f"status:  {result.status}" + (f" in {result.duration_s:.1f} s"
                                              if result.executed else " (plan only: --execute "
                                              "builds and pushes)"))
    if result.build_id:
        typer.echo(f"build:   {result.build_id} ({result.log_url})")
