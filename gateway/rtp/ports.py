"""RTP/RTCP port pairs: even RTP port, RTCP on the next one (RFC 3550 section 11).

Ports are proven free by binding both sockets; the bound sockets are handed to the
transport, so no other process can take a port between the check and its use.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


class PortsExhausted(Exception):
    """No free pair in the range: answer 503 with Retry-After."""


@dataclass(slots=True)
class PortPair:
    host: str
    rtp_port: int
    rtcp_port: int
    rtp_sock: socket.socket = field(repr=False)
    rtcp_sock: socket.socket = field(repr=False)

    def close(self) -> None:
        self.rtp_sock.close()
        self.rtcp_sock.close()


class PortAllocator:
    def __init__(self, port_min: int, port_max: int) -> None:
        first = port_min + (port_min & 1)  # RTP takes even ports
        if first + 1 > port_max:
            raise ValueError(f"no even/odd port pair in {port_min}-{port_max}")
        self._pairs = list(range(first, port_max, 2))  # last RTCP port is <= port_max
        self._next = 0  # round robin, so a just-freed port is not reused at once
        self._used: dict[int, PortPair] = {}

    @property
    def in_use(self) -> int:
        return len(self._used)

    @property
    def capacity(self) -> int:
        return len(self._pairs)

    def allocate(self, host: str = "0.0.0.0") -> PortPair:
        """Bind a free pair on ``host``; skips ports other processes hold."""
        for _ in range(len(self._pairs)):
            port = self._pairs[self._next]
            self._next = (self._next + 1) % len(self._pairs)
            if port in self._used:
                continue
            pair = _bind_pair(host, port)
            if pair is not None:
                self._used[port] = pair
                return pair
        raise PortsExhausted(f"no free RTP port pair in {self._pairs[0]}-{self._pairs[-1] + 1}")

    def release(self, pair: PortPair) -> None:
        """Close the pair's sockets and return its ports; idempotent."""
        pair.close()
        if self._used.get(pair.rtp_port) is pair:
            del self._used[pair.rtp_port]


def _bind_pair(host: str, port: int) -> PortPair | None:
    rtp = _bind(host, port)
    if rtp is None:
        return None
    rtcp = _bind(host, port + 1)
    if rtcp is None:
        rtp.close()
        return None
    return PortPair(host, port, port + 1, rtp, rtcp)


def _bind(host: str, port: int) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    return sock
