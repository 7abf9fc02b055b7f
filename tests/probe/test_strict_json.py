"""`NaN` and `Infinity` are not JSON (RFC 8259): a health body with them is invalid JSON, for
the blocking and the asyncio probe, and a login or a frame with them is not trusted either."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_http import HostileHttpServer

from netra_ops.probe._transport.strict_json import NonStandardJSON, loads_strict
from netra_ops.probe.health_endpoint import health, health_async

EXPECTED = {
    "/nan-json": "HTTP 200: body is not valid JSON: NaN is not valid JSON (RFC 8259 has no "
                 "NaN or Infinity)",
    "/infinity-json": "HTTP 200: body is not valid JSON: -Infinity is not valid JSON (RFC 8259 "
                      "has no NaN or Infinity)",
}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileHttpServer]:
    with HostileHttpServer(interval_s=0.2) as hostile:
        yield hostile


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_a_health_body_with_nan_or_infinity_is_invalid_json(server: HostileHttpServer,
                                                            path: str) -> None:
    result = health(server.url, path=path, timeout_s=2.0)
    assert not result.ok and not result.json_valid and result.status_code == 200
    assert result.error == EXPECTED[path]


@pytest.mark.anyio
@pytest.mark.parametrize("path", sorted(EXPECTED))
async def test_the_async_health_probe_says_the_same(server: HostileHttpServer,
                                                     path: str) -> None:
    result = await health_async(server.url, path=path, timeout_s=2.0)
    assert not result.ok and not result.json_valid
    assert result.error == EXPECTED[path]


def test_the_control_still_passes(server: HostileHttpServer) -> None:
    assert health(server.url, path="/healthy", timeout_s=2.0).ok


@pytest.mark.parametrize("text", ['{"a": NaN}', '[Infinity]', '{"b": -Infinity}', "NaN"])
def test_loads_strict_refuses_what_python_accepts(text: str) -> None:
    with pytest.raises(NonStandardJSON):
        loads_strict(text)
    assert loads_strict('{"a": 1.5e308, "b": "NaN"}') == {"a": 1.5e308, "b": "NaN"}
