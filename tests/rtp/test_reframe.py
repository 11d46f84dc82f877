"""Camera-sized G.711 packets (128 ms, odd sizes) become the 20 ms frames the jitter
buffer plays, with nothing lost or duplicated, and exact 20 ms packets pass as they are."""

from __future__ import annotations

import struct

from aiortc.rtp import RtpPacket

from gateway.media import AudioFormat
from gateway.rtp.reframe import SampleReframer
from gateway.rtp.session import AacRtpSession, RtpSession

PCMU = AudioFormat("PCMU", 0, 8000)
PEER = ("127.0.0.1", 40000)


def counting(start: int, count: int) -> bytes:
    return bytes((start + i) % 256 for i in range(count))


def test_20_ms_packets_pass_untouched_with_their_own_numbers() -> None:
    cut = SampleReframer(160)
    [frame] = cut.push(7, 1000, b"a" * 160, True)
    assert (frame.seq, frame.timestamp, frame.payload, frame.marker) == (7, 1000, b"a" * 160, True)
    assert not cut.engaged and cut.stats["reframed"] == 0


def test_1024_sample_packets_are_cut_on_the_20_ms_grid_carrying_the_rest() -> None:
    cut = SampleReframer(160)
    frames = []
    for k in range(5):  # 5 x 1024 samples = 32 frames exactly
        frames += cut.push(100 + k, 5000 + 1024 * k, counting(1024 * k, 1024), k == 0)
    assert len(frames) == 32
    assert [f.timestamp for f in frames] == [5000 + 160 * i for i in range(32)]
    assert b"".join(f.payload for f in frames) == counting(0, 5120)
    seqs = [f.seq for f in frames]
    assert seqs == list(range(100, 132))  # numbers follow the timestamps
    assert [f.marker for f in frames].count(True) == 1 and frames[0].marker


def test_a_lost_packet_drops_only_the_unfinished_rest() -> None:
    cut = SampleReframer(160)
    first = cut.push(1, 0, counting(0, 1024), False)  # 6 frames + 64 bytes pending
    later = cut.push(3, 2048, counting(2048, 1024), False)  # packet 2 lost
    assert len(first) == 6 and cut.stats["cut_short"] == 1
    assert later[0].timestamp == 2048 and later[0].payload == counting(2048, 160)
    assert later[0].seq == (1 + 2048 // 160) & 0xFFFF


def rtp(seq: int, ts: int, payload: bytes, pt: int = 0, marker: int = 0) -> bytes:
    return RtpPacket(payload_type=pt, sequence_number=seq, timestamp=ts, ssrc=0xBEEF,
                     marker=marker, payload=payload).serialize()


def test_a_camera_sending_128_ms_packets_is_heard_whole() -> None:
    s = RtpSession(PCMU, None, PEER, PEER, False, ssrc=1)
    played, sent = [], 0
    for tick in range(150):  # 3 s
        now = tick * 0.02
        while sent * 0.128 <= now:  # one 1024-sample packet each 128 ms, as it fills
            s.receive_rtp(rtp(sent, 1024 * sent, counting(1024 * sent, 1024)), PEER, now)
            sent += 1
        frame = s.read_audio(now + 0.001)
        if frame is not None:
            played.append(frame.payload)
    assert len(played) >= 120
    joined = b"".join(played)
    assert joined == counting(joined[0], len(joined))  # contiguous: no gap, no repeat


def aac_packet(units: list[bytes]) -> bytes:
    headers = b"".join(struct.pack("!H", len(u) << 3) for u in units)
    return struct.pack("!H", 16 * len(units)) + headers + b"".join(units)


def test_aac_session_queues_units_and_hands_one_per_tick() -> None:
    aac = AudioFormat("MPEG4-GENERIC", 97, 16000, 1, bytes.fromhex("1408"))
    s = AacRtpSession(aac, None, PEER, PEER, False, ssrc=1,
                      fmtp={"mode": "AAC-hbr", "config": "1408"})
    s.receive_rtp(rtp(1, 0, aac_packet([b"one", b"two"]), pt=97, marker=1), PEER, 0.0)
    got = [s.read_audio(0.01 + 0.02 * k) for k in range(3)]
    assert [f.payload if f else None for f in got] == [b"one", b"two", None]
    assert s.stats["aac_units"] == 2 and s.stats["received"] == 1
    for n in range(20):  # a burst longer than the queue keeps only the newest
        s.receive_rtp(rtp(2 + n, 1024 * (n + 1), aac_packet([bytes([n]) * 4]), pt=97,
                          marker=1), PEER, 0.1)
    first = s.read_audio(0.2)
    assert first is not None and first.payload == bytes([12]) * 4
