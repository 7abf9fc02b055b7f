"""Short, readable descriptions of network failures for probe results."""

from __future__ import annotations

__all__ = ["describe_exception"]


def describe_exception(exc: BaseException) -> str:
    """One line naming the failure: `ConnectError: [Errno 111] Connection refused`."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    cause = exc.__cause__ or exc.__context__
    if not text and cause is not None:
        text = str(cause).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
