"""VideoRtpSession, sans-IO: RTP/RTCP datagrams and fake times in; pictures, key-frame
requests and datagrams out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from aiortc.rtp import RtcpPacket, RtcpSrPacket, RtpPacket

from gateway.media import VIDEO_CLOCK_RATE, EncodedVideo, VideoSendFormat
from gateway.rtp.feedback import FeedbackKind, build_fir, build_pli, parse_feedback
from gateway.rtp.payload import h264
from gateway.rtp.payload.h264 import split_annex_b
from gateway.rtp.video import MAX_QUEUED_FRAMES, VideoRtpSession
from mcu.mixer.video.codecs import VideoEncoder
from mcu.mixer.video.picture import Picture

US, PEER_SSRC = 0x1234, 0xBEEF
PEER = ("127.0.0.1", 40000)
PEER_RTCP = ("127.0.0.1", 40001)
FOREIGN = ("198.51.100.9", 40000)
WALL = 1_700_000_000.0
PT = 96
H264_MODE1 = VideoSendFormat("H264", PT, 160, 96, 30.0, 300_000, packetization_mode=1, mtu=1200)
H264_MODE0 = VideoSendFormat("H264", PT, 160, 96, 30.0, 300_000, packetization_mode=0, mtu=1200)
VP8 = VideoSendFormat("VP8", 100, 160, 96, 30.0, 300_000, mtu=1200)
H263 = VideoSendFormat("H263-1998", 98, 160, 96, 30.0, 300_000, mtu=1200)

SPS = bytes([0x67, 0x42, 0xE0, 0x1F, 0x8C, 0x8D])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
SEI = 6  # NAL unit type


def session(fmt: VideoSendFormat = H264_MODE1, *, mux: bool = False) -> VideoRtpSession:
    return VideoRtpSession(fmt, PEER, PEER_RTCP, mux, ssrc=US, wall_clock=lambda: WALL)


def idr(size: int = 100) -> bytes:
    """An IDR slice NAL unit with first_mb_in_slice = 0 (it starts a picture)."""
    return bytes([0x65, 0x88]) + bytes((i * 7 + 1) % 251 + 1 for i in range(size - 2))


def p_slice(size: int = 60) -> bytes:
    """A non-IDR slice NAL unit that starts a picture."""
    return bytes([0x41, 0x9A]) + bytes((i * 5 + 3) % 251 + 1 for i in range(size - 2))


def annex_b(*nals: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def rtp(
    payload: bytes, seq: int, ts: int, *, marker: bool = True, ssrc: int = PEER_SSRC, pt: int = PT
) -> bytes:
    return RtpPacket(
        payload_type=pt,
        marker=int(marker),
        sequence_number=seq,
        timestamp=ts,
        ssrc=ssrc,
        payload=payload,
    ).serialize()


def send_picture(
    s: VideoRtpSession,
    payloads: list[bytes],
    seq: int,
    ts: int,
    *,
    now: float = 0.0,
    ssrc: int = PEER_SSRC,
    addr: tuple[str, int] = PEER,
) -> int:
    """Feed one picture's payloads as packets; return the next sequence number."""
    for k, payload in enumerate(payloads):
        s.receive_rtp(rtp(payload, seq, ts, marker=k == len(payloads) - 1, ssrc=ssrc), addr, now)
        seq += 1
    return seq


def textured(width: int, height: int, n: int) -> Picture:
    """A picture with detail (so it does not encode to a few bytes), moving with ``n``."""
    picture = Picture.blank(width, height, (40, 120, 200))
    y, x = np.mgrid[0:height, 0:width]
    picture.y[:] = (x * 3 + y * 2 + n * 7) % 256
    return picture


# -- receiving -------------------------------------------------------------------


