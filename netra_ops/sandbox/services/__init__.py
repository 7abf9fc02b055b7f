"""Netra as the sandbox emulates it: the auth, backend and frontend services, the backend's
agent and faults, their structured logs, and a stand-in for Netra's repository.

Each service runs as Cloud Run revisions (`python -m netra_ops.sandbox auth|frontend|revision`)
and imports nothing else of the sandbox: the platform reaches it only over the network.
"""

__all__: list[str] = []
