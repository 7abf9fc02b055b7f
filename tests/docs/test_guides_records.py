"""The guides that rehearse an incident and read its records, run as written (the other
guides: test_guides.py; a file each so that pytest-xdist runs them on both workers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from guide_blocks import RECORD_GUIDES, ROOT, run_guide

# A guide takes up to ~80 s on a quiet machine, 2-3x that when busy.
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize("name", RECORD_GUIDES, ids=lambda n: n.removesuffix(".md"))
def test_the_guide_runs_as_written(name: str, guide_environments: Path,
                                   tmp_path: Path) -> None:
    run_guide(ROOT / "docs" / "guides" / name, guide_environments, tmp_path)
