"""Whether a docker daemon answers here: tests that build images run only then."""

from __future__ import annotations

import shutil
import subprocess

__all__ = ["daemon_answers"]


def daemon_answers() -> bool:
    """`docker version` reaches a server (a client without a daemon does not)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    done = subprocess.run([docker, "version", "--format", "{{.Server.Version}}"],
                          capture_output=True, text=True, timeout=30, check=False)
    return done.returncode == 0 and bool(done.stdout.strip())
