"""Strict JSON: `NaN`, `Infinity` and `-Infinity` are not JSON (RFC 8259), whatever Python's
`json` module accepts by default. Every body and frame a probe judges is parsed here."""

from __future__ import annotations

import json
from typing import Any, NoReturn

__all__ = ["NonStandardJSON", "loads_strict"]


class NonStandardJSON(ValueError):
    """A JSON text with `NaN` or `Infinity` in it: Python accepts it, JSON does not."""


def _reject(constant: str) -> NoReturn:
    raise NonStandardJSON(f"{constant} is not valid JSON (RFC 8259 has no NaN or Infinity)")


_DECODER = json.JSONDecoder(parse_constant=_reject)


def loads_strict(text: str | bytes) -> Any:
    """`json.loads`, but `NaN` / `Infinity` raise `NonStandardJSON` (a ValueError)."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    return _DECODER.decode(text)
