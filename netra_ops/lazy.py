"""Package exports loaded on first use, so importing one submodule does not import them all.

A package's `__init__` names where each public name lives and hands out the module-level
`__getattr__` and `__dir__` this makes (PEP 562); type checkers read the same names from an
`if TYPE_CHECKING:` import block. Used where start-up cost matters: the sandbox's own
processes, and every Locust worker process (which import single `netra_ops.load` modules).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, origins: Mapping[str, str], exported: Iterable[str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`(__getattr__, __dir__)` for `package`: name -> its submodule in `origins`."""
    names = sorted(exported)
    namespace = importlib.import_module(package).__dict__

    def getattr_(name: str) -> Any:
        module = origins.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *names})

    return getattr_, dir_
