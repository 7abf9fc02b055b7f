"""Fixtures of the notification tests: a webhook receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from webhook_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook receiver, stopped after the test."""
    with receiving() as found:
        yield found
