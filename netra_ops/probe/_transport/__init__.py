"""How the probes reach the system: private to `netra_ops` (the probes and `netra_ops.load`).

Nothing here judges an answer; the probe modules beside this package do. One module per
role:

- `http`: bounded HTTP/1.1 (`fetch`, `fetch_async`): one deadline for the whole call, a body
  cap, few redirects, every failure an `HttpAnswer` in words, never an exception;
- `strict_json`: JSON as RFC 8259 has it (no NaN or Infinity), for every body and frame;
- `failure_text`: one readable line for a network exception;
- `drivers`: the I/O operations a probe's steps yield and the blocking and asyncio drivers
  that perform them;
- `connections`: the steps every WebSocket probe shares: log in, read the server's clock,
  open the backend's WebSocket up to `connection_established`, close it;
- `turn_connection`: the asyncio WebSocket connection that hands a turn's frames straight
  to the turn's collector.

This package re-exports nothing: import from the module (importing one module must not
import the others, since `drivers` and `connections` hand frames to the probes' judges).
"""
