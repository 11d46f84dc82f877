"""Audio codecs for the mixer: per-leg decoders, per-stream encoders.

G.711 (PCMU/PCMA) is done with numpy lookup tables built from the ITU G.711 segment
formulas, so a whole conference's worth of payloads decodes in one indexing op
(:func:`decode_g711_batch`). G.722 and Opus go through PyAV (FFmpeg's ``g722`` and
``libopus``). Every decoder yields mono int16 PCM at ``AudioFormat.sample_rate``,
20 ms per call, and conceals a lost frame (``None``) by fading the last one out.
"""

from __future__ import annotations

from collections.abc import Sequence

import av
import numpy as np
from av.audio.frame import AudioFrame

from gateway.media import FRAME_MS, AudioFormat

FADE_FRAMES = 3
"""Lost frames over which concealment fades the last good frame to silence."""

OPUS_BITRATE = 32000

# --------------------------------------------------------------------------- G.711 tables

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # 14-bit magnitude limit before the bias (G.711 / Sun reference)


def _ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _segment(magnitude: np.ndarray, first_end: int) -> np.ndarray:
    """Index of the power-of-two segment (ends first_end, 2*first_end+1, ...); 8 = over."""
    ends = (first_end + 1) * (1 << np.arange(8)) - 1
    return np.searchsorted(ends, magnitude, side="left")