def test_single_nal_idr_comes_out_as_a_keyframe() -> None:
    s = session()
    assert s.needs_keyframe  # nothing decodable before the first key frame
    s.receive_rtp(rtp(idr(), 10, 9000), PEER, 0.0)
    [frame] = s.read_frames()
    assert frame == EncodedVideo(annex_b(idr()), 9000, True)
    assert not s.needs_keyframe
    assert s.counters["frames_received"] == 1 and s.counters["received"] == 1
    assert s.latched == PEER and s.remote_ssrc == PEER_SSRC and s.last_received == 0.0


def test_fu_a_split_idr_reassembles_into_one_picture() -> None:
    nal = idr(3000)
    payloads = h264.packetize([nal], 1000, 1)
    assert len(payloads) == 4 and all(p[0] & 0x1F == h264.NAL_FU_A for p in payloads)
    s = session()
    send_picture(s, payloads, 100, 1234)
    [frame] = s.read_frames()
    assert frame.data == annex_b(nal) and frame.keyframe and frame.timestamp == 1234


def test_sps_pps_idr_then_p_slice_come_out_in_order() -> None:
    s = session()
    seq = send_picture(s, [SPS, PPS, idr()], 1, 0)
    send_picture(s, [p_slice()], seq, 3000)
    first, second = s.read_frames()
    assert split_annex_b(first.data) == [SPS, PPS, idr()] and first.keyframe
    assert second.data == annex_b(p_slice()) and not second.keyframe
    assert s.read_frames() == []  # each picture is read once


def test_packet_of_another_payload_type_is_counted_and_changes_nothing() -> None:
    s = session()
    s.receive_rtp(rtp(idr(), 1, 0, pt=97), PEER, 0.0)
    assert s.counters["unknown_pt"] == 1
    assert s.latched is None and s.remote_ssrc is None and s.last_received is None
    assert s.counters["received"] == 0 and s.read_frames() == []
    assert s.build_keyframe_request("pli") is None  # nobody to ask yet


def test_packet_from_a_foreign_source_is_dropped() -> None:
    s = session()
    s.receive_rtp(rtp(idr(), 1, 0), PEER, 0.0)
    s.receive_rtp(rtp(p_slice(), 2, 3000, ssrc=0xF00D), FOREIGN, 0.03)
    assert s.counters["foreign_dropped"] == 1 and s.counters["received"] == 1
    assert s.remote_ssrc == PEER_SSRC and s.last_received == 0.0
    assert len(s.read_frames()) == 1


def test_malformed_datagram_is_counted() -> None:
    s = session()
    s.receive_rtp(b"\x80\x60", PEER, 0.0)  # too short for an RTP header
    assert s.counters["malformed"] == 1 and s.latched is None


def test_lost_packet_drops_the_broken_picture_and_needs_a_keyframe() -> None:
    s = session()
    seq = send_picture(s, [SPS, PPS, idr()], 1, 0)
    assert len(s.read_frames()) == 1 and not s.needs_keyframe
    fragments = h264.packetize([p_slice(2500)], 1000, 1)
    assert len(fragments) == 3
    s.receive_rtp(rtp(fragments[0], seq, 3000, marker=False), PEER, 0.03)
    s.receive_rtp(rtp(fragments[2], seq + 2, 3000), PEER, 0.04)  # the middle one lost
    assert not s.needs_keyframe  # not yet: it may only be late (reordering)
    s.poll(0.1)  # it never came: lost
    assert s.read_frames() == []
    assert s.needs_keyframe
    # The next key frame recovers.
    send_picture(s, [idr()], seq + 3, 6000, now=0.12)
    [frame] = s.read_frames()
    assert frame.keyframe and not s.needs_keyframe


