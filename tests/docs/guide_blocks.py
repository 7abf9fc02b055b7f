"""Running docs/guides as written: their fenced blocks, a user's checkout, a user's shell.

Used by test_guides.py and test_guides_records.py (the guides that run the longest are
split between the two files, so that pytest-xdist runs them on both workers).

The convention (docs/guides/README.md):

- a fenced block whose info string is `bash` is run, in order, each block in its own
  `bash -euo pipefail`, and must exit 0; `bash (exit N)` must exit N;
- `bash (covered by PATH::NAME)` is not run here: PATH must exist and hold NAME (a test
  function, or a command), which runs the same thing elsewhere;
- any other block (`text`, `toml`, `python`, ...) is for reading only: commands that need
  a real Google Cloud project are shown as `text`.

Each guide runs in a fresh copy of a checkout (environments, notebooks, playbooks, the
Makefile, pyproject.toml, the tests' conftest, and `.venv` linked to the venv running the
tests, so `make test-latest` tests its own), as a user whose venv is
active. `NETRA_OPS_ENVIRONMENTS` points the name `sandbox` at a private sandbox on free
ports, so the guides never touch the developer's own sandbox; no Google credentials are in
reach (and the metadata server is a closed loopback port).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from netra_ops.sandbox.ephemeral import free_ports

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)  # the venv running the tests: .venv, or .venv-latest
GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))
CHECKOUT = ["environments", "notebooks", "playbooks", "Makefile", "pyproject.toml",
            "README.md", "tests/conftest.py", "tests/runbook_records.py",
            "tests/test_notebooks.py"]
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
INFO = re.compile(r"^bash(?: \((?:exit (?P<exit>\d+)|covered by (?P<covered>[^)]+))\))?$")
SHELL_WORDS = ("sh", "shell", "console", "bash", "zsh")
# The guides test_guides_records.py runs (test_guides.py runs the others): about half the
# guides' running time each.
RECORD_GUIDES = ("new-failure-scenario.md", "reading-records.md")


@dataclass(frozen=True)
class Block:
    """One fenced block of a guide."""

    guide: str
    line: int
    info: str
    code: str

    @property
    def language(self) -> str:
        return self.info.split(" ", 1)[0] if self.info else ""

    @property
    def runs(self) -> bool:
        return self.language == "bash" and self.covered is None

    @property
    def expected_exit(self) -> int:
        match = INFO.match(self.info)
        return int(match.group("exit")) if match and match.group("exit") else 0

    @property
    def covered(self) -> str | None:
        match = INFO.match(self.info)
        return match.group("covered") if match else None

    def __str__(self) -> str:
        return f"{self.guide}:{self.line} ```{self.info}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    return [Block(path.name, text.count("\n", 0, m.start()) + 1, m.group(1).strip(),
                  m.group(2)) for m in _FENCE.finditer(text)]


def checkout(folder: Path) -> Path:
    """What a user's checkout holds for the guides, in `folder`."""
    for name in CHECKOUT:
        source, target = ROOT / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, target)
    (folder / ".venv").symlink_to(VENV)
    return folder


def user_environ(environments: Path, home: Path) -> dict[str, str]:
    """An activated venv, the private sandbox as `sandbox`, no Google credentials."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(
        ("NETRA_OPS_", "GOOGLE_APPLICATION_CREDENTIALS", "VIRTUAL_ENV", "PYTEST_"))}
    environ.update({
        "PATH": f"{VENV / 'bin'}{os.pathsep}{environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(VENV), "NETRA_OPS_ENVIRONMENTS": str(environments),
        "CLOUDSDK_CONFIG": str(home / "gcloud"), "NO_GCE_CHECK": "true",
        "GCE_METADATA_IP": f"127.0.0.1:{free_ports(1)[0]}",
        "GCE_METADATA_HOST": f"127.0.0.1:{free_ports(1)[0]}", "COLUMNS": "120",
    })
    return environ


def run_guide(path: Path, environments: Path, tmp_path: Path) -> None:
    """Run the guide's `bash` blocks in order, in a fresh checkout under `tmp_path`, as a user
    whose `sandbox` is the one in `environments`; each must exit as the guide says."""
    work = checkout(tmp_path / "checkout")
    environ = user_environ(environments, tmp_path)
    for block in [b for b in blocks(path) if b.runs]:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=work,
                              env=environ, capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == block.expected_exit, (
            f"{block} exited {done.returncode}, the guide says {block.expected_exit}\n"
            f"--- code\n{block.code}--- stdout\n{done.stdout[-3000:]}"
            f"--- stderr\n{done.stderr[-3000:]}")
