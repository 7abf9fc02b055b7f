"""Every shell command in docs/guides runs as written (extracted from the Markdown).

The convention (docs/guides/README.md):

- a fenced block whose info string is `bash` is run, in order, each block in its own
  `bash -euo pipefail`, and must exit 0; `bash (exit N)` must exit N;
- `bash (covered by PATH::NAME)` is not run here: PATH must exist and hold NAME (a test
  function, or a command), which runs the same thing elsewhere;
- any other block (`text`, `toml`, `python`, ...) is for reading only: commands that need
  a real Google Cloud project are shown as `text`.

Each guide runs in a fresh copy of a checkout (environments, notebooks, playbooks, the
Makefile, pyproject.toml, the tests' conftest, and `.venv` linked), as a user whose venv is
active. `NETRA_OPS_ENVIRONMENTS` points the name `sandbox` at a private sandbox on free
ports, so the guides never touch the developer's own sandbox; no Google credentials are in
reach (and the metadata server is a closed loopback port).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from netra_ops.config import load_environment
from netra_ops.doctor import REQUIREMENTS
from netra_ops.sandbox.ephemeral import free_ports, write_sandbox_environment

ROOT = Path(__file__).resolve().parents[2]
GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))
CHECKOUT = ["environments", "notebooks", "playbooks", "Makefile", "pyproject.toml",
            "README.md", "tests/conftest.py", "tests/test_notebooks.py"]
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_INFO = re.compile(r"^bash(?: \((?:exit (?P<exit>\d+)|covered by (?P<covered>[^)]+))\))?$")
_SHELL_WORDS = ("sh", "shell", "console", "bash", "zsh")


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
        match = _INFO.match(self.info)
        return int(match.group("exit")) if match and match.group("exit") else 0

    @property
    def covered(self) -> str | None:
        match = _INFO.match(self.info)
        return match.group("covered") if match else None

    def __str__(self) -> str:
        return f"{self.guide}:{self.line} ```{self.info}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    return [Block(path.name, text.count("\n", 0, m.start()) + 1, m.group(1).strip(),
                  m.group(2)) for m in _FENCE.finditer(text)]


@pytest.fixture(scope="module")
def guide_environments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder holding a private `sandbox.toml`; its sandbox is stopped at the end."""
    from netra_ops.sandbox import down

    folder = tmp_path_factory.mktemp("guide-environments")
    path = write_sandbox_environment(folder)
    yield folder
    down(load_environment(path))


def checkout(folder: Path) -> Path:
    """What a user's checkout holds for the guides, in `folder`."""
    for name in CHECKOUT:
        source, target = ROOT / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, target)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    return folder


def user_environ(environments: Path, home: Path) -> dict[str, str]:
    """An activated venv, the private sandbox as `sandbox`, no Google credentials."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(
        ("NETRA_OPS_", "GOOGLE_APPLICATION_CREDENTIALS", "VIRTUAL_ENV", "PYTEST_"))}
    environ.update({
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(ROOT / ".venv"), "NETRA_OPS_ENVIRONMENTS": str(environments),
        "CLOUDSDK_CONFIG": str(home / "gcloud"), "NO_GCE_CHECK": "true",
        "GCE_METADATA_IP": f"127.0.0.1:{free_ports(1)[0]}",
        "GCE_METADATA_HOST": f"127.0.0.1:{free_ports(1)[0]}", "COLUMNS": "120",
    })
    return environ


def test_there_are_guides_and_each_runs_something() -> None:
    names = {p.name for p in GUIDES}
    assert {"getting-started.md", "real-staging.md", "writing-a-runbook.md",
            "new-failure-scenario.md", "reading-records.md"} <= names
    for path in GUIDES:
        assert any(b.runs for b in blocks(path)), f"{path.name} runs no command"


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.stem)
def test_every_shell_block_is_run_or_covered(path: Path) -> None:
    """No shell block escapes: `bash` (run) or `bash (covered by ...)`, nothing else."""
    for block in blocks(path):
        if block.language in _SHELL_WORDS:
            assert block.language == "bash" and _INFO.match(block.info), (
                f"{block}: write ```bash, ```bash (exit N) or ```bash (covered by PATH::NAME)")
        if block.covered:
            target, _, name = block.covered.partition("::")
            assert (ROOT / target).is_file(), f"{block}: {target} does not exist"
            text = (ROOT / target).read_text()
            assert name and (f"def {name}(" in text or name in text), (
                f"{block}: {target} has no {name!r}")


def test_the_iam_table_and_custom_role_match_what_doctor_asks() -> None:
    """real-staging.md's permission table, and the custom role it creates, are the
    permissions doctor checks, with the same roles and runbooks."""
    text = (ROOT / "docs" / "guides" / "real-staging.md").read_text()
    rows = re.findall(r"^\| `([a-z]+\.[A-Za-z.]+)` \| `(roles/[a-z.A-Z]+)` \| ([^|]+) \|$",
                      text, re.M)
    assert [(p, r) for p, r, _ in rows] == [(q.permission, q.role) for q in REQUIREMENTS]
    for (_, _, runbooks), requirement in zip(rows, REQUIREMENTS, strict=True):
        assert runbooks.strip() == requirement.needed_by()
    custom = re.search(r"--permissions=([a-zA-Z.,]+)", text)
    assert custom is not None
    assert custom.group(1).split(",") == [r.permission for r in REQUIREMENTS]


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.stem)
def test_the_guide_runs_as_written(path: Path, guide_environments: Path,
                                   tmp_path: Path) -> None:
    work = checkout(tmp_path / "checkout")
    environ = user_environ(guide_environments, tmp_path)
    for block in [b for b in blocks(path) if b.runs]:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=work,
                              env=environ, capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == block.expected_exit, (
            f"{block} exited {done.returncode}, the guide says {block.expected_exit}\n"
            f"--- code\n{block.code}--- stdout\n{done.stdout[-3000:]}"
            f"--- stderr\n{done.stderr[-3000:]}")
