"""Whether a tag names a newer build than the one serving: Artifact Registry's tag -> digest.

A registry moves a tag to a new digest on every push, and Cloud Run runs the digest the tag
named when the revision was created. So a deploy of the same tag string can be a new build:
the service's template is unchanged (Cloud Run would create no revision), but the tag now
names another digest than the serving revision runs. `new_build` finds that out by asking
Artifact Registry (`tags.get`, REST v1) for the tag's digest; `deploy` then marks the
template with that digest (annotation `IMAGE_DIGEST_ANNOTATION`), so Cloud Run creates a
revision that resolves the tag again.

Only Artifact Registry images (`LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/PACKAGE:TAG`)
are asked about, and only when the serving revision reports its image by digest, as Cloud
Run does; otherwise there is nothing to compare and `new_build` is None.
"""

from __future__ import annotations

import re

import google.auth
import requests
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession

from netra_ops.cloud.service import ServiceState
from netra_ops.config import Environment
from netra_ops.errors import DeployError

__all__ = ["IMAGE_DIGEST_ANNOTATION", "new_build", "serves_image", "tag_digest"]

IMAGE_DIGEST_ANNOTATION = "netra-ops/image-digest"
_ENDPOINT = "https://artifactregistry.googleapis.com"
_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_AR_IMAGE = re.compile(r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/"
                       r"(?P<repository>[^/]+)/(?P<package>[^:@]+):(?P<tag>[^:@/]+)$")


def tag_digest(env: Environment, image: str) -> str | None:
    """The digest (`sha256:...`) `image`'s tag names now in Artifact Registry; None when the
    image is not `...-docker.pkg.dev/P/R/PACKAGE:TAG` or the tag does not exist.

    DeployError when Artifact Registry cannot be asked (unreachable, denied, ...).
    """
    match = _AR_IMAGE.match(image.strip())
    if match is None:
        return None
    parts = match.groupdict()
    url = (f"{_endpoint(env)}/v1/projects/{parts['project']}/locations/{parts['location']}/"
           f"repositories/{parts['repository']}/packages/{parts['package'].replace('/', '%2F')}"
           f"/tags/{parts['tag']}")
    try:
        answer = AuthorizedSession(_credentials(env)).get(url, timeout=10)
    except requests.RequestException as exc:
        raise DeployError(f"Artifact Registry did not answer for {image} ({exc}); check the "
                          "network, or deploy by digest (IMAGE@sha256:...)") from None
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise DeployError(f"Artifact Registry answered {answer.status_code} for the tag of "
                          f"{image}: {answer.text[:200]}")
    version = str(answer.json().get("version", ""))
    return version.rsplit("/", 1)[-1] or None


def new_build(env: Environment, state: ServiceState, image: str) -> str | None:
    """The digest `image`'s tag names now, when the serving revision runs another digest of
    the same repository (a build pushed since); None otherwise."""
    serving = state.serving_image or ""
    if "@" not in serving or "@" in image:
        return None
    repository, _, running = serving.partition("@")
    if image.rsplit(":", 1)[0] != repository:
        return None
    digest = tag_digest(env, image)
    return digest if digest is not None and digest != running else None


def serves_image(env: Environment, state: ServiceState, image: str) -> bool:
    """Whether the serving revision runs `image`: the same reference, or (reported by
    digest, as Cloud Run does) the digest `image`'s tag names now."""
    serving = state.serving_image or ""
    if serving == image:
        return True
    repository, _, running = serving.partition("@")
    if not running or "@" in image or image.rsplit(":", 1)[0] != repository:
        return False
    return tag_digest(env, image) == running


def _endpoint(env: Environment) -> str:
    if env.kind == "sandbox" and env.api_endpoint:
        return env.api_endpoint.rstrip("/")
    return _ENDPOINT


def _credentials(env: Environment) -> Credentials:
    if env.kind == "sandbox":
        return AnonymousCredentials()
    credentials, _ = google.auth.default(scopes=[_SCOPE])
    return credentials
