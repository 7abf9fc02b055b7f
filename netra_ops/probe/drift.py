"""Configuration drift (seed 2.1): the env vars the backend really serves with, against the
environment's `[expected_env]` and `[secret_env]`, and the deploy that would fix them.

What matters is the *serving* revision's env, read through Google's Cloud Run client (the
service's template names the next revision, which after a traffic-only rollback is not what
serves); when the template differs, the result says so. One row per key:

- `match`      deployed with the expected value;
- `missing`    expected, not deployed;
- `different`  deployed with another value;
- `unexpected` deployed, not expected (Cloud Run's reserved names are ignored); drift only
  with `strict=True`, since a real service carries more than the seed's list;
- `unverified` cannot be compared: the value comes from Secret Manager, or the expected
  secret's reference does not resolve. Not `ok`: nobody has checked it.

Secret values (keys of `[secret_env]`, and keys whose names say secret, password, token or
key) are compared by SHA-256 digest and shown only as "(secret)"; URLs show no password.
`sync_plan()` turns the drift into the `env_vars` of `netra_ops.deploy.deploy` (seed Phase 2,
"CRITICAL FIXES NEEDED"), resolving secret references only when asked (`env_vars()`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import pandas as pd
from google.api_core import exceptions as gexc
from google.auth.exceptions import GoogleAuthError

from netra_ops.checks import Check
from netra_ops.cloud import (
    ServiceState,
    call,
    read_service,
    revisions_client,
    service_name,
    services_client,
)
from netra_ops.config import Environment
from netra_ops.errors import DeployError, SecretError
from netra_ops.probe.dependencies import redact_url
from netra_ops.secrets import resolve_secret

if TYPE_CHECKING:
    from google.cloud import run_v2

__all__ = [
    "DRIFT_STATES",
    "RESERVED_ENV",
    "SECRET_SHOWN",
    "DriftResult",
    "DriftRow",
    "SyncChange",
    "SyncPlan",
    "config_drift",
    "sync_plan",
]

DriftState = Literal["match", "missing", "different", "unexpected", "unverified"]
DRIFT_STATES: tuple[DriftState, ...] = ("match", "missing", "different", "unexpected",
                                        "unverified")
RESERVED_ENV = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})
"""Variables Cloud Run sets itself (a deploy may not set them): never `unexpected`."""
SECRET_SHOWN = "(secret)"
_SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "KEY", "CREDENTIAL")
_ROW_COLUMNS = ["key", "expected", "actual", "state", "secret", "detail"]


@dataclass(frozen=True)
class DriftRow:
    """One key: its expected and actual value as shown (never a secret), and its state."""

    key: str
    expected: str | None
    actual: str | None
    state: DriftState
    secret: bool
    detail: str = ""


@dataclass(frozen=True)
class DriftResult:
    """The drift of one service's serving configuration. `ok` when nothing drifted.

    `revision` is the revision compared (the one with the largest share of traffic), or None
    when no revision serves and the template was compared. `notes` says where the template
    or other serving revisions differ. `error` is set when the API could not be read.
    """

    environment: str
    service: str
    revision: str | None
    image: str | None
    rows: tuple[DriftRow, ...]
    notes: tuple[str, ...]
    strict: bool
    error: str | None
    checked_at: datetime

    @property
    def drifted(self) -> tuple[DriftRow, ...]:
        """Rows that count as drift (`unexpected` only when strict)."""
        bad = {"missing", "different", "unverified"} | ({"unexpected"} if self.strict else set())
        return tuple(r for r in self.rows if r.state in bad)

    @property
    def drifted_keys(self) -> list[str]:
        """The keys of the rows that count as drift."""
        return [r.key for r in self.drifted]

    @property
    def ok(self) -> bool:
        """True when the configuration was read and nothing drifted."""
        return self.error is None and not self.drifted

    def messages(self) -> list[str]:
        """What a reader must know beside the table: why the configuration could not be
        read, and where the template or other serving revisions differ."""
        unread = [f"could not read the configuration: {self.error}"] if self.error else []
        return unread + [f"note: {note}" for note in self.notes]

    @property
    def counts(self) -> dict[str, int]:
        """How many keys are in each state (every state named, zeros included)."""
        seen = Counter(r.state for r in self.rows)
        return {state: seen.get(state, 0) for state in DRIFT_STATES}

    def row(self, key: str) -> DriftRow | None:
        """The row of that key, if any."""
        return next((r for r in self.rows if r.key == key), None)

    def to_frame(self) -> pd.DataFrame:
        """One row per key: key, expected, actual, state, secret, detail."""
        return pd.DataFrame([asdict(r) for r in self.rows], columns=_ROW_COLUMNS)

    def checks(self) -> tuple[Check, ...]:
        """The verdict's row: no drifted key (seed 2.1)."""
        detail = self.error or "; ".join(f"{r.key} {r.state}" for r in self.drifted) \
            or f"{self.counts['match']} keys match on {self.revision or 'the template'}"
        return (Check("configuration drift (seed 2.1)", self.ok, detail,
                      value=None if self.error else len(self.drifted), threshold="0 keys"),)


