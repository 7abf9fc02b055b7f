"""Re-exports `netra_ops.sandbox.control.scenarios` at its first path (the README, the guides
and tests import from here): every public name of it, so the two cannot drift apart."""

from netra_ops.sandbox.control import scenarios as _moved
from netra_ops.sandbox.control.scenarios import *  # noqa: F403

__all__ = list(_moved.__all__)
