"""Objects in a Cloud Storage bucket, through google-cloud-storage: the records bucket.

A records location `gs://BUCKET/PREFIX` (`BucketUrl`) holds files under `PREFIX/`. What the
record layer needs, as values: the objects under a folder (`list_objects`, name relative to
the prefix -> `StoredObject`: generation, MD5, size), the folders one level down
(`list_folders`), a download to a file (`download`), and an upload that never replaces an
object it did not mean to (`upload`: `if_generation_match` is 0 for "must not exist yet",
else the generation the caller read; None back when that precondition failed, HTTP 412).
`held_on_bucket` asks the bucket's `testIamPermissions` (what `netra-ops doctor` checks).

A missing bucket or a denied permission raises RecordError saying what to do; an endpoint
that does not answer raises ApiUnreachableError (`api_errors`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from google.api_core import exceptions as gexc

from netra_ops.cloud.clients import api_errors
from netra_ops.config import Environment
from netra_ops.errors import ParameterError, RecordError

if TYPE_CHECKING:
    from google.cloud.storage import Client as StorageClient

__all__ = [
    "BucketUrl",
    "StoredObject",
    "download",
    "held_on_bucket",
    "list_folders",
    "list_objects",
    "md5_of",
    "parse_bucket_url",
    "upload",
]

_SCHEME = "gs://"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_PAGE = 1000


@dataclass(frozen=True)
class BucketUrl:
    """`gs://bucket/prefix`: a bucket and a folder in it ("" for the bucket's root)."""

    bucket: str
    prefix: str = ""

    def key(self, relative: str) -> str:
        """The object name of a path relative to the location."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def relative(self, name: str) -> str:
        """The path relative to the location of an object name under it."""
        return name[len(self.prefix) + 1:] if self.prefix else name

    def __str__(self) -> str:
        return f"{_SCHEME}{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


@dataclass(frozen=True)
class StoredObject:
    """An object as the bucket lists it: its generation, MD5 (base64, as Google sends it)."""

    name: str
    generation: int
    md5: str
    size: int


def parse_bucket_url(url: str) -> BucketUrl:
    """`gs://bucket[/prefix]` split; ParameterError for one Cloud Storage would refuse."""
    rest = url[len(_SCHEME):] if url.startswith(_SCHEME) else ""
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.match(bucket) or ".." in bucket or any(
            not part or part in (".", "..") for part in prefix.split("/") if prefix):
        raise ParameterError(f"records location {url!r} is not gs://BUCKET[/PREFIX] with a "
                             "valid bucket name (3-222 lowercase letters, digits, '-', '_', "
                             "'.') and a prefix without empty, '.' or '..' parts")
    return BucketUrl(bucket, prefix)


def md5_of(path: Path) -> str:
    """A file's MD5 in the bucket's form (base64 of the digest)."""
    digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def list_objects(env: Environment, client: StorageClient, url: BucketUrl,
                 under: str = "") -> dict[str, StoredObject]:
    """Every object under `under/` of the location (all pages), by path relative to it."""
    prefix = url.key(f"{under}/" if under else "")
    with _answers(env, url, "list"):
        blobs = client.list_blobs(url.bucket, prefix=prefix or None, page_size=_PAGE)
        return {url.relative(blob.name): StoredObject(blob.name, int(blob.generation),
                                                      str(blob.md5_hash), int(blob.size))
                for blob in blobs}


def list_folders(env: Environment, client: StorageClient, url: BucketUrl) -> list[str]:
    """The folders one level under the location (incidents), by name."""
    prefix = url.key("")
    with _answers(env, url, "list"):
        pages = client.list_blobs(url.bucket, prefix=prefix or None, delimiter="/",
                                  page_size=_PAGE)
        for _ in pages:  # the prefixes are known once the pages are read
            pass
        return sorted(p[len(prefix):].rstrip("/") for p in pages.prefixes)


def download(env: Environment, client: StorageClient, url: BucketUrl, relative: str,
             path: Path) -> None:
    """Download one object to `path` (its folders made; the client checks the checksum)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _answers(env, url, "read"):
        client.bucket(url.bucket).blob(url.key(relative)).download_to_filename(str(path))


def upload(env: Environment, client: StorageClient, url: BucketUrl, relative: str,
           path: Path, if_generation_match: int) -> StoredObject | None:
    """Upload a file as object `relative` only if its live generation is
    `if_generation_match` (0: no such object yet); the new object, or None when the
    precondition failed (someone else wrote it first)."""
    blob = client.bucket(url.bucket).blob(url.key(relative))
    try:
        with _answers(env, url, "write"):
            blob.upload_from_filename(str(path), if_generation_match=if_generation_match,
                                      content_type=_content_type(path))
    except gexc.PreconditionFailed:
        return None
    return StoredObject(blob.name, int(blob.generation or 0), str(blob.md5_hash),
                        int(blob.size or 0))


def held_on_bucket(env: Environment, client: StorageClient, bucket: str,
                   permissions: Sequence[str]) -> set[str]:
    """The permissions of `permissions` the caller holds on the bucket
    (`buckets.testIamPermissions`); NotFound (google-api-core's) when there is no bucket."""
    with api_errors(env, f"asking Cloud Storage for permissions on gs://{bucket}"):
        return set(client.bucket(bucket).test_iam_permissions(list(permissions)))


_ROLE_FOR = {"list": "roles/storage.objectViewer", "read": "roles/storage.objectViewer",
             "write": "roles/storage.objectUser"}


@contextmanager
def _answers(env: Environment, url: BucketUrl, what: str) -> Iterator[None]:
    """Bucket errors as what to do: RecordError for a missing bucket or a denied call;
    ApiUnreachableError for an endpoint that does not answer (a failed precondition, 412,
    passes through)."""
    try:
        with api_errors(env, f"cannot {what} {url}"):
            yield
    except gexc.NotFound as exc:
        if "specified bucket" not in str(exc):
            raise
        raise RecordError(f"cannot {what} {url}: the bucket {url.bucket} does not exist (or "
                          "this principal cannot see it); create it or fix records_url / "
                          "--outputs") from None
    except gexc.Forbidden as exc:
        first = str(exc).splitlines()[0][:200]
        raise RecordError(f"cannot {what} {url}: {first}; grant {_ROLE_FOR[what]} on the "
                          "bucket (netra-ops doctor checks the records bucket's "
                          "permissions)") from None


def _content_type(path: Path) -> str:
    return {".json": "application/json", ".html": "text/html; charset=utf-8",
            ".jsonl": "application/x-ndjson", ".log": "text/plain; charset=utf-8",
            ".ipynb": "application/x-ipynb+json"}.get(path.suffix, "application/octet-stream")
