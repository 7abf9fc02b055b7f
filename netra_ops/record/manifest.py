"""Tamper evidence for incident records: a SHA-256 manifest and a check that finds changes.

`write_manifest(folder)` lists the SHA-256 of every file of an incident (the manifest itself
aside) in `manifest.json`, chained to the manifest it replaces: its `previous` field holds
the digest of the earlier manifest, and `history` every digest so far, so a record that is
rewritten wholesale no longer matches the history printed or archived elsewhere.
`verify_incident(folder)` recomputes every digest and scans every file for secrets.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from netra_ops.record.redact import find_secrets

__all__ = ["MANIFEST", "VerifyReport", "file_digests", "verify_incident", "write_manifest"]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class VerifyReport:
    """What `records verify` found: changed, missing and unlisted files, secrets."""

    folder: Path
    files: int
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    unlisted: tuple[str, ...]
    secrets: tuple[str, ...]
    manifest_digest: str

    @property
    def ok(self) -> bool:
        """True when every file matches the manifest and no secret was found."""
        return not (self.changed or self.missing or self.unlisted or self.secrets)

    def to_frame(self) -> pd.DataFrame:
        """One row per problem (empty when ok)."""
        rows = [{"problem": kind, "file": name} for kind, names in (
            ("changed", self.changed), ("missing", self.missing),
            ("not in manifest", self.unlisted), ("secret", self.secrets)) for name in names]
        return pd.DataFrame(rows, columns=["problem", "file"])


def file_digests(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under `folder` except the manifest."""
    return {path.relative_to(folder).as_posix(): _sha256(path.read_bytes())
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST}


def write_manifest(folder: Path) -> dict[str, Any]:
    """Write `manifest.json` for an incident folder, chained to the previous one."""
    path = folder / MANIFEST
    previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    previous_digest = _sha256(path.read_bytes()) if path.is_file() else None
    manifest = {
        "incident": folder.name,
        "written_at": datetime.now(UTC).isoformat(),
        "algorithm": "sha256",
        "files": file_digests(folder),
        "previous": previous_digest,
        "history": [*previous.get("history", []), *([previous_digest] if previous_digest else [])],
    }
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def verify_incident(folder: Path, secrets: tuple[str, ...] = ()) -> VerifyReport:
    """Compare every file with the manifest and scan every file for secrets."""
    path = folder / MANIFEST
    listed: dict[str, str] = (json.loads(path.read_text(encoding="utf-8"))["files"]
                              if path.is_file() else {})
    actual = file_digests(folder)
    changed = tuple(n for n in listed if n in actual and actual[n] != listed[n])
    missing = tuple(n for n in listed if n not in actual)
    unlisted = tuple(n for n in actual if n not in listed)
    found = tuple(f"{name}: {finding}" for name in actual
                  for finding in find_secrets(_text(folder / name), secrets))
    digest = _sha256(path.read_bytes()) if path.is_file() else "(no manifest)"
    return VerifyReport(folder, len(actual), changed, missing, unlisted, found, digest)


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
