"""A stand-in for the Netra repository, so preflight (seed 1.1) and builds can be rehearsed
offline.

`ensure_rehearsal_repo(path)` creates, once, a git repository shaped like the seed's: `main`
holds the stale code (callers still pass `session_id` to a `UserExecutionContext` that no
longer takes it) and the schema's migrations, `develop-long-lived` is 55 commits ahead with
the fix and no schema change (the seed: "No schema changes in recent commits"), and the two
gate scripts the seed runs exist and pass. It has no remote: preflight compares its local
branches.

Every commit carries the three services' Dockerfiles where Netra's deploy script looks for
them (`DOCKERFILES`: `deployment/docker/ROLE.gcp.Dockerfile`, and the Alpine variants
`dockerfiles/ROLE.staging.alpine.Dockerfile`) and the files they copy, so the emulated
Cloud Build builds any commit. Branch `BROKEN_BUILD_BRANCH` (one commit on top of
`develop-long-lived`) points the backend's Dockerfiles at a requirements file that was never
committed: its build fails at that COPY step, the failure to rehearse. `backend_build_of`
tells which backend a commit's code is (the stale one or the fixed one), so an image built
from `main` reproduces the seed's bug whatever tag it is pushed under.

A repository made before the Dockerfiles existed is made again (it is generated, and lives
only in the sandbox's state directory).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Literal

__all__ = [
    "AHEAD_COMMITS",
    "BROKEN_BUILD_BRANCH",
    "DOCKERFILES",
    "EXECUTION_CONTEXT",
    "MIGRATION",
    "backend_build_of",
    "ensure_rehearsal_repo",
]

AHEAD_COMMITS = 55
BROKEN_BUILD_BRANCH = "broken-build"
EXECUTION_CONTEXT = "netra_backend/app/agents/execution_context.py"
DOCKERFILES: dict[tuple[str, bool], str] = {
    (role, alpine): (f"dockerfiles/{role}.staging.alpine.Dockerfile" if alpine
                     else f"deployment/docker/{role}.gcp.Dockerfile")
    for role in ("backend", "auth", "frontend") for alpine in (False, True)
}
"""(role, alpine) -> the Dockerfile's path in the repository, as Netra's deploy script has
them (`scripts/deploy_to_gcp_actual.py`, `--use-alpine`)."""
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
_BASES = {("backend", False): "python:3.11-slim", ("backend", True): "python:3.11-alpine",
          ("auth", False): "python:3.11-slim", ("auth", True): "python:3.11-alpine",
          ("frontend", False): "node:18-slim", ("frontend", True): "node:18-alpine"}
_PYTHON_SERVICE = """FROM {base}
WORKDIR /app
COPY {requirements} requirements.txt
RUN pip install --no-cache-dir -r requirements.txt
COPY {package}/ ./{package}/
COPY shared/ ./shared/
ENV PYTHONPATH=/app
CMD ["sh", "-c", "uvicorn {package}.{main}:app --host 0.0.0.0 --port ${{PORT:-{port}}}"]
"""
_DOCKERFILE = {
    "backend": _PYTHON_SERVICE.format(base="{base}", requirements="requirements.txt",
                                      package="netra_backend", main="app.main", port=8000),
    "auth": _PYTHON_SERVICE.format(base="{base}", requirements="auth_service/requirements.txt",
                                   package="auth_service", main="main", port=8080),
    "frontend": """FROM {base}
WORKDIR /app
COPY frontend/package.json ./
RUN npm install --omit=dev
COPY frontend/ .
ENV NODE_ENV=production
EXPOSE 3000
CMD ["npm", "start"]
""",
}
_MISSING_REQUIREMENTS = "dockerfiles/requirements/requirements-app.txt"
_SERVICE_FILES = {
    "requirements.txt": "fastapi>=0.110\nuvicorn>=0.29\n",
    "shared/__init__.py": '"""Code the services share."""\n',
    "netra_backend/__init__.py": "",
    "netra_backend/app/__init__.py": "",
    "netra_backend/app/main.py": ('"""The backend\'s ASGI app (rehearsal)."""\n'
                                  "from fastapi import FastAPI\n\napp = FastAPI()\n"),
    "auth_service/__init__.py": "",
    "auth_service/requirements.txt": "fastapi>=0.110\nuvicorn>=0.29\npyjwt>=2.8\n",
    "auth_service/main.py": ('"""The auth service\'s ASGI app (rehearsal)."""\n'
                             "from fastapi import FastAPI\n\napp = FastAPI()\n"),
    "frontend/package.json": ('{"name": "netra-frontend", "private": true, '
                              '"scripts": {"start": "node server.js"}}\n'),
    "frontend/server.js": ("require('http').createServer((q, r) => r.end('Netra'))"
                           ".listen(process.env.PORT || 3000);\n"),
}
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
    """Create the rehearsal repository at `path` unless it already exists; return it.

    One made before the Dockerfiles existed is made again."""
    if (path / ".git").exists():
        if _has_dockerfiles(path):
            return path
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=_history(),
                   check=True, capture_output=True, env={**os.environ, **_AUTHOR})
    _git(path, "checkout", "-q", "-f", "develop-long-lived")
    return path


def backend_build_of(execution_context: str) -> Literal["stale", "fixed"]:
    """Which backend the code of `netra_backend/app/agents/execution_context.py` is: `stale`
    while callers still pass `session_id` to `UserExecutionContext` (the seed's bug)."""
    return "stale" if "session_id=session_id" in execution_context else "fixed"


def _has_dockerfiles(path: Path) -> bool:
    done = subprocess.run(["git", "-C", str(path), "cat-file", "-e",
                           f"develop-long-lived:{DOCKERFILES['backend', False]}"],
                          capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return done.returncode == 0


def _history() -> bytes:
    """A git fast-import stream: main's one commit, develop-long-lived's 55 on top."""
    base = {"scripts/check_architecture_compliance.py": _COMPLIANCE,
            "scripts/query_string_literals.py": _LITERALS,
            "config/staging.env": _STAGING_ENV,
            EXECUTION_CONTEXT: _STALE_CONTEXT, MIGRATION: _INITIAL_MIGRATION,
            **_SERVICE_FILES, **_dockerfiles()}
    stream = [_commit("main", 1, None, "Netra platform as deployed to staging", base)]
    fix = {EXECUTION_CONTEXT: _FIXED_CONTEXT}
    stream.append(_commit("develop-long-lived", 2, 1,
                          "Issue #357: stop passing session_id to UserExecutionContext", fix))
    for number in range(2, AHEAD_COMMITS + 1):
        progress = {"netra_backend/app/ssot/progress.txt": f"SSOT consolidation step {number}\n"}
        stream.append(_commit("develop-long-lived", number + 1, number,
                              f"SSOT consolidation step {number}", progress))
    broken = {path: text.replace("COPY requirements.txt ", f"COPY {_MISSING_REQUIREMENTS} ")
              for path, text in _dockerfiles().items() if "/backend." in path}
    stream.append(_commit(BROKEN_BUILD_BRANCH, AHEAD_COMMITS + 2, AHEAD_COMMITS + 1,
                          "Build the backend from the split requirements", broken))
    return b"".join(stream)


def _dockerfiles() -> dict[str, str]:
    return {path: _DOCKERFILE[role].replace("{base}", _BASES[role, alpine])
            for (role, alpine), path in DOCKERFILES.items()}


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
