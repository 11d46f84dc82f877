"""Video codecs for the mixer: one decoder per received stream, one encoder per view.

Codec state lives here and nowhere else (``gateway/media.py`` only carries bytes).
Everything runs single-threaded per codec: the mixer spreads decoders and encoders
over its worker pool, and codec-internal threads would only add latency (frame
threads) and contend with that pool.

Decoding must never take a conference down, whatever a peer sends: a decoder turns
every failure into ``None`` plus a counted error that the mixer reads with
:meth:`VideoDecoder.take_error` to ask the peer for a key frame, and shows nothing
more from that stream until a key frame has decoded (a frozen last picture beats a
smeared one).
"""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np
from av.codec.context import Flags
from av.video.frame import PictureType

from gateway.media import VIDEO_CLOCK_RATE, EncodedVideo, VideoSendFormat
from mcu.mixer.video.picture import Picture

log = logging.getLogger(__name__)

DECODERS = {"H264": "h264", "VP8": "vp8", "H263-1998": "h263", "H263-2000": "h263",
            "H263": "h263", "H261": "h261", "H265": "hevc", "JPEG": "mjpeg"}
"""FFmpeg decoder per SDP codec name. H.263+ (RFC 4629) streams are decoded by the
plain ``h263`` decoder, which understands the PLUSPTYPE headers. H.265 and JPEG (RFC
7798, RFC 2435) come only from IP cameras: decoded, never encoded (no entry in
``ENCODERS``); every JPEG picture is a key frame."""

ENCODERS = {"H264": "libx264", "VP8": "libvpx", "H263-1998": "h263p", "H263-2000": "h263p",
            "H263": "h263", "H261": "h261"}

H263_STANDARD_SIZES = ((1408, 1152), (704, 576), (352, 288), (176, 144), (128, 96))
"""The only sizes H.263 (1996, RFC 2190) pictures have: 16CIF, 4CIF, CIF, QCIF, SQCIF."""
H261_SIZES = ((352, 288), (176, 144))
"""And H.261's: CIF and QCIF."""
FIXED_SIZES = {"H263": H263_STANDARD_SIZES, "H261": H261_SIZES}
"""Codecs whose pictures come only in these sizes (largest first)."""

RESET_AFTER_ERRORS = 16
"""Consecutive failed packets after which a decoder is rebuilt from scratch, in case
FFmpeg's state is what keeps failing (a fresh decoder costs well under a millisecond)."""

H263P_MAX = (2048, 1152)
"""The largest picture ffmpeg's h263p encoder accepts; both sides must be multiples of 4."""

NAL_MARGIN = 8
"""Bytes kept under the MTU when x264 cuts slices for packetization-mode 0: its
slice-max-size counts the slice payload, not the NAL header nor emulation-prevention
bytes added afterwards, so a little head-room keeps every NAL unit <= mtu."""


class VideoDecoder:
    """Decodes one received stream; ``decode`` never raises."""

    def __init__(self, codec: str) -> None:
        if codec not in DECODERS:
            raise ValueError(f"no video decoder for {codec!r}; expected one of {list(DECODERS)}")
        self.codec = codec
        self.errors = 0
        """Failed packets since the decoder was made (also counts pictures dropped
        while waiting for a key frame)."""
        self.decoded = 0
        self._errors_seen = 0
        self._consecutive = 0
        self._need_keyframe = True
        self._context = self._open()

    def _open(self) -> av.CodecContext:
        context = av.CodecContext.create(DECODERS[self.codec], "r")
        context.thread_count = 1
        context.thread_type = "SLICE"
        # Output every picture as soon as it is complete: real-time senders do not
        # reorder, and a B-frame delay would only be latency.
        context.flags = int(Flags.low_delay)
        context.open()
        return context

    @property
    def waiting_for_keyframe(self) -> bool:
        """True until a key frame has decoded, and again after an error."""
        return self._need_keyframe

    def restart(self) -> None:
        """Its stream was not decoded for a while (hidden): its references are stale,
        so nothing is shown again before the next key frame."""
        self._need_keyframe = True

    def take_error(self) -> bool:
        """True when a decode error happened since the last call (ask for a key frame)."""
        happened = self.errors != self._errors_seen
        self._errors_seen = self.errors
        return happened

    def decode(self, frame: EncodedVideo) -> av.VideoFrame | None:
        """The newest picture this access unit completed, or None (buffering, error, or
        still waiting for a key frame)."""
        if not frame.data:
            # An empty packet would tell FFmpeg to drain, ending the stream for good.
            return None
        try:
            pictures = self._context.decode(av.Packet(frame.data))
        except EOFError:  # drained somehow: make it take packets again
            self._failed("decoder drained")
            self._flush()
            return None
        except Exception as error:  # noqa: BLE001 - any failure is the peer's bad data
            self._failed(f"{type(error).__name__}: {error}")
            return None
        if not pictures:
            return None
        picture = pictures[-1]
        if picture.is_corrupt:
            self._failed("corrupt picture (concealed errors)")
            return None
        if self._need_keyframe:
            if not _is_key(picture):
                self._failed("predicted picture before a key frame")
                return None
            self._need_keyframe = False
        self._consecutive = 0
        self.decoded += 1
        if picture.format.name in _FULL_RANGE_FORMATS:
            return _to_limited_range(picture)
        return picture

    def _flush(self) -> None:
        try:
            self._context.flush_buffers()
        except Exception:  # noqa: BLE001 - the reset below is the fallback
            self._consecutive = RESET_AFTER_ERRORS

    def _failed(self, why: str) -> None:
        self.errors += 1
        self._consecutive += 1
        self._need_keyframe = True
        log.debug("%s decode error %d: %s", self.codec, self.errors, why)
        if self._consecutive >= RESET_AFTER_ERRORS:
            self._consecutive = 0
            try:
                self._context = self._open()
            except Exception:  # noqa: BLE001 - keep the old one; never raise from decode
                log.exception("could not reopen the %s decoder", self.codec)


