"""Cloud Storage JSON API v1 emulation: the subset incident records in a bucket need.

Routes, on the API port, in the paths and JSON shapes of `storage.googleapis.com` as
google-cloud-storage sends them (`storage.Client(project=..., credentials=
AnonymousCredentials(), client_options={"api_endpoint": "http://HOST:PORT"})`):

    GET    /storage/v1/b/B                                   buckets.get -> Bucket
    GET    /storage/v1/b/B/iam/testPermissions?permissions=  buckets.testIamPermissions
    GET    /storage/v1/b/B/o?prefix&delimiter&maxResults&pageToken   objects.list
    GET    /storage/v1/b/B/o/NAME[?alt=media]                objects.get (metadata / bytes)
    GET    /download/storage/v1/b/B/o/NAME?alt=media         objects.get (the client's URL)
    DELETE /storage/v1/b/B/o/NAME                            objects.delete
    POST   /upload/storage/v1/b/B/o?uploadType=media|multipart|resumable   objects.insert
    PUT    /upload/storage/v1/b/B/o?uploadType=resumable&upload_id=U       a resumable's bytes

An Object is `{kind: "storage#object", id, selfLink, mediaLink, name, bucket, generation,
metageneration, contentType, size, md5Hash, crc32c, etag, timeCreated, updated, metadata}`
(int64 fields as strings, hashes base64, as Google sends them); a listing is `{kind:
"storage#objects", items, prefixes, nextPageToken}` (the last page without a token). A media
download carries `x-goog-hash: crc32c=...,md5=...` (the client checks it) and
`x-goog-generation`. Preconditions (`ifGenerationMatch` 0 meaning "does not exist yet",
`ifGenerationNotMatch`, `ifMetagenerationMatch`, `ifMetagenerationNotMatch`) apply to
insert, get and delete, checked when the object is written (a resumable upload's at its
last chunk). Each write makes a new generation (microseconds, increasing); only the live
generation is kept (no object versioning).

Errors are the JSON API's own shape, `{"error": {"code", "message", "errors": [{"message",
"domain": "global", "reason"}]}}`: 412 `conditionNotMet`, 404 `notFound` ("No such object:
B/NAME", "The specified bucket does not exist."), 403 `forbidden` for a permission not in
the sandbox's granted set (`/_sandbox/iam`: `storage.objects.create`, `.get`, `.list`,
`.delete`; replacing an object needs `.delete` too, as on Google), 400 `invalid`.

Objects live on disk under the sandbox's state folder, `storage/<bucket>/objects.json` (the
metadata) and `storage/<bucket>/data/<generation>` (the bytes), so they outlive a restart.
One bucket exists from the start, `<project>-records` (`netra-sandbox-records`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import google_crc32c
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.sandbox.google.errors import GoogleApiError, guarded

__all__ = ["StorageEmulator", "StorageError", "default_bucket", "storage_routes"]

_MAX_RESULTS = 1000


def default_bucket(project: str) -> str:
    """The bucket the sandbox has from the start: `<project>-records`."""
    return f"{project}-records"


class StorageError(GoogleApiError):
    """A refusal in the Cloud Storage JSON API's own error shape (with `errors[].reason`)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(code, reason, message)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        """`{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`."""
        return {"error": {"code": self.code, "message": self.message, "errors": [
            {"message": self.message, "domain": "global", "reason": self.reason}]}}


def _not_met() -> StorageError:
    return StorageError(412, "conditionNotMet",
                        "At least one of the pre-conditions you specified did not hold.")


def _bad(message: str) -> StorageError:
    return StorageError(400, "invalid", message)


