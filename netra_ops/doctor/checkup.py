"""`doctor(env)`: everything that can be checked before the first real run, in one report.

In order: the environment file loads; its secret references resolve; credentials are found
and give a token (which principal); the Cloud Run, Logging and Monitoring APIs answer; the
principal holds each permission the runbooks need (and, when records go to a bucket,
`records_url = "gs://..."`, the bucket exists and the principal may create, read, list and
replace objects in it); the backend's chat sessions can live as
long as the app means them to (Cloud Run's request timeout against the app's, the heartbeat,
session affinity, HTTP/2: `probe.session_timeouts`); the project is allow-listed for changes
or read-only (and which runbooks will refuse to change anything); the services' URLs
answer. A check that cannot run because an earlier one failed is skipped, saying which. No
check raises for what it finds: a bad file, no credentials or a dead URL is a failed row.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from google.auth import exceptions as auth_exceptions

from netra_ops.checks import Check, skipped
from netra_ops.config import Environment, ServiceRole, load_environment
from netra_ops.doctor.apis import PROBLEMS, api_checks, env_option
from netra_ops.doctor.permissions import bucket_checks, permission_checks
from netra_ops.doctor.principal import Principal, find_principal, refresh
from netra_ops.doctor.report import DoctorReport
from netra_ops.doctor.requirements import REQUIREMENTS, changing_runbooks
from netra_ops.errors import NetraOpsError
from netra_ops.probe.services import check_services
from netra_ops.probe.session_limits import session_timeouts
from netra_ops.record.incident import is_bucket_url
from netra_ops.record.secret_needs import CONFIG_RUNBOOKS, LOGIN_RUNBOOKS
from netra_ops.secrets import unresolved

__all__ = ["doctor"]

_ROLES: tuple[ServiceRole, ...] = ("backend", "auth", "frontend")
_NEEDS_LOGIN = ", ".join(LOGIN_RUNBOOKS)
_NEEDS_CONFIG = ", ".join(CONFIG_RUNBOOKS)
_SESSIONS = "chat session timeouts"


def doctor(env: str | os.PathLike[str] | Environment = "sandbox", *,
           timeout_s: float = 10.0) -> DoctorReport:
    """Check an environment (name, path or loaded) end to end; never raises for a finding.

    `timeout_s` bounds each API call and each URL check.
    """
    name = env.name if isinstance(env, Environment) else os.fspath(env)
    try:
        loaded = load_environment(env)
    except NetraOpsError as exc:
        return DoctorReport(name, (_file_failed(exc), *_all_skipped()))
    checks = [Check("environment file", True, f"{loaded.source} is valid ({loaded.kind}, "
                    f"project {loaded.project}, region {loaded.region})"),
              _secrets(loaded)]
    principal, credentials = _credentials(loaded)
    checks.append(credentials)
    if principal is None:
        checks += _google_skipped("no usable credentials (see the credentials row)")
    else:
        checks += api_checks(loaded, timeout_s)
        checks += permission_checks(loaded, principal.member, timeout_s)
        if is_bucket_url(records := _records_url(loaded)):
            checks += bucket_checks(loaded, records, principal.member, timeout_s)
        checks += _session_checks(loaded)
    checks.append(_changes(loaded))
    checks += _urls(loaded, timeout_s)
    who = principal.describe() if principal is not None else None
    return DoctorReport(loaded.name, tuple(checks), loaded.project, loaded.region,
                        loaded.kind, str(loaded.source) if loaded.source else None, who)


def _records_url(env: Environment) -> str:
    """Where runs of this environment write records: `$NETRA_OPS_OUTPUTS`, else its
    `records_url` ("" for the local default)."""
    return os.environ.get("NETRA_OPS_OUTPUTS") or env.records_url or ""


def _session_checks(env: Environment) -> list[Check]:
    """The backend's chat-session settings, each row named `chat session timeouts: ...`."""
    return [replace(check, name=f"{_SESSIONS}: {check.name}")
            for check in session_timeouts(env).checks]


def _file_failed(exc: NetraOpsError) -> Check:
    return Check("environment file", False, str(exc),
                 fix="fix the file as the message says (environments/sandbox.toml and "
                     "environments/staging.toml are worked examples), or name a known "
                     "environment with --env")


def _all_skipped() -> list[Check]:
    reason = "the environment file could not be loaded"
    return [skipped(name, reason) for name in ("secrets", "credentials")] + \
        _google_skipped(reason) + [skipped("changes", reason)] + \
        [skipped(f"url {role}", reason) for role in _ROLES]


def _google_skipped(reason: str) -> list[Check]:
    names = ["Cloud Run API", "Cloud Logging API", "Cloud Monitoring API",
             *(f"permission {r.permission}" for r in REQUIREMENTS), _SESSIONS]
    return [skipped(name, reason) for name in names]


