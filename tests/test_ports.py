"""Free loopback ports come from below the kernel's ephemeral range, where no outgoing
connection can take them between the check and the server's bind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from netra_ops import ports
from netra_ops.ports import free_ports


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


@pytest.mark.skipif(not Path("/proc/sys/net/ipv4/ip_local_port_range").exists(),
                    reason="the kernel's ephemeral range is a Linux file")
def test_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    found = free_ports(12)
    assert len(set(found)) == 12
    assert all(ports.LOWEST_PORT <= p < _ephemeral_low() for p in found), found
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", found[0]))
        second.bind(("127.0.0.1", found[-1]))


def test_a_port_someone_listens_on_is_never_returned(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    # A pool of ten ports, three of them taken: only the seven others come back.
    taken: list[socket.socket] = []
    low = 0
    for candidate in range(24000, 30000, 10):
        listeners = []
        try:
            for port in range(candidate, candidate + 3):
                sock = socket.socket()
                listeners.append(sock)
                sock.bind(("127.0.0.1", port))
                sock.listen()
        except OSError:
            for sock in listeners:
                sock.close()
            continue
        taken, low = listeners, candidate
        break
    assert taken, "no three consecutive free ports to stage the test"
    range_file = tmp_path / "ip_local_port_range"
    range_file.write_text(f"{low + 10}\t60999\n")
    monkeypatch.setattr(ports, "_EPHEMERAL_RANGE", range_file)
    monkeypatch.setattr(ports, "LOWEST_PORT", low)
    try:
        found = free_ports(2)
        assert len(set(found)) == 2
        assert not set(found) & {low, low + 1, low + 2}, found
        assert all(low + 3 <= p < low + 10 for p in found), found
    finally:
        for sock in taken:
            sock.close()


def test_without_the_kernels_range_the_kernel_picks(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setattr(ports, "_EPHEMERAL_RANGE", tmp_path / "missing")
    found = free_ports(3)
    assert len(set(found)) == 3 and all(0 < p < 65536 for p in found)