def test_ssrc_change_restarts_the_stream() -> None:
    s = session()
    seq = send_picture(s, [idr()], 1, 0)
    send_picture(s, [p_slice()], seq, 3000)  # two pictures waiting, unread
    assert not s.needs_keyframe
    # Same address, new SSRC (a transfer): the first packet of its first picture.
    fragment = h264.packetize([p_slice(2000)], 1000, 1)[0]
    s.receive_rtp(rtp(fragment, 500, 77, marker=False, ssrc=0xCAFE), PEER, 0.1)
    assert s.counters["ssrc_changes"] == 1 and s.remote_ssrc == 0xCAFE
    assert s.needs_keyframe
    assert s.read_frames() == []  # the old source's queued pictures are gone
    send_picture(s, [idr()], 600, 9000, now=0.2, ssrc=0xCAFE)
    s.poll(0.3)  # 501-599 never came
    [frame] = s.read_frames()  # the new source's key frame is taken
    assert frame.keyframe and not s.needs_keyframe


def test_unread_pictures_beyond_the_queue_keep_only_the_newest() -> None:
    s = session()
    seq = send_picture(s, [idr()], 1, 0)
    for n in range(1, MAX_QUEUED_FRAMES + 3):
        seq = send_picture(s, [p_slice()], seq, n * 3000)
    frames = s.read_frames()
    assert len(frames) == MAX_QUEUED_FRAMES
    assert [f.timestamp for f in frames] == [n * 3000 for n in range(3, MAX_QUEUED_FRAMES + 3)]
    assert s.counters["frames_dropped"] == 3
    assert s.counters["frames_received"] == MAX_QUEUED_FRAMES + 3
    assert s.needs_keyframe  # the dropped pictures were references of the ones kept


# -- RTCP from the peer ------------------------------------------------------------


def test_pli_naming_our_ssrc_is_one_keyframe_ask() -> None:
    s = session()
    s.receive_rtcp(build_pli(PEER_SSRC, US), PEER_RTCP, 1.0)
    [ask] = s.keyframe_asks()
    assert (ask.kind, ask.sender_ssrc, ask.media_ssrc) == (FeedbackKind.PLI, PEER_SSRC, US)
    assert s.keyframe_asks() == []
    assert s.counters["keyframe_requests"] == 1


def test_fir_naming_our_ssrc_is_one_keyframe_ask() -> None:
    s = session()
    s.receive_rtcp(build_fir(PEER_SSRC, US, 3), PEER_RTCP, 1.0)
    [ask] = s.keyframe_asks()
    assert (ask.kind, ask.media_ssrc, ask.seq) == (FeedbackKind.FIR, US, 3)


def test_pli_and_fir_arrive_over_rtcp_mux_on_the_rtp_port() -> None:
    s = session(mux=True)
    s.receive_rtp(rtp(idr(), 1, 0), PEER, 0.0)
    s.receive_rtp(build_pli(PEER_SSRC, US), PEER, 1.0)
    s.receive_rtp(build_fir(PEER_SSRC, US, 0), PEER, 1.1)
    assert [a.kind for a in s.keyframe_asks()] == [FeedbackKind.PLI, FeedbackKind.FIR]
    assert s.counters["unknown_pt"] == 0 and s.counters["malformed"] == 0
    assert s.counters["rtcp_received"] == 2


def test_fir_repeated_with_the_same_sequence_number_is_one_request() -> None:
    s = session()
    s.receive_rtcp(build_fir(PEER_SSRC, US, 7), PEER_RTCP, 1.0)
    s.receive_rtcp(build_fir(PEER_SSRC, US, 7), PEER_RTCP, 1.2)  # retransmitted
    assert len(s.keyframe_asks()) == 1
    s.receive_rtcp(build_fir(PEER_SSRC, US, 8), PEER_RTCP, 1.4)  # a new request
    assert [a.seq for a in s.keyframe_asks()] == [8]
    assert s.counters["keyframe_requests"] == 2


def test_pli_for_another_ssrc_is_ignored() -> None:
    s = session()
    s.receive_rtcp(build_pli(PEER_SSRC, 0x5555), PEER_RTCP, 1.0)
    s.receive_rtcp(build_fir(PEER_SSRC, 0x5555, 1), PEER_RTCP, 1.0)
    assert s.keyframe_asks() == []
    assert s.counters["keyframe_requests"] == 0


