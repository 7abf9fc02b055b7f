"""Fixtures of the probe tests: the hostile WebSocket servers, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_ws import HostileServers, hostile_servers


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServers]:
    with hostile_servers(tmp_path_factory.mktemp("hostile")) as servers:
        yield servers
