"""A stand-in for the Netra repository, so preflight (seed 1.1) can be rehearsed offline.

`ensure_rehearsal_repo(path)` creates, once, a git repository shaped like the seed's: `main`
holds the stale code (callers still pass `session_id` to a `UserExecutionContext` that no
longer takes it) and the schema's migrations, `develop-long-lived` is 55 commits ahead with
the fix and no schema change (the seed: "No schema changes in recent commits"), and the two
gate scripts the seed runs exist and pass. It has no remote: preflight compares its local
branches.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["AHEAD_COMMITS", "MIGRATION", "ensure_rehearsal_repo"]

AHEAD_COMMITS = 55
_AUTHOR = {"GIT_AUTHOR_NAME": "Netra Rehearsal", "GIT_AUTHOR_EMAIL": "rehearsal@netra.test",
           "GIT_COMMITTER_NAME": "Netra Rehearsal",
           "GIT_COMMITTER_EMAIL": "rehearsal@netra.test",
           "GIT_AUTHOR_DATE": "2025-01-11T12:00:00Z", "GIT_COMMITTER_DATE": "2025-01-11T12:00:00Z"}

_COMPLIANCE = '''"""Architecture compliance gate (rehearsal): no star imports in netra_backend."""
import pathlib
import sys

modules = sorted(pathlib.Path("netra_backend").rglob("*.py"))
violations = [m for m in modules if "import *" in m.read_text()]
print(f"Architecture compliance: checked {len(modules)} modules, {len(violations)} violations")
sys.exit(1 if violations else 0)
'''
_LITERALS = '''"""Environment gate (rehearsal): the required keys are declared."""
import pathlib
import sys

env = sys.argv[2] if len(sys.argv) > 2 else "staging"
required = ["ENVIRONMENT", "AUTH_SERVICE_URL", "FRONTEND_URL", "WEBSOCKET_CONNECTION_TIMEOUT"]
declared = pathlib.Path("config/" + env + ".env").read_text()
missing = [key for key in required if key + "=" not in declared]
print(f"check-env {env}: {len(required) - len(missing)}/{len(required)} keys declared"
      + (f", missing {', '.join(missing)}" if missing else ""))
sys.exit(1 if missing else 0)
'''
_STALE_CONTEXT = '''from dataclasses import dataclass


@dataclass(frozen=True)
class UserExecutionContext:
    user_id: str
    thread_id: str
    run_id: str


def start_agent(user_id, thread_id, run_id, session_id):
    return UserExecutionContext(user_id=user_id, thread_id=thread_id, run_id=run_id,
                                session_id=session_id)
'''
_FIXED_CONTEXT = _STALE_CONTEXT.replace(
    "run_id=run_id,\n                                session_id=session_id)", "run_id=run_id)")
_INITIAL_MIGRATION = '''"""Initial schema (rehearsal).

Revision ID: 0001_initial
Revises:
"""
revision = "0001_initial"
down_revision = None


def upgrade():
    pass


def downgrade():
    pass
'''
MIGRATION = "netra_backend/app/alembic/versions/0001_initial_schema.py"
"""The rehearsal repository's one migration, on main (the release does not change it)."""
_STAGING_ENV = ("ENVIRONMENT=staging\nAUTH_SERVICE_URL=https://auth.staging.netrasystems.ai\n"
                "FRONTEND_URL=https://app.staging.netrasystems.ai\n"
                "WEBSOCKET_CONNECTION_TIMEOUT=360\nWEBSOCKET_HEARTBEAT_INTERVAL=15\n")


def ensure_rehearsal_repo(path: Path) -> Path:
    """Create the rehearsal repository at `path` unless it already exists; return it."""
    if (path / ".git").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=_history(),
                   check=True, capture_output=True, env={**os.environ, **_AUTHOR})
    _git(path, "checkout", "-q", "-f", "develop-long-lived")
    return path


def _history() -> bytes:
    """A git fast-import stream: main's one commit, develop-long-lived's 55 on top."""
    base = {"scripts/check_architecture_compliance.py": _COMPLIANCE,
            "scripts/query_string_literals.py": _LITERALS,
            "config/staging.env": _STAGING_ENV,
            "netra_backend/app/agents/execution_context.py": _STALE_CONTEXT,
            MIGRATION: _INITIAL_MIGRATION}
    stream = [_commit("main", 1, None, "Netra platform as deployed to staging", base)]
    fix = {"netra_backend/app/agents/execution_context.py": _FIXED_CONTEXT}
    stream.append(_commit("develop-long-lived", 2, 1,
                          "Issue #357: stop passing session_id to UserExecutionContext", fix))
    for number in range(2, AHEAD_COMMITS + 1):
        progress = {"netra_backend/app/ssot/progress.txt": f"SSOT consolidation step {number}\n"}
        stream.append(_commit("develop-long-lived", number + 1, number,
                              f"SSOT consolidation step {number}", progress))
    return b"".join(stream)


def _commit(branch: str, mark: int, parent: int | None, message: str,
            files: dict[str, str]) -> bytes:
    text = message.encode()
    lines = [f"commit refs/heads/{branch}".encode(), f"mark :{mark}".encode(),
             b"committer Netra Rehearsal <rehearsal@netra.test> 1736596800 +0000",
             b"data %d" % len(text), text]
    if parent is not None:
        lines.append(f"from :{parent}".encode())
    for name, content in files.items():
        data = content.encode()
        lines += [f"M 100644 inline {name}".encode(), b"data %d" % len(data), data]
    return b"\n".join(lines) + b"\n\n"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL, env={**os.environ, **_AUTHOR})
