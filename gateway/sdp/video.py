"""RFC 3264 answers for one video stream: H.264, VP8 and H.263+ (groundwork for
continuous-presence video).

The audio answerer (``negotiate.answer_offer``) owns the session; this module
answers one offered m=video section and says what we may send on it. It reuses
the model's parser (``Media`` keeps fmtp, rtcp-fb and b= lines verbatim) and the
audio answerer's m-line builders, so there is one SDP parser in the tree.

What a peer puts in its fmtp describes what it can *receive*, so the parsed
``VideoFormat`` bounds what we *send* (size, frame rate, bit rate); the fmtp we
write in the answer describes what we receive. The encoders (libx264 in
constrained baseline, libvpx, h263p) are fixed, so the answer only ever promises
what those can produce.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gateway.sdp.common import ANSWER_DIRECTION, RTP_PROTOS, add_format, remote_direction
from gateway.sdp.model import Media, Origin, RtpMap, SessionDescription

VIDEO_CLOCK_RATE = 90000  # RFC 6184 / 7741 / 4629 all mandate 90 kHz
# "H263" is H.263 1996 in RFC 2190 (static payload type 34) and "H261" H.261 in RFC 4587
# (static 31): what legacy room systems send (issue 13).
CODECS = ("H264", "VP8", "H263-1998", "H263-2000", "H263", "H261")
DEFAULT_PREFERENCES = ["H264", "VP8", "H263-1998", "H263", "H261"]
H261_SIZES = ((352, 288), (176, 144))  # CIF and QCIF: all H.261 has
DEFAULT_MAX_SIZE = (1280, 720)
DEFAULT_MAX_FPS = 30.0
DEFAULT_MIN_FPS = 25.0  # sizing trades pixels for rate only down to this
DEFAULT_MAX_BITRATE = 2_000_000
H264_MODES = (1, 0)  # packetization modes we carry, preferred first (no mode 2)
RTCP_FEEDBACK = ("nack", "nack pli", "ccm fir")  # what the key-frame work answers to
H263_PICTURE_CLOCK = 30000 / 1001  # H.263 MPI counts 29.97 Hz ticks

# H.264 Table A-1: level_idc -> (MaxMBPS, MaxFS, MaxBR in 1000 bit/s for baseline).
# Level 1b is keyed 9 (its level_idc in High profiles); see ``VideoFormat.level_key``.
H264_LEVELS: dict[int, tuple[int, int, int]] = {
    10: (1485, 99, 64),
    9: (1485, 99, 128),
    11: (3000, 396, 192),
    12: (6000, 396, 384),
    13: (11880, 396, 768),
    20: (11880, 396, 2000),
    21: (19800, 792, 4000),
    22: (20250, 1620, 4000),
    30: (40500, 1620, 10000),
    31: (108000, 3600, 14000),
    32: (216000, 5120, 20000),
    40: (245760, 8192, 20000),
    41: (245760, 8192, 50000),
    42: (522240, 8704, 50000),
    50: (589824, 22080, 135000),
    51: (983040, 36864, 240000),
    52: (2073600, 36864, 240000),
}
_LEVEL_ORDER = sorted(H264_LEVELS, key=lambda idc: 10.5 if idc == 9 else idc)

# H.263 picture-size parameters (RFC 4629 section 8.1.1) in the order they grow.
H263_SIZES: dict[str, tuple[int, int]] = {
    "SQCIF": (128, 96),
    "QCIF": (176, 144),
    "CIF": (352, 288),
    "CIF4": (704, 576),
    "CIF16": (1408, 1152),
}

# Sizes we may send with H.264/VP8: 16:9 for the composed canvas, then the CIF
# family, which small-level room systems (level 1.3, max-fs=396) expect and which
# beats the 16:9 sizes in pixels at those limits.
_WIDE_SIZES = (
    (1920, 1080),
    (1280, 720),
    (1024, 576),
    (960, 540),
    (848, 480),
    (768, 432),
    (640, 360),
    (512, 288),
    (448, 252),
    (384, 216),
    (320, 180),
    (256, 144),
)
_CIF_SIZES = ((704, 576), (352, 288), (176, 144), (128, 96))

_CANONICAL = {name.lower(): name for name in CODECS}
_TOKEN = re.compile(r"[;\s]+")


def sized_by_picture(codec: str) -> bool:
    """H.263 and H.261 name the picture sizes a receiver takes (CIF=1;QCIF=2...)."""
    return codec.startswith("H263") or codec == "H261"


def macroblocks(width: int, height: int) -> int:
    """16x16 macroblocks of a frame: the unit of H.264 MaxFS and VP8 max-fs."""
    return math.ceil(width / 16) * math.ceil(height / 16)


def parse_fmtp(text: str | None) -> dict[str, str]:
    """``a=fmtp`` parameters as a dict, keys lower-cased.

    Tolerant on purpose: devices separate with "; " or spaces, repeat keys, or
    send bare flags; a token without "=" becomes a key with value "".
    """
    params: dict[str, str] = {}
    for token in _TOKEN.split(text or ""):
        if not token:
            continue
        key, _, value = token.partition("=")
        params.setdefault(key.strip().lower(), value.strip())
    return params


def _int(params: dict[str, str], key: str) -> int | None:
    value = params.get(key, "")
    return int(value) if value.isdigit() else None


@dataclass(frozen=True, slots=True)
class VideoFormat:
    """One offered video payload type and the receive limits its fmtp states.

    H.264 fields follow RFC 6184: profile-level-id (profile_idc, profile-iop
    constraint flags, level_idc; RFC default 42000a when absent or garbled, the
    most conservative reading), packetization-mode (default 0), and max-fs /
    max-mbps / max-br, which raise the level's limits. VP8 (RFC 7741) has max-fr
    and max-fs; H.263 (RFC 4629) lists picture sizes with their minimum picture
    interval, plus MaxBR in 100 bit/s.
    """

    name: str
    payload_type: int
    clock_rate: int = VIDEO_CLOCK_RATE
    profile_idc: int | None = None
    profile_iop: int | None = None
    level_idc: int | None = None
    packetization_mode: int | None = None
    level_asymmetry_allowed: bool = False
    max_fs: int | None = None  # macroblocks (H.264, VP8)
    max_mbps: int | None = None  # macroblocks per second (H.264)
    max_br: int | None = None  # H.264: 1000 bit/s; H.263: 100 bit/s
    max_fr: int | None = None  # VP8 frames per second
    image_sizes: tuple[tuple[int, int, int], ...] = ()  # H.263 (width, height, MPI)
    fmtp: str = ""

    @classmethod
    def from_offer(cls, rtpmap: RtpMap, fmtp: str | None) -> VideoFormat | None:
        """The format for an offered rtpmap, or None for a codec we do not carry."""
        name = _CANONICAL.get(rtpmap.encoding.lower())
        if name is None or rtpmap.clock_rate != VIDEO_CLOCK_RATE:
            return None
        params = parse_fmtp(fmtp)
        base = {"name": name, "payload_type": rtpmap.payload_type, "fmtp": fmtp or ""}
        if name == "H264":
            profile, iop, level = _profile_level_id(params.get("profile-level-id", ""))
            return cls(
                **base,
                profile_idc=profile,
                profile_iop=iop,
                level_idc=level,
                packetization_mode=_int(params, "packetization-mode") or 0,
                level_asymmetry_allowed=params.get("level-asymmetry-allowed") == "1",
                max_fs=_int(params, "max-fs"),
                max_mbps=_int(params, "max-mbps"),
                max_br=_int(params, "max-br"),
            )
        if name == "VP8":
            return cls(**base, max_fs=_int(params, "max-fs"), max_fr=_int(params, "max-fr"))
        sizes = _h263_sizes(params)
        if name == "H261":  # RFC 4587: CIF and QCIF only
            sizes = tuple(s for s in sizes if s[:2] in H261_SIZES) or ((176, 144, 1),)
        return cls(**base, image_sizes=sizes, max_br=_int(params, "maxbr"))

    # -- H.264 profile and level -------------------------------------------------

    @property
    def profile_level_id(self) -> str | None:
        if self.profile_idc is None or self.profile_iop is None or self.level_idc is None:
            return None
        return f"{self.profile_idc:02x}{self.profile_iop:02x}{self.level_idc:02x}"

    @property
    def constrained_baseline(self) -> bool:
        """RFC 6184 table 5: 42 with constraint_set1, 4D with set0, 58 with set0+set1.
        Our libx264 stream is constrained baseline; every profile decodes it, but a
        WebRTC-style peer matches profiles, so this ranks the offered H.264 PTs."""
        iop = self.profile_iop or 0
        if self.profile_idc == 0x42:
            return bool(iop & 0x40)
        if self.profile_idc == 0x4D:
            return bool(iop & 0x80)
        if self.profile_idc == 0x58:
            return iop & 0xC0 == 0xC0
        return False

    @property
    def level_key(self) -> int | None:
        """The H264_LEVELS key: level 1b is level_idc 11 plus constraint_set3 in
        baseline/main/extended, or level_idc 9 elsewhere."""
        if self.level_idc is None:
            return None
        iop = self.profile_iop or 0
        if self.level_idc == 11 and self.profile_idc in (0x42, 0x4D, 0x58) and iop & 0x10:
            return 9
        return self.level_idc if self.level_idc in H264_LEVELS else None

    @property
    def level(self) -> str | None:
        """The level as people write it: "3.1", "1b"."""
        key = self.level_key
        if key is None:
            return None
        return "1b" if key == 9 else f"{key // 10}.{key % 10}"

    def _h264_limits(self) -> tuple[int, int, int]:
        """(MaxFS, MaxMBPS, MaxBR kbit/s) the peer receives. An explicit max-* wins even
        below the level's value: RFC 6184 forbids that, but a sender that believes the
        smaller number never overruns the receiver."""
        key = self.level_key
        mbps, fs, br = H264_LEVELS[key if key is not None else 10]
        return self.max_fs or fs, self.max_mbps or mbps, self.max_br or br

    # -- what we may send --------------------------------------------------------

    def max_frame_size(
        self,
        limit: tuple[int, int] = DEFAULT_MAX_SIZE,
        min_fps: float = DEFAULT_MIN_FPS,
    ) -> tuple[int, int]:
        """The largest frame we may send within ``limit``.

        H.264: the most pixels among 16:9 sizes (and the CIF family, which wins at
        max-fs 396) whose macroblocks fit MaxFS and, at ``min_fps``, MaxMBPS; so
        level 3.1 gives 1280x720, level 3.0 848x480, level 1.3 CIF. VP8: max-fs
        alone. H.263: the largest listed picture size that fits.
        """
        if sized_by_picture(self.name):
            fitting = [(w, h) for w, h, _ in self.image_sizes if _fits((w, h), limit)]
            return max(fitting, key=_area) if fitting else _smallest(self.image_sizes)
        candidates = [s for s in (limit, *_WIDE_SIZES, *_CIF_SIZES) if _fits(s, limit)]
        if not candidates:
            return limit
        if self.name == "H264":
            max_fs, max_mbps, _ = self._h264_limits()
            side = math.sqrt(8 * max_fs)  # Annex A: width and height in MBs <= sqrt(8*MaxFS)

            def ok(size: tuple[int, int]) -> bool:
                mbs = macroblocks(*size)
                fits_side = size[0] / 16 <= side and size[1] / 16 <= side
                return mbs <= max_fs and mbs * min_fps <= max_mbps and fits_side

        elif self.max_fs is not None:
            vp8_fs = self.max_fs

            def ok(size: tuple[int, int]) -> bool:
                return macroblocks(*size) <= vp8_fs

        else:
            return max(candidates, key=_area)
        allowed = [s for s in candidates if ok(s)]
        # Ties go to the earlier candidate: the configured size, then 16:9.
        if allowed:
            return max(allowed, key=_area)
        return min(candidates, key=_area)

    def max_frame_rate(
        self,
        size: tuple[int, int] | None = None,
        limit: float = DEFAULT_MAX_FPS,
    ) -> float:
        """The highest frame rate we may send at ``size`` (default ``max_frame_size()``):
        MaxMBPS / frame macroblocks for H.264, max-fr for VP8, 29.97/MPI for H.263."""
        size = size or self.max_frame_size()
        if self.name == "H264":
            _, max_mbps, _ = self._h264_limits()
            return min(limit, max_mbps / macroblocks(*size))
        if self.name == "VP8":
            return min(limit, float(self.max_fr)) if self.max_fr else limit
        mpis = [mpi for w, h, mpi in self.image_sizes if (w, h) == tuple(size)]
        return min(limit, H263_PICTURE_CLOCK / min(mpis)) if mpis else limit

    def max_bitrate_bps(self) -> int | None:
        """The peer's stated receive bit rate for this codec: H.264 max-br (else the
        level's MaxBR), H.263 MaxBR; VP8 states none."""
        if self.name == "H264":
            return self._h264_limits()[2] * 1000
        if sized_by_picture(self.name) and self.max_br:
            return self.max_br * 100
        return None


