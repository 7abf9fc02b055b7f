"""The error the sandbox's Google API emulations answer with, in Google's JSON error shape."""

from __future__ import annotations

from typing import Any

from netra_ops.errors import SandboxError

__all__ = ["GoogleApiError"]


class GoogleApiError(SandboxError):
    """A request an emulated REST API refuses: HTTP code, Google status, message."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        """Google's error JSON: `{"error": {"code", "message", "status"}}`."""
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}