_FULL_RANGE_FORMATS = frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p"})
_LUMA_LUT = np.rint(16 + np.arange(256) * 219 / 255).astype(np.uint8)
_CHROMA_LUT = np.rint(128 + (np.arange(256) - 128) * 224 / 255).clip(16, 240).astype(np.uint8)


def _to_limited_range(picture: av.VideoFrame) -> av.VideoFrame:
    """A JPEG picture (full-range YCbCr) as the limited-range yuv420p every other
    decoder gives. swscale, as PyAV drives it, would only resample the chroma and
    keep full-range levels, which would show a camera's picture washed out."""
    yuv = picture.to_ndarray(format="yuv420p", threads=1)
    height = picture.height
    yuv[:height] = _LUMA_LUT[yuv[:height]]
    yuv[height:] = _CHROMA_LUT[yuv[height:]]
    out = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    out.pts = picture.pts
    return out


def _is_key(picture: av.VideoFrame) -> bool:
    return bool(picture.key_frame) or picture.pict_type == PictureType.I


def encoder_size(codec: str, width: int, height: int) -> tuple[int, int]:
    """The picture size an encoder for ``codec`` really uses for a requested size.

    h263p (H.263+ custom picture format) rejects sides that are not multiples of 4 and
    pictures beyond 2048x1152, so those are rounded down to the nearest size it takes;
    the other encoders take any even size.
    """
    sizes = FIXED_SIZES.get(codec)
    if sizes is not None:  # the largest standard size that fits, else the smallest
        return next(((w, h) for w, h in sizes if w <= width and h <= height), sizes[-1])
    if codec.startswith("H263"):
        max_w, max_h = H263P_MAX
        return min(max_w, width - width % 4), min(max_h, height - height % 4)
    return width - width % 2, height - height % 2