@dataclass(frozen=True, slots=True)
class VideoAnswer:
    """Our answer to one m=video: the section to put in the answer, what we send.

    ``format`` is the chosen offered PT (its limits bound our sending); ``size``,
    ``frame_rate`` and ``bitrate_bps`` are what the encoder should produce.
    ``alternatives`` are the other offered formats we could use, best first (for
    H.264 the other packetization mode), so a re-INVITE or a failing encoder can
    switch without renegotiating from scratch.
    """

    media: Media
    format: VideoFormat
    size: tuple[int, int]
    frame_rate: float
    bitrate_bps: int
    rtcp_fb: tuple[str, ...]
    alternatives: tuple[VideoFormat, ...]
    profile_level_id: str | None  # what we answered (H.264 only)
    remote_direction: str
    local_direction: str

    def lines(self) -> list[str]:
        return self.media.lines()

    @property
    def text(self) -> str:
        """The m-section as CRLF-terminated SDP text."""
        return "".join(line + "\r\n" for line in self.lines())

    @property
    def sending(self) -> bool:
        return self.local_direction in ("sendrecv", "sendonly")

    @property
    def receiving(self) -> bool:
        return self.local_direction in ("sendrecv", "recvonly")


@dataclass(frozen=True, slots=True)
class VideoPolicy:
    """What the MCU is willing to do with video, from its settings; handed to the
    audio answerer so one answer carries both streams."""

    preferences: tuple[str, ...] = tuple(DEFAULT_PREFERENCES)
    max_size: tuple[int, int] = DEFAULT_MAX_SIZE
    max_fps: float = DEFAULT_MAX_FPS
    h264_modes: tuple[int, ...] = H264_MODES
    max_bitrate_bps: int = DEFAULT_MAX_BITRATE

    def arguments(self) -> dict[str, object]:
        """Keyword arguments of ``negotiate_video``."""
        return {"preferences": list(self.preferences), "max_size": self.max_size,
                "max_fps": self.max_fps, "h264_modes": self.h264_modes,
                "max_bitrate_bps": self.max_bitrate_bps}


