"""Who netra-ops acts as on Google Cloud: the application default credentials, and their principal.

Google's clients (`netra_ops.cloud`) find credentials the way `google.auth.default()` does:
`GOOGLE_APPLICATION_CREDENTIALS` (a service account key, or any credential file such as a
workload identity federation config), then gcloud's application default credentials
(`gcloud auth application-default login`, also with `--impersonate-service-account SA`),
then the metadata server on Google Cloud (a VM's, Cloud Run's or Cloud Build's service
account). `find_principal` does the same lookup and names the principal; `refresh` gets an
access token, which proves the credentials work (a network call to Google's token endpoint).
The sandbox needs no credentials: its emulation takes anonymous ones.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import google.auth
import google.auth.transport.requests
import jwt
from google.auth import _cloud_sdk
from google.auth.credentials import Credentials

from netra_ops.config import Environment

__all__ = ["SCOPES", "Principal", "find_principal", "refresh"]

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
Kind = Literal["anonymous", "service account", "user", "unknown"]
_UNNAMED: dict[Kind, str] = {"anonymous": "anonymous", "unknown": "an unknown principal",
                             "user": "a user (email not known)",
                             "service account": "a service account (email not known)"}


@dataclass(frozen=True)
class Principal:
    """Whom the credentials belong to, where they were found, and their quota project."""

    kind: Kind
    email: str | None
    source: str
    quota_project: str | None = None
    credentials_project: str | None = None
    credentials: Credentials | None = field(default=None, repr=False, compare=False)

    @property
    def member(self) -> str | None:
        """The IAM member (`user:EMAIL`, `serviceAccount:EMAIL`), when the email is known."""
        if not self.email:
            return None
        return f"{'user' if self.kind == 'user' else 'serviceAccount'}:{self.email}"

    def describe(self) -> str:
        """One phrase: the principal and where its credentials came from."""
        if self.kind == "anonymous":
            return f"{self.source}: anonymous credentials (the emulation needs none)"
        who = f"{self.kind} {self.email}" if self.email else _UNNAMED[self.kind]
        return f"{who}, from {self.source}"


def find_principal(env: Environment) -> Principal:
    """The principal netra-ops acts as for `env`; DefaultCredentialsError when none is found.

    Email addresses known only after a token is fetched (a VM's service account, a user's
    id token) are filled in by `refresh`.
    """
    if env.kind == "sandbox":
        return Principal("anonymous", None, "sandbox")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gcloud user credentials without a quota project
        credentials, project = google.auth.default(scopes=list(SCOPES))
    return _principal(credentials, project)


def refresh(principal: Principal) -> Principal:
    """Get an access token (proves the credentials work); the principal with what the token
    told (the email of a VM's service account or of a user). google.auth's RefreshError or
    TransportError when no token can be had."""
    credentials = principal.credentials
    if credentials is None:
        return principal
    credentials.refresh(google.auth.transport.requests.Request())
    found = _principal(credentials, principal.credentials_project)
    return Principal(found.kind, found.email or principal.email, principal.source,
                     found.quota_project, principal.credentials_project, credentials)


def _principal(credentials: Credentials, project: str | None) -> Principal:
    kind, email = _identity(credentials)
    quota = getattr(credentials, "quota_project_id", None)
    return Principal(kind, email, _source(credentials), quota, project, credentials)


def _identity(credentials: Credentials) -> tuple[Kind, str | None]:
    account = getattr(credentials, "service_account_email", None)
    if isinstance(account, str) and account and account != "default":
        return "service account", account
    if hasattr(credentials, "refresh_token"):  # a user: gcloud application-default login
        return "user", _user_email(credentials)
    if account == "default":  # the metadata server's, known after a token is fetched
        return "service account", None
    return "unknown", None


def _user_email(credentials: Any) -> str | None:
    account = getattr(credentials, "account", None)
    if isinstance(account, str) and account:
        return account
    token = getattr(credentials, "id_token", None)
    if not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    email = claims.get("email")
    return email if isinstance(email, str) else None


def _source(credentials: Credentials) -> str:
    if path := os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return f"GOOGLE_APPLICATION_CREDENTIALS ({path})"
    adc = _cloud_sdk.get_application_default_credentials_path()
    if os.path.exists(adc) and not _on_metadata(credentials):
        return f"gcloud application default credentials ({adc})"
    return "the metadata server" if _on_metadata(credentials) else "google.auth.default()"


def _on_metadata(credentials: Credentials) -> bool:
    return type(credentials).__module__.startswith("google.auth.compute_engine")
