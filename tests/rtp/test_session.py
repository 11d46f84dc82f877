from __future__ import annotations

import struct

from aiortc.rtp import (
    RtcpPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
)

from gateway.leg import Dtmf
from gateway.media import AudioFormat, EncodedAudio
from gateway.rtp.session import RtpSession
from gateway.rtp.stats import ntp_middle, ntp_time

PCMU = AudioFormat("PCMU", 0, 8000)
PEER = ("127.0.0.1", 40000)
OTHER = ("127.0.0.1", 40002)
WALL = 1_700_000_000.0


def session(**kwargs: object) -> RtpSession:
    defaults: dict[str, object] = {"ssrc": 0x1234, "wall_clock": lambda: WALL}
    defaults.update(kwargs)
    return RtpSession(PCMU, 101, PEER, ("127.0.0.1", 40001), False, **defaults)  # type: ignore[arg-type]


def rtp(
    seq: int, ts: int, *, ssrc: int = 0xBEEF, pt: int = 0, payload: bytes = b"x" * 160
) -> bytes:
    return RtpPacket(
        payload_type=pt, sequence_number=seq, timestamp=ts, ssrc=ssrc, payload=payload
    ).serialize()


def feed(
    s: RtpSession,
    count: int,
    *,
    t0: float = 0.0,
    seq0: int = 0,
    ssrc: int = 0xBEEF,
    addr: tuple[str, int] = PEER,
) -> None:
    for i in range(count):
        s.receive_rtp(rtp(seq0 + i, (seq0 + i) * 160, ssrc=ssrc), addr, t0 + i * 0.02)


def test_latches_first_source_and_drops_foreign() -> None:
    s = session()
    s.receive_rtp(rtp(1, 160), OTHER, 0.0)  # a NATed peer: not the SDP address, still latched
    assert s.latched == OTHER and s.rtp_destination == OTHER
    s.receive_rtp(rtp(2, 320), PEER, 0.02)
    s.receive_rtp(rtp(3, 480), OTHER, 0.04)
    assert s.stats["foreign_dropped"] == 1
    assert s.stats["received"] == 2
    assert s.last_received == 0.04


def test_invalid_packets_do_not_latch() -> None:
    s = session()
    s.receive_rtp(b"\x00garbage", OTHER, 0.0)
    s.receive_rtp(rtp(1, 160, pt=96), OTHER, 0.0)
    assert s.latched is None
    assert s.stats["malformed"] == 1 and s.stats["unknown_pt"] == 1
    assert s.last_received is None
    s.receive_rtp(rtp(2, 320), PEER, 0.02)
    assert s.latched == PEER


def test_update_remote_relatches() -> None:
    s = session()
    feed(s, 3)
    s.set_remote(OTHER, OTHER, True)
    feed(s, 3, t0=1.0, seq0=3, addr=OTHER)
    assert s.latched == OTHER and s.stats["foreign_dropped"] == 0


def test_session_refresh_keeps_the_latch() -> None:
    s = session()
    s.receive_rtp(rtp(1, 160), OTHER, 0.0)
    s.set_remote(PEER, ("127.0.0.1", 40001), False)  # same SDP address again
    assert s.latched == OTHER


def test_audio_reaches_the_mixer_in_order() -> None:
    s = session()
    for i in (0, 2, 1, 3, 4):
        s.receive_rtp(rtp(i, i * 160, payload=bytes([i]) * 160), PEER, 0.001 * i)
    frames = [s.read_audio(0.03 + 0.02 * k) for k in range(6)]
    assert [f.payload[0] for f in frames if f is not None] == [0, 1, 2, 3, 4]


def test_ssrc_change_resets_the_jitter_buffer() -> None:
    s = session()
    played = []
    for i in range(40):
        now = i * 0.02
        if i < 20:
            s.receive_rtp(rtp(i, i * 160), PEER, now)
        else:  # the peer's media server took over: new SSRC, unrelated numbering
            s.receive_rtp(rtp(40000 + i, 7 + i * 160, ssrc=0xCAFE), PEER, now)
        played.append(s.read_audio(now + 0.005))
    assert s.stats["ssrc_changes"] == 1
    assert s.stats["resets"] == 0  # a clean start, not a timeline repair
    assert sum(f is not None for f in played[22:]) == len(played[22:])
    report = RtcpPacket.parse(s.build_report(1.0))[0]
    assert isinstance(report, RtcpRrPacket) and report.reports[0].ssrc == 0xCAFE


def test_dtmf_becomes_events() -> None:
    s = session()
    feed(s, 2)
    end = struct.pack("!BBH", 9, 0x80 | 10, 800)
    for k in range(3):
        s.receive_rtp(rtp(2 + k, 320, pt=101, payload=end), PEER, 0.1 + k * 0.02)
    assert s.events() == [Dtmf("9", 100, "rfc4733")]
    assert s.events() == []


