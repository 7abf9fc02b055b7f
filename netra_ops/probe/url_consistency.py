"""The seed's confirmed root cause, "Service URL mismatch: staging uses different URL than
deployment config": what the backend is configured to call, against where Cloud Run really
serves those services, and which revision answers.

Two questions, answered through Google's Cloud Run client and the backend's health answer:

- **Configured URLs.** Each serving revision of the backend carries `AUTH_SERVICE_URL` and
  `FRONTEND_URL` (`URL_VARIABLES`); each must be one of the Cloud Run URLs of that service
  (`services.get` -> `uri` and `urls`), or the URL the environment file declares for it
  (`[services.auth] url`: a custom domain such as auth.staging.netrasystems.ai, which Cloud
  Run's `urls` does not list).
- **Answering revision.** The revision the backend's health answer names (`revision`) must be
  the one Cloud Run says serves; with a traffic split, one of the serving ones. An answer
  that names no revision cannot be compared: that check is skipped, not passed.

URLs compare by scheme, host, port (the scheme's default when absent) and path without a
trailing slash. Every mismatch names both values and the fix. The probe answers with a value,
never a crash: an API that cannot be read is a result with `error` set and a failing check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import pandas as pd
from google.api_core import exceptions as gexc
from google.auth.exceptions import GoogleAuthError

from netra_ops.checks import Check, skipped
from netra_ops.cloud import ServiceState, read_service
from netra_ops.config import Environment
from netra_ops.errors import DeployError
from netra_ops.probe.dependencies import redact_url
from netra_ops.probe.health_endpoint import HealthResult, health

__all__ = ["REVISION_CHECK", "URL_VARIABLES", "ConfiguredUrl", "ServiceUrls", "service_urls"]

URL_VARIABLES: Mapping[str, Literal["auth", "frontend"]] = {
    "AUTH_SERVICE_URL": "auth", "FRONTEND_URL": "frontend"}
"""The backend's env vars that name another service, and the role of the service they name."""
REVISION_CHECK = "health answers from the serving revision"
_ROLES = ("backend", "auth", "frontend")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEALTH_TRIES = 3

UrlState = Literal["cloud run url", "declared url", "mismatch", "missing"]


@dataclass(frozen=True)
class ConfiguredUrl:
    """One URL variable on one serving revision of the backend, and how it was judged.

    `state`: `cloud run url` (one of the service's Cloud Run URLs), `declared url` (the
    environment file's URL of the service, not listed by Cloud Run: a custom domain),
    `mismatch` or `missing`. `belongs_to` names the service a mismatched URL is really
    the URL of, when it is one of the platform's. `value` is as shown: a URL carrying a
    password shows `***` instead.
    """

    variable: str
    revision: str
    percent: int
    value: str | None
    service: str
    cloud_run: tuple[str, ...]
    declared: str
    state: UrlState
    belongs_to: str | None = None

    @property
    def ok(self) -> bool:
        """True when the URL names the service it should."""
        return self.state in ("cloud run url", "declared url")

    def is_value(self, value: str | None) -> bool:
        """True when `value` (as deployed, e.g. on another revision) is this one."""
        return _shown(value or None) == self.value


@dataclass(frozen=True)
class ServiceUrls:
    """Configured URLs against Cloud Run's, and the answering revision against the serving.

    `cloud_run` maps each role to its service's Cloud Run URLs (`uri` first); `serving` is
    the backend's traffic split; `checks` are the verdict's rows (one per URL variable, one
    for the answering revision); `error` is set when Cloud Run could not be read.
    """

    environment: str
    cloud_run: Mapping[str, tuple[str, ...]]
    serving: Mapping[str, int]
    configured: tuple[ConfiguredUrl, ...]
    health_url: str
    health_revision: str | None
    checks: tuple[Check, ...]
    error: str | None
    checked_at: datetime

    @property
    def ok(self) -> bool:
        """True when Cloud Run was read and no check failed."""
        return self.error is None and all(c.ok for c in self.checks)

    @property
    def mismatches(self) -> tuple[ConfiguredUrl, ...]:
        """The configured URLs that do not name their service (missing ones included)."""
        return tuple(c for c in self.configured if not c.ok)

    def figures(self) -> dict[str, object]:
        """What a record keeps: ok, the mismatches (variable, revision, value, wanted), the
        answering and the serving revisions, and Cloud Run's URLs of each service."""
        return {"ok": self.ok, "mismatches": [
            {"variable": m.variable, "revision": m.revision, "configured": m.value,
             "cloud_run": m.cloud_run[0] if m.cloud_run else None} for m in self.mismatches],
            "health_revision": self.health_revision, "serving": dict(self.serving),
            "cloud_run": {role: list(urls) for role, urls in self.cloud_run.items()},
            "error": self.error}

    def to_frame(self) -> pd.DataFrame:
        """One row per URL variable and serving revision: what it is, what Cloud Run says."""
        columns = ["variable", "revision", "percent", "value", "service", "cloud_run",
                   "declared", "state", "belongs_to"]
        rows = [{**asdict(c), "cloud_run": ", ".join(c.cloud_run)} for c in self.configured]
        return pd.DataFrame(rows, columns=columns)