@dataclass
class _Object:
    name: str
    generation: int
    metageneration: int
    size: int
    md5: str
    crc32c: str
    content_type: str
    created: str
    updated: str
    metadata: dict[str, str]

    def resource(self, bucket: str, api_url: str) -> dict[str, Any]:
        quoted = quote(self.name, safe="")
        link = f"{api_url}/storage/v1/b/{bucket}/o/{quoted}"
        return {
            "kind": "storage#object", "id": f"{bucket}/{self.name}/{self.generation}",
            "selfLink": link, "mediaLink": f"{api_url}/download/storage/v1/b/{bucket}/o/"
            f"{quoted}?generation={self.generation}&alt=media",
            "name": self.name, "bucket": bucket, "generation": str(self.generation),
            "metageneration": str(self.metageneration), "contentType": self.content_type,
            "storageClass": "STANDARD", "size": str(self.size), "md5Hash": self.md5,
            "crc32c": self.crc32c, "etag": base64.b64encode(
                f"{self.generation}/{self.metageneration}".encode()).decode(),
            "timeCreated": self.created, "updated": self.updated,
            "timeStorageClassUpdated": self.created,
            **({"metadata": self.metadata} if self.metadata else {}),
        }


class _Bucket:
    """One bucket's objects: metadata in `objects.json`, bytes in `data/<generation>`."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        (folder / "data").mkdir(parents=True, exist_ok=True)
        index = folder / "objects.json"
        saved = json.loads(index.read_text(encoding="utf-8")) if index.is_file() else {}
        self.objects = {name: _Object(**fields) for name, fields in saved.items()}

    def save(self) -> None:
        data = {name: vars(obj) for name, obj in self.objects.items()}
        temporary = self.folder / "objects.json.tmp"
        temporary.write_text(json.dumps(data), encoding="utf-8")
        temporary.replace(self.folder / "objects.json")

    def data(self, obj: _Object) -> bytes:
        return (self.folder / "data" / str(obj.generation)).read_bytes()


class StorageEmulator:
    """The sandbox's buckets, on disk under `root`; `permissions()` is the granted set (None:
    every permission)."""

    def __init__(self, root: Path, project: str, *, api_url: str,
                 permissions: Callable[[], frozenset[str] | None] = lambda: None) -> None:
        self.root = root
        self.project = project
        self.api_url = api_url.rstrip("/")
        self.permissions = permissions
        self._lock = threading.Lock()
        self._last_generation = 0
        self._uploads: dict[str, dict[str, Any]] = {}
        self._buckets = {name: _Bucket(name, root / name) for name in
                         {default_bucket(project), *(p.name for p in root.glob("*")
                                                     if p.is_dir())}}

    # -- access ------------------------------------------------------------------------------
    def bucket(self, name: str) -> _Bucket:
        """The bucket; 404 notFound otherwise."""
        found = self._buckets.get(name)
        if found is None:
            raise StorageError(404, "notFound", "The specified bucket does not exist.")
        return found

    def require(self, bucket: str, name: str, permission: str) -> _Bucket:
        """The bucket, if the caller holds `permission`; 403 forbidden otherwise."""
        found = self.bucket(bucket)
        held = self.permissions()
        if held is not None and permission not in held:
            raise StorageError(403, "forbidden", f"anonymous-caller does not have {permission} "
                               f"access to the Google Cloud Storage object. Permission "
                               f"'{permission}' denied on resource (or it may not exist).")
        return found

    def held(self, bucket: str, permissions: list[str]) -> list[str]:
        """testIamPermissions: the permissions of the list the caller holds on `bucket`."""
        self.bucket(bucket)
        allowed = self.permissions()
        return [p for p in permissions if allowed is None or p in allowed]

    # -- objects -----------------------------------------------------------------------------
    def get(self, bucket: str, name: str, conditions: dict[str, str]) -> tuple[_Bucket, _Object]:
        """The live object (a `generation` condition must name it); 404 / 412 otherwise."""
        found = self.require(bucket, name, "storage.objects.get")
        obj = found.objects.get(name)
        wanted = conditions.get("generation")
        if obj is None or (wanted and str(obj.generation) != wanted):
            raise StorageError(404, "notFound", f"No such object: {bucket}/{name}")
        _check(obj, conditions)
        return found, obj

    def listing(self, bucket: str, prefix: str, delimiter: str, start: int,
                size: int) -> tuple[list[_Object], list[str], int | None]:
        """Objects and prefixes of one page (in name order, as Google lists them)."""
        found = self.require(bucket, prefix, "storage.objects.list")
        entries: list[tuple[str, _Object | None]] = []
        seen: set[str] = set()
        for name in sorted(found.objects):
            if not name.startswith(prefix):
                continue
            cut = name.find(delimiter, len(prefix)) if delimiter else -1
            if cut < 0:
                entries.append((name, found.objects[name]))
            elif (folder := name[:cut + len(delimiter)]) not in seen:
                seen.add(folder)
                entries.append((folder, None))
        page = entries[start:start + size]
        following = start + size if start + size < len(entries) else None
        return ([obj for _, obj in page if obj is not None],
                [name for name, obj in page if obj is None], following)

    def insert(self, bucket: str, name: str, data: bytes, content_type: str,
               metadata: dict[str, str], conditions: dict[str, str]) -> _Object:
        """Write a new generation of `name` if the preconditions hold (replacing a live object
        also needs storage.objects.delete)."""
        if not name:
            raise StorageError(400, "required", "Required")
        found = self.require(bucket, name, "storage.objects.create")
        with self._lock:
            current = found.objects.get(name)
            _check(current, conditions)
            if current is not None:
                self.require(bucket, name, "storage.objects.delete")
            now = _rfc3339()
            obj = _Object(name, self._generation(), 1, len(data),
                          base64.b64encode(hashlib.md5(data).digest()).decode(),
                          _crc32c(data), content_type or "application/octet-stream", now,
                          now, dict(metadata))
            (found.folder / "data" / str(obj.generation)).write_bytes(data)
            found.objects[name] = obj
            found.save()
            if current is not None:
                (found.folder / "data" / str(current.generation)).unlink(missing_ok=True)
        return obj

    def delete(self, bucket: str, name: str, conditions: dict[str, str]) -> None:
        """Delete the live object; 404 / 412 otherwise."""
        found = self.require(bucket, name, "storage.objects.delete")
        with self._lock:
            obj = found.objects.get(name)
            if obj is None:
                raise StorageError(404, "notFound", f"No such object: {bucket}/{name}")
            _check(obj, conditions)
            del found.objects[name]
            found.save()
            (found.folder / "data" / str(obj.generation)).unlink(missing_ok=True)

    # -- resumable uploads -------------------------------------------------------------------
    def start_upload(self, bucket: str, resource: dict[str, Any], name: str,
                     conditions: dict[str, str]) -> str:
        """A resumable upload session: its id (preconditions are checked now and at the end)."""
        found = self.require(bucket, name, "storage.objects.create")
        _check(found.objects.get(name), conditions)
        upload_id = uuid.uuid4().hex
        self._uploads[upload_id] = {"bucket": bucket, "name": name, "data": bytearray(),
                                    "contentType": resource.get("contentType", ""),
                                    "metadata": resource.get("metadata") or {},
                                    "conditions": conditions}
        return upload_id

    def upload_chunk(self, upload_id: str, data: bytes, content_range: str
                     ) -> _Object | int:
        """Append a chunk at its offset; the object when the last byte came, else the count of
        bytes persisted so far."""
        upload = self._uploads.get(upload_id)
        if upload is None:
            raise StorageError(404, "notFound", f"No such upload session: {upload_id}")
        first, total = _content_range(content_range)
        buffer: bytearray = upload["data"]
        if first is not None:
            if first != len(buffer):
                raise _bad(f"chunk starts at {first}, {len(buffer)} bytes were persisted")
            buffer.extend(data)
        if total is None or len(buffer) < total:
            return len(buffer)
        del self._uploads[upload_id]
        return self.insert(upload["bucket"], upload["name"], bytes(buffer),
                           upload["contentType"], upload["metadata"], upload["conditions"])

    def _generation(self) -> int:
        self._last_generation = max(self._last_generation + 1, time.time_ns() // 1000)
        return self._last_generation


def _check(obj: _Object | None, conditions: dict[str, str]) -> None:
    """412 conditionNotMet unless every precondition holds for `obj` (None: no live object,
    whose generation is 0)."""
    generation = obj.generation if obj else 0
    metageneration = obj.metageneration if obj else None
    try:
        tests = [
            ("ifGenerationMatch", lambda v: generation == int(v)),
            ("ifGenerationNotMatch", lambda v: generation != int(v)),
            ("ifMetagenerationMatch", lambda v: metageneration == int(v)),
            ("ifMetagenerationNotMatch", lambda v: metageneration != int(v)),
        ]
        if not all(test(conditions[key]) for key, test in tests if key in conditions):
            raise _not_met()
    except ValueError:
        raise _bad("preconditions must be integers") from None


def _content_range(header: str) -> tuple[int | None, int | None]:
    """`bytes 0-99/200` -> (0, 200); `bytes */200` -> (None, 200); `bytes 0-99/*` -> (0, None)."""
    try:
        unit, _, spec = header.strip().partition(" ")
        span, _, total = spec.partition("/")
        if unit != "bytes" or not total:
            raise ValueError(header)
        first = None if span == "*" else int(span.split("-")[0])
        return first, None if total == "*" else int(total)
    except ValueError:
        raise _bad(f"malformed Content-Range {header!r}") from None


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def _rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_CONDITIONS = ("generation", "ifGenerationMatch", "ifGenerationNotMatch",
               "ifMetagenerationMatch", "ifMetagenerationNotMatch")


def _conditions(request: Request) -> dict[str, str]:
    return {key: request.query_params[key] for key in _CONDITIONS if key in request.query_params}


def _multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], bytes, str]:
    """The JSON resource and the media of a `multipart/related` upload, and the media's type."""
    boundary = next((part.split("=", 1)[1].strip().strip('"') for part in
                     content_type.split(";") if part.strip().startswith("boundary=")), "")
    if not boundary:
        raise _bad("multipart upload without a boundary")
    parts = [p for p in body.split(b"--" + boundary.encode()) if p.strip(b"\r\n-")]
    if len(parts) != 2:
        raise _bad(f"multipart upload must have 2 parts, got {len(parts)}")
    sections = []
    for part in parts:
        head, _, content = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(":", 1) for line in head.decode().splitlines() if ":" in line)
        kind = next((v.strip() for k, v in headers.items() if k.lower() == "content-type"), "")
        sections.append((kind, content.removesuffix(b"\r\n")))
    try:
        resource = json.loads(sections[0][1])
    except ValueError:
        raise _bad("the first part of a multipart upload must be the JSON resource") from None
    return resource, sections[1][1], sections[1][0]


