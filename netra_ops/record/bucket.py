"""Records in a Cloud Storage bucket: a local staging copy, published when a write is sealed.

A records location `gs://BUCKET/PREFIX` (an environment's `records_url`, `--outputs` or
`$NETRA_OPS_OUTPUTS`) is worked on through a local **staging folder** that stands in for
the outputs folder: papermill, the recorder, the manifests and the index write there exactly
as they write `outputs/`, scrubbed the same way. `staging_root(url, env)` is that folder
(`$NETRA_OPS_STAGING`, else `~/.cache/netra-ops/records/<bucket>-<key>/<prefix>`, the key
naming the endpoint, so two sandboxes never share one); a marker in it (`.netra-ops/`)
says which bucket it stands for, so any code handed the folder (the kernel, through
`$NETRA_OPS_OUTPUTS`) publishes to the bucket too.

- `pull_incident(folder)` brings the bucket's objects of an incident into the staging
  folder before a run (earlier runs' values, unique run names, the index to extend) and
  before `records show`. A sealed run's files never change: they are downloaded once.
- `publish_incident(folder)` runs at the end of every `write_manifest` (each change of an
  incident ends with one). A run's folder is uploaded once it is sealed (its own manifest
  written last), each object created with `ifGenerationMatch=0`: nothing of a run is ever
  replaced; an object of that name with other bytes is an error, never overwritten. The
  incident's own files (index.json, index.html, manifest.json, notifications.jsonl,
  playbook_runs/, schedule.json) change with each run: each is replaced only with
  `ifGenerationMatch=<the generation this copy was based on>`. When another writer got there
  first (412), the copy is merged with the bucket's and tried again: the other runs are
  downloaded, the sent-logs (`*.jsonl`) are joined line by line, the index is rebuilt over
  both writers' runs (their manifest digests kept) and the incident manifest is written
  again, chained to the other writer's. Neither writer loses the other's run.
- `download_incident(url, incident, into)` copies an incident out of the bucket into an
  empty folder: what `records verify` checks, so a changed object is found whatever the
  staging copy holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netra_ops.cloud.clients import storage_client
from netra_ops.cloud.storage import (
    BucketUrl,
    StoredObject,
    download,
    list_folders,
    list_objects,
    md5_of,
    parse_bucket_url,
    upload,
)
from netra_ops.config import Environment, load_environment
from netra_ops.errors import RecordError
from netra_ops.record.staging import META_DIR, location_marker

if TYPE_CHECKING:
    from google.cloud.storage import Client as StorageClient

__all__ = [
    "STAGING_ENV",
    "Remote",
    "bucket_incidents",
    "download_incident",
    "publish_incident",
    "pull_incident",
    "remote_of",
    "staging_root",
]

logger = logging.getLogger("netra_ops.record")

STAGING_ENV = "NETRA_OPS_STAGING"
"""Where staging folders go (default `~/.cache/netra-ops/records`)."""

_MANIFEST = "manifest.json"
_IN_PROGRESS = ("run.log", "summary.json")
_DERIVED = ("index.json", "index.html", _MANIFEST)  # rebuilt from the runs on a merge
_ATTEMPTS = 8


@dataclass
class Remote:
    """The bucket a staging folder stands for, and the environment whose client reaches it."""

    url: BucketUrl
    environment: str
    root: Path
    _client: Any = field(default=None, repr=False)

    @cached_property
    def env(self) -> Environment:
        """The environment (its endpoint and credentials reach the bucket)."""
        return load_environment(self.environment)

    @property
    def client(self) -> StorageClient:
        """google-cloud-storage's client, built once."""
        if self._client is None:
            self._client = storage_client(self.env)
        return self._client

    def objects(self, incident: str) -> dict[str, StoredObject]:
        """The incident's objects, by path relative to the incident folder."""
        listed = list_objects(self.env, self.client, self.url, incident)
        return {name[len(incident) + 1:]: obj for name, obj in listed.items()}

    def fetch(self, incident: str, relative: str, path: Path) -> None:
        """Download one of the incident's objects to `path`."""
        download(self.env, self.client, self.url, f"{incident}/{relative}", path)

    def put(self, incident: str, relative: str, path: Path, generation: int
            ) -> StoredObject | None:
        """Upload `path` if the object's live generation is `generation` (None: 412)."""
        return upload(self.env, self.client, self.url, f"{incident}/{relative}", path,
                      generation)


