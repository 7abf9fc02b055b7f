"""Secret references: how a password is named in an environment file without being stored.

A reference is `env:NAME` (an environment variable) or `file:PATH` (a file whose content,
stripped, is the secret; the sandbox writes its generated passwords this way). The value is
resolved only at the moment it is used, in the process that uses it, so it never lands in a
notebook's parameters, a record or a log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from netra_ops.errors import SecretError

__all__ = ["SECRET_SCHEMES", "SecretRef", "resolve_secret", "unresolved"]

SECRET_SCHEMES = ("env:", "file:")


def _check_reference(value: str) -> str:
    if not value.startswith(SECRET_SCHEMES) or len(value.split(":", 1)[1]) == 0:
        raise ValueError(
            "must be a secret reference like 'env:NAME' or 'file:PATH', never the secret "
            "itself"
        )
    return value


SecretRef = Annotated[str, AfterValidator(_check_reference)]


def resolve_secret(reference: str) -> str:
    """The secret a reference points to; SecretError says which reference and why not."""
    _check_reference_or_raise(reference)
    scheme, target = reference.split(":", 1)
    if scheme == "env":
        value = os.environ.get(target)
        if not value:
            raise SecretError(f"secret {reference}: environment variable {target} is not set")
        return value
    path = Path(target)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        hint = " (start the sandbox: netra-ops sandbox up)" if ".sandbox" in target else ""
        raise SecretError(f"secret {reference}: file {path} does not exist{hint}") from None
    if not value:
        raise SecretError(f"secret {reference}: file {path} is empty")
    return value


def unresolved(reference: str) -> str | None:
    """Why a reference does not resolve (SecretError's text, never a value), or None."""
    try:
        resolve_secret(reference)
    except SecretError as exc:
        return str(exc)
    return None


def _check_reference_or_raise(reference: str) -> None:
    try:
        _check_reference(reference)
    except ValueError as exc:
        raise SecretError(f"secret reference {reference[:8]!r}...: {exc}") from None
