"""Whether a chat session can live as long as the app means it to (seed 2's
`WEBSOCKET_CONNECTION_TIMEOUT=360` and `WEBSOCKET_HEARTBEAT_INTERVAL=15`) on Cloud Run.

A WebSocket is one request to Cloud Run, ended at the service's request timeout (300 s
unless set, at most 3600 s): with the default, the app's 360 s can never be reached and every
session is cut at 300 s. So, on the serving revision of the backend:

- the request timeout must exceed the app's connection timeout;
- the heartbeat interval must be well under both (at most a third of the shorter: two
  heartbeats can be missed before either timeout ends the session);
- Google's WebSocket guidance for Cloud Run (cloud.google.com/run/docs/triggering/websockets):
  session affinity on, so a reconnecting client goes back to its instance where it can, and
  end-to-end HTTP/2 off (a container port named `h2c`).

The values are the serving revision's own (its `timeout` and env, through Google's Cloud Run
client); a variable the revision lacks is judged at the environment's `[expected_env]` value,
which is what configuration sync deploys, and the row says so. Each failing row names the
values and the fix (`gcloud run services update ... --timeout`, `--session-affinity`,
`--no-use-http2`, or the env var).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from google.api_core import exceptions as gexc
from google.auth.exceptions import GoogleAuthError

from netra_ops.checks import Check, checks_table
from netra_ops.cloud import read_service
from netra_ops.config import Environment
from netra_ops.errors import DeployError

__all__ = [
    "CONNECTION_TIMEOUT_VAR",
    "HEARTBEAT_SHARE",
    "HEARTBEAT_VAR",
    "SessionTimeouts",
    "session_timeout_checks",
    "session_timeouts",
]

CONNECTION_TIMEOUT_VAR = "WEBSOCKET_CONNECTION_TIMEOUT"
HEARTBEAT_VAR = "WEBSOCKET_HEARTBEAT_INTERVAL"
HEARTBEAT_SHARE = 1 / 3
"""The longest heartbeat interval, as a share of the shorter timeout, that is 'well under'."""
_MAX_REQUEST_TIMEOUT_S = 3600


@dataclass(frozen=True)
class SessionTimeouts:
    """The three values that decide how long a chat session lives, and where they come from.

    `connection_timeout_s` / `heartbeat_interval_s` are None when neither the revision nor
    `[expected_env]` sets them (or the value is not a number: `problems` says so).
    """

    environment: str
    service: str
    region: str
    project: str
    revision: str | None
    request_timeout_s: float | None
    connection_timeout_s: float | None
    heartbeat_interval_s: float | None
    sources: dict[str, str]
    problems: tuple[str, ...] = ()
    error: str | None = None
    session_affinity: bool | None = None
    http2: bool | None = None

    @property
    def checks(self) -> tuple[Check, ...]:
        """The consistency rows (see the module docstring)."""
        return session_timeout_checks(self)

    @property
    def ok(self) -> bool:
        """Whether every row passed."""
        return all(check.ok for check in self.checks)

    def figures(self) -> dict[str, float | str | bool | None]:
        """What a record keeps: the three values and the revision they were read from."""
        return {"revision": self.revision, "request_timeout_s": self.request_timeout_s,
                "connection_timeout_s": self.connection_timeout_s,
                "heartbeat_interval_s": self.heartbeat_interval_s,
                "session_affinity": self.session_affinity, "http2": self.http2}

    def to_frame(self) -> pd.DataFrame:
        """The rows as the runbooks' checks table."""
        return checks_table(self.checks)


def session_timeouts(env: Environment) -> SessionTimeouts:
    """Read the backend's serving revision; an API that cannot be read is a result with
    `error` set (its one row fails), never an exception."""
    try:
        state = read_service(env)
    except (DeployError, gexc.GoogleAPICallError, GoogleAuthError) as exc:
        return SessionTimeouts(env.name, env.backend.name, env.region, env.project, None, None,
                               None, None, {}, error=f"{type(exc).__name__}: {exc}")
    serving = next((r for r in state.revisions if r.name == state.serving_revision), None)
    values: dict[str, float | None] = {}
    sources: dict[str, str] = {}
    problems = []
    for var in (CONNECTION_TIMEOUT_VAR, HEARTBEAT_VAR):
        deployed = serving.env.get(var) if serving else None
        raw = deployed if deployed is not None else env.expected_env.get(var)
        sources[var] = ("the serving revision" if deployed is not None
                        else "[expected_env] (not deployed)" if raw is not None else "unset")
        values[var] = _seconds(raw)
        if raw is not None and values[var] is None:
            problems.append(f"{var}={raw!r} is not a number of seconds")
    timeout = serving.timeout_s if serving and serving.timeout_s else state.template_timeout_s
    return SessionTimeouts(
        environment=env.name, service=env.backend.name, region=env.region, project=env.project,
        revision=serving.name if serving else None, request_timeout_s=timeout or None,
        connection_timeout_s=values[CONNECTION_TIMEOUT_VAR],
        heartbeat_interval_s=values[HEARTBEAT_VAR], sources=sources, problems=tuple(problems),
        session_affinity=serving.session_affinity if serving else state.template_session_affinity,
        http2=serving.http2 if serving else None)