def _secrets(env: Environment) -> Check:
    """Every secret reference the runbooks resolve, resolved now (values never shown)."""
    wanted = [(env.credentials.password, f"the test user's password (login: {_NEEDS_LOGIN})")]
    wanted += [(ref, f"[secret_env] {key} ({_NEEDS_CONFIG})")
               for key, ref in env.secret_env.items()]
    dependencies = [("postgres", env.dependencies.postgres), ("redis", env.dependencies.redis)]
    optional = [(ref, f"[dependencies] {name}") for name, ref in dependencies if ref]
    if env.dependencies.required:
        wanted += [(ref, f"{what} ({_NEEDS_CONFIG}, required)") for ref, what in optional]
    problems = [f"{what}: {error}" for ref, what in wanted if (error := unresolved(ref))]
    unset = [what for ref, what in optional if not env.dependencies.required
             and unresolved(ref)]
    note = f"; optional and not set: {', '.join(unset)}" if unset else ""
    if problems:
        return Check("secrets", False, "; ".join(problems) + note,
                     fix="export the variables or create the files these references name "
                         "(never write a secret into the environment file)")
    return Check("secrets", True, f"{len(wanted)} reference(s) resolve (values not shown)"
                 + note)


def _credentials(env: Environment) -> tuple[Principal | None, Check]:
    try:
        principal = find_principal(env)
    except (auth_exceptions.GoogleAuthError, OSError) as exc:
        return None, Check("credentials", False, _first_sentence(exc), fix=_LOGIN_FIX)
    if env.kind == "sandbox":
        return principal, Check("credentials", True, principal.describe())
    try:
        principal = refresh(principal)
    except PROBLEMS as exc:
        return None, Check("credentials", False, f"found {principal.describe()}, but no "
                           f"access token: {_first_sentence(exc)}", fix=_REFRESH_FIX)
    return principal, _credentials_found(env, principal)


_LOGIN_FIX = ("sign in as yourself: gcloud auth application-default login; or use a service "
              "account: export GOOGLE_APPLICATION_CREDENTIALS=/path/to/key.json (or "
              "gcloud auth application-default login --impersonate-service-account EMAIL)")
_REFRESH_FIX = ("sign in again: gcloud auth application-default login (an expired or revoked "
                "login), or check the key file and network access to oauth2.googleapis.com")


def _credentials_found(env: Environment, principal: Principal) -> Check:
    detail = principal.describe()
    if principal.credentials_project and principal.credentials_project != env.project:
        detail += (f"; their default project is {principal.credentials_project}, netra-ops "
                   f"uses {env.project} from the environment file")
    if principal.kind == "user" and not principal.quota_project:
        detail += ("; no quota project (if an API answers 'quota project' or 'API not "
                   f"enabled': gcloud auth application-default set-quota-project {env.project})")
    return Check("credentials", True, detail)


def _changes(env: Environment) -> Check:
    runbooks = ", ".join(changing_runbooks())
    where = env.source or Path("its file")
    if env.allow_changes:
        return Check("changes", True, f"allow-listed (allow_changes = true): {runbooks} "
                     "change the service when run with execute=true (playbooks: --execute)")
    return Check("changes", True, f"read-only (allow_changes = false): {runbooks} only show "
                 "their plans; execute=true (playbooks: --execute) is refused with "
                 f"ChangesNotAllowedError. To allow changes, set allow_changes = true in {where}, "
                 "on purpose")


def _urls(env: Environment, timeout_s: float) -> list[Check]:
    missing = [role for role in _ROLES if role not in env.services or not env.services[role].url]
    rows = [Check(f"url {role}", False, f"[services.{role}] has no url",
                  fix=f"set [services.{role}] url in {env.source}") for role in missing]
    if missing:
        return rows + [skipped(f"url {role}", "checked once every url is set")
                       for role in _ROLES if role not in missing]
    results = check_services(env, timeout_s=timeout_s).results
    for role in _ROLES:
        result = results[role]
        if result.ok:
            rows.append(Check(f"url {role}", True, f"{result.url} answers {result.status_code}"
                              f" in {result.latency_ms:.0f} ms"))
        else:
            rows.append(Check(f"url {role}", False, f"{result.url}: {result.error}",
                              fix=_url_fix(env, role)))
    return rows


def _url_fix(env: Environment, role: str) -> str:
    if env.kind == "sandbox":
        return (f"start the sandbox: netra-ops sandbox up{env_option(env)} (and see: "
                f"netra-ops sandbox status{env_option(env)})")
    return (f"check [services.{role}] url and health_path in {env.source}, that the service "
            "is deployed and reachable from this machine (netra-ops probe health)")


def _first_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