def test_rtcp_from_a_foreign_host_after_latching_is_dropped() -> None:
    s = session()
    s.receive_rtp(rtp(idr(), 1, 0), PEER, 0.0)
    s.receive_rtcp(build_pli(PEER_SSRC, US), (FOREIGN[0], 40001), 1.0)
    assert s.keyframe_asks() == [] and s.counters["foreign_dropped"] == 1


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x80",
        b"\x80\xce",  # PSFB type, no length
        b"\x81\xce\x00\x05\x00\x00",  # length runs past the datagram
        b"\x81\xce\x00\x00",  # PLI without its SSRCs
        b"\x84\xce\x00\x03" + b"\x00" * 10,  # FIR with a partial entry
        b"\xa1\xce\x00\x02" + b"\x00" * 7 + b"\xff",  # padding longer than the body
        b"\x80\xc8\x00\x06" + b"\x01" * 9,  # truncated SR
        bytes(range(192, 256)),
    ],
)
def test_garbage_rtcp_raises_nothing(garbage: bytes) -> None:
    for mux in (False, True):
        s = session(mux=mux)
        s.receive_rtcp(garbage, PEER_RTCP, 1.0)
        s.receive_rtp(garbage, PEER, 1.0)
        assert s.keyframe_asks() == []


# -- asking the peer -------------------------------------------------------------


def test_keyframe_request_waits_for_the_peers_first_packet() -> None:
    s = session()
    assert s.build_keyframe_request("pli") is None
    assert s.build_keyframe_request("fir") is None
    s.receive_rtp(rtp(p_slice(), 1, 0), PEER, 0.0)
    [ask] = parse_feedback(s.build_keyframe_request("pli") or b"")
    assert (ask.kind, ask.sender_ssrc, ask.media_ssrc) == (FeedbackKind.PLI, US, PEER_SSRC)


def test_fir_sequence_numbers_increase_for_new_requests_and_repeat_on_demand() -> None:
    s = session()
    s.receive_rtp(rtp(p_slice(), 1, 0), PEER, 0.0)

    def fir(*, repeat: bool = False) -> tuple[int, int | None]:
        [ask] = parse_feedback(s.build_keyframe_request("fir", repeat=repeat) or b"")
        assert ask.kind is FeedbackKind.FIR and ask.sender_ssrc == US
        return ask.media_ssrc, ask.seq

    first = fir()
    assert first[0] == PEER_SSRC
    assert fir(repeat=True) == first
    second = fir()
    assert second == (PEER_SSRC, (first[1] + 1) & 0xFF)  # type: ignore[operator]
    assert fir(repeat=True) == second


def test_unknown_keyframe_request_method_raises() -> None:
    s = session()
    s.receive_rtp(rtp(p_slice(), 1, 0), PEER, 0.0)
    with pytest.raises(ValueError):
        s.build_keyframe_request("info")


# -- sending -----------------------------------------------------------------------


def parsed(packets: list[bytes]) -> list[RtpPacket]:
    return [RtpPacket.parse(p) for p in packets]


def assert_one_picture(packets: list[RtpPacket], pt: int) -> None:
    assert {p.timestamp for p in packets} == {packets[0].timestamp}
    assert [p.marker for p in packets] == [0] * (len(packets) - 1) + [1]
    assert all(p.ssrc == US and p.payload_type == pt for p in packets)
    seqs = [p.sequence_number for p in packets]
    assert seqs == [(seqs[0] + k) & 0xFFFF for k in range(len(seqs))]


def test_mode0_sends_one_nal_unit_per_packet() -> None:
    s = session(H264_MODE0)
    nals = [SPS, PPS, idr(1100), idr(900)]
    packets = parsed(s.packetize(EncodedVideo(annex_b(*nals), 0, True), 0.0))
    assert [p.payload for p in packets] == nals
    assert_one_picture(packets, PT)
    assert s.counters["frames_sent"] == 1 and s.counters["packets_sent"] == 4
    assert s.counters["octets_sent"] == sum(map(len, nals))


