from __future__ import annotations

import asyncio
import socket
import struct

import uvloop
from aiortc.rtp import RtcpByePacket, RtcpPacket, RtcpRrPacket, RtcpSrPacket, RtpPacket

from gateway.leg import Dtmf
from gateway.media import AudioFormat, EncodedAudio
from gateway.rtp.ports import PortAllocator
from gateway.rtp.session import RtpSession
from gateway.rtp.transport import RtpEndpoint
from tests.rtp.test_ports import free_range

HOST = "127.0.0.1"
PCMA = AudioFormat("PCMA", 8, 8000)


def raw_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


async def recv(sock: socket.socket, timeout: float = 2.0) -> tuple[bytes, tuple[str, int]]:
    """Polls, since uvloop has no sock_recvfrom."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return sock.recvfrom(2048)
        except BlockingIOError:
            if loop.time() > deadline:
                raise TimeoutError from None
            await asyncio.sleep(0.005)


def rtp(seq: int, pt: int = 8, payload: bytes = b"\xd5" * 160, ts: int | None = None) -> bytes:
    stamp = seq * 160 if ts is None else ts
    return RtpPacket(
        payload_type=pt, sequence_number=seq, timestamp=stamp, ssrc=77, payload=payload
    ).serialize()


async def make_endpoint(
    peer: socket.socket,
    *,
    mux: bool = False,
    timeout: float = 5.0,
    on_timeout: object = None,
    rtcp_peer: socket.socket | None = None,
) -> tuple[RtpEndpoint, PortAllocator]:
    base = free_range(2)
    ports = PortAllocator(base, base + 3)
    addr = peer.getsockname()
    rtcp = rtcp_peer.getsockname() if rtcp_peer else (addr[0], addr[1] + 1)
    session = RtpSession(PCMA, 101, addr, rtcp, mux, ssrc=99)
    endpoint = RtpEndpoint(
        session,
        ports.allocate(HOST),
        ports,
        inactivity_timeout=timeout,
        on_timeout=on_timeout,  # type: ignore[arg-type]
    )
    await endpoint.start()
    return endpoint, ports


async def exchange(mux: bool) -> None:
    peer = raw_socket()
    endpoint, ports = await make_endpoint(peer, mux=mux)
    target = (HOST, endpoint.local_port)
    try:
        # The endpoint sends to the SDP address before anything arrives...
        endpoint.send_audio(EncodedAudio(b"\x55" * 160))
        data, source = await recv(peer)
        packet = RtpPacket.parse(data)
        assert (packet.payload_type, packet.ssrc, packet.payload) == (8, 99, b"\x55" * 160)
        assert source == target
        # ...and the peer's packets reach the jitter buffer, DTMF the event list.
        for seq in range(5):
            peer.sendto(rtp(seq), target)
            await asyncio.sleep(0.02)
        end = struct.pack("!BBH", 11, 0x80, 800)
        for seq in range(5, 8):
            peer.sendto(rtp(seq, pt=101, payload=end, ts=800), target)
        await asyncio.sleep(0.05)
        frames = []
        for _ in range(10):
            frames.append(endpoint.read_audio())
            await asyncio.sleep(0.02)
        assert sum(f is not None for f in frames) >= 4
        assert endpoint.events() == [Dtmf("#", 100, "rfc4733")]
        assert endpoint.session.stats["received"] == 8
        # RTCP from the peer is understood on the right socket.
        rtcp_port = endpoint.local_port if mux else endpoint.ports.rtcp_port
        peer.sendto(bytes(RtcpRrPacket(ssrc=77)), (HOST, rtcp_port))
        await asyncio.sleep(0.05)
        assert endpoint.session.stats["rtcp_received"] == 1
    finally:
        await endpoint.close()
        peer.close()
    assert ports.in_use == 0


async def test_exchange_with_raw_socket() -> None:
    await exchange(mux=False)


async def test_exchange_with_rtcp_mux() -> None:
    await exchange(mux=True)


def test_works_on_uvloop() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(exchange(mux=False))


async def test_symmetric_rtp_replies_to_latched_source() -> None:
    sdp_peer = raw_socket()  # what SDP said; never used by the "NATed" peer
    nat_peer = raw_socket()
    endpoint, _ = await make_endpoint(sdp_peer)
    try:
        nat_peer.sendto(rtp(1), (HOST, endpoint.local_port))
        await asyncio.sleep(0.05)
        endpoint.send_audio(EncodedAudio(b"\x01" * 160))
        data, _ = await recv(nat_peer)
        assert RtpPacket.parse(data).ssrc == 99
        # A third party is ignored once latched.
        intruder = raw_socket()
        intruder.sendto(rtp(2), (HOST, endpoint.local_port))
        await asyncio.sleep(0.05)
        assert endpoint.session.stats["foreign_dropped"] == 1
        intruder.close()
    finally:
        await endpoint.close()
        sdp_peer.close()
        nat_peer.close()


async def test_inactivity_timeout_fires_once() -> None:
    peer = raw_socket()
    fired: list[float] = []
    loop = asyncio.get_running_loop()
    endpoint, ports = await make_endpoint(
        peer, timeout=0.3, on_timeout=lambda: fired.append(loop.time())
    )
    started = loop.time()
    try:
        # Media keeps it alive...
        for seq in range(15):
            peer.sendto(rtp(seq), (HOST, endpoint.local_port))
            await asyncio.sleep(0.02)
        assert fired == []
        # ...silence ends it, exactly once.
        await asyncio.sleep(0.8)
        assert len(fired) == 1
        assert fired[0] - started >= 0.3 + 0.28
    finally:
        await endpoint.close()
        peer.close()
    assert ports.in_use == 0


async def test_hold_pauses_the_watchdog_and_sending() -> None:
    peer = raw_socket()
    fired: list[bool] = []
    endpoint, _ = await make_endpoint(peer, timeout=0.2, on_timeout=lambda: fired.append(True))
    try:
        addr = peer.getsockname()
        endpoint.update_remote(
            ("0.0.0.0", addr[1]), ("0.0.0.0", addr[1] + 1), False, sending=False, receiving=False
        )
        endpoint.send_audio(EncodedAudio(b"\x02" * 160))
        await asyncio.sleep(0.5)
        assert fired == []
        assert endpoint.session.stats["packets_sent"] == 0
    finally:
        await endpoint.close()
        peer.close()


async def test_close_sends_bye_to_rtcp_port() -> None:
    peer = raw_socket()
    rtcp_peer = raw_socket()
    endpoint, ports = await make_endpoint(peer, rtcp_peer=rtcp_peer)
    endpoint.send_audio(EncodedAudio(b"\x03" * 160))
    await endpoint.close()
    data, _ = await recv(rtcp_peer)
    kinds = [type(p) for p in RtcpPacket.parse(data)]
    assert kinds[0] is RtcpSrPacket and kinds[-1] is RtcpByePacket
    assert ports.in_use == 0
    peer.close()
    rtcp_peer.close()