def session_timeout_checks(values: SessionTimeouts) -> tuple[Check, ...]:
    """The request timeout against the app's, and the heartbeat against both."""
    if values.error is not None:
        return (Check("chat session timeouts read", False,
                      f"could not read the service {values.service}: {values.error}"),)
    return (_request_timeout_check(values), _heartbeat_check(values),
            *_websocket_guidance_checks(values),
            *(Check("session timeout settings", False, problem,
                    fix=f"set {problem.split('=')[0]} to seconds (03_config_sync deploys "
                        "[expected_env])") for problem in values.problems))


def _request_timeout_check(values: SessionTimeouts) -> Check:
    name = "Cloud Run request timeout > app connection timeout"
    request, app = values.request_timeout_s, values.connection_timeout_s
    if request is None or app is None:
        missing = "the request timeout" if request is None else CONNECTION_TIMEOUT_VAR
        return Check(name, True, f"not judged: {missing} is unknown", skipped=True)
    where = f" ({values.sources[CONNECTION_TIMEOUT_VAR]})"
    if request > app:
        return Check(name, True, f"sessions can live {app:g} s{where}; Cloud Run ends them at "
                     f"{request:g} s", value=request, threshold=f"> {app:g}")
    wanted = min(_MAX_REQUEST_TIMEOUT_S, max(int(app) * 2, int(app) + 60))
    return Check(
        name, False,
        f"Cloud Run ends every WebSocket at the request timeout {request:g} s, before the "
        f"app's {CONNECTION_TIMEOUT_VAR}={app:g} s{where}: sessions are cut at {request:g} s",
        value=request, threshold=f"> {app:g}",
        fix=f"gcloud run services update {values.service} --timeout={wanted} "
            f"--region={values.region} --project={values.project}")


def _heartbeat_check(values: SessionTimeouts) -> Check:
    name = "heartbeat interval well under both timeouts"
    beat = values.heartbeat_interval_s
    limits = [t for t in (values.request_timeout_s, values.connection_timeout_s) if t]
    if beat is None or not limits:
        return Check(name, True, f"not judged: {HEARTBEAT_VAR} or the timeouts are unknown",
                     skipped=True)
    most = min(limits) * HEARTBEAT_SHARE
    where = f" ({values.sources[HEARTBEAT_VAR]})"
    shorter = f"the shorter timeout {min(limits):g} s"
    if beat <= most:
        return Check(name, True, f"{HEARTBEAT_VAR}={beat:g} s{where}, under a third of "
                     f"{shorter}", value=beat, threshold=f"<= {most:g}")
    return Check(
        name, False,
        f"{HEARTBEAT_VAR}={beat:g} s{where} is not well under {shorter}: a missed heartbeat "
        "or two and the session is gone", value=beat, threshold=f"<= {most:g}",
        fix=f"set {HEARTBEAT_VAR}={min(15, int(most)) or 1} in [expected_env] and sync it "
            "(03_config_sync with execute=True)")


def _websocket_guidance_checks(values: SessionTimeouts) -> tuple[Check, ...]:
    update = (f"gcloud run services update {values.service} {{flag}} "
              f"--region={values.region} --project={values.project}")
    checks = []
    if values.session_affinity is not None:
        on = values.session_affinity
        checks.append(Check(
            "session affinity on", on,
            "on" if on else "off: a reconnecting chat may land on another instance",
            value="on" if on else "off", threshold="on",
            fix="" if on else update.format(flag="--session-affinity")))
    if values.http2 is not None:
        off = not values.http2
        checks.append(Check(
            "end-to-end HTTP/2 off", off,
            "off" if off else "on (container port h2c): WebSockets need HTTP/1.1 upgrades",
            value="off" if off else "on", threshold="off",
            fix="" if off else update.format(flag="--no-use-http2")))
    return tuple(checks)


def _seconds(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None