def test_mode1_fragments_a_big_nal_into_fu_as_within_the_mtu() -> None:
    s = session(H264_MODE1)
    packets = parsed(s.packetize(EncodedVideo(annex_b(SPS, PPS, idr(5000)), 0, True), 0.0))
    assert_one_picture(packets, PT)
    assert packets[0].payload[0] & 0x1F == h264.NAL_STAP_A  # SPS + PPS aggregated
    fus = packets[1:]
    assert len(fus) == 5 and all(p.payload[0] & 0x1F == h264.NAL_FU_A for p in fus)
    assert all(len(p.payload) <= H264_MODE1.mtu for p in packets)
    assert fus[0].payload[1] & 0x80 and fus[-1].payload[1] & 0x40  # start, end bits


def test_mode0_nal_larger_than_the_mtu_is_refused_and_counted() -> None:
    s = session(H264_MODE0)
    assert s.packetize(EncodedVideo(annex_b(SPS, PPS, idr(1201)), 0, True), 0.0) == []
    assert s.counters["oversized_nal"] == 1
    assert s.counters["packets_sent"] == 0 and s.counters["frames_sent"] == 0
    # The stream goes on with the next picture that fits.
    assert len(s.packetize(EncodedVideo(annex_b(idr(1200)), 0, True), 0.04)) == 1


def test_vp8_picture_is_cut_to_the_mtu_with_one_timestamp() -> None:
    s = session(VP8)
    frame = b"\x10\x02\x00\x9d\x01\x2a" + bytes(range(256)) * 12
    packets = parsed(s.packetize(EncodedVideo(frame, 0, True), 0.0))
    assert len(packets) == 3
    assert_one_picture(packets, 100)
    assert all(len(p.payload) <= VP8.mtu for p in packets)
    assert packets[0].payload[0] & 0x10 and not packets[1].payload[0] & 0x10  # S bit


def test_h263_picture_is_cut_to_the_mtu_with_one_timestamp() -> None:
    s = session(H263)
    frame = b"\x00\x00\x80\x02" + bytes(range(256)) * 10
    packets = parsed(s.packetize(EncodedVideo(frame, 0, True), 0.0))
    assert len(packets) == 3
    assert_one_picture(packets, 98)
    assert all(len(p.payload) <= H263.mtu for p in packets)


def test_timestamps_follow_elapsed_time_and_sequence_numbers_count_packets() -> None:
    s = session(H264_MODE0)
    times = [10.0, 10.04, 10.1, 11.5]
    sent = [parsed(s.packetize(EncodedVideo(annex_b(SPS, PPS, idr()), 0, True), t)) for t in times]
    base = sent[0][0].timestamp
    for t, packets in zip(times, sent, strict=True):
        expected = (base + round((t - times[0]) * VIDEO_CLOCK_RATE)) & 0xFFFFFFFF
        assert {p.timestamp for p in packets} == {expected}
    seqs = [p.sequence_number for packets in sent for p in packets]
    assert seqs == [(seqs[0] + k) & 0xFFFF for k in range(len(seqs))]


def test_report_after_sending_is_an_sr_extrapolated_from_the_last_picture() -> None:
    s = session(H264_MODE0)
    s.packetize(EncodedVideo(annex_b(idr()), 0, True), 5.0)
    last = parsed(s.packetize(EncodedVideo(annex_b(idr()), 0, True), 5.5))
    report = RtcpPacket.parse(s.build_report(6.0))
    sr = report[0]
    assert isinstance(sr, RtcpSrPacket) and sr.ssrc == US
    assert sr.sender_info.rtp_timestamp == (last[0].timestamp + 45000) & 0xFFFFFFFF
    assert sr.sender_info.packet_count == 2
    # Nothing sent since: the next report is an RR.
    assert not isinstance(RtcpPacket.parse(s.build_report(11.0))[0], RtcpSrPacket)


