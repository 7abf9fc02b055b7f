"""Database migrations in the release: the seed's Phase 1 risk "Database migrations", whose
mitigation reads "No schema changes in recent commits (verified)". Here it is verified.

The release diff is what the release branch changed since it left the base (`git diff
BASE...RELEASE`); a file of it under one of `[preflight] migration_paths` is a migration
(added, modified or deleted). A release without one passes. A release with some is a risk
that only an explicit acknowledgement lets through (`acknowledge_migrations` in
01_preflight): someone has read them and planned the database step. The review is recorded
(`to_record`), and 02's risk table shows it (`MigrationReview.from_record`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netra_ops.checks import Check, skipped
from netra_ops.deploy.git_refs import git

__all__ = ["MIGRATIONS_CHECK", "MigrationReview", "review_migrations"]

MIGRATIONS_CHECK = "database migrations acknowledged"
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "T": "type changed"}


@dataclass(frozen=True)
class MigrationReview:
    """The migration files of a release diff (`files`: "added PATH", ...) and whether they
    were acknowledged; `error` when git could not compute the diff."""

    base: str
    release: str
    paths: tuple[str, ...]
    files: tuple[str, ...]
    acknowledged: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the diff was computed and holds no migration, or they were
        acknowledged."""
        return self.error is None and (not self.files or self.acknowledged)

    @property
    def check(self) -> Check:
        """The verdict's row: the migrations named, and what to do."""
        between = f"between {self.base} and {self.release}"
        if self.error is not None:
            return Check(MIGRATIONS_CHECK, False, f"could not list the release diff "
                         f"{between}: {self.error}", fix="check that both refs exist")
        if not self.paths:
            return skipped(MIGRATIONS_CHECK, "[preflight] migration_paths is empty: no "
                           "folder to look for migrations in", fix="name the folders of the "
                           "migration files in [preflight] migration_paths")
        if not self.files:
            return Check(MIGRATIONS_CHECK, True, f"no migration in the release: nothing under "
                         f"{', '.join(self.paths)} changed {between}")
        listed = f"{len(self.files)} migration file(s) {between}: {', '.join(self.files)}"
        if self.acknowledged:
            return Check(MIGRATIONS_CHECK, True, f"acknowledged: {listed}")
        return Check(MIGRATIONS_CHECK, False, listed, fix=(
            "review them and plan the database step (backup, order, rollback of the schema), "
            "then run 01_preflight again with -p acknowledge_migrations=true"))

    def to_record(self) -> dict[str, Any]:
        """What 01_preflight records (`migrations`), and `from_record` reads back."""
        return {"base": self.base, "release": self.release, "paths": list(self.paths),
                "files": list(self.files), "acknowledged": self.acknowledged,
                "error": self.error}

    @classmethod
    def from_record(cls, value: Mapping[str, Any] | None) -> MigrationReview | None:
        """A review as recorded (None when nothing was recorded)."""
        if not value:
            return None
        return cls(str(value.get("base", "")), str(value.get("release", "")),
                   tuple(value.get("paths") or ()), tuple(value.get("files") or ()),
                   bool(value.get("acknowledged")), value.get("error"))


def review_migrations(repo: Path, base: str, release: str, paths: Sequence[str], *,
                      acknowledged: bool = False) -> MigrationReview:
    """The migration files the release changed since it left `base` (`git diff
    --name-status BASE...RELEASE -- PATHS`)."""
    clean = tuple(p.strip("/") for p in paths if p.strip("/"))
    if not clean:
        return MigrationReview(base, release, (), (), acknowledged)
    done = git(repo, "diff", "--name-status", "--no-renames", f"{base}...{release}", "--",
               *clean)
    if done.returncode != 0:
        words = " ".join(done.stderr.split()) or f"exit {done.returncode}"
        return MigrationReview(base, release, clean, (), acknowledged, words[:300])
    files = tuple(f"{_STATUS.get(status[:1], status)} {name}" for status, _, name in
                  (line.partition("\t") for line in done.stdout.splitlines() if line.strip()))
    return MigrationReview(base, release, clean, files, acknowledged)