def test_packetize_counts_and_marks_talkspurts() -> None:
    s = session()
    first = RtpPacket.parse(s.packetize(EncodedAudio(b"a" * 160), 1.00))
    second = RtpPacket.parse(s.packetize(EncodedAudio(b"b" * 160), 1.02))
    after_silence = RtpPacket.parse(s.packetize(EncodedAudio(b"c" * 160), 2.02))
    assert first.ssrc == second.ssrc == 0x1234 and first.payload_type == 0
    assert first.marker == 1 and second.marker == 0 and after_silence.marker == 1
    assert (second.sequence_number - first.sequence_number) & 0xFFFF == 1
    assert (after_silence.sequence_number - second.sequence_number) & 0xFFFF == 1
    assert (second.timestamp - first.timestamp) & 0xFFFFFFFF == 160
    assert (after_silence.timestamp - second.timestamp) & 0xFFFFFFFF == 8000
    assert s.stats["packets_sent"] == 3 and s.stats["octets_sent"] == 480


def test_opus_timestamp_step() -> None:
    s = RtpSession(AudioFormat("opus", 111, 48000, 2), None, PEER, PEER, True)
    a = RtpPacket.parse(s.packetize(EncodedAudio(b"x"), 0.0))
    b = RtpPacket.parse(s.packetize(EncodedAudio(b"y"), 0.02))
    assert (b.timestamp - a.timestamp) & 0xFFFFFFFF == 960


def test_rtcp_rr_when_only_receiving() -> None:
    s = session()
    feed(s, 50)
    packets = [p for p in range(60) if p not in (10, 11)]  # two lost
    s2 = session()
    for i in packets:
        s2.receive_rtp(rtp(i, i * 160), PEER, i * 0.02)
    for sess, lost in ((s, 0), (s2, 2)):
        assert sess.rtcp_report(0.0) is None  # first report waits a randomized interval
        data = sess.rtcp_report(10.0)
        assert data is not None
        rr, sdes = RtcpPacket.parse(data)
        assert isinstance(rr, RtcpRrPacket) and isinstance(sdes, RtcpSdesPacket)
        assert rr.ssrc == 0x1234 and sdes.chunks[0].items[0][1].startswith(b"mcu-")
        block = rr.reports[0]
        assert block.ssrc == 0xBEEF and block.packets_lost == lost
        assert block.fraction_lost == (lost * 256) // 60 if lost else block.fraction_lost == 0
        assert block.lsr == 0 and block.dlsr == 0
        assert sess.rtcp_report(10.1) is None  # not due again for ~5 s


def test_rtcp_sr_round_trip_with_lsr_dlsr() -> None:
    ours = session()
    feed(ours, 10)
    for k in range(10):
        ours.packetize(EncodedAudio(b"z" * 160), k * 0.02)
    # The peer's SR arrives; our next report must echo it in LSR and time it in DLSR.
    peer_ntp = ntp_time(WALL - 0.5)
    peer_sr = RtcpSrPacket(
        ssrc=0xBEEF,
        sender_info=RtcpSenderInfo(
            ntp_timestamp=peer_ntp, rtp_timestamp=1600, packet_count=10, octet_count=1600
        ),
    )
    ours.receive_rtcp(bytes(peer_sr), ("127.0.0.1", 40001), 2.0)
    sr, _sdes = RtcpPacket.parse(ours.build_report(2.5))
    assert isinstance(sr, RtcpSrPacket)
    assert sr.sender_info.packet_count == 10 and sr.sender_info.octet_count == 1600
    assert sr.sender_info.ntp_timestamp == ntp_time(WALL)
    block = sr.reports[0]
    assert block.lsr == ntp_middle(peer_ntp)
    assert block.dlsr == 0.5 * 65536
    # Nothing sent since: the next report is an RR.
    rr, _ = RtcpPacket.parse(ours.build_report(3.0))
    assert isinstance(rr, RtcpRrPacket)


def test_remote_report_gives_rtt() -> None:
    ours = session()
    sent_at = ntp_middle(ntp_time(WALL - 0.3))
    block = RtcpReceiverInfo(
        ssrc=0x1234,
        fraction_lost=64,
        packets_lost=3,
        highest_sequence=99,
        jitter=80,
        lsr=sent_at,
        dlsr=int(0.25 * 65536),
    )
    ours.receive_rtcp(bytes(RtcpRrPacket(ssrc=0xBEEF, reports=[block])), PEER, 1.0)
    assert abs(ours.stats["rtt_ms"] - 50) < 1
    assert ours.stats["remote_fraction_lost"] == 0.25
    assert ours.stats["remote_jitter_ms"] == 10


def test_rtcp_mux_demux_on_rtp_socket() -> None:
    s = RtpSession(PCMU, None, PEER, PEER, True, ssrc=1)
    feed(s, 3)
    rr = RtcpRrPacket(ssrc=0xBEEF)
    s.receive_rtp(bytes(rr), PEER, 0.1)
    assert s.stats["rtcp_received"] == 1 and s.stats["malformed"] == 0
    assert s.rtcp_destination == PEER


def test_rtcp_from_foreign_host_dropped() -> None:
    s = session()
    feed(s, 1)
    s.receive_rtcp(bytes(RtcpRrPacket(ssrc=5)), ("10.9.9.9", 1), 0.1)
    s.receive_rtcp(b"\x80\xc9\x00", ("127.0.0.1", 40001), 0.1)
    assert s.stats["foreign_dropped"] == 1 and s.stats["malformed"] == 1
