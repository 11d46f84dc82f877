from __future__ import annotations

import socket

import pytest

from gateway.rtp.ports import PortAllocator, PortsExhausted

HOST = "127.0.0.1"


def free_range(pairs: int) -> int:
    """An even base port with ``pairs`` pairs free on loopback right now."""
    for base in range(41000, 60000, 2 * pairs):
        socks = []
        try:
            for port in range(base, base + 2 * pairs):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind((HOST, port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free port range")


def test_even_pairs_bound_and_released() -> None:
    base = free_range(3)
    ports = PortAllocator(base, base + 5)
    assert ports.capacity == 3
    pairs = [ports.allocate(HOST) for _ in range(3)]
    assert [p.rtp_port for p in pairs] == [base, base + 2, base + 4]
    assert all(p.rtcp_port == p.rtp_port + 1 for p in pairs)
    assert pairs[0].rtp_sock.getsockname() == (HOST, base)
    assert ports.in_use == 3
    with pytest.raises(PortsExhausted):
        ports.allocate(HOST)
    ports.release(pairs[1])
    ports.release(pairs[1])  # idempotent
    assert ports.in_use == 2
    again = ports.allocate(HOST)
    assert again.rtp_port == base + 2
    for pair in (pairs[0], pairs[2], again):
        ports.release(pair)
    assert ports.in_use == 0


def test_skips_ports_held_by_another_process() -> None:
    base = free_range(3)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind((HOST, base + 1))  # only the RTCP half of the first pair
    try:
        ports = PortAllocator(base, base + 5)
        first = ports.allocate(HOST)
        assert first.rtp_port == base + 2
        # The RTP half of the skipped pair was given back, not leaked.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((HOST, base))
        probe.close()
        ports.release(first)
    finally:
        squatter.close()


def test_odd_minimum_rounds_up() -> None:
    base = free_range(2)
    ports = PortAllocator(base - 1, base + 3)
    assert ports.allocate(HOST).rtp_port == base
    with pytest.raises(ValueError):
        PortAllocator(base + 1, base + 2)
