"""Does anything answer where the environment's services and Google APIs should be?

The cheapest question before a run: a TCP connection to each address the runbooks use (the
services' URLs, and the Cloud Run, Logging and Monitoring APIs: the sandbox's loopback
emulation, or Google's endpoints; off loopback, the proxy instead when the environment
variables name one for it), all at once, each bounded by `timeout_s`. It asks nothing of
the service: a Cloud Run service with no revision serving still answers here (that is for
the runbooks to find out); a stopped sandbox, a wrong port, a name that does not resolve or
no network does not. The answer is a `Reachability` value, never an error.

It lives with the runner, not with the probes, because every `netra-ops run` asks it first:
it needs only the standard library and the environment (`netra_ops.probe` imports Google's
and the HTTP clients, a second of CPU).
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from netra_ops.config import Environment

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Endpoint", "EndpointReach", "Reachability", "reachability", "target_endpoints"]

GOOGLE_APIS = (("Cloud Run API", "https://run.googleapis.com"),
               ("Cloud Logging API", "https://logging.googleapis.com"),
               ("Cloud Monitoring API", "https://monitoring.googleapis.com"))
"""The Google endpoints the runbooks use when the environment names no `api_endpoint`."""


@dataclass(frozen=True)
class Endpoint:
    """One address a run needs: what it is, as configured, and where a connection goes."""

    what: str
    address: str
    host: str
    port: int


@dataclass(frozen=True)
class EndpointReach:
    """Whether a TCP connection to one endpoint was made, how fast, or why not."""

    endpoint: Endpoint
    ok: bool
    elapsed_ms: float
    error: str = ""


@dataclass(frozen=True)
class Reachability:
    """Every endpoint of an environment: reachable or not."""

    environment: str
    results: tuple[EndpointReach, ...]

    @property
    def ok(self) -> bool:
        """True when every endpoint answered."""
        return all(r.ok for r in self.results)

    @property
    def unreachable(self) -> tuple[EndpointReach, ...]:
        """The endpoints that did not answer."""
        return tuple(r for r in self.results if not r.ok)

    def describe(self) -> str:
        """One sentence: what does not answer, grouped by why (empty when all answer)."""
        causes: dict[str, list[str]] = {}
        for reach in self.unreachable:
            where = f"{reach.endpoint.what} ({reach.endpoint.host}:{reach.endpoint.port})"
            causes.setdefault(reach.error, []).append(where)
        return "; ".join(f"{', '.join(where)}: {error}" for error, where in causes.items())

    def to_frame(self) -> pd.DataFrame:
        """One row per endpoint: what, address, ok, ms, error."""
        import pandas as pd

        return pd.DataFrame([{"endpoint": r.endpoint.what, "address": r.endpoint.address,
                              "ok": r.ok, "ms": round(r.elapsed_ms, 1), "error": r.error}
                             for r in self.results])


def target_endpoints(env: Environment) -> list[Endpoint]:
    """The services' URLs, then the APIs: the sandbox's emulation (its API and Monitoring
    ports), or `api_endpoint` and Google's Monitoring, or Google's three endpoints."""
    named = [(f"{role} service", service.url) for role, service in env.services.items()
             if service.url]
    if env.kind == "sandbox":
        named += [("Google API emulation", env.api_endpoint or ""),
                  ("Cloud Monitoring emulation", env.monitoring_endpoint or "")]
    elif env.api_endpoint:
        named += [("Google APIs", env.api_endpoint), GOOGLE_APIS[2]]
    else:
        named += list(GOOGLE_APIS)
    proxies = getproxies() if env.kind != "sandbox" else {}
    return [endpoint for what, address in named
            if (endpoint := _endpoint(what, address, proxies))]


def reachability(env: Environment, *, timeout_s: float = 3.0) -> Reachability:
    """Connect to every `target_endpoints(env)` at once, each within `timeout_s` (name
    resolution included: an endpoint still resolving then counts as not answering)."""
    endpoints = target_endpoints(env)
    pool = ThreadPoolExecutor(max_workers=max(len(endpoints), 1),
                              thread_name_prefix="netra-ops-reach")
    futures = [pool.submit(_connect, endpoint, timeout_s) for endpoint in endpoints]
    wait(futures, timeout=timeout_s + 1.0)
    pool.shutdown(wait=False, cancel_futures=True)
    results = tuple(future.result() if future.done() else
                    EndpointReach(endpoint, False, timeout_s * 1000, _no_answer(timeout_s))
                    for endpoint, future in zip(endpoints, futures, strict=True))
    return Reachability(env.name, results)


def _endpoint(what: str, address: str, proxies: dict[str, str]) -> Endpoint | None:
    """Where a connection to `address` goes: to it, or to the proxy of `proxies` (the
    environment variables', as Google's and the HTTP clients use them); None if unusable."""
    target = _host_port(address)
    if target is None:
        return None
    proxy = proxies.get("http" if address.startswith("http://") else "https")
    if proxy and not proxy_bypass(target[0]):
        via = _host_port(proxy if "://" in proxy else f"http://{proxy}")
        return Endpoint(f"{what} via proxy", address, *via) if via else None
    return Endpoint(what, address, *target)


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a URL or `host:port` (80 for http://, else 443); None if unusable."""
    if not address:
        return None
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port or (80 if parts.scheme == "http" else 443)
    except ValueError:  # a port that is not a number: the configuration's error, not ours
        return None
    return (parts.hostname, port) if parts.hostname else None


def _connect(endpoint: Endpoint, timeout_s: float) -> EndpointReach:
    started = time.monotonic()
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s):
            pass
    except TimeoutError:
        return EndpointReach(endpoint, False, _ms(started), _no_answer(timeout_s))
    except socket.gaierror as exc:
        return EndpointReach(endpoint, False, _ms(started), f"name not resolved ({exc.strerror})")
    except OSError as exc:
        return EndpointReach(endpoint, False, _ms(started),
                             (exc.strerror or type(exc).__name__).lower())
    return EndpointReach(endpoint, True, _ms(started))


def _no_answer(timeout_s: float) -> str:
    return f"no answer within {timeout_s:g} s"


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
