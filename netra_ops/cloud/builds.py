"""Which build an image names: Artifact Registry's tag -> digest.

A registry moves a tag to a new digest on every push, and Cloud Run runs the digest the tag
named when the revision was created. So the same tag string can name another build
tomorrow; a deploy that names the tag cannot say what it deployed, and a second deploy of
the tag changes nothing in the template (Cloud Run creates no revision) even when the tag
names a new build. `pinned_image` asks Artifact Registry (`tags.get`, REST v1) for the
digest the tag names now and gives the image by digest (`REGISTRY/PACKAGE@sha256:...`),
which is what netra-ops deploys: a rebuilt image is a new template (a new revision), and
what serves is provably that digest. `serves_image` says whether a service serves an image
named by tag, when its revision reports the image by digest (as Cloud Run does).

Only Artifact Registry images (`LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/PACKAGE:TAG`)
are asked about; an image by digest is taken as it is, and so is a tag Artifact Registry
does not have (a deploy's plan says so: Cloud Run resolves it, or fails the revision).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import requests

from netra_ops.cloud.service import ServiceState
from netra_ops.config import Environment
from netra_ops.errors import DeployError

if TYPE_CHECKING:  # google.auth's transport and default credentials: where a tag is asked
    from google.auth.credentials import Credentials

__all__ = ["pinned_image", "registry_tag", "serves_image", "tag_digest"]

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
    from google.auth.transport.requests import AuthorizedSession

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


def pinned_image(env: Environment, image: str) -> str:
    """`image` by digest: `REGISTRY/PACKAGE@sha256:...` of the digest an Artifact Registry
    image's tag names now; as it is when it names a digest already, is not an Artifact
    Registry image, or its tag does not exist (`registry_tag`: Cloud Run then resolves it
    when the revision starts, and fails that revision if it does not exist). DeployError when
    Artifact Registry cannot be asked."""
    text = image.strip()
    if not registry_tag(text):
        return text
    digest = tag_digest(env, text)
    return f"{text.rsplit(':', 1)[0]}@{digest}" if digest else text


def registry_tag(image: str) -> bool:
    """Whether `image` is an Artifact Registry image named by tag (not by digest)."""
    return _AR_IMAGE.match(image.strip()) is not None


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
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    if env.kind == "sandbox":
        return AnonymousCredentials()
    credentials, _ = google.auth.default(scopes=[_SCOPE])
    return credentials
