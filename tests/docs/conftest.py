"""The guides' private sandbox: one per test module, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netra_ops.config import load_environment
from netra_ops.sandbox.ephemeral import write_sandbox_environment


@pytest.fixture(scope="module")
def guide_environments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder holding a private `sandbox.toml`; its sandbox is stopped at the end."""
    from netra_ops.sandbox import down

    folder = tmp_path_factory.mktemp("guide-environments")
    path = write_sandbox_environment(folder)
    yield folder
    down(load_environment(path))
