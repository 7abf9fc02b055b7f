"""Fixtures of the watch's tests: a webhook receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from watch_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()