@dataclass(frozen=True, slots=True)
class _Capability:
    """What we can do, gathered from the caller's settings."""

    preferences: list[str]
    max_size: tuple[int, int]
    max_fps: float
    h264_modes: tuple[int, ...]
    max_bitrate_bps: int
    min_fps: float = DEFAULT_MIN_FPS


def usable_video(media: Media) -> bool:
    """An m=video we could answer: a live port and plain RTP (AVP or AVPF)."""
    return media.media == "video" and media.port != 0 and media.proto in RTP_PROTOS


def main_video_index(desc: SessionDescription) -> int | None:
    """The camera stream of an offer: the first usable m=video, skipping RFC 4796
    ``a=content:slides`` (the presentation stream of Polycom/Cisco room systems)."""
    for index, media in enumerate(desc.media):
        if usable_video(media) and media.attribute("content") not in ("slides", "alt"):
            return index
    return None


def negotiate_video(
    offer_media: Media,
    preferences: list[str] | None = None,
    max_size: tuple[int, int] = DEFAULT_MAX_SIZE,
    max_fps: float = DEFAULT_MAX_FPS,
    *,
    port: int,
    session: SessionDescription | None = None,
    h264_modes: tuple[int, ...] = H264_MODES,
    max_bitrate_bps: int = DEFAULT_MAX_BITRATE,
) -> VideoAnswer | None:
    """Answer ``offer_media`` with one codec, or None when no codec is common (the
    caller then declines the stream with port 0 and keeps audio).

    ``preferences`` orders codec names (default H264, VP8, H263-1998); among
    H.264 PTs ``h264_modes`` orders packetization modes (put 0 first to prefer
    mode 0), then constrained baseline before other profiles, then offer order.
    ``session`` (the whole offer) supplies session-level b=, direction and hold.
    """
    if not usable_video(offer_media):
        return None
    cap = _Capability(
        preferences=preferences if preferences is not None else DEFAULT_PREFERENCES,
        max_size=max_size,
        max_fps=max_fps,
        h264_modes=tuple(m for m in h264_modes if m in H264_MODES),
        max_bitrate_bps=max_bitrate_bps,
    )
    ranked = rank_formats(offer_media, cap.preferences, cap.h264_modes)
    if not ranked:
        return None
    chosen = ranked[0]
    if session is None:
        session = SessionDescription(
            origin=Origin("-", "0", "0", "IN", "IP4", "0.0.0.0"), media=[offer_media]
        )
    remote_dir = remote_direction(session, offer_media)
    local_dir = ANSWER_DIRECTION[remote_dir]

    fps_limit = min(max_fps, _framerate(offer_media) or max_fps)
    size = chosen.max_frame_size(max_size, min(cap.min_fps, fps_limit))
    rate = chosen.max_frame_rate(size, fps_limit)
    bitrate = _bitrate(offer_media, session, chosen, max_bitrate_bps)
    feedback = _feedback(offer_media, chosen.payload_type)
    fmtp, pli = _answer_fmtp(chosen, cap)

    media = Media("video", port, offer_media.proto, [])
    add_format(media, RtpMap(chosen.payload_type, _rtpmap_name(offer_media, chosen), 90000))
    if fmtp:
        media.attributes.append(("fmtp", f"{chosen.payload_type} {fmtp}"))
    media.bandwidths += [f"AS:{math.ceil(max_bitrate_bps / 1000)}", f"TIAS:{max_bitrate_bps}"]
    media.attributes += [("rtcp-fb", f"{chosen.payload_type} {fb}") for fb in feedback]
    if offer_media.rtcp_mux:
        media.attributes.append(("rtcp-mux", None))
    if offer_media.attribute("content") == "main":
        media.attributes.append(("content", "main"))
    media.attributes.append((local_dir, None))
    return VideoAnswer(
        media=media,
        format=chosen,
        size=size,
        frame_rate=rate,
        bitrate_bps=bitrate,
        rtcp_fb=feedback,
        alternatives=tuple(ranked[1:]),
        profile_level_id=pli,
        remote_direction=remote_dir,
        local_direction=local_dir,
    )


