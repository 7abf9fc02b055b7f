"""Re-exports `netra_ops.sandbox.control.ephemeral` at its first path (tests, benchmarks and
guides import `write_sandbox_environment` from here)."""

from netra_ops.sandbox.control.ephemeral import dump_toml, free_ports, write_sandbox_environment

__all__ = ["dump_toml", "free_ports", "write_sandbox_environment"]
