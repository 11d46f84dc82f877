"""Helpers shared by the SIP core tests: a fake clock and two endpoints piped together."""

from __future__ import annotations

import pytest

from gateway.sip.endpoint import SipCoreConfig, SipEndpoint, Transmit

UAS_ADDR = ("192.0.2.10", 5060)
UAC_ADDR = ("192.0.2.20", 5062)


class Pair:
    """A UAC endpoint and a UAS endpoint wired in memory, on a fake clock.

    ``deliver()`` moves every pending transmission to the other side (optionally
    dropping some through ``drop``) until both are quiet; ``advance(t)`` runs every
    timer up to ``t``.
    """

    def __init__(self, transport: str = "udp") -> None:
        self.now = 0.0
        self.transport = transport
        self.uac = SipEndpoint(SipCoreConfig(local_host=UAC_ADDR[0], local_port=UAC_ADDR[1]))
        self.uas = SipEndpoint(SipCoreConfig(local_host=UAS_ADDR[0], local_port=UAS_ADDR[1]))
        self.uac_events: list = []
        self.uas_events: list = []
        self.wire: list[tuple[str, bytes]] = []  # (direction, data) for inspection
        self.drop = None  # callable(direction, data) -> bool

    def _feed(self, ep: SipEndpoint, t: Transmit, remote, local) -> None:
        if t.transport == "udp":
            ep.receive_datagram(t.data, remote, local, self.now)
        else:
            ep.receive_stream(1, t.data, remote, local, self.now)

    def deliver(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            moved = False
            for t in self.uac.transmissions():
                assert t.remote == UAS_ADDR, t
                self.wire.append(("uac->uas", t.data))
                moved = True
                if self.drop and self.drop("uac->uas", t.data):
                    continue
                self._feed(self.uas, t, UAC_ADDR, UAS_ADDR)
            for t in self.uas.transmissions():
                assert t.remote == UAC_ADDR, t
                self.wire.append(("uas->uac", t.data))
                moved = True
                if self.drop and self.drop("uas->uac", t.data):
                    continue
                self._feed(self.uac, t, UAS_ADDR, UAC_ADDR)
            self.uac_events += self.uac.events()
            self.uas_events += self.uas.events()
            if not moved:
                return

    def advance(self, until: float) -> None:
        while True:
            nxt = [t for t in (self.uac.next_timer(), self.uas.next_timer()) if t is not None]
            if not nxt or min(nxt) > until:
                break
            self.now = max(self.now, min(nxt))
            self.uac.handle_timer(self.now)
            self.uas.handle_timer(self.now)
            self.deliver()
        self.now = until
        self.deliver()

    def invite(self, sdp: bytes | None = b"v=0 offer\r\n") -> str:
        call = self.uac.invite("sip:1000@192.0.2.10", UAS_ADDR, self.transport,
                               from_user="alice", display_name="Alice", sdp=sdp,
                               local=UAC_ADDR, now=self.now)
        self.deliver()
        return call

    def sent(self, direction: str, start: bytes) -> list[bytes]:
        return [d for dr, d in self.wire if dr == direction and d.startswith(start)]

    def assert_clean(self) -> None:
        """Run every timer out and check nothing leaks."""
        self.advance(self.now + 200)
        for ep in (self.uac, self.uas):
            assert ep.call_count == 0
            assert ep.dialog_count == 0
            assert ep.transaction_count == 0
            assert ep.next_timer() is None


def of(events: list, cls) -> list:
    return [e for e in events if isinstance(e, cls)]


@pytest.fixture
def pair() -> Pair:
    return Pair()


@pytest.fixture
def tcp_pair() -> Pair:
    return Pair("tcp")