def staging_root(url: str, environment: Environment) -> Path:
    """The staging folder of a bucket location for `environment`, marked with it."""
    parsed = parse_bucket_url(url)
    endpoint = environment.api_endpoint or "storage.googleapis.com"
    key = hashlib.sha256(f"{endpoint}|{parsed}".encode()).hexdigest()[:10]
    base = Path(os.environ.get(STAGING_ENV) or Path.home() / ".cache" / "netra-ops" / "records")
    root = (base.expanduser() / f"{parsed.bucket}-{key}" / parsed.prefix).resolve()
    marker = location_marker(root)
    marker.parent.mkdir(parents=True, exist_ok=True)
    reference = str(environment.source) if environment.source else environment.name
    marker.write_text(json.dumps({"url": str(parsed), "environment": reference}) + "\n",
                      encoding="utf-8")
    return root


def remote_of(root: Path) -> Remote | None:
    """The bucket a staging folder stands for (None: an ordinary local folder)."""
    marker = location_marker(root)
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text(encoding="utf-8"))
    return Remote(parse_bucket_url(str(data["url"])), str(data["environment"]), root)


def bucket_incidents(root: Path) -> list[str]:
    """The incidents in the bucket a staging folder stands for ([] for a local folder)."""
    remote = remote_of(root)
    if remote is None:
        return []
    return list_folders(remote.env, remote.client, remote.url)


def pull_incident(folder: Path, keep: Callable[[str], bool] | None = None) -> None:
    """Bring the bucket's objects of the incident `folder` into it (a no-op for a local
    folder); `keep` chooses which (by relative path), all by default. Files this copy
    changed and has not published yet are merged, not replaced (see the module docstring).
    """
    remote = remote_of(folder.parent)
    if remote is not None:
        _Sync(remote, folder).pull(keep)


def publish_incident(folder: Path) -> None:
    """Upload what changed in the incident `folder` to its bucket (a no-op for a local
    folder); RecordError when it cannot be done without replacing another's object."""
    remote = remote_of(folder.parent)
    if remote is not None:
        _Sync(remote, folder).publish()


def download_incident(root: Path, incident: str, into: Path) -> Path:
    """A fresh copy of an incident from the bucket a staging folder stands for, in
    `into/<incident>` (which must not exist); the folder."""
    remote = remote_of(root)
    if remote is None:
        raise RecordError(f"{root} is not the staging folder of a bucket")
    target = into / incident
    for relative in remote.objects(incident):
        remote.fetch(incident, relative, target / relative)
    return target


