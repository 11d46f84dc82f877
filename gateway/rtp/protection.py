"""What a stream does to its datagrams on the wire: nothing (plain RTP), SRTP keyed by
SDES (RFC 4568), or SRTP keyed by a DTLS handshake on the media ports (RFC 5764).

``RtpEndpoint`` hands every datagram in through ``inbound`` and every packet out
through ``outbound``; it reads no key itself. Components: "rtp" is the RTP port
(which also carries RTCP under rtcp-mux), "rtcp" the RTCP port. With SDES one key
set serves both; with DTLS each port runs its own handshake and gets its own keys,
unless RTCP is multiplexed. Until DTLS keys exist nothing is sent and nothing
received is delivered: media is never in clear on a stream that asked for SRTP.
A packet that fails is dropped and counted (``SrtpStream``); a failed handshake is
a ``failure`` the endpoint logs once.
"""

from __future__ import annotations

from gateway.rtp.dtls import DtlsPlan, DtlsSrtp, is_dtls
from gateway.rtp.session import is_rtcp
from gateway.rtp.srtp import SrtpStream
from gateway.sdp.crypto import SrtpKeys

Plan = SrtpKeys | DtlsPlan | None
Replies = list[bytes]


class Protection:
    def __init__(self, plan: Plan = None, rtcp_mux: bool = False) -> None:
        self.plan = plan
        self.rtcp_mux = rtcp_mux
        self._srtp: dict[str, SrtpStream] = {}  # component -> its SRTP contexts
        self._dtls: dict[str, DtlsSrtp] = {}
        self.dropped_unkeyed = 0  # media before the DTLS keys existed
        if isinstance(plan, SrtpKeys):
            stream = SrtpStream(plan)
            self._srtp = {"rtp": stream, "rtcp": stream}
        elif isinstance(plan, DtlsPlan):
            components = ("rtp",) if rtcp_mux else ("rtp", "rtcp")
            self._dtls = {c: DtlsSrtp(plan) for c in components}

    @property
    def active(self) -> bool:
        """SRTP asked for (whether or not its keys exist yet)."""
        return self.plan is not None

    @property
    def encrypted(self) -> bool:
        """SRTP keys in force."""
        return "rtp" in self._srtp

    @property
    def failure(self) -> str | None:
        return next((d.failure for d in self._dtls.values() if d.failure), None)

    def start(self, now: float) -> dict[str, Replies]:
        """DTLS client: the first flights, per component."""
        return {c: d.start(now) for c, d in self._dtls.items()}

    def tick(self, now: float) -> dict[str, Replies]:
        """DTLS retransmissions due, per component."""
        return {c: d.handle_timer(now) for c, d in self._dtls.items() if not d.done}

    def inbound(self, data: bytes, component: str, now: float) -> tuple[bytes | None, Replies]:
        """A datagram from ``component``'s port -> (the plain RTP/RTCP to deliver, or
        None; DTLS datagrams to send back from that port)."""
        if self.plan is None:
            return data, []
        if self._dtls and is_dtls(data):
            return None, self._handshake(component, data, now)
        srtp = self._srtp.get("rtp" if self.rtcp_mux else component)
        if srtp is None:
            self.dropped_unkeyed += 1
            return None, []
        rtcp = component == "rtcp" or is_rtcp(data)
        return srtp.unprotect(data, rtcp), []

    def outbound(self, data: bytes, rtcp: bool) -> bytes | None:
        """A packet to send -> its protected form, or None (not sendable yet)."""
        if self.plan is None:
            return data
        srtp = self._srtp.get("rtcp" if rtcp and not self.rtcp_mux else "rtp")
        return srtp.protect(data, rtcp) if srtp is not None else None

    def _handshake(self, component: str, data: bytes, now: float) -> Replies:
        dtls = self._dtls.get("rtp" if self.rtcp_mux else component)
        if dtls is None:
            return []
        replies = dtls.receive(data, now)
        if dtls.keys is not None and component not in self._srtp:
            self._srtp[component] = SrtpStream(dtls.keys)
        return replies

    def statistics(self) -> dict[str, object]:
        srtp = self._srtp.get("rtp")
        out: dict[str, object] = {"srtp": srtp.keys.suite if srtp is not None else None}
        if srtp is not None:
            out.update(srtp.counters)
            rtcp = self._srtp.get("rtcp")
            if rtcp is not None and rtcp is not srtp:
                for name, count in rtcp.counters.items():
                    out[name] = int(out.get(name, 0)) + count  # type: ignore[call-overload]
        if self._dtls:
            out["dtls"] = self.failure or ("established" if srtp is not None else "connecting")
            out["srtp_dropped_unkeyed"] = self.dropped_unkeyed
        return out
