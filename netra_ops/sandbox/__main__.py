"""`python -m netra_ops.sandbox ROLE`: run one sandbox process (the supervisor starts these).

Roles: `auth`, `frontend` (a revision of that service: the platform spawns them),
`platform` (routers + admin API + revisions, from `--spec`), and `revision` (one backend
revision; its port comes from `--port` or `PORT`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

ROLES = ("auth", "frontend", "platform", "revision")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m netra_ops.sandbox",
                                     description="Run one process of the local sandbox.")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="the sandbox's state directory (platform)")
    parser.add_argument("--spec", type=Path, default=None,
                        help="platform-spec.json written by the supervisor (platform)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve the role until stopped; the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.role in ("auth", "frontend") and args.port is None:
        parser.error(f"{args.role} needs --port")
    if args.role in ("auth", "frontend"):
        _watch_parent()
    if args.role == "auth":
        from netra_ops.sandbox.services import auth_app

        auth_app.serve(args.host, args.port)
    elif args.role == "frontend":
        from netra_ops.sandbox.services import frontend_app

        frontend_app.serve(args.host, args.port)
    elif args.role == "revision":
        from netra_ops.sandbox.services import backend_app

        backend_app.serve(args.host, args.port)
    else:
        return _platform(parser, args)
    return 0


def _watch_parent() -> None:
    """As a revision of the platform (`NETRA_SANDBOX_PARENT_PID`), stop when it is gone."""
    parent = os.environ.get("NETRA_SANDBOX_PARENT_PID", "").strip()
    if parent.isdigit():
        from netra_ops.sandbox.services.service_watchdog import ParentWatchdog

        ParentWatchdog(int(parent), lambda: os.kill(os.getpid(), signal.SIGTERM)).start()


def _platform(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from netra_ops.sandbox.control import platform

    state_dir = args.state_dir or (args.spec.parent if args.spec else None)
    if args.spec is None or state_dir is None:
        parser.error("platform needs --spec (and --state-dir, default: the spec's folder)")
    return platform.main(args.spec, state_dir)


if __name__ == "__main__":
    sys.exit(main())