def rank_formats(
    media: Media, preferences: list[str], h264_modes: tuple[int, ...] = H264_MODES
) -> list[VideoFormat]:
    """Every offered format we can carry, best first: our codec preference, then
    (H.264) packetization mode order and constrained baseline, then offer order."""
    order = [_CANONICAL[p.lower()] for p in preferences if p.lower() in _CANONICAL]
    order = list(dict.fromkeys(order))
    found: list[tuple[tuple[int, int, int, int], VideoFormat]] = []
    for position, (pt, rtpmap) in enumerate(media.rtpmaps().items()):
        fmt = VideoFormat.from_offer(rtpmap, media.fmtp(pt))
        if fmt is None or fmt.name not in order:
            continue
        mode_rank = profile_rank = 0
        if fmt.name == "H264":
            if fmt.packetization_mode not in h264_modes:
                continue
            mode_rank = h264_modes.index(fmt.packetization_mode or 0)
            profile_rank = 0 if fmt.constrained_baseline else 1 if fmt.profile_idc == 0x42 else 2
        found.append(((order.index(fmt.name), mode_rank, profile_rank, position), fmt))
    return [fmt for _, fmt in sorted(found, key=lambda item: item[0])]


def our_level(max_size: tuple[int, int], max_fps: float) -> int:
    """The smallest H.264 level that carries ``max_size`` at ``max_fps`` (720p30: 3.1)."""
    mbs = macroblocks(*max_size)
    for key in _LEVEL_ORDER:
        mbps, fs, _ = H264_LEVELS[key]
        if mbs <= fs and mbs * max_fps <= mbps:
            return key
    return _LEVEL_ORDER[-1]