def fits_mode0(nal: bytes, fmt: VideoSendFormat) -> bool:
    """What mode 0 sends of an encoder's NAL units: all but an SEI over the MTU."""
    return fmt.packetization_mode == 1 or nal[0] & 0x1F != SEI or len(nal) <= fmt.mtu


def test_mode0_drops_an_oversized_sei_and_still_sends_the_keyframe() -> None:
    # x264 puts a ~700-byte version SEI in its first IDR; at a small MTU mode 0 cannot
    # carry it, and refusing the whole picture would lose the stream's first key frame.
    s = session(dataclasses.replace(H264_MODE0, mtu=300))
    sei = bytes([0x06, 0x05]) + b"x264 - core" * 60
    packets = parsed(s.packetize(EncodedVideo(annex_b(SPS, PPS, sei, idr(250)), 0, True), 0.0))
    assert [p.payload for p in packets] == [SPS, PPS, idr(250)]
    assert s.counters["oversized_nal"] == 0
    small_sei = bytes([0x06, 0x05, 0x10]) + b"\x01" * 17
    packets = parsed(s.packetize(EncodedVideo(annex_b(small_sei, idr(250)), 0, True), 0.1))
    assert [p.payload for p in packets] == [small_sei, idr(250)]  # one that fits is kept


# -- round trip through real encoders ----------------------------------------------------


@pytest.mark.parametrize(
    "fmt",
    [
        VideoSendFormat("H264", 96, 160, 96, 30.0, 300_000, packetization_mode=1, mtu=300),
        VideoSendFormat("H264", 96, 160, 96, 30.0, 300_000, packetization_mode=0, mtu=300),
        VideoSendFormat("VP8", 100, 160, 96, 30.0, 300_000, mtu=300),
        VideoSendFormat("H263-1998", 98, 160, 96, 30.0, 300_000, mtu=300),
    ],
    ids=["h264-mode1", "h264-mode0", "vp8", "h263-1998"],
)
def test_packetized_pictures_come_back_whole_at_the_peer(fmt: VideoSendFormat) -> None:
    encoder = VideoEncoder(fmt)
    sender = session(fmt)
    receiver = VideoRtpSession(fmt, PEER, PEER_RTCP, True, ssrc=0x9999, wall_clock=lambda: WALL)
    pictures = []
    for n in range(4):
        if n == 0:
            encoded = encoder.encode(Picture.blank(160, 96, (200, 30, 30)), keyframe=True)
        else:
            encoded = encoder.encode(textured(160, 96, n))
        assert encoded is not None
        pictures.append(encoded)
    split = False
    for n, picture in enumerate(pictures):
        packets = sender.packetize(picture, 1.0 + n / 30)
        assert packets and all(len(p) - 12 <= fmt.mtu for p in packets)
        split |= len(packets) > 1
        for packet in packets:
            receiver.receive_rtp(packet, PEER, 1.0 + n / 30)
    assert split  # the clip exercised fragmentation
    frames = receiver.read_frames()
    if fmt.codec == "H264":  # the same NAL units (start codes may be 3 or 4 bytes long)
        assert [split_annex_b(f.data) for f in frames] == [
            [nal for nal in split_annex_b(p.data) if fits_mode0(nal, fmt)] for p in pictures
        ]
    else:
        assert [f.data for f in frames] == [p.data for p in pictures]
    assert [f.keyframe for f in frames] == [p.keyframe for p in pictures]
    assert frames[0].keyframe
    assert not receiver.needs_keyframe
    assert receiver.remote_ssrc == US
    assert sender.counters["oversized_nal"] == 0


