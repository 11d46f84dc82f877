"""PLI/FIR against the RFC 4585 / RFC 5104 layouts, byte for byte, and against tshark."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from aiortc.rtp import (
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
)

from gateway.rtp.feedback import (
    FeedbackKind,
    FirHistory,
    FirSequence,
    KeyFrameAsk,
    build_fir,
    build_pli,
    parse_feedback,
)
from tests.system_deps import require_program

US, THEM, OTHER = 0x11223344, 0xAABBCCDD, 0x01020304


def header(fmt: int, pt: int, words: int, padding: bool = False) -> bytes:
    return struct.pack("!BBH", 0x80 | (0x20 if padding else 0) | fmt, pt, words)


def rr_sdes() -> bytes:
    block = RtcpReceiverInfo(
        ssrc=US, fraction_lost=3, packets_lost=7, highest_sequence=1000, jitter=5, lsr=0, dlsr=0
    )
    rr = RtcpRrPacket(ssrc=THEM, reports=[block])
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=THEM, items=[(1, b"peer@example")])])
    return bytes(rr) + bytes(sdes)


# -- building ------------------------------------------------------------------


def test_pli_layout():
    packet = build_pli(US, THEM)
    assert packet == header(1, 206, 2) + struct.pack("!LL", US, THEM)
    assert len(packet) == 12
    first, pt, length = struct.unpack("!BBH", packet[:4])
    assert first >> 6 == 2 and not first & 0x20 and first & 0x1F == 1
    assert pt == 206 and (length + 1) * 4 == len(packet)


def test_fir_layout():
    packet = build_fir(US, THEM, 7)
    # Header media SSRC 0 (RFC 5104 4.3.1.2); FCI: SSRC, seq, 3 reserved octets of 0.
    expected = (
        header(4, 206, 4) + struct.pack("!LL", US, 0) + struct.pack("!LB", THEM, 7) + bytes(3)
    )
    assert packet == expected
    first, pt, length = struct.unpack("!BBH", packet[:4])
    assert first >> 6 == 2 and first & 0x1F == 4 and pt == 206
    assert (length + 1) * 4 == len(packet) == 20


def test_aiortc_reads_what_we_build():
    pli, fir = RtcpPacket.parse(build_pli(US, THEM) + build_fir(US, THEM, 255))
    assert isinstance(pli, RtcpPsfbPacket) and (pli.fmt, pli.ssrc, pli.media_ssrc) == (1, US, THEM)
    assert isinstance(fir, RtcpPsfbPacket) and fir.fmt == 4 and fir.media_ssrc == 0
    assert fir.fci == struct.pack("!LB3x", THEM, 255)


@pytest.mark.parametrize(
    "args", [(-1, THEM), (US, 1 << 32)], ids=["negative sender", "media too big"]
)
def test_build_rejects_bad_ssrc(args):
    with pytest.raises(ValueError):
        build_pli(*args)
    with pytest.raises(ValueError):
        build_fir(*args, 0)


@pytest.mark.parametrize("seq", [-1, 256])
def test_build_fir_rejects_bad_seq(seq):
    with pytest.raises(ValueError, match="0-255"):
        build_fir(US, THEM, seq)


# -- parsing -------------------------------------------------------------------


def test_round_trips():
    assert parse_feedback(build_pli(US, THEM)) == [KeyFrameAsk(FeedbackKind.PLI, US, THEM)]
    for seq in (0, 1, 128, 255):
        assert parse_feedback(build_fir(US, THEM, seq)) == [
            KeyFrameAsk(FeedbackKind.FIR, US, THEM, seq)
        ]


def test_compound_rr_sdes_pli():
    compound = rr_sdes() + build_pli(THEM, US)
    assert len(RtcpPacket.parse(compound)) == 3  # well-formed by aiortc's reading too
    assert parse_feedback(compound) == [KeyFrameAsk(FeedbackKind.PLI, THEM, US)]


def test_fir_with_two_entries():
    body = (
        struct.pack("!LL", THEM, 0) + struct.pack("!LB3x", US, 9) + struct.pack("!LB3x", OTHER, 3)
    )
    packet = header(4, 206, len(body) // 4) + body
    assert parse_feedback(rr_sdes() + packet) == [
        KeyFrameAsk(FeedbackKind.FIR, THEM, US, 9),
        KeyFrameAsk(FeedbackKind.FIR, THEM, OTHER, 3),
    ]


def test_fir_header_media_ssrc_is_ignored():
    """Some peers repeat the target in the header; the FCI entry is what counts."""
    body = struct.pack("!LL", THEM, 0xDEADBEEF) + struct.pack("!LB3x", US, 1)
    assert parse_feedback(header(4, 206, 4) + body) == [KeyFrameAsk(FeedbackKind.FIR, THEM, US, 1)]


def test_other_feedback_is_skipped():
    sli = header(2, 206, 3) + struct.pack("!LLL", THEM, US, 0x12345678)
    remb = bytes(
        RtcpPsfbPacket(
            fmt=15, ssrc=THEM, media_ssrc=0, fci=b"REMB\x01\x00\x10\x00" + struct.pack("!L", US)
        )
    )
    nack = header(1, 205, 3) + struct.pack("!LLL", THEM, US, 0x00010000)  # RTPFB FMT=1
    app = header(0, 204, 2) + struct.pack("!L", THEM) + b"TEST"
    packet = sli + remb + nack + app + build_pli(THEM, US)
    assert parse_feedback(packet) == [KeyFrameAsk(FeedbackKind.PLI, THEM, US)]


def test_padding_is_stripped():
    body = struct.pack("!LL", THEM, 0) + struct.pack("!LB3x", US, 4) + b"\x00\x00\x00\x04"
    packet = header(4, 206, len(body) // 4, padding=True) + body
    assert parse_feedback(packet) == [KeyFrameAsk(FeedbackKind.FIR, THEM, US, 4)]


def test_bad_padding_skips_only_that_packet():
    bad = header(1, 206, 2, padding=True) + struct.pack("!LL", THEM, 0x000000FF)  # pad 255
    assert parse_feedback(bad + build_pli(OTHER, US)) == [KeyFrameAsk(FeedbackKind.PLI, OTHER, US)]


@pytest.mark.parametrize("cut", range(1, 12))
def test_truncated_pli_gives_nothing(cut):
    assert parse_feedback(build_pli(US, THEM)[:cut]) == []


def test_truncation_keeps_what_came_before():
    packet = rr_sdes() + build_pli(THEM, US) + build_fir(THEM, US, 2)
    for cut in range(len(packet) - 19, len(packet)):
        assert parse_feedback(packet[:cut]) == [KeyFrameAsk(FeedbackKind.PLI, THEM, US)]


def test_short_bodies_and_partial_fir_entries():
    short_pli = header(1, 206, 1) + struct.pack("!L", THEM)  # no media SSRC
    partial_fir = header(4, 206, 3) + struct.pack("!LL", THEM, 0) + struct.pack("!L", US)
    assert parse_feedback(short_pli + partial_fir + build_pli(THEM, US)) == [
        KeyFrameAsk(FeedbackKind.PLI, THEM, US)
    ]


def test_bad_version_ends_the_walk():
    bad = bytes([0x40 | 1]) + build_pli(THEM, US)[1:]  # V=1
    assert parse_feedback(build_pli(OTHER, US) + bad + build_pli(THEM, US)) == [
        KeyFrameAsk(FeedbackKind.PLI, OTHER, US)
    ]


@pytest.mark.parametrize(
    "junk",
    [b"", b"\x80", b"\xff" * 64, bytes(64), b"\x81\xce\xff\xff" + bytes(8), b"\x80\xce\x00\x00"],
)
def test_junk_never_raises(junk):
    assert parse_feedback(junk) == []


def test_fuzz_never_raises():
    import random

    rng = random.Random(5)
    good = rr_sdes() + build_pli(THEM, US) + build_fir(THEM, US, 1)
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        parse_feedback(bytes(data[: rng.randint(0, len(data))]))


# -- sequence numbers ----------------------------------------------------------


def test_fir_sequence_per_source():
    seqs = FirSequence()
    assert seqs.repeat(THEM) == 0  # nothing yet: the repeat is the first request
    assert [seqs.new_request(THEM) for _ in range(3)] == [1, 2, 3]
    assert seqs.repeat(THEM) == 3
    assert seqs.new_request(OTHER) == 0  # independent per media source
    for _ in range(252):
        seqs.new_request(THEM)
    assert seqs.repeat(THEM) == 255 and seqs.new_request(THEM) == 0  # mod 256
    seqs.forget(THEM)
    assert seqs.new_request(THEM) == 0


def test_fir_history_ignores_repetitions():
    history = FirHistory(window_s=2.0)
    first = KeyFrameAsk(FeedbackKind.FIR, THEM, US, 5)
    assert history.is_new(first, 0.0)
    assert not history.is_new(first, 0.1)  # retransmission
    assert not history.is_new(first, 1.9)
    assert history.is_new(KeyFrameAsk(FeedbackKind.FIR, THEM, US, 6), 2.0)  # new number
    assert history.is_new(KeyFrameAsk(FeedbackKind.FIR, OTHER, US, 6), 2.0)  # other asker
    # A peer that never increments is still heard once the window has passed.
    assert history.is_new(KeyFrameAsk(FeedbackKind.FIR, THEM, US, 6), 4.0)
    pli = KeyFrameAsk(FeedbackKind.PLI, THEM, US)
    assert history.is_new(pli, 4.0) and history.is_new(pli, 4.0)


# -- an independent reader: tshark ---------------------------------------------

PORT = 5005


def _ipv4_udp(payload: bytes, src_port: int, dst_port: int) -> bytes:
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    src, dst = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    words = struct.unpack("!10H", ip)
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    ip = ip[:10] + struct.pack("!H", ~total & 0xFFFF) + ip[12:]
    return ip + udp


def write_pcap(path: Path, payloads: list[bytes]) -> None:
    """Classic pcap, LINKTYPE_RAW (101): each record one IPv4/UDP datagram."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for i, payload in enumerate(payloads):
        frame = _ipv4_udp(payload, PORT + 1, PORT)
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


def test_tshark_reads_pli_and_fir(tmp_path):
    tshark = require_program("tshark")
    pcap = tmp_path / "feedback.pcap"
    write_pcap(pcap, [build_pli(US, THEM), build_fir(US, THEM, 42)])
    fields = ["rtcp.psfb.fmt", "rtcp.senderssrc", "rtcp.psfb.fir.fci.ssrc", "rtcp.psfb.fir.fci.csn"]
    command = [tshark, "-n", "-r", str(pcap), "-d", f"udp.port=={PORT},rtcp", "-T", "fields"]
    for field in fields:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == ["1", "4"]
    assert all(int(row[1], 0) == US for row in rows)
    assert int(rows[1][2], 0) == THEM and rows[1][3] == "42"