class VideoEncoder:
    """Encodes composed pictures for one send format, tuned for real time.

    ``width``/``height`` are what the encoder really produces (see
    :func:`encoder_size`); a picture of another size is scaled to it first.
    """

    def __init__(
        self,
        fmt: VideoSendFormat,
        *,
        preset: str = "ultrafast",
        keyframe_interval_s: float = 10.0,
    ) -> None:
        if fmt.codec not in ENCODERS:
            raise ValueError(f"no video encoder for {fmt.codec!r}; expected one of "
                             f"{list(ENCODERS)}")
        self.format = fmt
        self.width, self.height = encoder_size(fmt.codec, fmt.width, fmt.height)
        if self.width < 16 or self.height < 16:
            raise ValueError(f"{fmt.width}x{fmt.height} is too small to encode")
        self.rate = max(1, round(fmt.frame_rate))
        self.keyint = max(1, round(keyframe_interval_s * self.rate))
        self.preset = preset
        self.frames = 0
        self._context = self._open()

    def _open(self) -> av.CodecContext:
        fmt = self.format
        context = av.CodecContext.create(ENCODERS[fmt.codec], "w")
        context.width, context.height = self.width, self.height
        context.pix_fmt = "yuv420p"
        context.time_base = Fraction(1, self.rate)
        context.framerate = Fraction(self.rate, 1)
        context.bit_rate = fmt.bitrate_bps
        context.gop_size = self.keyint
        context.max_b_frames = 0
        context.thread_count = 1
        context.options = self._options()
        context.open()
        return context

    def _options(self) -> dict[str, str]:
        codec = self.format.codec
        if codec == "H264":
            return h264_options(self.format, self.preset, self.keyint)
        if codec == "VP8":
            return vp8_options(self.format)
        return h263_options(self.format)

    def encode(self, picture: Picture, *, keyframe: bool = False) -> EncodedVideo | None:
        """One encoded picture (None only if the encoder buffered, which these settings
        avoid). ``keyframe`` forces an intra picture: an IDR for H.264."""
        frame = self._frame(picture)
        frame.pts = self.frames
        frame.time_base = self._context.time_base
        if keyframe:
            frame.pict_type = PictureType.I
        timestamp = self.frames * VIDEO_CLOCK_RATE // self.rate
        self.frames += 1
        packets = self._context.encode(frame)
        if not packets:
            return None
        # One packet per picture with zero lag; should an encoder ever return more,
        # Annex B access units concatenate, the other codecs keep the newest.
        if self.format.codec == "H264":
            data = b"".join(bytes(packet) for packet in packets)
        else:
            data = bytes(packets[-1])
        is_key = any(packet.is_keyframe for packet in packets)
        return EncodedVideo(data=data, timestamp=timestamp, keyframe=is_key)

    def _frame(self, picture: Picture) -> av.VideoFrame:
        frame = picture.as_frame()
        if (picture.width, picture.height) != (self.width, self.height):
            frame = frame.reformat(width=self.width, height=self.height, threads=1)
        return frame


def h264_options(fmt: VideoSendFormat, preset: str, keyint: int) -> dict[str, str]:
    """libx264 options for interactive video (shared with the benchmark's FFmpeg run).

    Constrained baseline (x264's "baseline": no B-frames, no CABAC) is what every SIP
    endpoint decodes; zerolatency drops lookahead and frame threads; forced-idr makes a
    forced key frame an IDR that a newly joined decoder can start from; repeat-headers
    (x264's default without a global header) puts SPS and PPS before every IDR.
    VBV keeps each second near the negotiated rate instead of averaging over minutes.
    """
    kbps = max(1, fmt.bitrate_bps // 1000)
    params = [
        "bframes=0",
        f"keyint={keyint}",
        f"min-keyint={keyint}",
        "scenecut=0",
        "repeat-headers=1",
        "annexb=1",
        "threads=1",
        "sliced-threads=0",
        "aud=0",
        f"vbv-maxrate={kbps}",
        # One second of buffer, as WebRTC senders use: the key frames fit,
        # yet the rate cannot drift for long.
        f"vbv-bufsize={kbps}",
    ]
    if fmt.packetization_mode == 0:
        params.append(f"slice-max-size={max(200, fmt.mtu - NAL_MARGIN)}")
    return {
        "preset": preset,
        "tune": "zerolatency",
        "profile": "baseline",
        "forced-idr": "1",
        "x264-params": ":".join(params),
    }


def vp8_options(fmt: VideoSendFormat) -> dict[str, str]:
    """libvpx real-time settings: no lookahead, fastest speed, error resilience so a
    lost frame damages less, CBR so the rate follows the negotiated one."""
    return {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "error-resilient": "default",
        "auto-alt-ref": "0",
        "static-thresh": "0",
        "qmin": "4",
        "qmax": "56",
        "minrate": str(fmt.bitrate_bps),
        "maxrate": str(fmt.bitrate_bps),
        "bufsize": str(fmt.bitrate_bps),
    }


def h263_options(fmt: VideoSendFormat) -> dict[str, str]:
    """h263p: rate-controlled to the negotiated rate; no optional annexes, which older
    room systems may not decode."""
    options = {
        "maxrate": str(fmt.bitrate_bps),
        "bufsize": str(max(fmt.bitrate_bps, 65536)),
    }
    if fmt.codec == "H263":
        # A byte-aligned GOB whenever a packet's worth is written: RFC 2190 mode A
        # packets then start at GOB boundaries.
        options["ps"] = str(max(128, fmt.mtu - 64))
    return options
