"""Tamper evidence for incident records: a SHA-256 manifest and a check that finds changes.

`write_manifest(folder)` lists the SHA-256 of every file of an incident (the manifest itself
aside) in `manifest.json`, chained to the manifest it replaces: its `previous` field holds
the digest of the earlier manifest, and `history` every digest so far, so a record that is
rewritten wholesale no longer matches the history printed or archived elsewhere.
`verify_incident(folder)` recomputes every digest and scans every file for secrets.

Each run's folder has a manifest of its own (`write_run_manifest`, written once when the run
ends: a run's folder never changes afterwards), and its digest is kept outside the folder, in
the incident's `index.json` (`manifest_sha256` of each run; a digest once in the index is
kept there) and in the notifications that name the run. A change to a run's file hidden by a
rewritten run manifest (and a rewritten incident manifest) still differs from the digest the
index holds. A wholesale rewrite of the index as well is found by the digests kept further
away: `verify_incident(folder, expected=...)` (`records verify --expect`) checks that each
digest given (from a notification, a ticket, an earlier `records verify`) is still the digest
of the incident's manifest or of one of its runs' manifests.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netra_ops.record.redact import find_secrets
from netra_ops.record.staging import is_staged

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "INDEX_JSON",
    "MANIFEST",
    "VerifyReport",
    "file_digests",
    "manifest_digest",
    "verify_incident",
    "write_incident_manifest",
    "write_manifest",
    "write_run_manifest",
]

MANIFEST = "manifest.json"
"""The manifest's file name, in the incident's folder and in each run's folder."""
INDEX_JSON = "index.json"
"""The incident's index: it holds each run's manifest digest (`runs[].manifest_sha256`)."""


@dataclass(frozen=True)
class VerifyReport:
    """What `records verify` found: changed, missing and unlisted files, secrets, and
    manifests rewritten (a run's manifest whose digest is not the one the index holds, a
    digest expected from elsewhere that no manifest has any more)."""

    folder: Path
    files: int
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    unlisted: tuple[str, ...]
    secrets: tuple[str, ...]
    manifest_digest: str
    rewritten: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every file matches the manifests, none was rewritten and no secret was
        found."""
        return not (self.changed or self.missing or self.unlisted or self.secrets
                    or self.rewritten)

    def to_frame(self) -> pd.DataFrame:
        """One row per problem (empty when ok)."""
        import pandas as pd

        rows = [{"problem": kind, "file": name} for kind, names in (
            ("changed", self.changed), ("missing", self.missing),
            ("not in manifest", self.unlisted), ("secret", self.secrets),
            ("manifest rewritten", self.rewritten)) for name in names]
        return pd.DataFrame(rows, columns=["problem", "file"])


def file_digests(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under `folder` except the manifest."""
    return {path.relative_to(folder).as_posix(): _sha256(path.read_bytes())
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST
            and not path.name.startswith(f".{MANIFEST}.")}


def write_manifest(folder: Path) -> dict[str, Any]:
    """Write `manifest.json` for an incident folder, chained to the previous one; when the
    folder is a bucket's staging copy, publish what changed (`netra_ops.record.bucket`)."""
    manifest = write_incident_manifest(folder)
    if is_staged(folder.parent):
        from netra_ops.record.bucket import publish_incident

        publish_incident(folder)
    return manifest


def write_incident_manifest(folder: Path) -> dict[str, Any]:
    """Write `manifest.json` for an incident folder, chained to the previous one (nothing
    published). The file is replaced atomically: a process killed while writing it leaves
    the previous one."""
    path = folder / MANIFEST
    previous = _previous(path)
    previous_digest = _sha256(path.read_bytes()) if path.is_file() else None
    manifest = {
        "incident": folder.name,
        "written_at": datetime.now(UTC).isoformat(),
        "algorithm": "sha256",
        "files": file_digests(folder),
        "previous": previous_digest,
        "history": [*previous.get("history", []), *([previous_digest] if previous_digest else [])],
    }
    temporary = folder / f".{MANIFEST}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return manifest


