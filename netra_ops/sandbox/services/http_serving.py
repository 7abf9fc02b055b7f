"""How the emulated services serve HTTP: the uvicorn options every revision process shares.

Cloud Run's front end keeps idle connections to a container open and reuses them. The
sandbox's router does the same with a connection pool, and a pool must drop an idle
connection before the server closes it: when both give up after the same idle time (httpx
and uvicorn both default to 5 s), a request sent on a connection the server is closing at
that moment fails with a read error, which the router answers 503. A healthy revision then
shows a server error that staging would not. So the services keep idle connections for
`KEEP_ALIVE_S` and the router's pool drops them after `POOL_IDLE_S`, well before.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KEEP_ALIVE_S", "POOL_IDLE_S", "server_options"]

KEEP_ALIVE_S = 75.0  # a service keeps an idle connection this long (uvicorn's timeout_keep_alive)
POOL_IDLE_S = 30.0  # the router's pool drops an idle connection after this (httpx keepalive_expiry)


def server_options() -> dict[str, Any]:
    """uvicorn options for a service's process: no Server header, the long keep-alive."""
    return {"server_header": False, "timeout_keep_alive": int(KEEP_ALIVE_S)}