@dataclass(frozen=True)
class _Deployed:
    """One deployed variable: a literal value, or a Secret Manager reference."""

    value: str | None = field(repr=False)
    secret_source: str | None = None


# --------------------------------------------------------------------------- reading


def _revision_env(env: Environment, revision: str) -> dict[str, _Deployed]:
    name = f"{service_name(env)}/revisions/{revision}"
    message = call(env, f"reading revision {name}",
                   lambda: revisions_client(env).get_revision(name=name))
    return _container_env(message.containers)


def _container_env(containers: Sequence[run_v2.Container]) -> dict[str, _Deployed]:
    if not containers:
        return {}
    return {var.name: _deployed(var) for var in containers[0].env}


def _deployed(var: run_v2.EnvVar) -> _Deployed:
    if "value_source" in var:
        ref = var.value_source.secret_key_ref
        return _Deployed(None, f"{ref.secret}:{ref.version or 'latest'}")
    return _Deployed(var.value)


def _template_env(env: Environment) -> dict[str, _Deployed]:
    """The service template's env (Secret Manager sources included, which ServiceState's
    `template_env` flattens to empty strings)."""
    name = service_name(env)
    service = call(env, f"reading service {name}",
                   lambda: services_client(env).get_service(name=name))
    return _container_env(service.template.containers)


# --------------------------------------------------------------------------- comparing


def _is_secret_key(env: Environment, key: str) -> bool:
    """Whether a variable's value must never be shown: in `[secret_env]`, or named so."""
    return key in env.secret_env or any(word in key.upper() for word in _SECRET_WORDS)


def _shown(value: str | None, secret: bool) -> str | None:
    if value is None:
        return None
    if secret:
        return SECRET_SHOWN
    return redact_url(value) if "://" in value and "@" in value else value


def _same(expected: str, actual: str) -> bool:
    """Equal values, compared by SHA-256 digest in constant time."""
    return hmac.compare_digest(hashlib.sha256(expected.encode()).digest(),
                               hashlib.sha256(actual.encode()).digest())


def _expected_row(key: str, expected: str | None, deployed: _Deployed | None, secret: bool,
                  unresolved: str = "") -> DriftRow:
    shown_expected = SECRET_SHOWN if secret else _shown(expected, False)
    if deployed is None:
        return DriftRow(key, shown_expected, None, "missing", secret, "not deployed")
    if deployed.secret_source is not None:
        return DriftRow(key, shown_expected, f"(Secret Manager {deployed.secret_source})",
                        "unverified", secret, "value comes from Secret Manager; not compared")
    actual = _shown(deployed.value, secret)
    if expected is None:
        return DriftRow(key, shown_expected, actual, "unverified", secret,
                        f"expected value unavailable: {unresolved}")
    state: DriftState = "match" if _same(expected, deployed.value or "") else "different"
    detail = "compared by SHA-256 digest" if secret else ""
    return DriftRow(key, shown_expected, actual, state, secret, detail)


def _secret_expected(reference: str) -> tuple[str | None, str]:
    try:
        return resolve_secret(reference), ""
    except SecretError as exc:
        return None, str(exc)


def _drift_rows(env: Environment, deployed: dict[str, _Deployed]) -> tuple[DriftRow, ...]:
    """Expected keys in the environment file's order, then secret keys, then unexpected."""
    rows = [_expected_row(key, value, deployed.get(key), _is_secret_key(env, key))
            for key, value in env.expected_env.items()]
    for key, reference in env.secret_env.items():
        expected, why = _secret_expected(reference)
        rows.append(_expected_row(key, expected, deployed.get(key), True, why))
    known = set(env.expected_env) | set(env.secret_env) | RESERVED_ENV
    for key in sorted(set(deployed) - known):
        rows.append(_unexpected_row(env, key, deployed[key]))
    return tuple(rows)


def _unexpected_row(env: Environment, key: str, deployed: _Deployed) -> DriftRow:
    secret = _is_secret_key(env, key)
    actual = (f"(Secret Manager {deployed.secret_source})" if deployed.secret_source
              else _shown(deployed.value, secret))
    return DriftRow(key, None, actual, "unexpected", secret, "deployed, not expected")


def _differing_keys(one: dict[str, _Deployed], other: dict[str, _Deployed]) -> list[str]:
    keys = (set(one) | set(other)) - RESERVED_ENV
    return sorted(k for k in keys if one.get(k) != other.get(k))


# --------------------------------------------------------------------------- the probe


