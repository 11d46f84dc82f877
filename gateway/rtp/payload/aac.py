"""AAC over RTP (RFC 3640 ``mpeg4-generic``, mode AAC-hbr), receive side only, sans-IO.

What IP cameras (and ffmpeg's RTP muxer) send: each payload starts with a 16-bit
AU-headers-length (in bits), then one AU header per access unit (AU-size of
``sizelength`` bits, then AU-Index of ``indexlength`` bits for the first and
AU-Index-delta of ``indexdeltalength`` bits for the others; 13/3/3 for AAC-hbr),
padded to a byte, then the access units back to back. An access unit larger than a
packet is fragmented: every fragment carries one AU header with the whole AU's size,
all fragments share the timestamp, and the marker bit is set on the last one.

Out come raw AAC access units (no ADTS header) with their RTP timestamps; the
decoder needs the AudioSpecificConfig from the fmtp ``config=`` (hex), which
:attr:`AacDepacketizer.config` keeps. A fragmented access unit that lost a piece is
dropped; garbage never raises out of :meth:`AacDepacketizer.push` (it is counted).
Interleaving (a non-zero AU-Index or AU-Index-delta) is not supported: such packets
count as malformed.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.rtp.payload.base import SequenceCheck
from gateway.rtp.payload.bits import BitReader

MAX_AU_BYTES = 1 << 16  # 13-bit sizes stop at 8191; anything near this is garbage
SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000,
                11025, 8000, 7350)


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One raw AAC frame (1024 samples per channel for AAC-LC) and its RTP timestamp."""

    data: bytes
    timestamp: int


@dataclass(frozen=True, slots=True)
class AacConfig:
    """What the decoder and the mixer need from an AudioSpecificConfig (ISO 14496-3
    1.6.2.1): object type (2 = AAC-LC), sample rate, channel configuration, and the
    samples per frame (1024, or 960 with frameLengthFlag)."""

    object_type: int
    sample_rate: int
    channels: int
    frame_length: int


def parse_audio_specific_config(config: bytes) -> AacConfig:
    """Raise ValueError for a config too short to read."""
    bits = BitReader(config)
    object_type = bits.u(5)
    if object_type == 31:
        object_type = 32 + bits.u(6)
    index = bits.u(4)
    rate = bits.u(24) if index == 15 else (SAMPLE_RATES[index] if index < 13 else 0)
    if rate == 0:
        raise ValueError(f"reserved sampling frequency index {index}")
    channels = bits.u(4)
    frame_length = 1024
    if object_type in (1, 2, 3, 4, 6, 7) and bits.left:  # GASpecificConfig
        frame_length = 960 if bits.u(1) else 1024
    return AacConfig(object_type, rate, channels, frame_length)


