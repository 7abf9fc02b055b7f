"""The keyword options of a sync/async probe pair, written once.

Each pair has a frozen dataclass of its options with their defaults (`HealthOptions`) and a
TypedDict of the same names and types, every key optional (`_HealthKeywords`). Both
functions take `**keywords: Unpack[_HealthKeywords]`, so mypy checks `health(url,
timeout_s=2)` as before, and build the dataclass from what they were given
(`HealthOptions(**keywords)`), which supplies every default: no default is written twice.
A test (tests/probe/test_options.py) keeps each TypedDict's keys and types those of its
dataclass.

`shows_options` puts the options back into the signature that `help()`, Jupyter and
`inspect.signature` show: `health(url, *, path='/health', ..., timeout_s=5.0, ...)`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["shows_options"]

F = TypeVar("F", bound=Callable[..., Any])


def shows_options(options: type[Any]) -> Callable[[F], F]:
    """Show the fields of `options` (a dataclass) as the keyword parameters of the function
    in place of its `**keywords`; the function itself is unchanged."""

    def show(function: F) -> F:
        signature = inspect.signature(function)
        kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        named = {p.name for p in kept}
        keywords = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                      default=f.default, annotation=f.type)
                    for f in dataclasses.fields(options) if f.name not in named]
        function.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*kept, *keywords])
        return function

    return show
