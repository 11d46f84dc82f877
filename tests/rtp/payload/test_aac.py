"""AAC (RFC 3640 mpeg4-generic, AAC-hbr) from a real ffmpeg RTP stream, and the mixer's
re-framing AAC decoder."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from gateway.media import AudioFormat
from gateway.rtp.payload.aac import AacDepacketizer, parse_audio_specific_config
from mcu.mixer.codecs import AacDecoder, make_decoder
from tests.peers.audio_analysis import dominant_tones, tone_dbfs
from tests.rtp.payload.capture import Capture, capture

FORMAT = AudioFormat("MPEG4-GENERIC", 97, 48000)
SINE = ("-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "1", "-c:a", "aac", "-ac", "1")


def aac(*extra: str) -> Capture:
    return capture(*SINE, *extra)


def units_of(stream: Capture) -> tuple[AacDepacketizer, list]:
    dep = AacDepacketizer.from_fmtp(stream.fmtp())
    return dep, [u for p in stream.packets for u in dep.push(*p.push_args())]


def hears_440(pcm: np.ndarray) -> None:
    samples = pcm.astype(np.float64) / 32768
    (freq, _), *_ = dominant_tones(samples, 48000)
    assert abs(freq - 440) <= 10, freq
    assert tone_dbfs(samples, 48000, 440) > -24  # lavfi's sine is -18 dBFS


@pytest.mark.parametrize("pkt_size", [1400, 100])  # several units per packet / fragments
def test_ffmpeg_stream_decodes_to_the_tone(pkt_size: int) -> None:
    stream = aac("-pkt_size", str(pkt_size))
    assert stream.rtpmap() == "MPEG4-GENERIC/48000/1"
    dep, units = units_of(stream)
    assert dep.config is not None
    assert parse_audio_specific_config(dep.config).sample_rate == 48000
    assert len(units) >= 40 and dep.stats["malformed"] == dep.stats["dropped"] == 0
    steps = {b.timestamp - a.timestamp for a, b in zip(units, units[1:], strict=False)}
    assert steps == {1024}
    if pkt_size == 100:
        assert len(stream.packets) > len(units)  # units really were fragmented
    decoder = make_decoder(FORMAT, config=dep.config)
    frames = [decoder.decode(u.data) for u in units]
    assert {f.shape for f in frames} == {(960,)}
    hears_440(np.concatenate(frames)[4800:])


def test_a_lost_fragment_drops_its_unit_only() -> None:
    stream = aac("-pkt_size", "100")
    packets = list(stream.packets)
    first_end = next(i for i, p in enumerate(packets) if p.marker)
    assert first_end >= 2
    dep = AacDepacketizer.from_fmtp(stream.fmtp())
    whole = units_of(stream)[1]
    kept = packets[:1] + packets[2:]  # a middle/last fragment of the first unit
    units = [u for p in kept for u in dep.push(*p.push_args())]
    assert dep.stats["lost"] == 1 and dep.stats["dropped"] == 1
    assert units == whole[1:]


@pytest.mark.parametrize("cut", [1, 2, 17, -1])
def test_fragment_reassembly_at_any_split_point(cut: int) -> None:
    unit = units_of(aac())[1][5].data
    point = cut % len(unit)
    header = struct.pack("!HH", 16, len(unit) << 3)
    dep = AacDepacketizer()
    assert dep.push(header + unit[:point], 7, 1000, False) == []
    (out,) = dep.push(header + unit[point:], 8, 1000, True)
    assert out.data == unit and out.timestamp == 1000


def test_several_units_in_one_packet_get_consecutive_timestamps() -> None:
    units = [b"\x01" * 10, b"\x02" * 300, b"\x03"]
    headers = b"".join(struct.pack("!H", len(u) << 3) for u in units)
    payload = struct.pack("!H", 16 * len(units)) + headers + b"".join(units)
    out = AacDepacketizer().push(payload, 0, 0xFFFFFC00, True)
    assert [u.data for u in out] == units
    assert [u.timestamp for u in out] == [0xFFFFFC00, 0, 1024]


def test_garbage_never_raises() -> None:
    rng = np.random.default_rng(5)
    dep = AacDepacketizer()
    junk = [b"", b"\x00", b"\x00\x00", b"\x00\x10\x00", b"\x00\x10\x00\x09",
            b"\x00\x10\x00\x11abc", b"\x00\x20\x00\x08\x00\x08ab"]
    junk += [rng.bytes(int(rng.integers(1, 200))) for _ in range(300)]
    decoder = make_decoder(FORMAT)
    for seq, payload in enumerate(junk):
        for unit in dep.push(payload, seq, seq, seq % 2 == 0):
            assert decoder.decode(unit.data).shape == (960,)
        assert decoder.decode(payload).shape == (960,)
    assert dep.stats["malformed"] > 100


def test_fmtp_parsing() -> None:
    dep = AacDepacketizer.from_fmtp({"mode": "AAC-hbr", "sizelength": "13",
                                     "indexlength": "3", "indexdeltalength": "3",
                                     "config": "1190"})
    config = parse_audio_specific_config(dep.config or b"")
    assert (config.object_type, config.sample_rate, config.channels) == (2, 48000, 2)
    with pytest.raises(ValueError):
        AacDepacketizer.from_fmtp({"mode": "CELP-cbr"})
    with pytest.raises(ValueError):
        AacDepacketizer.from_fmtp({"config": "zz"})


def test_decoder_reframes_1024_sample_units_into_20_ms_frames() -> None:
    stream = aac()
    dep, units = units_of(stream)
    decoder = AacDecoder(FORMAT, dep.config)
    # The sender's pace: a unit every 21.33 ms, a tick every 20 ms; ticks without a
    # unit get None. After the prebuffer no tick may run dry.
    out, next_unit = [], 0
    for tick in range(len(units) * 1024 // 960 - 2):
        due = units[next_unit].data if next_unit * 1024 <= tick * 960 else None
        next_unit += due is not None
        out.append(decoder.decode(due))
    started = next(i for i, f in enumerate(out) if f.any())
    assert started <= 3
    assert all(np.abs(f).max() > 1000 for f in out[started + 2 :])  # no gap, no fade
    hears_440(np.concatenate(out[started:]))
    # A loss longer than the buffer fades out, then the stream starts over.
    faded = [decoder.decode(None) for _ in range(6)]
    assert not faded[-1].any()
