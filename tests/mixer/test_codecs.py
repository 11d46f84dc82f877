from __future__ import annotations

import av
import numpy as np
import pytest

from mcu.mixer.codecs import (
    ALAW_DECODE,
    ALAW_ENCODE,
    FADE_FRAMES,
    ULAW_DECODE,
    ULAW_ENCODE,
    G711Decoder,
    decode_g711_batch,
    make_decoder,
    make_encoder,
)
from tests.mixer.fakes import G722, OPUS, PCMA, PCMU, peak_hz, tone

ALL_PCM = np.arange(-32768, 32768).astype(np.int16)


# Scalar transcriptions of the ITU G.711 segment formulas (the Sun reference code).


def ulaw_to_linear(code: int) -> int:
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def alaw_to_linear(code: int) -> int:
    a = code ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = t + 8 if seg == 0 else (t + 0x108) << max(seg - 1, 0)
    return t if a & 0x80 else -t


def linear_to_ulaw(pcm: int) -> int:
    pcm >>= 2
    mask = 0x7F if pcm < 0 else 0xFF
    pcm = min(abs(pcm), 8159) + 0x21
    ends = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
    seg = next((i for i, end in enumerate(ends) if pcm <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0F)) ^ mask


def linear_to_alaw(pcm: int) -> int:
    pcm >>= 3
    if pcm >= 0:
        mask = 0xD5
    else:
        mask, pcm = 0x55, -pcm - 1
    ends = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]
    seg = next((i for i, end in enumerate(ends) if pcm <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    aval = (seg << 4) | ((pcm >> (1 if seg < 2 else seg)) & 0x0F)
    return aval ^ mask


def test_decode_tables_match_formulas_and_ffmpeg() -> None:
    codes = np.arange(256, dtype=np.uint8)
    assert ULAW_DECODE.tolist() == [ulaw_to_linear(c) for c in range(256)]
    assert ALAW_DECODE.tolist() == [alaw_to_linear(c) for c in range(256)]
    for name, table in (("pcm_mulaw", ULAW_DECODE), ("pcm_alaw", ALAW_DECODE)):
        ctx = av.CodecContext.create(name, "r")
        ctx.sample_rate, ctx.layout = 8000, "mono"
        frames = ctx.decode(av.Packet(codes.tobytes()))
        assert np.array_equal(np.concatenate([f.to_ndarray()[0] for f in frames]), table)


@pytest.mark.parametrize(
    ("table", "reference"), [(ULAW_ENCODE, linear_to_ulaw), (ALAW_ENCODE, linear_to_alaw)]
)
def test_encode_tables_match_formulas(table: np.ndarray, reference) -> None:
    sample = ALL_PCM[::7].tolist() + [-32768, -1, 0, 1, 32767]
    got = table[np.array(sample, np.int16).view(np.uint16)]
    assert got.tolist() == [reference(v) for v in sample]


def test_every_code_survives_decode_then_encode() -> None:
    codes = np.arange(256)
    assert np.array_equal(ALAW_ENCODE[ALAW_DECODE.view(np.uint16)], codes)
    back = ULAW_ENCODE[ULAW_DECODE.view(np.uint16)]
    assert np.array_equal(np.delete(back, 0x7F), np.delete(codes, 0x7F))  # 0x7F is -0


@pytest.mark.parametrize("fmt", [PCMU, PCMA])
def test_g711_sine_round_trip(fmt) -> None:
    enc, dec = make_encoder(fmt), make_decoder(fmt)
    x = tone(1000, 8000, 160 * 10, 12000)
    y = np.concatenate([dec.decode(enc.encode(x[i : i + 160])) for i in range(0, x.size, 160)])
    snr = 10 * np.log10((x.astype(float) ** 2).sum() / ((x - y.astype(float)) ** 2).sum())
    assert snr > 30  # G.711 gives ~38 dB on a loud sine
    assert len(enc.encode(x[:160])) == 160


@pytest.mark.parametrize(("fmt", "freq"), [(G722, 1000.0), (G722, 5000.0), (OPUS, 1000.0)])
def test_pyav_codec_tone_round_trip(fmt, freq: float) -> None:
    rate = fmt.sample_rate
    n = rate // 50
    enc, dec = make_encoder(fmt), make_decoder(fmt)
    x = tone(freq, rate, n * 50, 8000)
    payloads = [enc.encode(x[i : i + n]) for i in range(0, x.size, n)]
    assert all(payloads)
    if fmt is G722:
        assert {len(p) for p in payloads} == {160}  # 64 kbit/s, 20 ms
    y = np.concatenate([dec.decode(p) for p in payloads])
    assert y.dtype == np.int16 and y.size == x.size
    assert abs(peak_hz(y[n * 10 :], rate) - freq) < 10
    assert np.sqrt(np.mean(y[n * 10 :].astype(float) ** 2)) > 3000


@pytest.mark.parametrize("fmt", [PCMU, G722, OPUS])
def test_loss_repeats_then_fades_to_silence(fmt) -> None:
    rate = fmt.sample_rate
    n = rate // 50
    enc, dec = make_encoder(fmt), make_decoder(fmt)
    for i in range(10):
        good = dec.decode(enc.encode(tone(500, rate, n, 8000, i * n)))
    levels = [np.abs(dec.decode(None).astype(int)).max() for _ in range(FADE_FRAMES + 2)]
    assert levels[0] > 0.3 * np.abs(good.astype(int)).max()
    assert levels == sorted(levels, reverse=True)
    assert levels[FADE_FRAMES] == 0 and levels[-1] == 0
    assert dec.decode(None).size == n


def test_fresh_decoder_loss_is_silence() -> None:
    assert not make_decoder(PCMU).decode(None).any()
    assert make_decoder(OPUS).decode(None).size == 960


def test_batch_decode_equals_single_and_conceals() -> None:
    enc = make_encoder(PCMU)
    payloads = [enc.encode(tone(300 + 100 * i, 8000, 160, 5000)) for i in range(4)]
    batch = [G711Decoder(PCMU) for _ in range(4)]
    single = [G711Decoder(PCMU) for _ in range(4)]
    out = decode_g711_batch(batch, payloads)
    for i in range(4):
        assert np.array_equal(out[i], single[i].decode(payloads[i]))
    lost = [payloads[0], None, b"\xff" * 80, payloads[3]]  # a loss and a short payload
    out = decode_g711_batch(batch, lost)
    for i in range(4):
        assert np.array_equal(out[i], single[i].decode(lost[i]))


def test_odd_payload_sizes_still_give_one_frame() -> None:
    dec = make_decoder(PCMA)
    assert dec.decode(b"\xd5" * 240).size == 160
    assert dec.decode(b"\xd5" * 80).size == 160


def test_unknown_codec_is_refused() -> None:
    from gateway.media import AudioFormat

    with pytest.raises(ValueError):
        make_decoder(AudioFormat("GSM", 3, 8000))
    with pytest.raises(ValueError):
        make_encoder(AudioFormat("GSM", 3, 8000))


def test_opus_is_sent_mono_at_48k() -> None:
    enc = make_encoder(OPUS)
    assert enc.context.sample_rate == 48000 and enc.context.layout.name == "mono"
    assert enc.context.codec.name == "libopus"


def test_l16_is_network_order_pcm_both_ways() -> None:
    """What a stream's watcher leg (issue 15) takes from the mixer: 16-bit big-endian."""
    from gateway.media import AudioFormat

    l16 = AudioFormat("L16", -1, 48000)
    pcm = tone(440.0, 48000, 960)
    payload = make_encoder(l16).encode(pcm)
    assert payload[:2] == int(pcm[0]).to_bytes(2, "big", signed=True)
    decoder = make_decoder(l16)
    assert np.array_equal(decoder.decode(payload), pcm)
    assert decoder.decode(None).size == 960  # a lost frame is concealed, never short