def _previous(path: Path) -> dict[str, Any]:
    """The manifest being replaced (empty when there is none, or it is not readable JSON:
    its digest still chains the new one to it)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def write_run_manifest(record_dir: Path) -> str:
    """Write the manifest of one run's folder (every file of it); return its digest."""
    manifest = {"run": record_dir.name, "written_at": datetime.now(UTC).isoformat(),
                "algorithm": "sha256", "files": file_digests(record_dir)}
    path = record_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return _sha256(path.read_bytes())


def manifest_digest(folder: Path) -> str | None:
    """The SHA-256 of the manifest in `folder` (an incident's or a run's), None if absent."""
    path = folder / MANIFEST
    return _sha256(path.read_bytes()) if path.is_file() else None


def verify_incident(folder: Path, secrets: tuple[str, ...] = (),
                    expected: tuple[str, ...] = ()) -> VerifyReport:
    """Compare every file with the incident's manifest and each run's, each run's manifest
    with the digest the index holds, `expected` digests with the manifests there are, and
    scan every file for secrets. For a bucket's staging copy, the incident is downloaded
    afresh and that copy is checked: what the bucket holds now."""
    if is_staged(folder.parent):
        from netra_ops.record.bucket import download_incident

        with tempfile.TemporaryDirectory(prefix="netra-ops-verify-") as fresh:
            copy = download_incident(folder.parent, folder.name, Path(fresh))
            return replace(verify_incident(copy, secrets, expected), folder=folder)
    actual = file_digests(folder)
    problems = _compare(_listed(folder), actual, "")
    runs = {path.parent for path in folder.glob(f"*/{MANIFEST}")}
    for run in sorted(runs):
        found = _compare(_listed(run), file_digests(run), f"{run.name}/")
        problems = [sorted({*a, *b}) for a, b in zip(problems, found, strict=True)]
    rewritten = (*_rewritten_runs(folder, runs),
                 *_unmatched(expected, folder, [manifest_digest(run) for run in runs]))
    secret_hits = tuple(f"{name}: {finding}" for name in actual
                        for finding in find_secrets(_text(folder / name), secrets))
    changed, missing, unlisted = (tuple(names) for names in problems)
    return VerifyReport(folder, len(actual), changed, missing, unlisted, secret_hits,
                        manifest_digest(folder) or "(no manifest)", rewritten)


def _listed(folder: Path) -> dict[str, str]:
    path = folder / MANIFEST
    return dict(json.loads(path.read_text(encoding="utf-8"))["files"]) if path.is_file() else {}


def _compare(listed: dict[str, str], actual: dict[str, str],
             prefix: str) -> list[list[str]]:
    """[changed, missing, unlisted] file names, each with `prefix`."""
    return [[prefix + n for n in listed if n in actual and actual[n] != listed[n]],
            [prefix + n for n in listed if n not in actual],
            [prefix + n for n in actual if n not in listed]]


def _rewritten_runs(folder: Path, runs: set[Path]) -> list[str]:
    """Each run whose manifest is not the one the index holds (or is gone while the index
    holds a digest for it)."""
    index = folder / INDEX_JSON
    held = {str(run.get("folder")): run.get("manifest_sha256") for run in
            json.loads(index.read_text(encoding="utf-8")).get("runs", [])} if \
        index.is_file() else {}
    found = []
    for name, digest in sorted(held.items()):
        current = manifest_digest(folder / name)
        if digest and current != digest:
            state = "gone" if current is None else f"sha256 {current[:12]}…"
            found.append(f"{name}/{MANIFEST}: {state}, the index holds {digest[:12]}…")
    found += [f"{run.name}/{MANIFEST}: a run the index does not list" for run in sorted(runs)
              if held and run.name not in held]
    return found


def _unmatched(expected: tuple[str, ...], folder: Path, runs: list[str | None]) -> list[str]:
    known = {manifest_digest(folder), *runs}
    return [f"expected manifest sha256 {digest}: no manifest of the incident has it"
            for digest in expected if digest.strip().lower() not in known]


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