def _answer_fmtp(fmt: VideoFormat, cap: _Capability) -> tuple[str, str | None]:
    """The fmtp of our answer (what we receive) and the profile-level-id in it.

    H.264: constrained baseline (what our encoder sends, RFC 6184 keeps the profile
    symmetric). Without level-asymmetry-allowed the level may not exceed the
    offer's, so a lower one carries max-fs/max-mbps for what we really want to
    receive (the way 428016 room systems signal 720p); with it we state our own.
    """
    if fmt.name == "VP8":
        return f"max-fs={macroblocks(*cap.max_size)};max-fr={math.floor(cap.max_fps)}", None
    if sized_by_picture(fmt.name):
        return _h263_answer(fmt), None
    mine = our_level(cap.max_size, cap.max_fps)
    theirs = fmt.level_key if fmt.level_key is not None else 10
    level = mine
    if not fmt.level_asymmetry_allowed and _LEVEL_ORDER.index(theirs) < _LEVEL_ORDER.index(mine):
        level = theirs
    pli = "42f00b" if level == 9 else f"42e0{level:02x}"
    params = [f"profile-level-id={pli}", f"packetization-mode={fmt.packetization_mode or 0}"]
    if fmt.level_asymmetry_allowed:
        params.append("level-asymmetry-allowed=1")
    if level != mine:
        want_mbps, want_fs, _ = H264_LEVELS[mine]
        have_mbps, have_fs, _ = H264_LEVELS[level]
        if want_mbps > have_mbps:
            params.append(f"max-mbps={want_mbps}")
        if want_fs > have_fs:
            params.append(f"max-fs={want_fs}")
    return ";".join(params), pli