def test_a_reordered_packet_is_put_back_in_place() -> None:
    s = session()
    seq = send_picture(s, [SPS, PPS, idr()], 1, 0)
    s.read_frames()
    fragments = h264.packetize([p_slice(2500)], 1000, 1)
    s.receive_rtp(rtp(fragments[0], seq, 3000, marker=False), PEER, 0.03)
    s.receive_rtp(rtp(fragments[2], seq + 2, 3000), PEER, 0.031)  # overtook the middle
    s.receive_rtp(rtp(fragments[1], seq + 1, 3000, marker=False), PEER, 0.032)
    [frame] = s.read_frames()
    assert not frame.keyframe and not s.needs_keyframe
    assert s.stats["reorder_reordered"] == 1 and s.stats["depacketizer_lost"] == 0


def test_a_new_codec_from_a_reinvite_restarts_the_stream() -> None:
    s = session()
    send_picture(s, [SPS, PPS, idr()], 1, 0)
    assert s.read_frames()
    vp8 = VideoSendFormat("VP8", 98, 640, 360, 30.0, 1_000_000)
    s.set_format(vp8)
    assert s.payload_type == 98 and s.needs_keyframe
    send_picture(s, [idr()], 10, 3000)  # H.264 on the old payload type: not negotiated now
    assert s.read_frames() == [] and s.counters["unknown_pt"] > 0


def test_packets_taken_together_are_taken_as_one_by_one() -> None:
    """Issue 12: a camera's TCP read hands its packets on in one ``receive_rtp_many``;
    what comes out (pictures, counters, reception statistics) is what packet-by-packet
    gives, through another payload type, a new SSRC and RTCP alike."""
    big = annex_b(SPS, PPS, idr(3000))  # FU-A fragments
    packets: list[bytes] = []
    seq = 100
    for n, unit in enumerate([big, annex_b(p_slice()), annex_b(p_slice(2500))]):
        payloads = h264.packetize(unit, 1200)
        for k, payload in enumerate(payloads):
            packets.append(rtp(payload, seq, 3000 * n, marker=k == len(payloads) - 1))
            seq += 1
    packets.insert(4, rtp(b"\x41\x9a", 999, 0, pt=PT + 1))  # not negotiated
    packets.insert(5, build_pli(US, PEER_SSRC))  # rtcp-mux
    again = h264.packetize(big, 1200)
    packets += [rtp(payload, 7 + k, 90_000, marker=k == len(again) - 1, ssrc=0xCAFE)
                for k, payload in enumerate(again)]  # a new source

    one, many = session(mux=True), session(mux=True)
    for data in packets:
        one.receive_rtp(data, PEER, 5.0)
    for start in range(0, len(packets), 3):
        many.receive_rtp_many(packets[start:start + 3], PEER, 5.0)

    assert [f.data for f in many.read_frames()] == [f.data for f in one.read_frames()]
    assert many.counters == one.counters and one.counters["frames_received"] == 4
    assert many.remote_ssrc == one.remote_ssrc == 0xCAFE
    assert many.rtcp_report(6.0) == one.rtcp_report(6.0)


def test_packets_carried_in_order_are_never_held() -> None:
    """Over TCP nothing comes out of order: a gap in a camera's read is a loss at once
    (the picture it fell in is dropped, a key frame is needed), never a wait, and the
    pictures after it come as soon as they are whole."""
    seq, packets = 100, []
    for n, unit in enumerate([annex_b(SPS, PPS, idr(3000)), annex_b(p_slice(2500)),
                              annex_b(SPS, PPS, idr(3000))]):
        payloads = h264.packetize(unit, 1200)
        for k, payload in enumerate(payloads):
            packets.append(rtp(payload, seq, 3000 * n, marker=k == len(payloads) - 1))
            seq += 1
    lost = 4  # the second picture's first fragment
    s = session()
    s.receive_rtp_many(packets[:lost] + packets[lost + 1:], PEER, 5.0)
    frames = s.read_frames()
    assert [f.keyframe for f in frames] == [True, True]  # the broken P picture is dropped
    assert s.stats["depacketizer_lost"] == 1 and s.stats["reorder_reordered"] == 0
    assert not s.needs_keyframe