def service_urls(env: Environment, *, timeout_s: float = 5.0) -> ServiceUrls:
    """Compare the URLs the backend's serving revisions are configured with against the
    Cloud Run URLs of those services, and the revision the backend's health answer names
    against the serving one(s); see the module docstring."""
    checked_at = datetime.now(UTC)
    health_url = env.backend.url + env.backend.health_path
    try:
        states = {role: read_service(env, role) for role in _ROLES}
    except (DeployError, gexc.GoogleAPICallError, GoogleAuthError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        check = Check("service URLs read from Cloud Run", False, error,
                      fix="see the error: the same reading is what 02_deploy relies on")
        return ServiceUrls(env.name, {}, {}, (), health_url, None, (check,), error, checked_at)
    cloud_run = {role: _cloud_run_urls(state) for role, state in states.items()}
    backend = states["backend"]
    configured = tuple(_configured(env, states, cloud_run, revision, percent, variable)
                       for revision, percent in backend.serving.items()
                       for variable in URL_VARIABLES)
    answer = _health_answer(env, timeout_s)
    checks = (*(_url_check(env, variable, [c for c in configured if c.variable == variable])
                for variable in URL_VARIABLES),
              _revision_check(env, backend, cloud_run["backend"], answer))
    return ServiceUrls(env.name, cloud_run, backend.serving, configured, health_url,
                       answer.revision, checks, None, checked_at)


def _same_url(one: str, other: str) -> bool:
    """True when two URLs name the same place (scheme, host, port, path without '/')."""
    return _normal(one) == _normal(other)


def _normal(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def _cloud_run_urls(state: ServiceState) -> tuple[str, ...]:
    """The service's URLs as Cloud Run lists them, the main `uri` first."""
    others = [url for url in state.urls if not _same_url(url, state.uri)]
    return tuple([state.uri, *others] if state.uri else others)


def _configured(env: Environment, states: Mapping[str, ServiceState],
                cloud_run: Mapping[str, tuple[str, ...]], revision: str, percent: int,
                variable: str) -> ConfiguredUrl:
    role = URL_VARIABLES[variable]
    value = states["backend"].revision(revision).env.get(variable) or None
    wanted, declared = cloud_run[role], env.services[role].url
    service = _short(states[role].name)
    if value is None:
        return ConfiguredUrl(variable, revision, percent, None, service, wanted, declared,
                             "missing")
    if any(_same_url(value, url) for url in wanted):
        state: UrlState = "cloud run url"
    elif declared and _same_url(value, declared):
        state = "declared url"
    else:
        state = "mismatch"
    owner = next((_short(states[other].name) for other in _ROLES if other != role
                  and any(_same_url(value, url) for url in cloud_run[other])), None)
    return ConfiguredUrl(variable, revision, percent, _shown(value), service, wanted, declared,
                         state, owner if state == "mismatch" else None)


def _shown(value: str | None) -> str | None:
    """A configured value as records show it: a URL's password never."""
    return redact_url(value) if value and "://" in value and "@" in value else value


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _url_check(env: Environment, variable: str, rows: list[ConfiguredUrl]) -> Check:
    role = URL_VARIABLES[variable]
    name = f"{variable} names the {role} service"
    if not rows:
        return Check(name, False, "no revision of the backend serves traffic: nothing to "
                     "compare", fix="deploy the backend and send it traffic (02_deploy)")
    bad = [r for r in rows if not r.ok]
    wanted = rows[0].cloud_run[0] if rows[0].cloud_run else rows[0].declared
    if not bad:
        return Check(name, True, "; ".join(_said_ok(r) for r in rows), value=rows[0].value,
                     threshold=_matched(rows[0]))
    return Check(name, False, "; ".join(_said_wrong(r) for r in bad), value=bad[0].value,
                 threshold=wanted, fix=_url_fix(env, variable, wanted))


def _matched(row: ConfiguredUrl) -> str:
    if row.state == "declared url":
        return row.declared
    return next((url for url in row.cloud_run if row.value and _same_url(row.value, url)),
                row.cloud_run[0])


def _said_ok(row: ConfiguredUrl) -> str:
    where = (f"one of Cloud Run's URLs of {row.service}" if row.state == "cloud run url" else
             f"the environment's URL of {row.service}, a custom domain Cloud Run does not list "
             f"(its URLs: {', '.join(row.cloud_run)})")
    return f"{row.revision} ({row.percent}%): {row.variable}={row.value}, {where}"


def _said_wrong(row: ConfiguredUrl) -> str:
    urls = ", ".join(row.cloud_run)
    if row.value is None:
        return (f"{row.revision} ({row.percent}%) has no {row.variable}; Cloud Run serves "
                f"{row.service} at {urls}")
    whose = f" (that is {row.belongs_to}'s URL)" if row.belongs_to else ""
    declared = (f" or {row.declared}" if row.declared and not any(
        _same_url(row.declared, url) for url in row.cloud_run) else "")
    return (f"{row.revision} ({row.percent}%) has {row.variable}={row.value}{whose}, but "
            f"Cloud Run serves {row.service} at {urls}{declared}")


def _url_fix(env: Environment, variable: str, wanted: str) -> str:
    where = env.source or f"the {env.name} environment file"
    expected = env.expected_env.get(variable)
    if expected is not None and _same_url(expected, wanted):
        return (f"deploy the backend with {variable}={wanted}: 03_config_sync -p execute=true "
                "sets it from [expected_env]")
    now = f" (it says {expected})" if expected is not None else ""
    return (f"set [expected_env] {variable} = \"{wanted}\" in {where}{now}, then run "
            f"03_config_sync -p execute=true to deploy the backend with it")


def _health_answer(env: Environment, timeout_s: float) -> HealthResult:
    """The backend's health answer; a few tries until one names its revision (a fault may
    answer 500 without a body)."""
    answer = health(env.backend.url, path=env.backend.health_path, timeout_s=timeout_s)
    for _ in range(_HEALTH_TRIES - 1):
        if answer.revision is not None:
            break
        answer = health(env.backend.url, path=env.backend.health_path, timeout_s=timeout_s)
    return answer


def _revision_check(env: Environment, backend: ServiceState, urls: tuple[str, ...],
                    answer: HealthResult) -> Check:
    serving = backend.serving
    split = " or ".join(f"{name} ({percent}%)" for name, percent in serving.items())
    if answer.revision is None:
        why = answer.error or "the answer has no 'revision' field"
        return skipped(REVISION_CHECK, f"{answer.url} named no revision ({why}): cannot "
                       f"compare with Cloud Run's {split or 'serving revision'}")
    if answer.revision in serving:
        return Check(REVISION_CHECK, True, f"{answer.url} answered from {answer.revision}; "
                     f"Cloud Run serves {split}", value=answer.revision, threshold=split)
    listed = any(_same_url(env.backend.url, url) for url in urls)
    where = (f"{env.backend.url} is one of Cloud Run's URLs of {_short(backend.name)}"
             if listed else f"{env.backend.url} is not one of Cloud Run's URLs of "
             f"{_short(backend.name)} ({', '.join(urls)})")
    fix = (f"point [services.backend] url in {env.source or 'the environment file'} at "
           f"{urls[0] if urls else 'the service URL'}" if not listed else
           "traffic has not reached the serving revision: read the service's traffic "
           "(02_deploy) and ask again")
    return Check(REVISION_CHECK, False, f"{answer.url} answered from {answer.revision}, but "
                 f"Cloud Run serves {split or 'no revision'}; {where}", value=answer.revision,
                 threshold=split or "a serving revision", fix=fix)