class _Sync:
    """One incident's staging copy against its bucket; `based` is the generation and MD5 of
    each incident-level file as last pulled or published (`.netra-ops/<incident>.json`)."""

    def __init__(self, remote: Remote, folder: Path) -> None:
        self.remote = remote
        self.folder = folder
        self.incident = folder.name
        self.state_path = remote.root / META_DIR / f"{self.incident}.json"
        saved = json.loads(self.state_path.read_text(encoding="utf-8")) \
            if self.state_path.is_file() else {}
        self.based: dict[str, list[Any]] = dict(saved.get("objects", {}))
        self.standing: str | None = saved.get("standing")
        self.known_runs: set[str] = set(saved.get("runs", []))
        self._our_standing: dict[str, Any] | None = None

    def save(self) -> None:
        self.state_path.write_text(json.dumps({"objects": self.based,
                                               "standing": self.standing,
                                               "runs": sorted(self.known_runs)}) + "\n",
                                   encoding="utf-8")

    # -- down --------------------------------------------------------------------------------
    def pull(self, keep: Callable[[str], bool] | None = None) -> bool:
        """Bring the bucket's changes here; whether an incident-level file changed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        changed = False
        listed = self.remote.objects(self.incident)
        self._fetch_runs(listed, keep)
        for relative, obj in sorted(listed.items()):
            if (keep is not None and not keep(relative)) or _of_run(relative, listed):
                continue
            path = self.folder / relative
            if self.based.get(relative, [0])[0] == obj.generation and path.exists():
                continue
            self._merge(relative, path, obj)
            changed = True
        self.save()
        return changed

    def _fetch_runs(self, listed: dict[str, StoredObject],
                    keep: Callable[[str], bool] | None = None) -> bool:
        """Download the files of the bucket's sealed runs this copy lacks (a run's files
        never change: each is fetched once); whether any was."""
        missing = [relative for relative in sorted(listed) if _of_run(relative, listed)
                   and (keep is None or keep(relative))
                   and not (self.folder / relative).exists()]
        for relative in missing:
            self.remote.fetch(self.incident, relative, self.folder / relative)
        return bool(missing)

    def _merge(self, relative: str, path: Path, obj: StoredObject) -> None:
        """The bucket's newer `relative` into this copy: taken when this copy did not change
        it; joined line by line for a sent-log; kept (to replace the bucket's) otherwise.
        Derived files are taken: they are rebuilt before the next upload."""
        ours = path.read_bytes() if path.is_file() else None
        unpublished = ours is not None and md5_of(path) != self._based_md5(relative)
        if relative == "index.json" and ours is not None:
            self._remember_standing(ours)
        if not unpublished or relative in _DERIVED or relative.endswith(".jsonl"):
            self.remote.fetch(self.incident, relative, path)
            if unpublished and ours is not None and relative.endswith(".jsonl"):
                _join_lines(path, ours)
        self.based[relative] = [obj.generation, obj.md5]
        if relative == "index.json":
            self.standing = _standing_digest(path.read_bytes())

    def _based_md5(self, relative: str) -> str | None:
        entry = self.based.get(relative)
        return str(entry[1]) if entry else None

    def _remember_standing(self, ours: bytes) -> None:
        """Keep this copy's standing if it set one since it was based (a merge rebuilds the
        index with it); else the bucket's stands."""
        digest = _standing_digest(ours)
        self._our_standing = _standing(ours) if digest != self.standing else None

    # -- up ----------------------------------------------------------------------------------
    def publish(self) -> None:
        for _ in range(_ATTEMPTS):
            remote = self.remote.objects(self.incident)
            if self._fetch_runs(remote):  # another writer's runs: the index and manifest
                self._rebuild()          # here must cover them too
            self._publish_runs(remote)
            if self._publish_incident_files(remote):
                self.save()
                return
            self._our_standing = None
            self.pull()
            self._rebuild()
        raise RecordError(f"could not publish incident {self.incident} to {self.remote.url} "
                          f"after {_ATTEMPTS} attempts (other writers kept changing it); "
                          f"the record is whole in {self.folder}: run it again later")

    def _publish_runs(self, remote: dict[str, StoredObject]) -> None:
        """Each sealed run's files not in the bucket yet, created (never replaced); a run
        found whole in the bucket once is not hashed again."""
        checked = set()
        for relative, path in _run_files(self.folder, self.known_runs):
            checked.add(relative.split("/")[0])
            listed = remote.get(relative)
            if listed is None:
                listed = self.remote.put(self.incident, relative, path, 0) or \
                    self.remote.objects(self.incident).get(relative)
            if listed is None or listed.md5 != md5_of(path):
                raise RecordError(
                    f"{self.remote.url}/{self.incident}/{relative} already exists with other "
                    f"bytes: a run's object is never replaced; this copy is kept in {path} "
                    "(another writer chose the same run name, or the object was changed: "
                    "netra-ops records verify)")
        self.known_runs |= checked

    def _publish_incident_files(self, remote: dict[str, StoredObject]) -> bool:
        """Each incident-level file this copy changed, replaced only at the generation it
        was based on; False at the first 412 (someone else wrote it first)."""
        for relative, path in _incident_files(self.folder):
            md5 = md5_of(path)
            generation = int(self.based.get(relative, [0])[0])
            listed = remote.get(relative)
            if listed is not None and listed.md5 == md5:
                self.based[relative] = [listed.generation, md5]
                continue
            stored = self.remote.put(self.incident, relative, path, generation)
            if stored is None:
                logger.info("%s/%s/%s changed in the bucket since generation %d (412): "
                            "merging and trying again", self.remote.url, self.incident,
                            relative, generation)
                return False
            self.based[relative] = [stored.generation, md5]
            if relative == "index.json":
                self.standing = _standing_digest(path.read_bytes())
        return True

    def _rebuild(self) -> None:
        """After a merge: the index over every run here, and the manifest chained to the
        bucket's (neither published yet)."""
        from netra_ops.record.incident import write_index
        from netra_ops.record.manifest import write_incident_manifest

        write_index(self.folder, standing=self._our_standing)
        write_incident_manifest(self.folder)


