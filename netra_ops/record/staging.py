"""Whether a records folder is the staging copy of a bucket (`netra_ops.record.bucket`).

A staging folder carries a marker, `.netra-ops/location.json`, naming its bucket and the
environment that reaches it. This module only looks for the marker, so that code working on
a local `outputs/` never imports Google's storage client.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["META_DIR", "is_staged", "location_marker"]

META_DIR = ".netra-ops"
"""The staging folder's own folder (its marker and the generations each copy is based on)."""


def location_marker(root: Path) -> Path:
    """The marker file of a staging folder `root`."""
    return root / META_DIR / "location.json"


def is_staged(root: Path) -> bool:
    """Whether `root` (an outputs folder) is the staging copy of a bucket."""
    return location_marker(root).is_file()