# -- HTTP ------------------------------------------------------------------------------------

def storage_routes(emulator: StorageEmulator) -> list[BaseRoute]:
    """The Starlette routes of the emulated Cloud Storage JSON API."""
    e = emulator

    def resource(bucket: str, obj: _Object) -> JSONResponse:
        return JSONResponse(obj.resource(bucket, e.api_url))

    def media(found: _Bucket, obj: _Object) -> Response:
        return Response(found.data(obj), media_type=obj.content_type, headers={
            "x-goog-hash": f"crc32c={obj.crc32c},md5={obj.md5}",
            "x-goog-generation": str(obj.generation),
            "x-goog-metageneration": str(obj.metageneration),
            "x-goog-stored-content-length": str(obj.size),
            "x-goog-stored-content-encoding": "identity"})

    async def bucket_get(request: Request) -> Response:
        name = request.path_params["bucket"]
        e.bucket(name)
        return JSONResponse({"kind": "storage#bucket", "id": name, "name": name,
                             "selfLink": f"{e.api_url}/storage/v1/b/{name}",
                             "projectNumber": "0", "location": "US-CENTRAL1",
                             "storageClass": "STANDARD", "metageneration": "1",
                             "timeCreated": "2026-01-01T00:00:00.000Z",
                             "updated": "2026-01-01T00:00:00.000Z"})

    async def test_permissions(request: Request) -> Response:
        asked = request.query_params.getlist("permissions")
        held = e.held(request.path_params["bucket"], asked)
        return JSONResponse({"kind": "storage#testIamPermissionsResponse",
                             **({"permissions": held} if held else {})})

    async def objects_list(request: Request) -> Response:
        q = request.query_params
        try:
            size = min(int(q.get("maxResults") or _MAX_RESULTS), _MAX_RESULTS)
            start = int(q.get("pageToken") or 0)
        except ValueError:
            raise _bad("maxResults and pageToken must be integers this API returned") from None
        if size < 1 or start < 0:
            raise _bad("maxResults must be positive and pageToken not negative")
        bucket = request.path_params["bucket"]
        items, prefixes, following = e.listing(bucket, q.get("prefix", ""),
                                               q.get("delimiter", ""), start, size)
        body: dict[str, Any] = {"kind": "storage#objects"}
        body |= {"prefixes": prefixes} if prefixes else {}
        body |= {"items": [o.resource(bucket, e.api_url) for o in items]} if items else {}
        body |= {"nextPageToken": str(following)} if following is not None else {}
        return JSONResponse(body)

    async def object_one(request: Request) -> Response:
        bucket, name = request.path_params["bucket"], request.path_params["name"]
        if request.method == "DELETE":
            e.delete(bucket, name, _conditions(request))
            return Response(status_code=204)
        found, obj = e.get(bucket, name, _conditions(request))
        return media(found, obj) if request.query_params.get("alt") == "media" else \
            resource(bucket, obj)

    async def download(request: Request) -> Response:
        found, obj = e.get(request.path_params["bucket"], request.path_params["name"],
                           _conditions(request))
        return media(found, obj)

    async def upload(request: Request) -> Response:
        bucket, q = request.path_params["bucket"], request.query_params
        kind = q.get("uploadType", "")
        if request.method == "PUT" or (kind == "resumable" and "upload_id" in q):
            result = e.upload_chunk(q.get("upload_id", ""), await request.body(),
                                    request.headers.get("content-range", "bytes */*"))
            if isinstance(result, int):
                return Response(status_code=308, headers={"range": f"bytes=0-{result - 1}"}
                                if result else {})
            return resource(bucket, result)
        body = await request.body()
        if kind == "media":
            obj = e.insert(bucket, q.get("name", ""), body,
                           request.headers.get("content-type", ""), {}, _conditions(request))
            return resource(bucket, obj)
        if kind == "multipart":
            meta, data, media_type = _multipart(body, request.headers.get("content-type", ""))
            obj = e.insert(bucket, str(meta.get("name") or q.get("name", "")), data,
                           str(meta.get("contentType") or media_type),
                           dict(meta.get("metadata") or {}), _conditions(request))
            return resource(bucket, obj)
        if kind == "resumable":
            meta = json.loads(body) if body.strip() else {}
            upload_id = e.start_upload(bucket, meta, str(meta.get("name") or q.get("name", "")),
                                       _conditions(request))
            location = (f"{e.api_url}/upload/storage/v1/b/{bucket}/o?uploadType=resumable"
                        f"&upload_id={upload_id}")
            return Response(status_code=200, headers={"location": location})
        raise _bad(f"uploadType {kind!r} is not emulated (media, multipart, resumable)")

    base = "/storage/v1/b/{bucket}"
    return [
        Route(base, guarded(bucket_get), methods=["GET"]),
        Route(f"{base}/iam/testPermissions", guarded(test_permissions), methods=["GET"]),
        Route(f"{base}/o", guarded(objects_list), methods=["GET"]),
        Route(f"{base}/o/{{name:path}}", guarded(object_one), methods=["GET", "DELETE"]),
        Route("/download/storage/v1/b/{bucket}/o/{name:path}", guarded(download),
              methods=["GET"]),
        Route("/upload/storage/v1/b/{bucket}/o", guarded(upload), methods=["POST", "PUT"]),
    ]