def _h263_answer(fmt: VideoFormat) -> str:
    """The offered picture sizes we also receive, at their MPIs (RFC 4629 8.1.1)."""
    names = {size: name for name, size in H263_SIZES.items()}
    parts = [f"{names[(w, h)]}={mpi}" for w, h, mpi in fmt.image_sizes if (w, h) in names]
    return ";".join(parts)


def _profile_level_id(text: str) -> tuple[int, int, int]:
    if len(text) == 6:
        try:
            value = int(text, 16)
        except ValueError:
            pass
        else:
            return value >> 16, (value >> 8) & 0xFF, value & 0xFF
    return 0x42, 0x00, 0x0A  # RFC 6184 default: baseline level 1


def _h263_sizes(params: dict[str, str]) -> tuple[tuple[int, int, int], ...]:
    """Picture sizes with MPI 1-32 (frame rate 29.97/MPI); CUSTOM=x,y,MPI included.
    With none listed, RFC 4629 says assume QCIF=1."""
    sizes: list[tuple[int, int, int]] = []
    for name, (width, height) in H263_SIZES.items():
        mpi = _int(params, name.lower())
        if mpi is not None and 1 <= mpi <= 32:
            sizes.append((width, height, mpi))
    custom = params.get("custom", "").split(",")
    if len(custom) == 3 and all(part.isdigit() for part in custom):
        width, height, mpi = (int(part) for part in custom)
        if width and height and 1 <= mpi <= 32:
            sizes.append((width, height, mpi))
    return tuple(sizes) or ((176, 144, 1),)


def _rtpmap_name(media: Media, fmt: VideoFormat) -> str:
    """The encoding name as the peer spelled it (some match case-sensitively)."""
    return media.rtpmaps()[fmt.payload_type].encoding


def _framerate(media: Media) -> float | None:
    """RFC 4566 a=framerate: the rate the peer wants at most."""
    try:
        value = float(media.attribute("framerate") or "")
    except ValueError:
        return None
    return value if value > 0 else None


def _bandwidth(lines: list[str]) -> int | None:
    """b=TIAS (RFC 3890, bit/s without IP/UDP overhead) if present, else b=AS (kbit/s)."""
    found: dict[str, int] = {}
    for line in lines:
        kind, _, value = line.partition(":")
        if value.strip().isdigit():
            found.setdefault(kind.strip().upper(), int(value))
    if found.get("TIAS"):
        return found["TIAS"]
    if found.get("AS"):
        return found["AS"] * 1000
    return None


