"""An emulated Artifact Registry: tags that point at digests, and pushes that move them.

A real registry moves a tag to a new digest on every push of a new build under that tag,
and Cloud Run resolves the tag to a digest when it creates a revision: the revision runs
that digest for ever, whatever the tag points at later. The sandbox has no images, so a
digest is the SHA-256 of something deterministic per push (`<repository>/<package>:<tag>#<n>`
for the n-th push of that tag): the same sandbox history gives the same digests.

A tag is pushed implicitly (push 1) the first time a revision names it, so every tag a
sandbox deploys exists in the registry (`tags.get` of a tag nothing named yet is 404).
`push(image)` is a new build under the image's tag (`netra-ops sandbox push TAG`,
`POST /_sandbox/registry/push`). The emulated Cloud Build pushes the image it built with its
own digest (one image, several tags: the same digest) and the image's labels (its config:
which commit, which backend the code is); `labels(image)` reads them back, as a container
runtime reads an image's config. An image by digest is the build that push made (`locate`:
a revision of `REPO@sha256:...` behaves as the tag it was pushed under did); a digest nobody
pushed is not found, and a revision of it fails.

REST subset (Artifact Registry v1, `artifactregistry.googleapis.com`), on the API port:

    GET /v1/projects/P/locations/L/repositories/R/dockerImages            dockerImages.list
    GET /v1/projects/P/locations/L/repositories/R/dockerImages/IMG@sha256:D   dockerImages.get
    GET /v1/projects/P/locations/L/repositories/R/packages/PKG/tags/TAG    tags.get

A DockerImage is `{name, uri (HOST/P/R/PKG@sha256:D), tags, imageSizeBytes, uploadTime,
mediaType, buildTime, updateTime}`; a Tag is `{name, version (.../versions/sha256:D)}`.
Admin routes: `GET /_sandbox/registry` (every image) and `POST /_sandbox/registry/push
{"image": "HOST/P/R/PKG:TAG"}` -> `{"image", "tag", "digest", "uri", "previous_digest"}`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.errors import SandboxError
from netra_ops.sandbox.google.errors import GoogleApiError, guarded, invalid, json_body
from netra_ops.sandbox.google.run_resources import list_page
from netra_ops.sandbox.services.service_logging import rfc3339_now

__all__ = [
    "ImageRef",
    "Push",
    "Registry",
    "parse_image",
    "registry_routes",
    "service_image",
]

_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
_DIGEST_PREFIX = "sha256:"


@dataclass(frozen=True)
class ImageRef:
    """An image reference split: `HOST/PATH/PACKAGE`, and a tag or a digest."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def package(self) -> str:
        """The last path part (`netra-backend`)."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def repository_id(self) -> str:
        """The Artifact Registry repository (`netra` in `HOST/PROJECT/netra/PACKAGE`)."""
        parts = self.repository.split("/")
        return parts[-2] if len(parts) >= 3 else "default"

    def by_digest(self, digest: str) -> str:
        """`HOST/PATH/PACKAGE@sha256:...`: how a revision records what it runs."""
        return f"{self.repository}@{digest}"

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (
            f"@{self.digest}" if self.digest else "")


def parse_image(image: str) -> ImageRef:
    """Split an image reference; SandboxError for one without a tag or digest part."""
    text = image.strip()
    rest, _, digest = text.partition("@")
    last = rest.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    if not rest or (digest and not digest.startswith(_DIGEST_PREFIX)):
        raise SandboxError(f"image {image!r} is not REPOSITORY[:TAG][@sha256:DIGEST]")
    return ImageRef(rest, tag or ("latest" if not digest else None), digest or None)


def service_image(image: str, role: str) -> str:
    """The image of a sandbox service: `image` (the backend's) with its package named for
    `role` (`.../netra/netra-backend:TAG` -> `.../netra/netra-auth:TAG`)."""
    if role == "backend":
        return image
    ref = parse_image(image)
    head = ref.repository.rpartition("/")[0]
    package = f"{head}/netra-{role}" if head else f"netra-{role}"
    return f"{package}:{ref.tag or 'latest'}"


@dataclass(frozen=True)
class Push:
    """One build pushed under a tag."""

    repository: str
    tag: str
    digest: str
    number: int
    uploaded: str = field(default_factory=rfc3339_now)
    labels: Mapping[str, str] = field(default_factory=dict)


class Registry:
    """Tags -> digests; thread-safe (the platform's loop and its gRPC threads may ask)."""

    def __init__(self, project: str, location: str) -> None:
        self.project = project
        self.location = location
        self._pushes: dict[tuple[str, str], list[Push]] = {}
        self._lock = threading.Lock()

    def resolve(self, image: str) -> str:
        """The digest `image` runs now (its tag's current digest; pushed once if new)."""
        ref = parse_image(image)
        if ref.digest is not None:
            return ref.digest
        assert ref.tag is not None
        with self._lock:
            pushes = self._pushes.get((ref.repository, ref.tag))
            if not pushes:
                return self._push(ref.repository, ref.tag).digest
            return pushes[-1].digest

    def locate(self, image: str) -> tuple[str, str]:
        """The digest an image runs and the build it is (`REPOSITORY:TAG` of the push that
        made that digest): what a revision of it runs. SandboxError `Image '...' not
        found.` for a digest nobody pushed to that repository."""
        ref = parse_image(image)
        if ref.digest is None:
            return self.resolve(image), f"{ref.repository}:{ref.tag}"
        with self._lock:
            for (repository, tag), pushes in self._pushes.items():
                if repository == ref.repository and any(p.digest == ref.digest for p in pushes):
                    return ref.digest, f"{repository}:{tag}"
        raise SandboxError(f"Image '{image}' not found.")

    def by_digest(self, image: str) -> str:
        """`image` as a revision records it: `REPOSITORY@sha256:...`."""
        return parse_image(image).by_digest(self.resolve(image))

    def push(self, image: str, *, digest: str | None = None,
             labels: Mapping[str, str] | None = None) -> tuple[Push, str | None]:
        """A new build under `image`'s tag: the new Push and the digest the tag had.

        `digest` is the pushed image's own (a build pushing one image under several tags);
        by default a new one. `labels` are the image's config labels."""
        ref = parse_image(image)
        if ref.tag is None or ref.digest is not None:
            raise SandboxError(f"push names a tag, not a digest: got {image!r}")
        if digest is not None and not digest.startswith(_DIGEST_PREFIX):
            raise SandboxError(f"a digest is sha256:HEX, got {digest!r}")
        with self._lock:
            pushes = self._pushes.get((ref.repository, ref.tag))
            previous = pushes[-1].digest if pushes else None
            return self._push(ref.repository, ref.tag, digest, labels), previous

    def labels(self, image: str) -> Mapping[str, str]:
        """The config labels of the image `image` runs now ({} for one pushed without)."""
        ref = parse_image(image)
        digest = self.resolve(image)
        with self._lock:
            for pushes in self._pushes.values():
                for push in pushes:
                    if push.repository == ref.repository and push.digest == digest:
                        return dict(push.labels)
        return {}

    def _push(self, repository: str, tag: str, digest: str | None = None,
              labels: Mapping[str, str] | None = None) -> Push:
        pushes = self._pushes.setdefault((repository, tag), [])
        number = len(pushes) + 1
        digest = digest or _DIGEST_PREFIX + hashlib.sha256(
            f"{repository}:{tag}#{number}".encode()).hexdigest()
        pushes.append(Push(repository, tag, digest, number, labels=dict(labels or {})))
        return pushes[-1]

    def images(self, repository_id: str | None = None) -> list[dict[str, Any]]:
        """Every pushed image (newest first) as Artifact Registry's DockerImage JSON: one per
        digest, with the tags that name it now."""
        with self._lock:
            pushes = sorted((p for ps in self._pushes.values() for p in ps),
                            key=lambda p: p.uploaded)
            current = {(p.repository, p.tag): ps[-1].digest
                       for ps in self._pushes.values() for p in ps}
        first: dict[tuple[str, str], Push] = {}
        for push in pushes:
            first.setdefault((push.repository, push.digest), push)
        found = []
        for (repository, digest), push in sorted(first.items(), reverse=True,
                                                 key=lambda item: item[1].uploaded):
            ref = ImageRef(repository, push.tag)
            if repository_id is not None and ref.repository_id != repository_id:
                continue
            tags = sorted(tag for (repo, tag), now in current.items()
                          if repo == repository and now == digest)
            found.append(self._docker_image(ref, push, tags))
        return found

    def _docker_image(self, ref: ImageRef, push: Push, tags: list[str]) -> dict[str, Any]:
        name = (f"projects/{self.project}/locations/{self.location}/repositories/"
                f"{ref.repository_id}/dockerImages/{ref.package}@{push.digest}")
        image: dict[str, Any] = {
            "name": name, "uri": ref.by_digest(push.digest), "imageSizeBytes": "104857600",
            "uploadTime": push.uploaded, "mediaType": _MEDIA_TYPE,
            "buildTime": push.uploaded, "updateTime": push.uploaded,
        }
        if tags:
            image["tags"] = tags
        return image


def registry_routes(registry: Registry) -> list[BaseRoute]:
    """The Artifact Registry v1 subset and the `/_sandbox/registry` admin routes."""
    base = "/v1/projects/{project}/locations/{location}/repositories/{repository}"

    def check(request: Request) -> str:
        p = request.path_params
        if p["project"] != registry.project or p["location"] != registry.location:
            raise GoogleApiError(404, "NOT_FOUND", f"Repository 'projects/{p['project']}/"
                                 f"locations/{p['location']}/repositories/{p['repository']}'"
                                 f" not found (the sandbox emulates project "
                                 f"'{registry.project}' in '{registry.location}').")
        return str(p["repository"])

    async def list_images(request: Request) -> Response:
        images = registry.images(check(request))
        page, token = list_page(images, request.query_params.get("pageSize"),
                                request.query_params.get("pageToken"))
        body: dict[str, Any] = {"dockerImages": list(page)} if page else {}
        if token:
            body["nextPageToken"] = token
        return JSONResponse(body)

    async def get_image(request: Request) -> Response:
        repository = check(request)
        wanted = unquote(request.path_params["image"])
        for image in registry.images(repository):
            if image["name"].endswith(f"/dockerImages/{wanted}"):
                return JSONResponse(image)
        raise GoogleApiError(404, "NOT_FOUND", f"Requested entity was not found: docker "
                             f"image {wanted!r} in repository {repository!r}.")

    async def get_tag(request: Request) -> Response:
        repository = check(request)
        package, tag = unquote(request.path_params["package"]), request.path_params["tag"]
        for image in registry.images(repository):
            if image["uri"].split("@")[0].endswith(f"/{package}") and tag in image.get(
                    "tags", []):
                digest = image["uri"].split("@", 1)[1]
                prefix = (f"projects/{registry.project}/locations/{registry.location}/"
                          f"repositories/{repository}/packages/{package}")
                return JSONResponse({"name": f"{prefix}/tags/{tag}",
                                     "version": f"{prefix}/versions/{digest}"})
        raise GoogleApiError(404, "NOT_FOUND", f"Requested entity was not found: tag "
                             f"{tag!r} of package {package!r}.")

    async def admin_list(request: Request) -> Response:
        return JSONResponse({"images": registry.images()})

    async def admin_push(request: Request) -> Response:
        body = await json_body(request)
        image = body.get("image")
        if not isinstance(image, str) or not image.strip():
            raise invalid('"image" must be an image with a tag (REPOSITORY:TAG)')
        try:
            push, previous = registry.push(image)
        except SandboxError as exc:
            raise invalid(str(exc)) from None
        return JSONResponse({"image": f"{push.repository}:{push.tag}", "tag": push.tag,
                             "digest": push.digest, "uri": f"{push.repository}@{push.digest}",
                             "previous_digest": previous, "push": push.number})

    return [
        Route(f"{base}/dockerImages", guarded(list_images), methods=["GET"]),
        Route(f"{base}/dockerImages/{{image}}", guarded(get_image), methods=["GET"]),
        Route(f"{base}/packages/{{package}}/tags/{{tag}}", guarded(get_tag), methods=["GET"]),
        Route("/_sandbox/registry", guarded(admin_list), methods=["GET"]),
        Route("/_sandbox/registry/push", guarded(admin_push), methods=["POST"]),
    ]