def _of_run(relative: str, listed: dict[str, StoredObject]) -> bool:
    """Whether an object of the bucket's listing is a file of a sealed run (a folder whose
    manifest is in the bucket)."""
    head, _, rest = relative.partition("/")
    return bool(rest) and f"{head}/{_MANIFEST}" in listed


def _run_folders(folder: Path) -> tuple[set[str], set[str]]:
    """The incident's run folders: sealed (their manifest written last) and still being
    written (a log or summary, no manifest yet). Other folders (playbook_runs/, watch/) hold
    the incident's own files."""
    sealed, open_ = set(), set()
    for sub in (p for p in folder.iterdir() if p.is_dir()):
        if (sub / _MANIFEST).is_file():
            sealed.add(sub.name)
        elif any((sub / name).is_file() for name in _IN_PROGRESS):
            open_.add(sub.name)
    return sealed, open_


def _run_files(folder: Path, known: set[str]) -> list[tuple[str, Path]]:
    """The files of the sealed runs (a folder with its manifest) under an incident, but
    those of the `known` runs."""
    sealed, _ = _run_folders(folder)
    return [(path.relative_to(folder).as_posix(), path)
            for run in sorted(folder / name for name in sealed - known)
            for path in sorted(run.rglob("*")) if path.is_file()]


def _incident_files(folder: Path) -> list[tuple[str, Path]]:
    """The incident's own files (not a run's; no lock files), derived ones last, the
    manifest the very last."""
    runs = set().union(*_run_folders(folder))
    found = [path for path in folder.rglob("*") if path.is_file()
             and path.relative_to(folder).parts[0] not in runs and path.suffix != ".lock"]
    order = {name: n for n, name in enumerate(_DERIVED, 1)}
    found.sort(key=lambda p: (order.get(p.name, 0) if p.parent == folder else 0, p.as_posix()))
    return [(path.relative_to(folder).as_posix(), path) for path in found]


def _join_lines(path: Path, ours: bytes) -> None:
    """The bucket's lines (now at `path`), then this copy's lines it lacks."""
    theirs = path.read_bytes().splitlines(keepends=True)
    extra = [line for line in ours.splitlines(keepends=True) if line not in theirs]
    joined = b"".join(line if line.endswith(b"\n") else line + b"\n"
                      for line in [*theirs, *extra])
    path.write_bytes(joined)


def _standing(index: bytes) -> dict[str, Any] | None:
    try:
        found = json.loads(index).get("standing")
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _standing_digest(index: bytes) -> str:
    return hashlib.sha256(json.dumps(_standing(index), sort_keys=True,
                                     default=str).encode()).hexdigest()