def _bitrate(
    media: Media, session: SessionDescription, fmt: VideoFormat, max_bitrate_bps: int
) -> int:
    """What we send: our maximum, capped by the peer's b= (the media's, else the
    session's, which includes audio and so is an upper bound) and codec max-br."""
    caps = [max_bitrate_bps]
    stated = _bandwidth(media.bandwidths) or _bandwidth(session.bandwidths)
    if stated:
        caps.append(stated)
    codec = fmt.max_bitrate_bps()
    if codec:
        caps.append(codec)
    return min(caps)


def _feedback(media: Media, payload_type: int) -> tuple[str, ...]:
    """The RFC 4585/5104 feedback we support that the offer lists for ``payload_type``
    or ``*`` (baresip offers it in plain RTP/AVP; we answer in kind)."""
    offered: set[str] = set()
    for value in media.values("rtcp-fb"):
        pt, _, kind = value.strip().partition(" ")
        if pt in ("*", str(payload_type)):
            offered.add(" ".join(kind.split()).lower())
    return tuple(fb for fb in RTCP_FEEDBACK if fb in offered)


def _fits(size: tuple[int, int], limit: tuple[int, int]) -> bool:
    return size[0] <= limit[0] and size[1] <= limit[1]


def _area(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def _smallest(sizes: tuple[tuple[int, int, int], ...]) -> tuple[int, int]:
    width, height, _ = min(sizes, key=lambda s: s[0] * s[1])
    return width, height


# -- when we offer (dial-out, offerless INVITE) -----------------------------------------

OFFER_PAYLOAD_TYPES = {("H264", 1): 96, ("H264", 0): 97, ("VP8", 0): 98,
                       ("H263-1998", 0): 99, ("H263-2000", 0): 100, ("H263", 0): 34,
                       ("H261", 0): 31}


def video_offer(policy: VideoPolicy, port: int) -> Media:
    """An m=video offering every codec of ``policy`` (H.264 once per packetization
    mode), with what we receive in each fmtp and the feedback we answer."""
    cap = _Capability(list(policy.preferences), policy.max_size, policy.max_fps,
                      tuple(m for m in policy.h264_modes if m in H264_MODES),
                      policy.max_bitrate_bps)
    media = Media("video", port, "RTP/AVP", [])
    for name in dict.fromkeys(_CANONICAL[p.lower()] for p in policy.preferences
                              if p.lower() in _CANONICAL):
        modes = cap.h264_modes if name == "H264" else (0,)
        for mode in modes:
            pt = OFFER_PAYLOAD_TYPES[(name, mode)]
            add_format(media, RtpMap(pt, name, VIDEO_CLOCK_RATE))
            ours = VideoFormat(name, pt, packetization_mode=mode,
                               level_asymmetry_allowed=True, image_sizes=_OFFER_H263_SIZES)
            fmtp, _ = _answer_fmtp(ours, cap)
            if fmtp:
                media.attributes.append(("fmtp", f"{pt} {fmtp}"))
    media.bandwidths += [f"AS:{math.ceil(policy.max_bitrate_bps / 1000)}",
                         f"TIAS:{policy.max_bitrate_bps}"]
    media.attributes += [("rtcp-fb", f"* {fb}") for fb in RTCP_FEEDBACK]
    media.attributes += [("rtcp-mux", None), ("sendrecv", None)]
    return media


_OFFER_H263_SIZES = ((352, 288, 1), (176, 144, 1))  # what we receive: CIF and QCIF at 30


def accept_video_answer(
    offered: Media, answered: Media, answer: SessionDescription, policy: VideoPolicy
) -> VideoAnswer | None:
    """What to send on a video stream the remote accepted in its answer, or None when
    it declined it or chose nothing we offered.

    The answer's formats describe what the peer receives, exactly like an offer's, so
    the answerer's sizing does the work, limited to the payload types we offered."""
    if answered.port == 0 or answered.media != "video":
        return None
    ours = offered.rtpmaps()
    kept = Media(answered.media, answered.port, answered.proto, [],
                 connection=answered.connection, bandwidths=list(answered.bandwidths),
                 attributes=list(answered.attributes))
    for pt, rtpmap in answered.rtpmaps().items():
        if any(rtpmap.matches(o.encoding, o.clock_rate) for o in ours.values()):
            kept.formats.append(str(pt))
    return negotiate_video(kept, port=offered.port, session=answer, **policy.arguments())