def _ulaw_encode_table() -> np.ndarray:
    """μ-law code for every int16 value, indexed by the value viewed as uint16."""
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = _segment(mag, 0x3F)
    code = (seg << 4) | ((mag >> (seg + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _alaw_encode_table() -> np.ndarray:
    """A-law code for every int16 value, indexed by the value viewed as uint16."""
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    mag = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = _segment(mag, 0x1F)
    shift = np.where(seg < 2, 1, seg)
    code = (seg << 4) | ((mag >> shift) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


ULAW_DECODE = _ulaw_decode_table()
ALAW_DECODE = _alaw_decode_table()
ULAW_ENCODE = _ulaw_encode_table()
ALAW_ENCODE = _alaw_encode_table()

_G711_TABLES = {"PCMU": (ULAW_DECODE, ULAW_ENCODE), "PCMA": (ALAW_DECODE, ALAW_ENCODE)}


def samples_per_frame(rate: int) -> int:
    return rate * FRAME_MS // 1000


# --------------------------------------------------------------------------- concealment


class _Concealer:
    """Remembers the last good frame and fades it out over FADE_FRAMES losses."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.last: np.ndarray | None = None
        self.lost = 0

    def good(self, pcm: np.ndarray) -> np.ndarray:
        self.last = pcm
        self.lost = 0
        return pcm

    def conceal(self) -> np.ndarray:
        self.lost += 1
        if self.last is None or self.lost > FADE_FRAMES:
            return np.zeros(self.samples, np.int16)
        # A ramp inside each frame (not one gain per frame) so the fade has no steps.
        start = 1.0 - (self.lost - 1) / FADE_FRAMES
        ramp = np.linspace(start, start - 1.0 / FADE_FRAMES, self.samples, dtype=np.float32)
        return (self.last * ramp).astype(np.int16)


def _fit(pcm: np.ndarray, samples: int) -> np.ndarray:
    """Pad or cut to exactly one frame: a peer with an odd ptime must not break a tick."""
    if pcm.shape[0] == samples:
        return pcm
    if pcm.shape[0] > samples:
        return pcm[:samples]
    return np.concatenate([pcm, np.zeros(samples - pcm.shape[0], np.int16)])


# --------------------------------------------------------------------------- decoders


class G711Decoder:
    """Stateless table lookup plus concealment state."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        self.samples = samples_per_frame(fmt.sample_rate)
        self.table = _G711_TABLES[fmt.name.upper()][0]
        self.concealer = _Concealer(self.samples)

    def decode(self, payload: bytes | None) -> np.ndarray:
        if not payload:
            return self.concealer.conceal()
        codes = np.frombuffer(payload, np.uint8)
        return self.concealer.good(_fit(self.table[codes], self.samples))


class L16Decoder:
    """Linear 16-bit PCM, network byte order (RFC 3551 L16)."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        self.samples = samples_per_frame(fmt.sample_rate)
        self.concealer = _Concealer(self.samples)

    def decode(self, payload: bytes | None) -> np.ndarray:
        if not payload:
            return self.concealer.conceal()
        pcm = np.frombuffer(payload[: len(payload) // 2 * 2], ">i2").astype(np.int16)
        return self.concealer.good(_fit(pcm, self.samples))


def decode_g711_batch(
    decoders: Sequence[G711Decoder], payloads: Sequence[bytes | None]
) -> np.ndarray:
    """Decode one frame for many legs of ONE G.711 law: a single table lookup.

    Returns an (n, samples) int16 array; row i belongs to decoders[i]. Each decoder's
    concealment state is updated as if its own ``decode`` had run.
    """
    first = decoders[0]
    n, samples = len(decoders), first.samples
    good = [i for i, p in enumerate(payloads) if p is not None and len(p) == samples]
    out = np.empty((n, samples), np.int16)
    if good:
        joined = b"".join([payloads[i] for i in good])  # type: ignore[misc]
        codes = np.frombuffer(joined, np.uint8).reshape(len(good), samples)
        if len(good) == n:
            out = first.table[codes]
        else:
            out[good] = first.table[codes]
    good_set = set(good) if len(good) != n else None
    for i, dec in enumerate(decoders):
        if good_set is None or i in good_set:
            dec.concealer.last = out[i]
            dec.concealer.lost = 0
        else:  # loss or an odd-sized payload: the slow path, rare
            out[i] = dec.decode(payloads[i])
    return out


class PyAVDecoder:
    """G.722 or Opus through an FFmpeg decoder context; always mono int16 out."""

    def __init__(self, fmt: AudioFormat, codec: str) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        self.samples = samples_per_frame(fmt.sample_rate)
        self.context = av.CodecContext.create(codec, "r")
        self.context.sample_rate = fmt.sample_rate
        self.context.layout = "mono"  # libopus downmixes a stereo sender for us
        self.concealer = _Concealer(self.samples)

    def decode(self, payload: bytes | None) -> np.ndarray:
        # FFmpeg reads an empty packet as end-of-stream, so no decoder PLC: fade instead.
        if not payload:
            return self.concealer.conceal()
        try:
            frames = self.context.decode(av.Packet(payload))
        except (av.FFmpegError, ValueError):
            return self.concealer.conceal()  # a corrupt packet is a loss
        if not frames:
            return self.concealer.conceal()
        pcm = np.concatenate([_to_mono_int16(f) for f in frames])
        return self.concealer.good(_fit(pcm, self.samples))


def _to_mono_int16(frame: AudioFrame) -> np.ndarray:
    data = frame.to_ndarray()
    if frame.format.name != "s16":
        data = np.clip(data * 32768.0, -32768, 32767).astype(np.int16)
    if frame.format.is_packed and len(frame.layout.channels) > 1:
        data = data.reshape(-1, len(frame.layout.channels)).T
    return data[0] if data.ndim == 2 else data


AAC_PREBUFFER_FRAMES = 2
"""Access units buffered before an AAC stream plays (and again after it ran dry)."""

AAC_MAX_BUFFER_MS = 120
"""Decoded AAC beyond this is dropped, oldest first: a burst must not become delay."""


class AacDecoder:
    """AAC (RFC 3640 ``MPEG4-GENERIC``, from IP cameras) as 20 ms frames at 48 kHz mono.

    An AAC access unit holds 1024 samples (21.3 ms at 48 kHz, 64 ms at 16 kHz), not
    the mixer's 20 ms, so ``decode`` takes one access unit per call (``None`` when the
    tick has none), resamples its PCM to 48 kHz mono (cameras use 44.1 or 32 kHz, which
    the mixer's polyphase filters cannot take, and stereo), appends it to a FIFO and
    hands out exactly one 20 ms frame per call: the FIFO first fills with
    ``AAC_PREBUFFER_FRAMES`` access units, so the ticks that bring no access unit still
    find PCM; only when it runs dry (a loss) is the last frame faded out, and it fills
    up again before playing on. The AudioSpecificConfig (``config``, else the format's)
    is the decoder's extradata; without it FFmpeg assumes AAC-LC at the format's clock
    rate and channel count.
    """

    def __init__(self, fmt: AudioFormat, config: bytes | None = None) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate  # 48 kHz: what comes out
        self.samples = samples_per_frame(self.sample_rate)
        self.context = av.CodecContext.create("aac", "r")
        self.context.sample_rate = fmt.clock_rate  # RFC 3640: the RTP clock is the rate
        self.context.layout = "stereo" if fmt.channels == 2 else "mono"
        config = config or fmt.config
        if config:
            self.context.extradata = config
        self.resampler = av.AudioResampler(format="s16", layout="mono",
                                           rate=self.sample_rate)
        self.concealer = _Concealer(self.samples)
        self._fifo = np.zeros(0, np.int16)
        self._playing = False
        self._prebuffer = AAC_PREBUFFER_FRAMES * 1024 * self.sample_rate // fmt.clock_rate
        self._max = max(self.sample_rate * AAC_MAX_BUFFER_MS // 1000, 2 * self._prebuffer)
        self.errors = 0

    def decode(self, payload: bytes | None) -> np.ndarray:
        if payload:
            self._take(payload)
        if not self._playing:
            self._playing = self._fifo.shape[0] >= self._prebuffer
        if not self._playing or self._fifo.shape[0] < self.samples:
            self._playing = False
            return self.concealer.conceal()
        frame, self._fifo = self._fifo[: self.samples], self._fifo[self.samples :]
        return self.concealer.good(frame)

    def _take(self, payload: bytes) -> None:
        try:
            frames = [out for decoded in self.context.decode(av.Packet(payload))
                      for out in self.resampler.resample(decoded)]
        except (av.FFmpegError, ValueError):
            self.errors += 1
            return
        if frames:
            pcm = np.concatenate([_to_mono_int16(f) for f in frames])
            self._fifo = np.concatenate([self._fifo, pcm])
            if self._fifo.shape[0] > self._max:
                self._fifo = self._fifo[-self._max :]


Decoder = G711Decoder | L16Decoder | PyAVDecoder | AacDecoder


def make_decoder(fmt: AudioFormat, *, config: bytes | None = None) -> Decoder:
    """A decoder for ``fmt``; ``config``: codec configuration from the SDP (the AAC
    AudioSpecificConfig of ``MPEG4-GENERIC``'s fmtp ``config=``), ignored by others."""
    name = fmt.name.upper()
    if name in _G711_TABLES:
        return G711Decoder(fmt)
    if name == "MPEG4-GENERIC":
        return AacDecoder(fmt, config)
    if name == "L16":
        return L16Decoder(fmt)
    if name == "G722":
        return PyAVDecoder(fmt, "g722")
    if name == "OPUS":
        return PyAVDecoder(fmt, "libopus")
    raise ValueError(f"no decoder for audio codec {fmt.name!r}")


# --------------------------------------------------------------------------- encoders


class G711Encoder:
    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        self.samples = samples_per_frame(fmt.sample_rate)
        self.table = _G711_TABLES[fmt.name.upper()][1]

    def encode(self, pcm: np.ndarray) -> bytes:
        return self.table[pcm.astype(np.int16, copy=False).view(np.uint16)].tobytes()


class L16Encoder:
    """Linear 16-bit PCM, network byte order (RFC 3551 L16): what a watcher's stream
    (issue 15) takes from the mixer, to encode AAC once per stream profile."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        self.samples = samples_per_frame(fmt.sample_rate)

    def encode(self, pcm: np.ndarray) -> bytes:
        return pcm.astype(">i2").tobytes()


class PyAVEncoder:
    """One stateful FFmpeg encoder: one per mix stream, never shared between streams."""

    def __init__(self, fmt: AudioFormat, codec: str, bit_rate: int | None = None) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        self.samples = samples_per_frame(fmt.sample_rate)
        ctx = av.CodecContext.create(codec, "w")
        ctx.sample_rate = fmt.sample_rate
        ctx.layout = "mono"  # Opus's SDP says /2 but a mono stream is valid and cheaper
        ctx.format = "s16"
        if bit_rate:
            ctx.bit_rate = bit_rate
        if codec == "libopus":
            ctx.options = {"application": "voip", "frame_duration": str(FRAME_MS)}
        ctx.open()
        self.context = ctx
        self.pts = 0

    def encode(self, pcm: np.ndarray) -> bytes:
        frame = AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        frame.pts = self.pts
        self.pts += self.samples
        return b"".join(bytes(p) for p in self.context.encode(frame))


Encoder = G711Encoder | L16Encoder | PyAVEncoder


def make_encoder(fmt: AudioFormat) -> Encoder:
    name = fmt.name.upper()
    if name in _G711_TABLES:
        return G711Encoder(fmt)
    if name == "G722":
        return PyAVEncoder(fmt, "g722")
    if name == "L16":
        return L16Encoder(fmt)
    if name == "OPUS":
        return PyAVEncoder(fmt, "libopus", OPUS_BITRATE)
    raise ValueError(f"no encoder for audio codec {fmt.name!r}")
