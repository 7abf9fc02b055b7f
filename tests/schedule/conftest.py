"""Fixtures of the schedule tests: a fake clock, a webhook receiver, an environment file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from schedule_fakes import SANDBOX_TOML, FakeClock
from webhook_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook receiver, stopped after the test."""
    with receiving() as found:
        yield found


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of environments/sandbox.toml (nothing needs to run for the fixture notebooks)."""
    path = tmp_path_factory.mktemp("env") / "sandbox.toml"
    path.write_text(SANDBOX_TOML.read_text(encoding="utf-8"), encoding="utf-8")
    return path
