"""Every shell command in docs/guides runs as written (extracted from the Markdown).

How a guide is run, and the convention of its blocks: guide_blocks.py. This file checks the
convention and runs every guide that test_guides_records.py does not (the long-running
guides are split between the two files so that pytest-xdist runs them on both workers).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from guide_blocks import GUIDES, INFO, RECORD_GUIDES, ROOT, SHELL_WORDS, blocks, run_guide

from netra_ops.doctor import REQUIREMENTS

HERE = [path for path in GUIDES if path.name not in RECORD_GUIDES]


def test_the_guides_are_split_between_the_two_files() -> None:
    assert set(RECORD_GUIDES) <= {path.name for path in GUIDES}
    assert HERE and len(HERE) + len(RECORD_GUIDES) == len(GUIDES)


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
        if block.language in SHELL_WORDS:
            assert block.language == "bash" and INFO.match(block.info), (
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
@pytest.mark.timeout(600)  # a guide takes up to ~80 s on a quiet machine, 2-3x that when busy
@pytest.mark.parametrize("path", HERE, ids=lambda p: p.stem)
def test_the_guide_runs_as_written(path: Path, guide_environments: Path,
                                   tmp_path: Path) -> None:
    run_guide(path, guide_environments, tmp_path)