class AacDepacketizer:
    """RFC 3640 AAC-hbr payloads to access units (``reset`` on SSRC change)."""

    def __init__(
        self,
        *,
        config: bytes | None = None,
        sizelength: int = 13,
        indexlength: int = 3,
        indexdeltalength: int = 3,
    ) -> None:
        if not 1 <= sizelength <= 16 or not 0 <= indexlength <= 8 or not (
                0 <= indexdeltalength <= 8):
            raise ValueError("only AU headers of AU-size and AU-Index(-delta) are supported "
                             "(sizelength 1-16, indexlength/indexdeltalength 0-8)")
        self.config = config
        """The AudioSpecificConfig bytes, the decoder's extradata (None if not given)."""
        self.sizelength = sizelength
        self.indexlength = indexlength
        self.indexdeltalength = indexdeltalength
        self.frame_length = 1024
        if config:
            try:
                self.frame_length = parse_audio_specific_config(config).frame_length
            except ValueError:
                pass
        self.stats = dict.fromkeys(
            ("packets", "units", "lost", "late", "malformed", "dropped"), 0)
        self.reset()

    @classmethod
    def from_fmtp(cls, fmtp: Mapping[str, str]) -> AacDepacketizer:
        """From the SDP fmtp parameters (keys lower case); ValueError if unusable."""
        mode = fmtp.get("mode", "AAC-hbr")
        if mode.lower() not in ("aac-hbr", "aac-lbr"):
            raise ValueError(f"mpeg4-generic mode {mode!r} is not AAC")
        try:
            config = binascii.unhexlify(fmtp.get("config", "").strip()) or None
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"config= is not hex: {error}") from None
        defaults = (13, 3, 3) if mode.lower() == "aac-hbr" else (6, 2, 2)
        lengths = [fmtp.get(k, "").strip() for k in
                   ("sizelength", "indexlength", "indexdeltalength")]
        size, index, delta = (int(v) if v.isdigit() else d
                              for v, d in zip(lengths, defaults, strict=True))
        return cls(config=config, sizelength=size, indexlength=index, indexdeltalength=delta)

    def reset(self) -> None:
        self._sequence = SequenceCheck()
        self._fragment = bytearray()
        self._fragment_size = 0
        self._fragment_ts: int | None = None
        self._skip_ts: int | None = None

    def push(self, payload: bytes, seq: int, timestamp: int, marker: bool) -> list[AccessUnit]:
        """Take one RTP packet's payload; return the access units it completed."""
        self.stats["packets"] += 1
        gap = self._sequence.check(seq, self.stats)
        if gap is None:
            return []
        if self._fragment_ts is not None and (gap or timestamp != self._fragment_ts):
            if timestamp == self._fragment_ts:
                self._skip_ts = timestamp  # the rest of that unit is of no use
            self._drop_fragment()  # its middle or end went missing
        try:
            sizes, data = self._headers(payload)
        except (ValueError, IndexError):
            self.stats["malformed"] += 1
            self._drop_fragment()
            return []
        if len(sizes) == 1 and sizes[0] != len(data):
            if timestamp == self._skip_ts:
                return []
            return self._fragment_piece(sizes[0], data, timestamp, marker)
        if self._fragment_ts is not None:
            self._drop_fragment()  # whole units while a fragmented one was unfinished
        units = []
        pos = 0
        for k, size in enumerate(sizes):
            units.append(AccessUnit(bytes(data[pos : pos + size]),
                                    (timestamp + k * self.frame_length) & 0xFFFFFFFF))
            pos += size
        self.stats["units"] += len(units)
        return units

    def _headers(self, payload: bytes) -> tuple[list[int], bytes]:
        if len(payload) < 2:
            raise ValueError("no AU-headers-length")
        header_bits = int.from_bytes(payload[:2], "big")
        header_bytes = (header_bits + 7) // 8
        if header_bits == 0 or 2 + header_bytes > len(payload):
            raise ValueError("AU headers missing or longer than the packet")
        bits = BitReader(payload[2 : 2 + header_bytes])
        sizes: list[int] = []
        used = 0
        while used < header_bits:
            index_bits = self.indexlength if not sizes else self.indexdeltalength
            if used + self.sizelength + index_bits > header_bits:
                raise ValueError("AU-headers-length is not a whole number of headers")
            size = bits.u(self.sizelength)
            if bits.u(index_bits):
                raise ValueError("interleaved access units are not supported")
            used += self.sizelength + index_bits
            if size == 0:
                raise ValueError("an empty access unit")
            sizes.append(size)
        data = payload[2 + header_bytes :]
        if len(sizes) > 1 and sum(sizes) != len(data):
            raise ValueError("AU sizes do not add up to the payload")
        if len(sizes) == 1 and sizes[0] < len(data):
            raise ValueError("more data than the AU size")
        return sizes, data

    def _fragment_piece(
        self, size: int, data: bytes, timestamp: int, marker: bool
    ) -> list[AccessUnit]:
        if self._fragment_ts is None:
            if size > MAX_AU_BYTES:
                self.stats["malformed"] += 1
                return []
            self._fragment_ts, self._fragment_size = timestamp, size
        elif size != self._fragment_size:
            self._drop_fragment()
            self.stats["malformed"] += 1
            return []
        self._fragment += data
        if len(self._fragment) > self._fragment_size:
            self._drop_fragment()
            self.stats["malformed"] += 1
            return []
        if len(self._fragment) < self._fragment_size:
            if marker:  # the sender ended the unit short of its size
                self._drop_fragment()
            return []
        unit = AccessUnit(bytes(self._fragment), timestamp)
        self._reset_fragment()
        self.stats["units"] += 1
        return [unit]

    def _drop_fragment(self) -> None:
        if self._fragment_ts is not None:
            self.stats["dropped"] += 1
        self._reset_fragment()

    def _reset_fragment(self) -> None:
        self._fragment = bytearray()
        self._fragment_size = 0
        self._fragment_ts = None


def packetize(access_unit: bytes) -> bytes:
    """One AAC access unit as an AAC-hbr payload (13-bit size, 3-bit index 0): what the
    RTSP server sends (issue 15). Our encoder's frames are far below a packet."""
    size = len(access_unit)
    if size > 8191:
        raise ValueError(f"an AAC access unit of {size} bytes does not fit AAC-hbr")
    return b"\x00\x10" + (size << 3).to_bytes(2, "big") + access_unit