def config_drift(env: Environment, *, strict: bool = False) -> DriftResult:
    """Compare the serving revision's env vars with `[expected_env]` and `[secret_env]`.

    Never raises for what the API answers: an unreachable API or an unknown service is a
    result with `error` set (and `ok` False). With `strict=True`, unexpected keys are drift.
    """
    checked_at = datetime.now(UTC)
    try:
        state = read_service(env)
        serving = state.serving_revision
        template = _template_env(env)
        deployed = _revision_env(env, serving) if serving else template
        notes = _notes(env, state, serving, deployed, template)
    except (DeployError, gexc.GoogleAPICallError, GoogleAuthError) as exc:
        return DriftResult(env.name, env.backend.name, None, None, (), (), strict,
                           f"{type(exc).__name__}: {exc}", checked_at)
    image = state.serving_image if serving else state.template_image
    return DriftResult(env.name, state.name.rsplit("/", 1)[-1], serving, image,
                       _drift_rows(env, deployed), tuple(notes), strict, None, checked_at)


def _notes(env: Environment, state: ServiceState, serving: str | None,
           deployed: dict[str, _Deployed], template_env: dict[str, _Deployed]) -> list[str]:
    if serving is None:
        return ["no revision serves traffic: compared the service template (the next "
                "revision's configuration)"]
    notes = []
    template = _differing_keys(template_env, deployed)
    if template:
        notes.append(f"the service template (what the next deploy starts from) differs from "
                     f"the serving revision {serving} in {', '.join(template)}")
    for other, percent in state.serving.items():
        if other != serving:
            differing = _differing_keys(_revision_env(env, other), deployed)
            if differing:
                notes.append(f"revision {other} ({percent}% of traffic) differs from "
                             f"{serving} in {', '.join(differing)}")
    return notes


# --------------------------------------------------------------------------- the fix


@dataclass(frozen=True)
class SyncChange:
    """One env var a deploy must set (or remove); values as shown, never a secret.

    `source` is what `SyncPlan.env_vars()` passes on: the expected value, or (when
    `from_reference`) the secret reference it is resolved from at that moment.
    """

    key: str
    action: Literal["set", "remove"]
    reason: DriftState
    current: str | None
    wanted: str | None
    secret: bool
    source: str | None = field(default=None, repr=False)
    from_reference: bool = False


@dataclass(frozen=True)
class SyncPlan:
    """What a deploy must change to end the drift (seed Phase 2, "CRITICAL FIXES NEEDED").

    Use with `netra_ops.deploy.deploy(env, plan.image, env_vars=plan.env_vars(),
    execute=...)`; `image` is the image that serves now, so only the configuration changes.
    `skipped` says which drift a deploy cannot fix (Secret Manager values, unresolvable
    expected secrets).
    """

    environment: str
    service: str
    revision: str | None
    image: str | None
    changes: tuple[SyncChange, ...]
    skipped: tuple[str, ...]

    @property
    def needed(self) -> bool:
        """True when a deploy is needed."""
        return bool(self.changes)

    def env_vars(self) -> dict[str, str | None]:
        """The `env_vars` for `deploy()`: values to set, None to remove. Secret references
        are resolved now (SecretError if one cannot be); do not print the result."""
        return {c.key: _value(c) for c in self.changes}

    def to_frame(self) -> pd.DataFrame:
        """One row per change: key, action, reason, current, wanted (as shown), secret."""
        columns = ["key", "action", "reason", "current", "wanted", "secret"]
        return pd.DataFrame([{c: getattr(ch, c) for c in columns} for ch in self.changes],
                            columns=columns)


def _value(change: SyncChange) -> str | None:
    if change.action == "remove" or change.source is None:
        return None
    return resolve_secret(change.source) if change.from_reference else change.source


def sync_plan(env: Environment, drift: DriftResult | None = None, *,
              strict: bool = False) -> SyncPlan:
    """The env var changes that end `drift` (read now when not given).

    Missing and different keys are set to their expected values; unexpected keys are removed
    only when the drift is strict. DeployError when the configuration could not be read.
    """
    drift = drift if drift is not None else config_drift(env, strict=strict)
    if drift.error is not None:
        raise DeployError(f"cannot plan a configuration sync of {env.name}: {drift.error}")
    changes, skipped = [], []
    for row in drift.drifted:
        if row.state == "unverified":
            skipped.append(f"{row.key}: {row.detail}")
        elif row.state == "unexpected":
            changes.append(SyncChange(row.key, "remove", row.state, row.actual, None,
                                      row.secret))
        else:
            changes.append(SyncChange(row.key, "set", row.state, row.actual, row.expected,
                                      row.secret, *_source(env, row.key)))
    return SyncPlan(drift.environment, drift.service, drift.revision, drift.image,
                    tuple(changes), tuple(skipped))


def _source(env: Environment, key: str) -> tuple[str, bool]:
    """(the expected value, False) of a key, or (the reference, True) of a secret."""
    if key in env.secret_env:
        return env.secret_env[key], True
    return env.expected_env[key], False
