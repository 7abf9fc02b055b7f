"""Do the Cloud Run, Logging and Monitoring APIs answer for the environment's project and region?

One cheap read each, through the same `netra_ops.cloud` clients the runbooks use: get the
backend service, list one request-log entry of the last hour, list the headers of the
backend's request-count series of the last 10 minutes. A failure becomes a row with the
reason and the fix (start the sandbox, enable the API, grant the role, fix the name).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions

from netra_ops.checks import Check
from netra_ops.cloud import call, monitoring_client, service_name, services_client
from netra_ops.config import Environment, find_environment_file
from netra_ops.doctor.requirements import requirement
from netra_ops.errors import ApiUnreachableError, NetraOpsError
from netra_ops.metrics.logs import log_entries, request_log_filter

__all__ = ["PROBLEMS", "api_checks", "env_option", "failure_fix"]

# What doctor reports instead of raising: our errors, Google's API and auth errors, and
# network errors (requests' exceptions are OSErrors).
PROBLEMS = (NetraOpsError, gexc.GoogleAPICallError, gexc.RetryError,
            auth_exceptions.GoogleAuthError, OSError)


def api_checks(env: Environment, timeout_s: float) -> list[Check]:
    """One row per API: Cloud Run, Cloud Logging, Cloud Monitoring."""
    apis: list[tuple[str, str, str, Callable[[Environment, float], str]]] = [
        ("Cloud Run API", "run", "run.services.get", _cloud_run),
        ("Cloud Logging API", "logging", "logging.logEntries.list", _logging),
        ("Cloud Monitoring API", "monitoring", "monitoring.timeSeries.list", _monitoring),
    ]
    rows = []
    for name, api, permission, read in apis:
        try:
            rows.append(Check(name, True, read(env, timeout_s)))
        except PROBLEMS as exc:
            rows.append(Check(name, False, _first_line(exc),
                              fix=failure_fix(env, exc, api, permission)))
    return rows


def _cloud_run(env: Environment, timeout_s: float) -> str:
    name = service_name(env)
    service = call(env, "reading the service", lambda: services_client(env).get_service(
        name=name, timeout=timeout_s, retry=None))
    ready = (service.latest_ready_revision or "none").rsplit("/", 1)[-1]
    return f"{name} answers; latest ready revision {ready}"


def _logging(env: Environment, timeout_s: float) -> str:
    since = datetime.now(UTC) - timedelta(hours=1)
    entries = log_entries(env, request_log_filter(env, since), limit=1, newest_first=True)
    if entries.empty:
        return f"projects/{env.project} answers; no entry of {env.backend.name} in the last hour"
    newest = entries["time"].iloc[0]
    return (f"projects/{env.project} answers; newest entry of {env.backend.name} at "
            f"{newest:%Y-%m-%d %H:%M:%S}Z")


def _monitoring(env: Environment, timeout_s: float) -> str:
    from google.cloud import monitoring_v3  # about a second to import: only when asked

    end = datetime.now(UTC)
    request = {
        "name": f"projects/{env.project}",
        "filter": ('metric.type = "run.googleapis.com/request_count" AND '
                   f'resource.labels.service_name = "{env.backend.name}"'),
        "interval": monitoring_v3.TimeInterval(start_time=end - timedelta(minutes=10),
                                               end_time=end),
        "view": monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS,
    }
    client = monitoring_client(env)
    try:
        series = call(env, "reading metrics", lambda: list(client.list_time_series(
            request=request, retry=None, timeout=timeout_s)))
    finally:
        client.transport.close()
    return (f"projects/{env.project} answers; {len(series)} request_count series of "
            f"{env.backend.name} in the last 10 min")


def failure_fix(env: Environment, exc: BaseException, api: str,
                permission: str | None) -> str:
    """What to do about a failed call to `api` (run, logging, monitoring, ...) that needed
    `permission` (None: a testIamPermissions question, which needs none)."""
    text = str(exc)
    if isinstance(exc, ApiUnreachableError | gexc.ServiceUnavailable):
        return _unreachable_fix(env)
    if isinstance(exc, gexc.PermissionDenied | gexc.Forbidden):
        if any(word in text for word in ("SERVICE_DISABLED", "has not been used", "disabled")):
            return (f"enable the API: gcloud services enable {api}.googleapis.com "
                    f"--project {env.project}")
        if permission is None:
            return (f"check the project id ({env.project}) in {_file(env)}: Google answers "
                    "403 for a project that does not exist or that the principal cannot see")
        return (f"the principal lacks {permission}: grant {_role_of(permission)} on project "
                f"{env.project} (see the permission rows)")
    if isinstance(exc, gexc.NotFound):
        return (f"check project ({env.project}), region ({env.region}) and [services.backend] "
                f"name ({env.backend.name}) in {_file(env)}")
    if isinstance(exc, gexc.Unauthenticated | auth_exceptions.GoogleAuthError):
        return "fix the credentials first (see the credentials row)"
    return "read the detail; run doctor again with --verbose for the client's log"


def _unreachable_fix(env: Environment) -> str:
    if env.kind == "sandbox":
        return f"start the sandbox: netra-ops sandbox up{env_option(env)}"
    return "check network access to Google's APIs from this machine (proxy, firewall, VPC-SC)"


def env_option(env: Environment) -> str:
    """` --env X` that names this environment on a command line ("" for the default)."""
    try:
        by_name = find_environment_file(env.name)
    except NetraOpsError:
        by_name = None
    if env.source is None or by_name == env.source:
        return "" if env.name == "sandbox" else f" --env {env.name}"
    return f" --env {env.source}"


def _file(env: Environment) -> str:
    return str(env.source) if env.source else "the environment file"


def _role_of(permission: str) -> str:
    try:
        return requirement(permission).role
    except KeyError:
        return "a role that grants it"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= 300 else first[:297] + "..."
