"""Re-exports `netra_ops.sandbox.control.pause` at its first path (docs/load.md)."""

from netra_ops.sandbox.control.pause import pause_revision

__all__ = ["pause_revision"]
