"""Whether a records folder is the staging copy of a bucket (`netra_ops.record.bucket`).

A staging folder carries a marker, `.netra-ops/location.json`, naming its bucket and the
environment that reaches it. This module only looks for the marker, so that code working on
a local `outputs/` never imports Google's storage client. `stored_location(path)` names a
file or folder of a staging copy by where it lasts (`gs://BUCKET/PREFIX/INCIDENT/RUN`): what
a record's readers are told (an escalation, the schedule's state), since the staging copy
of a Cloud Run job's task is gone when the task ends.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["META_DIR", "is_staged", "location_marker", "stored_location"]

META_DIR = ".netra-ops"
"""The staging folder's own folder (its marker and the generations each copy is based on)."""


def location_marker(root: Path) -> Path:
    """The marker file of a staging folder `root`."""
    return root / META_DIR / "location.json"


def is_staged(root: Path) -> bool:
    """Whether `root` (an outputs folder) is the staging copy of a bucket."""
    return location_marker(root).is_file()


def stored_location(path: Path) -> str:
    """`path`'s place in the bucket when it is under a staging folder (`gs://...`), else
    `path` itself."""
    for root in path.parents:
        if is_staged(root):
            url = json.loads(location_marker(root).read_text(encoding="utf-8"))["url"]
            return f"{str(url).rstrip('/')}/{path.relative_to(root).as_posix()}"
    return str(path)
